"""/api/v1/experiments/: submit, list (the web list's filters and sorts),
read, cancel, run again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from experiments.models import Experiment, Phase, Status
from mlplatform.tests.factories import make_dataset_version, make_experiment

URL = "/api/v1/experiments/"


@pytest.fixture
def api(api_as: Callable[..., Any], experimenter: User) -> Any:
    return api_as(experimenter)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["results"]]


# ------------------------------------------------------------------ submit


def test_it_records_and_answers_a_submitted_config(
    api: Any, make_config: Callable[..., str]
) -> None:
    config = make_config(name="from_ci")

    response = api.post(URL, {"config": config})

    assert response.status_code == 201
    body = response.json()
    experiment = Experiment.objects.get()
    assert body["id"] == experiment.pk
    assert (body["name"], body["status"], body["phase"]) == ("from_ci", "created", "queued")
    assert (body["source"], body["created_by"]) == ("api", "erin")
    assert body["config_text"] == config == experiment.config_text
    assert body["dataset"] == "small_fraud:v1"
    assert body["enqueued"] is False  # queued after commit (see the live-server test)
    assert experiment.created_by is not None
    assert experiment.created_by.username == "erin"


def test_it_refuses_an_invalid_config_and_records_nothing(
    api: Any, registered_dataset: Any
) -> None:
    response = api.post(URL, {"config": "experiment_name: x\nmodel: {type: magic}\n"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "model.type" in error["message"]
    assert not Experiment.objects.exists()


def test_it_refuses_a_config_on_an_unregistered_dataset(
    api: Any, make_config: Callable[..., str]
) -> None:
    config = make_config().replace("version: v1", "version: v9")

    response = api.post(URL, {"config": config})

    assert response.status_code == 400
    assert "small_fraud:v9 is not registered" in response.json()["error"]["message"]


# ------------------------------------------------------------------ list


@pytest.fixture
def listed(db: Any) -> dict[str, Any]:
    version = make_dataset_version()
    other = make_dataset_version(version="v2")
    return {
        "version": version,
        "other": other,
        "low": make_experiment(version, name="lr_low", metrics={"recall": 0.2, "f1": 0.1}),
        "failed": make_experiment(version, name="lr_failed", status=Status.FAILED),
        "high": make_experiment(
            other, name="rf_high", model_type="random_forest", metrics={"recall": 0.9}
        ),
    }


def test_it_lists_experiments_newest_first_in_a_page(api: Any, listed: dict[str, Any]) -> None:
    response = api.get(URL)

    body = response.json()
    assert (body["count"], body["limit"], body["offset"]) == (3, 50, 0)
    assert names(response) == ["rf_high", "lr_failed", "lr_low"]
    item = body["results"][2]
    assert item["metrics"] == {"average_precision": None, "roc_auc": None, "f1": 0.1}
    assert (item["status"], item["model_type"], item["dataset"]) == (
        "completed",
        "logistic_regression",
        "fraud:v1",
    )


def test_it_pages_with_limit_and_offset(api: Any, listed: dict[str, Any]) -> None:
    assert names(api.get(URL, limit=2)) == ["rf_high", "lr_failed"]
    assert names(api.get(URL, limit=2, offset=2)) == ["lr_low"]
    beyond = api.get(URL, offset=10).json()
    assert (beyond["count"], beyond["results"]) == (3, [])


def test_it_filters_as_the_web_list_does(api: Any, listed: dict[str, Any]) -> None:
    assert names(api.get(URL, status="failed")) == ["lr_failed"]
    assert names(api.get(URL, model_type="random_forest")) == ["rf_high"]
    assert names(api.get(URL, dataset_version=listed["other"].pk)) == ["rf_high"]
    assert names(api.get(URL, name="LR_")) == ["lr_failed", "lr_low"]


def test_it_sorts_by_any_recorded_metric_and_shows_it(api: Any, listed: dict[str, Any]) -> None:
    descending = api.get(URL, sort="recall", order="desc")
    ascending = api.get(URL, sort="recall", order="asc", limit=1, offset=1)

    assert names(descending) == ["rf_high", "lr_low", "lr_failed"]
    assert [item["metrics"]["recall"] for item in descending.json()["results"]] == [0.9, 0.2, None]
    assert names(ascending) == ["rf_high"]
    assert names(api.get(URL, sort="name", order="asc")) == ["lr_failed", "lr_low", "rf_high"]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"sort": "nonsense"}, "sort"), ({"dataset_version": 999}, "dataset_version")],
)
def test_it_refuses_filters_the_web_list_refuses(
    api: Any, listed: dict[str, Any], query: dict[str, Any], field: str
) -> None:
    response = api.get(URL, **query)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


# ------------------------------------------------------------------ detail


def test_it_shows_status_progress_metrics_curves_and_registration(
    api: Any, production_version: Any
) -> None:
    experiment = production_version.experiment

    body = api.get(f"{URL}{experiment.pk}/").json()

    assert (body["status"], body["progress"]["phase"]) == ("completed", "")
    assert body["progress"]["elapsed_seconds"] >= 0
    assert 0 < body["metrics"]["average_precision"] <= 1
    assert body["metrics"]["holdout_rows"] == 1200
    assert set(body["curves"]) == {"pr", "roc"}
    assert len(body["curves"]["roc"]["fpr"]) == len(body["curves"]["roc"]["tpr"])
    assert body["artifact"]["sha256"] == production_version.artifact_sha256
    assert body["model_version"] == {
        "model": "fraud_detector", "version": 1, "stage": "production", "identical_to": [],
    }  # fmt: skip
    assert [run["purpose"] for run in body["gate_runs"]] == ["promotion", "registration"]
    assert body["config"]["threshold"] == 0.5
    assert body["registration"] == {
        "state": "registered",
        "message": body["registration"]["message"],
        "attempts": 1,
        "max_attempts": 3,
        "next_retry_at": None,
    }


def test_it_shows_the_attempts_of_a_registration_error(
    api: Any, trained: Callable[..., Any]
) -> None:
    from registry.services import registration_record_error

    experiment = trained()
    registration_record_error(experiment_id=experiment.pk, message="OSError: disk full")

    registration = api.get(f"{URL}{experiment.pk}/").json()["registration"]

    assert registration["state"] == "error"
    assert (registration["attempts"], registration["max_attempts"]) == (1, 3)
    assert registration["next_retry_at"] is not None


def test_it_shows_per_iteration_series(api: Any, trained: Callable[..., Any]) -> None:
    experiment = trained(model_type="hist_gradient_boosting", params={"max_iter": 5})

    body = api.get(f"{URL}{experiment.pk}/").json()

    assert [point["step"] for point in body["series"]["validation_loss"]] == [1, 2, 3, 4, 5]


def test_it_shows_a_running_experiments_phase(api: Any, db: Any) -> None:
    running = make_experiment(
        make_dataset_version(), status=Status.RUNNING, phase=Phase.FITTING, worker_name="w1"
    )

    body = api.get(f"{URL}{running.pk}/").json()

    assert body["progress"]["phase"] == "fitting"
    assert body["progress"]["worker_name"] == "w1"
    assert body["progress"]["fit"] is None
    assert body["artifact"] is None
    assert body["model_version"] is None


def test_it_shows_how_far_a_fit_has_come(api: Any, db: Any) -> None:
    now = timezone.now()
    running = make_experiment(
        make_dataset_version(),
        status=Status.RUNNING,
        phase=Phase.FITTING,
        phase_started_at=now - timedelta(seconds=60),
        progress_at=now,
        progress_unit="iteration",
        progress_done=120,
        progress_total=200,
        progress_detail="val loss 0.0041",
    )

    fit = api.get(f"{URL}{running.pk}/").json()["progress"]["fit"]

    assert (fit["unit"], fit["done"], fit["total"], fit["at_most"]) == (
        "iteration",
        120,
        200,
        False,
    )
    assert fit["detail"] == "val loss 0.0041"
    assert 39 < fit["seconds_left"] <= 40
    assert fit["text"] == "iteration 120 / 200, val loss 0.0041, about 40 s left"


def test_it_answers_404_for_an_unknown_experiment(api: Any, db: Any) -> None:
    response = api.get(f"{URL}12345/")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "there is no experiment #12345"


# ------------------------------------------------------------------ cancel


def test_it_cancels_a_running_experiment(api: Any, db: Any) -> None:
    running = make_experiment(make_dataset_version(), status=Status.RUNNING)

    response = api.post(f"{URL}{running.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    running.refresh_from_db()
    assert (running.status, running.error_message) == (Status.CANCELLED, "cancelled by erin")


def test_it_refuses_to_cancel_a_finished_experiment(api: Any, db: Any) -> None:
    done = make_experiment(make_dataset_version())

    response = api.post(f"{URL}{done.pk}/cancel/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_active"
    assert "is COMPLETED" in response.json()["error"]["message"]


# ------------------------------------------------------------------ rerun


def test_it_runs_a_config_again_as_a_new_experiment(api: Any, trained: Callable[..., Any]) -> None:
    original = trained()

    response = api.post(f"{URL}{original.pk}/rerun/")

    assert response.status_code == 201
    again = Experiment.objects.get(pk=response.json()["id"])
    assert again.pk != original.pk
    assert again.config_text == original.config_text
    assert (again.source, again.status, again.created_by_name) == ("rerun", Status.CREATED, "erin")


def test_it_serves_the_model_of_any_completed_experiment(
    api: Any, trained: Callable[..., Any]
) -> None:
    experiment = trained(model_name=None)  # never registered

    response = api.get(f"{URL}{experiment.pk}/artifact/")

    assert response.status_code == 200
    assert response["X-Artifact-SHA256"] == experiment.artifact_sha256
