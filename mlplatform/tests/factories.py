"""Rows for view tests, written straight to the database: pages are tested
without training anything unless the test needs real curves or artifacts."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import yaml
from django.utils import timezone

from datasets.models import Dataset, DatasetVersion
from experiments.models import Experiment, Metric, Status

if TYPE_CHECKING:
    from registry.models import GateEvaluation, ModelVersion

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


def make_model_version(
    experiment: Experiment,
    *,
    model_name: str = "fraud_detector",
    version: int = 1,
    stage: str = "staging",
    gate_passed: bool | None = True,
    report: dict[str, Any] | None = None,
) -> ModelVersion:
    """A registered version of `experiment`, with a registration gate unless
    gate_passed is None (its report: `report`, or a stub). Written directly:
    no gate runs."""
    from registry.history_chain import history_append
    from registry.models import GateEvaluation, ModelVersion, RegisteredModel

    registered_model, _ = RegisteredModel.objects.get_or_create(name=model_name)
    gate = None
    if gate_passed is not None:
        gate = history_append(
            GateEvaluation,
            registered_model=registered_model,
            candidate=experiment,
            purpose=GateEvaluation.Purpose.REGISTRATION,
            passed=gate_passed,
            report=report or {"passed": gate_passed, "summary": "written by a test", "metrics": []},
        )
    return ModelVersion.objects.create(
        registered_model=registered_model,
        version=version,
        experiment=experiment,
        artifact_sha256="cd" * 32,
        stage=stage,
        registration_gate=gate,
        stage_changed_at=timezone.now(),
    )


def make_gate_evaluation(
    candidate: Experiment,
    baseline_version: ModelVersion,
    *,
    metrics: list[dict[str, Any]],
    passed: bool = True,
) -> GateEvaluation:
    """A stored promotion gate of `candidate` against `baseline_version`."""
    from registry.history_chain import history_append
    from registry.models import GateEvaluation

    report = {"passed": passed, "summary": "written by a test", "confidence": 0.95}
    return history_append(
        GateEvaluation,
        registered_model=baseline_version.registered_model,
        candidate=candidate,
        baseline_version=baseline_version,
        purpose=GateEvaluation.Purpose.PROMOTION,
        passed=passed,
        report={**report, "metrics": metrics},
    )


def dead_owner() -> str:
    """The owner token of a process of this machine that has exited."""
    import subprocess

    from mlplatform.owners import Owner, this_machine

    probe = subprocess.Popen(["true"])
    pid = probe.pid
    probe.wait()
    return Owner(host="here", pid=pid, machine=this_machine(), start=1, nonce="dead").token


def elsewhere_owner() -> str:
    """The owner token of a process on another host: it cannot be looked up."""
    from mlplatform.owners import Owner

    return Owner(host="elsewhere", pid=4242, machine="other-machine", start=7, nonce="far").token


def live_owner() -> str:
    """This test process's own owner token: alive."""
    from mlplatform.owners import process_owner

    return process_owner().token
