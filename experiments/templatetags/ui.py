"""Small formatting filters shared by every page: {% load ui %}."""

from __future__ import annotations

from typing import Any

from django import template

from mlplatform import numbers

register = template.Library()


@register.filter
def duration(seconds: int | None) -> str:
    """42 -> "42 s", 125 -> "2 min 5 s", 3725 -> "1 h 2 min"."""
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@register.filter
def size(size_bytes: int | None) -> str:
    """Binary units, as everywhere: 209715200 -> "200.0 MiB"."""
    return numbers.size(size_bytes)


@register.filter
def metric(value: float | None) -> str:
    """Scores with four decimals; counts (whole numbers above 1) as integers."""
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) > 1:
        return f"{int(value):,}"
    return f"{value:.4f}"


@register.filter
def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"


@register.filter
def metric_of(obj: Any, name: str) -> str:
    """The annotated key metric `metric_<name>` of a row, formatted."""
    return metric(getattr(obj, f"metric_{name}", None))
