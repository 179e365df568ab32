from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from django.conf import settings

from datasets.models import DatasetVersion
from datasets.services import dataset_register
from datasets.synthetic import make_fraud_frame
from experiments import training
from experiments.artifacts import artifact_read
from experiments.fit_progress import FitProgress
from experiments.models import Experiment, Metric, Status
from experiments.selectors import experiment_scalar_metrics, experiment_stepped_metrics
from experiments.services import (
    experiment_cancel,
    experiment_complete,
    experiment_create,
    experiment_execute,
    experiment_fail,
    experiment_set_progress,
    experiment_start,
)
from mlplatform.testing import config_yaml
from mlplatform.tests.factories import elsewhere_owner, live_owner


def test_it_trains_and_records_metrics_curves_holdout_and_artifact(
    make_config: Callable[..., str],
) -> None:
    experiment = experiment_create(config_text=make_config())

    result = experiment_execute(experiment_id=experiment.pk)

    assert result is not None
    experiment.refresh_from_db()
    assert experiment.status == Status.COMPLETED, experiment.error_message
    assert experiment.started_at is not None
    assert experiment.finished_at is not None
    assert experiment.started_at <= experiment.finished_at
    # The config names a registry model: the experiment now waits to be gated.
    assert (experiment.phase, experiment.registration) == ("registering", "pending")
    metrics = experiment_scalar_metrics(experiment_id=experiment.pk)
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision"):
        assert 0.0 <= metrics[name] <= 1.0
    for name in ("log_loss", "fit_time_seconds", "tn", "fp", "fn", "tp"):
        assert name in metrics
    assert set(experiment.curves) >= {"pr", "roc"}
    assert experiment.holdout is not None
    holdout = training.holdout_from_bytes(bytes(experiment.holdout))
    assert len(holdout.row_ids) == metrics["holdout_rows"]
    assert experiment.holdout_sha256 == hashlib.sha256(bytes(experiment.holdout)).hexdigest()
    data = artifact_read(path=experiment.artifact_path, sha256=experiment.artifact_sha256)
    assert len(data) == experiment.artifact_size
    assert (Path(settings.ARTIFACT_ROOT) / experiment.artifact_path).is_file()
    assert experiment.environment["scikit_learn"]
    assert experiment.environment["python"]


def test_it_trains_a_dataset_whose_target_is_text_by_its_positive_label(
    data_root: Path, make_config: Callable[..., str]
) -> None:
    frame = make_fraud_frame(rows=2000, frauds=60, seed=1)
    path = data_root / "named" / "named.csv"
    path.parent.mkdir()
    frame.assign(Class=frame["Class"].map({0: "ok", 1: "fraud"})).to_csv(path, index=False)
    version = dataset_register(
        name="named", version="v1", path=path, target="Class", positive_label="fraud",
        user_name="pytest",
    )  # fmt: skip
    created = experiment_create(config_text=config_yaml(dataset=version, model_name=None))

    experiment = experiment_execute(experiment_id=created.pk)

    assert experiment is not None
    assert experiment.status == Status.COMPLETED, experiment.error_message
    assert experiment_scalar_metrics(experiment_id=experiment.pk)["holdout_positives"] == 18


def test_it_logs_the_per_iteration_loss_of_iterative_models(
    make_config: Callable[..., str],
) -> None:
    config = make_config(
        model_type="hist_gradient_boosting", params={"max_iter": 15, "early_stopping": False}
    )
    experiment = experiment_create(config_text=config)

    experiment_execute(experiment_id=experiment.pk)

    series = experiment_stepped_metrics(experiment_id=experiment.pk)
    assert [step for step, _ in series["validation_loss"]] == list(range(1, 16))


def test_it_gives_identical_metrics_for_the_same_config_and_dataset(
    make_config: Callable[..., str],
) -> None:
    config = make_config(model_type="random_forest", params={"n_estimators": 20})
    first = experiment_create(config_text=config)
    second = experiment_create(config_text=config)

    experiment_execute(experiment_id=first.pk)
    experiment_execute(experiment_id=second.pk)

    timing = {"fit_time_seconds", "predict_time_seconds"}
    first_metrics = experiment_scalar_metrics(experiment_id=first.pk)
    second_metrics = experiment_scalar_metrics(experiment_id=second.pk)
    assert {k: v for k, v in first_metrics.items() if k not in timing} == {
        k: v for k, v in second_metrics.items() if k not in timing
    }


def test_it_does_nothing_when_the_claim_was_already_taken(make_config: Callable[..., str]) -> None:
    experiment = experiment_create(config_text=make_config())
    assert experiment_start(
        experiment_id=experiment.pk, worker_name="other", owner=elsewhere_owner()
    )

    assert experiment_execute(experiment_id=experiment.pk, worker_name="me") is None

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert experiment.worker_name == "other"
    assert not Metric.objects.exists()


def test_it_ends_failed_with_the_reason_when_the_dataset_file_changed(
    make_config: Callable[..., str], registered_dataset: DatasetVersion
) -> None:
    experiment = experiment_create(config_text=make_config())
    path = Path(settings.DATA_ROOT) / registered_dataset.path
    path.write_bytes(path.read_bytes() + b"0,0\n")

    experiment_execute(experiment_id=experiment.pk)

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert "SHA-256" in experiment.error_message or "size" in experiment.error_message
    assert "Traceback" in experiment.traceback
    assert experiment.finished_at is not None
    assert not Metric.objects.exists()


def test_it_records_a_keyboard_interrupt_as_failed_and_reraises_it(
    make_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = experiment_create(config_text=make_config())

    def interrupted(*args: Any, **kwargs: Any) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", interrupted)

    with pytest.raises(KeyboardInterrupt):
        experiment_execute(experiment_id=experiment.pk)

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message == "interrupted (KeyboardInterrupt)"


def test_it_stops_and_keeps_cancelled_when_cancelled_while_running(
    make_config: Callable[..., str],
) -> None:
    experiment = experiment_create(config_text=make_config())

    def cancel_when_fitting(running: Experiment, phase: str) -> None:
        if phase == "loading data":
            experiment_cancel(experiment_id=running.pk)

    experiment_execute(experiment_id=experiment.pk, on_progress=cancel_when_fitting)

    experiment.refresh_from_db()
    assert experiment.status == Status.CANCELLED
    assert not Metric.objects.exists()
    assert experiment.artifact_path == ""


def test_it_refuses_illegal_transitions(make_config: Callable[..., str]) -> None:
    experiment = experiment_create(config_text=make_config())
    experiment_execute(experiment_id=experiment.pk)

    assert not experiment_start(experiment_id=experiment.pk, owner=live_owner())
    assert not experiment_fail(experiment_id=experiment.pk, message="late failure")
    assert not experiment_cancel(experiment_id=experiment.pk)
    experiment.refresh_from_db()
    assert experiment.status == Status.COMPLETED
    assert experiment.error_message == ""


def test_it_refuses_to_complete_an_experiment_that_is_not_running(
    make_config: Callable[..., str],
) -> None:
    experiment = experiment_create(config_text=make_config())
    experiment_cancel(experiment_id=experiment.pk)
    holdout = training.Holdout(
        row_ids=np.array([0, 1]),
        y_true=np.array([0, 1], dtype="int8"),
        y_score=np.array([0.1, 0.9]),
    )
    result = training.TrainingResult(
        model=None, feature_columns=["a"], metrics=[], curves={}, holdout=holdout, train_rows=2
    )

    assert not experiment_complete(experiment_id=experiment.pk, result=result, artifact_data=b"x")

    experiment.refresh_from_db()
    assert experiment.status == Status.CANCELLED
    assert experiment.artifact_path == ""


# ------------------------------------------------------------------ progress

BOOSTING = {"max_iter": 25, "early_stopping": True, "n_iter_no_change": 100}


def written_progress(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    from experiments.services import execution

    written: list[dict[str, Any]] = []

    def spy(**fields: Any) -> bool:
        written.append(fields)
        return experiment_set_progress(**fields)

    monkeypatch.setattr(execution, "experiment_set_progress", spy)
    return written


def test_it_hands_every_step_of_the_fit_on_and_records_it_throttled(
    make_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    written = written_progress(monkeypatch)
    heard: list[FitProgress] = []
    config = make_config(model_type="hist_gradient_boosting", params=BOOSTING)
    experiment = experiment_create(config_text=config)

    experiment_execute(experiment_id=experiment.pk, on_fit_progress=heard.append)

    assert [progress.done for progress in heard] == list(range(1, 26))
    # The first step is recorded at once; the next only 2 s later.
    assert 1 <= len(written) < 25
    assert written[0]["done"] == 1
    assert written[0]["total"] == 25
    assert written[0]["at_most"] is True
    assert written[0]["detail"].startswith("val loss 0.")
    experiment.refresh_from_db()
    assert experiment.status == Status.COMPLETED
    assert experiment.progress_done is None  # cleared when the fit ended


def test_it_records_every_step_when_not_throttled(
    make_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.services import execution

    monkeypatch.setattr(execution, "PROGRESS_WRITE_SECONDS", 0.0)
    written = written_progress(monkeypatch)
    config = make_config(model_type="random_forest", params={"n_estimators": 8})
    experiment = experiment_create(config_text=config)

    experiment_execute(experiment_id=experiment.pk)

    assert [(fields["unit"], fields["done"], fields["total"]) for fields in written] == [
        ("tree", done, 8) for done in range(1, 9)
    ]


def test_a_claim_tried_again_after_its_commit_went_through_holds(
    make_config: Callable[..., str],
) -> None:
    """The retry of a claim whose COMMIT reply was lost finds it made by this
    process; another process's claim is never taken for its own."""
    mine = experiment_create(config_text=make_config())
    theirs = experiment_create(config_text=make_config())
    assert experiment_start(experiment_id=mine.pk, owner=live_owner())
    assert experiment_start(experiment_id=theirs.pk, owner=elsewhere_owner())

    assert experiment_start(experiment_id=mine.pk, owner=live_owner())
    assert not experiment_start(experiment_id=theirs.pk, owner=live_owner())
