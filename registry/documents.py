"""A stage request as one JSON document, the same in every channel: the API's
answers and the --json of request_promotion, approve_promotion and
withdraw_request."""

from __future__ import annotations

from typing import Any

from registry.models import StageRequest


def stage_request_item(request: StageRequest) -> dict[str, Any]:
    """One row of a list of requests."""
    version = request.model_version
    return {
        "id": request.pk,
        "model": version.registered_model.name,
        "version": version.version,
        "from_stage": request.from_stage,
        "to_stage": request.to_stage,
        "status": request.status,
        "reason": request.reason,
        "requested_by": request.requested_by.get_username(),
        "requested_at": request.requested_at,
        "gate_passed": request.gate.passed if request.gate is not None else None,
        "decided_by": request.decided_by.get_username() if request.decided_by else None,
        "decided_at": request.decided_at,
        "decision_reason": request.decision_reason,
        "override": request.override,
        "channel": request.channel,
    }


def stage_request_document(request: StageRequest) -> dict[str, Any]:
    """The request with its gate run's report."""
    gate = request.gate
    return {
        **stage_request_item(request),
        "gate_report": gate.report if gate is not None else None,
        "gate_baseline_version": (
            gate.baseline_version.version if gate is not None and gate.baseline_version else None
        ),
    }
