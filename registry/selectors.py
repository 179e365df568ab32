from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from registry.models import ModelVersion, RegisteredModel, StageRequest, StageTransition


def registered_models_with_versions() -> QuerySet[RegisteredModel]:
    versions = ModelVersion.objects.select_related(
        "experiment", "registration_gate"
    ).order_by("-version")
    return RegisteredModel.objects.prefetch_related(Prefetch("versions", queryset=versions))


def pending_stage_requests() -> QuerySet[StageRequest]:
    return (
        StageRequest.objects.filter(status=StageRequest.Status.PENDING)
        .select_related("model_version__registered_model", "requested_by", "gate")
        .order_by("requested_at", "id")
    )


def latest_transitions(*, model_version_ids: list[int], limit: int = 5) -> dict[int, list]:
    """The newest decisions per version, for status listings."""
    by_version: dict[int, list[StageTransition]] = {}
    rows = (
        StageTransition.objects.filter(model_version_id__in=model_version_ids)
        .select_related("requested_by", "approved_by")
        .order_by("-created_at", "-id")
    )
    for transition in rows:
        entries = by_version.setdefault(transition.model_version_id, [])
        if len(entries) < limit:
            entries.append(transition)
    return by_version
