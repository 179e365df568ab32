"""The checks of one metric rule: floors, drop limits and non-inferiority."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplatform import numbers

if TYPE_CHECKING:
    from experiments.configs import MetricRule


def _check(name: str, passed: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail}


def _floor_check(rule: MetricRule, threshold: float, candidate: float) -> dict[str, Any]:
    if rule.greater_is_better:
        passed, word = candidate >= threshold, "floor"
    else:
        passed, word = candidate <= threshold, "ceiling"
    verdict = "meets" if passed else "misses"
    return _check(
        "threshold",
        passed,
        f"candidate {numbers.score(candidate)} {verdict} the {word} {numbers.score(threshold)}",
    )


def _drop_check(
    name: str,
    allowed: float,
    delta: float,
    interval: tuple[float, float] | None,
    confidence: float,
) -> dict[str, Any]:
    """delta >= -allowed; with an interval, its lower bound must be (non-inferiority)."""
    if interval is None:
        shown = f"candidate is {numbers.score(abs(delta))} {'better' if delta >= 0 else 'worse'}"
        return _check(name, delta >= -allowed, f"{shown}; allowed drop {numbers.score(allowed)}")
    low, high = interval
    verdict = "at or above" if low >= -allowed else "below"
    detail = (
        f"non-inferiority: {confidence:.0%} CI of delta {numbers.interval(low, high)}, "
        f"lower bound {verdict} {numbers.signed(-allowed)}"
    )
    return _check(name, low >= -allowed, detail)


def rule_checks(
    rule: MetricRule,
    *,
    candidate: float | None,
    production: float | None,
    interval: tuple[float, float] | None = None,
    compare: bool = True,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """The checks of one rule. delta is improvement-oriented (see the package doc);
    pass `interval` (the CI of delta) to judge the drop limits by its lower bound."""
    missing = [
        side
        for side, value in (("candidate", candidate), ("production", production))
        if value is None and (side == "candidate" or compare)
    ]
    # `missing` names the candidate when it is None, and production when it is
    # None and compared: the `is None` tests only say so to the type checker.
    if missing or candidate is None:
        detail = f"{rule.metric} cannot be computed for the {' and '.join(missing)} model"
        return [_check("computable", False, f"{detail}; it needs probabilities in [0, 1]")]
    checks = [] if rule.threshold is None else [_floor_check(rule, rule.threshold, candidate)]
    if not compare or production is None:
        return checks
    delta = improvement(rule.greater_is_better, candidate, production)
    if rule.max_drop is not None:
        checks.append(_drop_check("max_drop", rule.max_drop, delta, interval, confidence))
    if rule.max_relative_drop is not None:
        allowed = rule.max_relative_drop * abs(production)
        check = _drop_check("max_relative_drop", allowed, delta, interval, confidence)
        check["detail"] += (
            f" ({rule.max_relative_drop:.2%} of |production| {numbers.score(abs(production))})"
        )
        checks.append(check)
    return checks


def improvement(greater_is_better: bool, candidate: float, production: float) -> float:
    return candidate - production if greater_is_better else production - candidate


def relative_delta(delta: float, production: float) -> float | None:
    """delta as a fraction of |production|; None when production is 0."""
    return delta / abs(production) if production != 0 else None
