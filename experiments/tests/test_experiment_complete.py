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
