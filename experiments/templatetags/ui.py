"""Formatting filters shared by every page: {% load ui %}. Each one is a thin
wrapper around mlplatform.numbers or experiments.metrics, so that a page, the
admin and a command print the same number the same way."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone

from experiments.metrics import format_metric, format_metric_delta
from mlplatform import numbers

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """0.4 -> "0.4 s", 125 -> "2 min 5 s", 3725 -> "1 h 2 min"."""
    return numbers.duration(seconds)


@register.filter
def metric(value: float | None, name: str = "") -> str:
    """{{ value|metric:name }}: counts as integers, timings as durations, scores
    with four decimals. Without a name the value is read as a score."""
    return format_metric(name, value)


@register.filter
def metric_delta(value: float | None, name: str = "") -> str:
    return format_metric_delta(name, value)


@register.filter
def count(value: float | None) -> str:
    return numbers.count(value)


@register.filter
def score(value: float | None) -> str:
    return numbers.score(value)


@register.filter
def signed(value: float | None) -> str:
    return numbers.signed(value)


@register.filter
def signed_percent(value: float | None) -> str:
    return numbers.signed_percent(value)


@register.filter
def size(size_bytes: int | None) -> str:
    return numbers.size(size_bytes)


@register.filter
def percent(part: float, whole: float) -> str:
    return numbers.percent(part, whole)


@register.filter
def span(delta: timedelta | None) -> str:
    """A timedelta (e.g. finished - started) as a duration: "2.8 s"."""
    return numbers.duration(None if delta is None else delta.total_seconds())


@register.filter
def ago(moment: datetime | None) -> str:
    """Seconds matter for a heartbeat: "4.2 s ago", not "0 minutes ago"."""
    if moment is None:
        return numbers.MISSING
    return f"{numbers.duration(max(0.0, (timezone.now() - moment).total_seconds()))} ago"


@register.filter
def metric_of(obj: Any, name: str) -> str:
    """The annotated metric `metric_<name>` of a row, formatted for `name`."""
    return format_metric(name, getattr(obj, f"metric_{name}", None))
