"""Rows for view tests, written straight to the database: pages are tested
without training anything unless the test needs real curves or artifacts."""

from __future__ import annotations

import hashlib
from typing import Any

import yaml
from django.utils import timezone

from datasets.models import Dataset, DatasetVersion
from experiments.models import Experiment, Metric, Status

COLUMNS = [{"name": "V1", "dtype": "float64"}, {"name": "Class", "dtype": "int64"}]


def make_dataset_version(name: str = "fraud", version: str = "v1") -> DatasetVersion:
    dataset, _ = Dataset.objects.get_or_create(name=name)
    return DatasetVersion.objects.create(
        dataset=dataset,
        version=version,
        path=f"{name}/{version}.csv",
        sha256="ab" * 32,
        size_bytes=2048,
        row_count=1000,
        columns=COLUMNS,
        target="Class",
        class_counts={"0": 990, "1": 10},
        registered_by_name="pytest",
    )


def config_document(
    dataset_version: DatasetVersion, *, name: str, model_type: str, **params: Any
) -> dict[str, Any]:
    return {
        "experiment_name": name,
        "dataset": {"name": dataset_version.dataset.name, "version": dataset_version.version},
        "model": {"type": model_type, "params": params},
        "split": {"test_size": 0.3, "seed": 7},
        "threshold": 0.5,
    }


def make_experiment(
    dataset_version: DatasetVersion,
    *,
    name: str = "exp",
    status: str = Status.COMPLETED,
    model_type: str = "logistic_regression",
    metrics: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    **fields: Any,
) -> Experiment:
    document = config_document(
        dataset_version, name=name, model_type=model_type, **(params or {"max_iter": 100})
    )
    text = yaml.safe_dump(document, sort_keys=False)
    now = timezone.now()
    defaults: dict[str, Any] = {
        "name": name,
        "config_text": text,
        "config": document,
        "config_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "dataset_version": dataset_version,
        "model_type": model_type,
        "status": status,
        "created_by_name": "pytest",
        "started_at": now if status != Status.CREATED else None,
        "finished_at": now if status not in (Status.CREATED, Status.RUNNING) else None,
    }
    defaults.update(fields)
    experiment = Experiment.objects.create(**defaults)
    Metric.objects.bulk_create(
        Metric(experiment=experiment, name=metric, value=value)
        for metric, value in (metrics or {}).items()
    )
    return experiment
