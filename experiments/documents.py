"""An experiment as one JSON document, the same in every channel: the API's
answers, every command's --json. Built from the rows the selectors read;
datetimes stay datetimes (each channel's JSON encoder writes them alike,
Django's: "2026-12-08T01:02:03.456Z")."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings

from experiments.elapsed import elapsed
from experiments.models import Experiment
from experiments.progress import fit_progress_of
from experiments.selectors import (
    FIELD_SORTS,
    KEY_METRICS,
    experiment_scalar_metrics,
    experiment_stepped_metrics,
)


def experiment_item(experiment: Experiment, sort: str = "") -> dict[str, Any]:
    """One row of a list: no curves, the key metrics (and the sorted one)."""
    metrics = {name: getattr(experiment, f"metric_{name}", None) for name in KEY_METRICS}
    if sort and sort not in FIELD_SORTS:  # sorted by a metric: show it too
        metrics[sort] = getattr(experiment, "sort_metric", None)
    return {
        "id": experiment.pk,
        "name": experiment.name,
        "status": experiment.status,
        "phase": experiment.phase,
        "model_type": experiment.model_type,
        "dataset": experiment.dataset_version.label,
        "source": experiment.source,
        "created_by": experiment.created_by_name,
        "created_at": experiment.created_at,
        "started_at": experiment.started_at,
        "finished_at": experiment.finished_at,
        "metrics": metrics,
    }


def registration_document(experiment: Experiment) -> dict[str, Any]:
    return {
        "state": experiment.registration,
        "message": experiment.registration_message,
        "attempts": experiment.registration_attempts,
        "max_attempts": settings.REGISTRATION_MAX_ATTEMPTS,
        "next_retry_at": experiment.registration_retry_at,
    }


def experiment_document(experiment: Experiment) -> dict[str, Any]:
    """Everything about one experiment (from selectors.experiment_detail)."""
    stepped = experiment_stepped_metrics(experiment_id=experiment.pk)
    version = getattr(experiment, "model_version", None)
    gates = list(experiment.gate_evaluations.all())
    return {
        **experiment_item(experiment),
        "metrics": experiment_scalar_metrics(experiment_id=experiment.pk),
        "progress": {
            "phase": experiment.phase,
            "elapsed_seconds": elapsed(experiment).seconds,
            "heartbeat_at": experiment.heartbeat_at,
            "worker_name": experiment.worker_name,
            "fit": _fit_progress(experiment),
        },
        "registration": registration_document(experiment),
        "error_message": experiment.error_message,
        "enqueued_at": experiment.enqueued_at,
        "timeout_seconds": experiment.timeout_seconds,
        "config": experiment.config,
        "config_text": experiment.config_text,
        "config_sha256": experiment.config_sha256,
        "series": {
            name: [{"step": step, "value": value} for step, value in steps]
            for name, steps in stepped.items()
        },
        "curves": experiment.curves or {},
        "artifact": (
            {"sha256": experiment.artifact_sha256, "size_bytes": experiment.artifact_size}
            if experiment.artifact_sha256
            else None
        ),
        "model_version": _version_ref(version),
        "gate_runs": [
            {
                "id": run.pk,
                "model": run.registered_model.name,
                "purpose": run.purpose,
                "passed": run.passed,
                "baseline_version": run.baseline_version.version if run.baseline_version else None,
                "created_at": run.created_at,
            }
            for run in gates
        ],
        # The newest gate run's full report (its table is what a person reads).
        "gate_report": max(gates, key=lambda run: (run.created_at, run.pk)).report
        if gates
        else None,
    }


def _version_ref(version: Any) -> dict[str, Any] | None:
    """The version registered from the run, and the other versions trained
    from the same config on the same data (the version's page flags them)."""
    if version is None:
        return None
    from registry.selectors import identical_versions  # registry builds on experiments

    return {
        "model": version.registered_model.name,
        "version": version.version,
        "stage": version.stage,
        "identical_to": [other.version for other in identical_versions(version=version)],
    }


def _fit_progress(experiment: Experiment) -> dict[str, Any] | None:
    progress = fit_progress_of(experiment)
    if progress is None:
        return None
    return {**dataclasses.asdict(progress), "text": progress.text}
