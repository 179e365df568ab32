from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from experiments.models import Metric
from mlplatform.cli import JsonCommand
from registry.models import ModelVersion, StageTransition
from registry.selectors import (
    latest_transitions,
    pending_stage_requests,
    registered_models_with_versions,
)

KEY_METRICS = ("average_precision", "roc_auc")


class Command(JsonCommand):
    help = "Every registered model, its versions and stages, and the latest decisions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        status = registry_status()
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2, default=str))
            return
        for model in status["models"]:
            self.stdout.write(f"{model['name']}")
            for version in model["versions"]:
                metrics = "  ".join(f"{k}={v:.4f}" for k, v in version["metrics"].items())
                self.stdout.write(
                    f"  v{version['version']:<3} {version['stage']:<10} "
                    f"experiment #{version['experiment_id']}  {metrics}"
                )
                for decision in version["history"]:
                    self.stdout.write(
                        f"      {decision['at']:%Y-%m-%d %H:%M} {decision['from']} -> "
                        f"{decision['to']} {decision['decision']} by {decision['by']}"
                    )
        self.stdout.write(f"pending requests: {len(status['pending_requests'])}")
        for request in status["pending_requests"]:
            self.stdout.write(
                f"  #{request['id']} {request['model']} v{request['version']} -> "
                f"{request['to_stage']} by {request['requested_by']} "
                f"({request['status']}, gate: {request['gate_passed']})"
            )


def registry_status() -> dict[str, Any]:
    models = list(registered_models_with_versions())
    version_ids = [v.pk for m in models for v in m.versions.all()]
    experiment_ids = [v.experiment_id for m in models for v in m.versions.all()]
    history = latest_transitions(model_version_ids=version_ids)
    metrics: dict[int, dict[str, float]] = {}
    for experiment_id, name, value in Metric.objects.filter(
        experiment_id__in=experiment_ids, name__in=KEY_METRICS, step__isnull=True
    ).values_list("experiment_id", "name", "value"):
        metrics.setdefault(experiment_id, {})[name] = value
    return {
        "models": [
            {
                "name": model.name,
                "versions": [
                    _version(version, metrics, history.get(version.pk, []))
                    for version in model.versions.all()
                ],
            }
            for model in models
        ],
        "pending_requests": [_request(request) for request in pending_stage_requests()],
    }


def _version(
    version: ModelVersion,
    metrics: dict[int, dict[str, float]],
    history: list[StageTransition],
) -> dict[str, Any]:
    return {
        "version": version.version,
        "stage": version.stage,
        "experiment_id": version.experiment_id,
        "artifact_sha256": version.artifact_sha256,
        "metrics": metrics.get(version.experiment_id, {}),
        "history": [
            {
                "at": transition.created_at,
                "from": transition.from_stage,
                "to": transition.to_stage,
                "decision": transition.decision,
                "by": _who(transition),
                "override": transition.override,
            }
            for transition in history
        ],
    }


def _who(transition: StageTransition) -> str:
    if transition.approved_by is not None:
        return transition.approved_by.get_username()
    return transition.actor_label or "system"


def _request(request: Any) -> dict[str, Any]:
    return {
        "id": request.pk,
        "model": request.model_version.registered_model.name,
        "version": request.model_version.version,
        "from_stage": request.from_stage,
        "to_stage": request.to_stage,
        "requested_by": request.requested_by.get_username(),
        "reason": request.reason,
        "status": request.status,
        "gate_passed": None if request.gate is None else request.gate.passed,
    }
