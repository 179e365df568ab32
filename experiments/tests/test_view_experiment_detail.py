from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from datasets.models import DatasetVersion
from experiments.models import Experiment, Metric, Status
from experiments.services import experiment_create, experiment_execute
from mlplatform.testing import make_user
from mlplatform.tests.factories import make_dataset_version, make_experiment
from registry.models import GateEvaluation, ModelVersion, RegisteredModel, Stage


@pytest.fixture
def trained(make_config: Callable[..., str]) -> Experiment:
    experiment = experiment_create(config_text=make_config(name="trained_lr", model_name=None))
    experiment_execute(experiment_id=experiment.pk)
    experiment.refresh_from_db()
    assert experiment.status == Status.COMPLETED, experiment.error_message
    return experiment


@pytest.fixture
def version(db: None) -> DatasetVersion:
    return make_dataset_version()


def test_it_shows_config_metrics_confusion_matrix_and_curves(
    client: Client, viewer: User, trained: Experiment
) -> None:
    client.force_login(viewer)
    response = client.get(f"/experiments/{trained.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "experiment_name: trained_lr" in content  # the config exactly as submitted
    assert "average_precision" in content
    assert "true positives" in content
    confusion = response.context["confusion"]
    groups = response.context["metrics"]
    metrics = {name: value for _, rows in groups for name, value in rows}
    # Grouped, quality first in the gate's order, then counts and timings.
    assert [title for title, _ in groups][:3] == ["Quality", "Counts", "Timings"]
    assert [name for name, _ in groups[0][1]][:2] == ["average_precision", "roc_auc"]
    assert "tp" in dict(groups[1][1])
    assert confusion["tp"] == metrics["tp"]
    assert confusion["tp"] + confusion["fn"] == metrics["holdout_positives"]
    titles = [chart.title for chart in response.context["charts"]]
    assert titles == ["Precision-recall", "ROC"]
    assert content.count('class="series"') == 2
    assert 'hx-trigger="every 2s"' not in content  # finished: no polling


def test_it_draws_the_per_iteration_loss_curve_when_logged(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(version, model_type="hist_gradient_boosting")
    Metric.objects.bulk_create(
        Metric(experiment=experiment, name="validation_loss", value=1 / step, step=step)
        for step in range(1, 11)
    )
    client.force_login(viewer)
    response = client.get(f"/experiments/{experiment.pk}/")
    (chart,) = response.context["charts"]
    assert chart.title == "validation_loss per iteration"
    assert len(chart.lines[0].points.split()) == 10


def test_it_polls_and_offers_cancel_while_running(
    client: Client, experimenter: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(version, status=Status.RUNNING, phase="fitting")
    client.force_login(experimenter)
    content = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert f'hx-get="/experiments/{experiment.pk}/status/"' in content
    assert 'hx-trigger="every 2s"' in content
    assert f'action="/experiments/{experiment.pk}/cancel/"' in content
    assert f'action="/experiments/{experiment.pk}/rerun/"' in content
    assert "Fitting" in content


def test_it_hides_the_buttons_from_a_viewer(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(version, status=Status.RUNNING)
    client.force_login(viewer)
    content = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "/cancel/" not in content
    assert "/rerun/" not in content


def failed_experiment(version: DatasetVersion) -> Experiment:
    return make_experiment(
        version,
        status=Status.FAILED,
        error_message="ValueError: the target has one class",
        traceback='Traceback (most recent call last):\n  File "/srv/app/x.py"\nValueError: boom',
    )


def test_it_shows_the_error_and_traceback_of_a_failure_to_an_experimenter(
    client: Client, experimenter: User, version: DatasetVersion
) -> None:
    experiment = failed_experiment(version)
    client.force_login(experimenter)
    content = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "ValueError: the target has one class" in content
    assert "Traceback (most recent call last):" in content


def test_it_shows_a_viewer_the_error_but_not_the_traceback(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = failed_experiment(version)
    client.force_login(viewer)
    content = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "ValueError: the target has one class" in content
    assert "Traceback" not in content
    assert "/srv/app" not in content


def test_it_shows_the_traceback_to_staff(client: Client, version: DatasetVersion) -> None:
    staff = make_user("stella", "viewer")
    staff.is_staff = True
    staff.save()
    experiment = failed_experiment(version)
    client.force_login(staff)
    content = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "Traceback (most recent call last):" in content


def test_it_links_the_registered_version_and_its_gate(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(version)
    model = RegisteredModel.objects.create(name="fraud_detector")
    gate = GateEvaluation.objects.create(
        registered_model=model,
        candidate=experiment,
        purpose=GateEvaluation.Purpose.REGISTRATION,
        passed=True,
        report={"passed": True, "summary": "Passed: all floors met.", "metrics": []},
    )
    ModelVersion.objects.create(
        registered_model=model,
        version=3,
        experiment=experiment,
        artifact_sha256="0" * 64,
        stage=Stage.STAGING,
        registration_gate=gate,
    )
    client.force_login(viewer)
    content = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert 'href="/registry/models/fraud_detector/versions/3/"' in content
    assert "Passed: all floors met." in content
    assert "gate passed" in content


def test_it_answers_404_for_an_unknown_experiment(client: Client, viewer: User) -> None:
    client.force_login(viewer)
    assert client.get("/experiments/424242/").status_code == 404


def test_it_refuses_an_outsider(client: Client, outsider: User, version: DatasetVersion) -> None:
    experiment = make_experiment(version)
    client.force_login(outsider)
    assert client.get(f"/experiments/{experiment.pk}/").status_code == 403


def test_it_shows_the_queued_message_only_while_the_run_waits(
    client: Client, experimenter: User, make_config: Callable[..., str]
) -> None:
    client.force_login(experimenter)
    response = client.post("/experiments/new/", {"config_text": make_config()}, follow=True)
    assert b'id="submission-message"' in response.content
    # The same message, read on a page whose run has already started, would be stale.
    client.post("/experiments/new/", {"config_text": make_config()})
    Experiment.objects.filter(pk=Experiment.objects.latest("pk").pk).update(status=Status.RUNNING)
    page = client.get(f"/experiments/{Experiment.objects.latest('pk').pk}/")
    assert b'id="submission-message"' not in page.content
    assert b"is recorded" not in page.content


def test_it_shows_counts_as_integers_scores_with_four_decimals_and_timings_as_durations(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    metrics = {
        "fp": 0.0,
        "tn": 56962.0,
        "fn": 3304.0,
        "tp": 40.0,
        "average_precision": 0.00172987,
        "fit_time_seconds": 2.8,
        "n_iter": 1.0,
    }
    experiment = make_experiment(version, metrics=metrics)
    client.force_login(viewer)
    content = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert '<td class="fp">0<small>' in content
    assert '<td class="tn">56,962<small>' in content
    assert '<td class="fn">3,304<small>' in content
    rows = dict(re.findall(r'<th scope="row">(\w+)</th><td class="num">([^<]*)</td>', content))
    assert rows["fp"] == "0"
    assert rows["n_iter"] == "1"
    assert rows["average_precision"] == "0.0017"
    assert rows["fit_time_seconds"] == "2.8 s"
    assert "0.0000" not in content
