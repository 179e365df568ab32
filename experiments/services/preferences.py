"""Per-user choices about how pages look; nothing here is a governance fact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from experiments.models import ListColumns

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

MAX_METRIC_COLUMNS = 8


def experiment_list_columns_set(
    *,
    user: User | AnonymousUser,
    metrics: list[str],
    known_metrics: list[str],
) -> list[str]:
    """Remember which metric columns `user` sees on the experiment list, in
    order; each must be a metric some experiment recorded (known_metrics)."""
    if not user.is_authenticated:
        raise ValidationError("log in to keep a choice of columns")
    chosen = list(dict.fromkeys(metrics))
    unknown = [name for name in chosen if name not in known_metrics]
    if unknown:
        raise ValidationError(f"no experiment recorded a metric named {unknown[0]!r}")
    if len(chosen) > MAX_METRIC_COLUMNS:
        raise ValidationError(
            f"choose at most {MAX_METRIC_COLUMNS} metric columns (got {len(chosen)})"
        )
    ListColumns.objects.update_or_create(user=user, defaults={"metrics": chosen})
    return chosen


def experiment_list_columns_reset(*, user: User | AnonymousUser) -> None:
    """Back to the default columns (experiments.selectors.KEY_METRICS)."""
    if user.is_authenticated:
        ListColumns.objects.filter(user=user).delete()
