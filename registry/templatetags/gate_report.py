"""{% load gate_report %}: a stored gate report as the page shows it.

Reports are JSON written by registry.gate at the time; older ones lack
fields and newer ones add some, so every field is read with a default and
fields without a name here are listed as they are (extra_facts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from mlplatform import numbers

register = template.Library()

PICTURE_WIDTH, PICTURE_HEIGHT = 220, 26
PAD = 8


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Picture:
    """An interval of delta on a line, against the drop the rule allows:
    zero and -allowed as ticks, the interval as a bar (red when its lower
    end is past the allowed drop), the point estimate as a dot."""

    low_x: float
    high_x: float
    delta_x: float | None
    zero_x: float
    limit_x: float | None
    breaches: bool
    title: str
    width: int = PICTURE_WIDTH
    height: int = PICTURE_HEIGHT

    @property
    def middle(self) -> float:
        return self.height / 2


def allowed_drop(entry: dict[str, Any]) -> float | None:
    """The stricter of the rule's absolute and relative drop limits, in metric units."""
    rule = entry.get("rule") or {}
    limits = []
    if _number(rule.get("max_drop")) is not None:
        limits.append(float(rule["max_drop"]))
    production = _number(entry.get("production"))
    if _number(rule.get("max_relative_drop")) is not None and production is not None:
        limits.append(float(rule["max_relative_drop"]) * abs(production))
    return min(limits) if limits else None


def interval_picture(entry: dict[str, Any], confidence: float) -> Picture | None:
    low, high = _number(entry.get("ci_low")), _number(entry.get("ci_high"))
    if low is None or high is None:
        return None
    delta, allowed = _number(entry.get("delta")), allowed_drop(entry)
    points = [low, high, 0.0] + ([-allowed] if allowed is not None else [])
    left, right = min(points), max(points)
    span = (right - left) or 1.0
    left, right = left - 0.1 * span, right + 0.1 * span

    def x(value: float) -> float:
        return round(PAD + (value - left) / (right - left) * (PICTURE_WIDTH - 2 * PAD), 1)

    limit_text = f"; allowed drop {numbers.score(allowed)}" if allowed is not None else ""
    return Picture(
        low_x=x(low),
        high_x=x(high),
        delta_x=x(delta) if delta is not None else None,
        zero_x=x(0.0),
        limit_x=x(-allowed) if allowed is not None else None,
        breaches=allowed is not None and low < -allowed,
        title=f"{confidence:.0%} CI of delta {numbers.interval(low, high)}{limit_text}",
    )


@dataclass(frozen=True)
class Row:
    metric: str
    primary: bool
    better: str
    candidate: str
    production: str
    delta: str
    relative: str
    interval: str
    rule: str
    checks: list[dict[str, Any]]
    result: str  # "pass", "fail" or "" (no rule)
    picture: Picture | None


def _rule_text(rule: dict[str, Any], greater: bool) -> str:
    parts = []
    if _number(rule.get("threshold")) is not None:
        parts.append(f"{'floor' if greater else 'ceiling'} {rule['threshold']:g}")
    if _number(rule.get("max_drop")) is not None:
        parts.append(f"drop at most {rule['max_drop']:g}")
    if _number(rule.get("max_relative_drop")) is not None:
        parts.append(f"relative drop at most {rule['max_relative_drop']:.0%}")
    return ", ".join(parts) or "-"


def _row(entry: dict[str, Any], confidence: float) -> Row:
    greater = bool(entry.get("greater_is_better", True))
    checks = [check for check in entry.get("checks") or [] if isinstance(check, dict)]
    return Row(
        metric=str(entry.get("metric", "?")),
        primary=bool(entry.get("primary")),
        better="higher" if greater else "lower",
        candidate=numbers.score(_number(entry.get("candidate"))),
        production=numbers.score(_number(entry.get("production"))),
        delta=numbers.signed(_number(entry.get("delta"))),
        relative=numbers.relative_change(
            _number(entry.get("relative_delta")),
            value=_number(entry.get("candidate")),
            base=_number(entry.get("production")),
        ),
        interval=numbers.interval(_number(entry.get("ci_low")), _number(entry.get("ci_high"))),
        rule=_rule_text(entry.get("rule") or {}, greater),
        checks=checks,
        result=("pass" if entry.get("passed") else "fail") if checks else "",
        picture=interval_picture(entry, confidence),
    )


def _fact_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return numbers.count(value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {_fact_text(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_fact_text(item) for item in value)
    return str(value)


@register.filter
def gate_rows(report: dict[str, Any]) -> list[Row]:
    if not isinstance(report, dict):
        return []
    confidence = _number(report.get("confidence")) or 0.95
    return [
        _row(entry, confidence) for entry in report.get("metrics") or [] if isinstance(entry, dict)
    ]


@register.filter
def has_picture(rows: list[Row]) -> bool:
    return any(row.picture is not None for row in rows)


@register.filter
def extra_facts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Fields a newer gate writes that this page has no place for by name
    (e.g. policy_version, excluded_rows, comparable, the dataset and split)."""
    # Imported here: template tag modules are imported whenever Django sets up
    # its template engine (system checks of every command), and the gate
    # package brings numpy with it.
    from registry.gate.report import REPORT_KEYS

    if not isinstance(report, dict):
        return []
    return [
        (key.replace("_", " ").capitalize(), _fact_text(value))
        for key, value in report.items()
        if key not in REPORT_KEYS and value not in (None, "", [], {})
    ]


@register.filter
def confidence_percent(report: dict[str, Any]) -> str:
    confidence = _number(report.get("confidence")) if isinstance(report, dict) else None
    return f"{confidence:.0%}" if confidence is not None else "95%"
