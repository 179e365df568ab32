from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import DatabaseError

from datasets.services import dataset_version_load
from experiments import training
from experiments.configs import parse_config
from experiments.models import Experiment, Metric, Status
from experiments.services import experiment_complete, experiment_create, experiment_start
from mlplatform.tests.factories import live_owner


def test_it_removes_the_artifact_when_its_transaction_fails(
    make_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = experiment_create(config_text=make_config())
    experiment_start(experiment_id=experiment.pk, owner=live_owner())
    frame = dataset_version_load(version=experiment.dataset_version)
    result = training.train(frame, config=parse_config(experiment.config_text), target="Class")

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("disk full")

    monkeypatch.setattr(Metric.objects, "bulk_create", fail)
    with pytest.raises(DatabaseError):
        experiment_complete(
            experiment_id=experiment.pk,
            result=result,
            artifact_data=training.model_to_bytes(result.model),
        )

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert not any(Path(settings.ARTIFACT_ROOT).rglob("model.skops"))
    assert not Experiment.objects.filter(artifact_path__gt="").exists()


def test_a_completion_tried_again_after_its_commit_went_through_keeps_the_artifact(
    make_config: Callable[..., str],
) -> None:
    """A database restart can lose the reply to a COMMIT that went through:
    the retry (mlplatform.outages.database_write) finds the run completed by
    this very process, and must neither report the claim lost nor delete the
    model file that the completed row points to."""
    experiment = experiment_create(config_text=make_config())
    assert experiment_start(experiment_id=experiment.pk, owner=live_owner())
    frame = dataset_version_load(version=experiment.dataset_version)
    result = training.train(frame, config=parse_config(experiment.config_text), target="Class")
    data = training.model_to_bytes(result.model)

    first = experiment_complete(
        experiment_id=experiment.pk, result=result, artifact_data=data, owner=live_owner()
    )
    again = experiment_complete(
        experiment_id=experiment.pk, result=result, artifact_data=data, owner=live_owner()
    )

    experiment.refresh_from_db()
    assert (first, again) == (True, True)
    assert experiment.status == Status.COMPLETED
    stored = Path(settings.ARTIFACT_ROOT) / experiment.artifact_path
    assert stored.read_bytes() == data
    assert Metric.objects.filter(experiment=experiment, name="accuracy").count() == 1


def test_another_process_never_completes_a_run_it_does_not_hold(
    make_config: Callable[..., str],
) -> None:
    from mlplatform.tests.factories import elsewhere_owner

    experiment = experiment_create(config_text=make_config())
    assert experiment_start(experiment_id=experiment.pk, owner=elsewhere_owner())
    frame = dataset_version_load(version=experiment.dataset_version)
    result = training.train(frame, config=parse_config(experiment.config_text), target="Class")

    kept = experiment_complete(
        experiment_id=experiment.pk,
        result=result,
        artifact_data=training.model_to_bytes(result.model),
        owner=live_owner(),
    )

    experiment.refresh_from_db()
    assert not kept
    assert experiment.status == Status.RUNNING
    assert not any(Path(settings.ARTIFACT_ROOT).rglob("model.skops"))
