from __future__ import annotations

from django.db.models import QuerySet

from serving.models import ScoringRun


def scoring_runs_of_version(*, model_version_id: int, limit: int = 20) -> QuerySet[ScoringRun]:
    """The version's most recent batch scoring runs, newest first."""
    rows = ScoringRun.objects.filter(model_version_id=model_version_id).select_related("user")
    return rows.order_by("-started_at", "-id")[:limit]
