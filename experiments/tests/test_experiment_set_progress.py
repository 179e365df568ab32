from __future__ import annotations

import pytest

from datasets.models import DatasetVersion
from experiments.models import Experiment, Phase, Status
from experiments.services import experiment_set_phase, experiment_set_progress
from mlplatform.tests.factories import make_dataset_version, make_experiment


@pytest.fixture
def version(db: None) -> DatasetVersion:
    return make_dataset_version()


def set_progress(experiment: Experiment) -> bool:
    return experiment_set_progress(
        experiment_id=experiment.pk,
        unit="iteration",
        done=120,
        total=200,
        at_most=True,
        detail="val loss 0.0041",
    )


def test_it_records_how_far_a_running_fit_has_come(version: DatasetVersion) -> None:
    experiment = make_experiment(version, status=Status.RUNNING, phase=Phase.FITTING)

    assert set_progress(experiment)

    experiment.refresh_from_db()
    assert (experiment.progress_unit, experiment.progress_done, experiment.progress_total) == (
        "iteration",
        120,
        200,
    )
    assert experiment.progress_at_most
    assert experiment.progress_detail == "val loss 0.0041"
    assert experiment.progress_at is not None
    assert experiment.heartbeat_at == experiment.progress_at


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        (Status.RUNNING, Phase.EVALUATING),
        (Status.CREATED, Phase.QUEUED),
        (Status.CANCELLED, Phase.FITTING),
        (Status.FAILED, Phase.FITTING),
    ],
)
def test_it_writes_nothing_unless_the_run_is_fitting(
    version: DatasetVersion, status: str, phase: str
) -> None:
    experiment = make_experiment(version, status=status, phase=phase)

    assert not set_progress(experiment)

    experiment.refresh_from_db()
    assert experiment.progress_done is None
    assert experiment.progress_at is None


def test_it_is_cleared_when_the_phase_changes(version: DatasetVersion) -> None:
    experiment = make_experiment(version, status=Status.RUNNING, phase=Phase.FITTING)
    set_progress(experiment)

    assert experiment_set_phase(experiment_id=experiment.pk, phase=Phase.EVALUATING)

    experiment.refresh_from_db()
    assert experiment.phase == Phase.EVALUATING
    assert experiment.phase_started_at is not None
    assert (experiment.progress_done, experiment.progress_total, experiment.progress_at) == (
        None,
        None,
        None,
    )
    assert (experiment.progress_unit, experiment.progress_detail) == ("", "")
    assert not experiment.progress_at_most
