"""run_gate: the report of a candidate against production, and format_report,
its plain-text rendering."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.metrics import METRIC_DIRECTIONS
from mlplatform import numbers
from registry.gate.bootstrap import bootstrap_metrics, percentile_interval
from registry.gate.holdout import prepare_holdout
from registry.gate.inputs import check_spec, parse_inputs
from registry.gate.metrics import point_estimates
from registry.gate.rules import improvement, relative_delta, rule_checks

if TYPE_CHECKING:
    from experiments.configs import GateSpec, MetricRule


PAIRED = "paired: candidate and production scored on the same holdout rows"
NO_PRODUCTION = "no production model: only absolute floors applied"
NOT_COMPARABLE = "not comparable with production: only absolute floors applied"
DELTA_CONVENTION = (
    "delta = candidate - production for higher-is-better metrics and production - candidate "
    "for lower-is-better ones, so a positive delta means the candidate is better; "
    "relative_delta = delta / |production|"
)
METHOD = (
    "paired class-stratified bootstrap: each resample draws positives with replacement among "
    "the positives and negatives among the negatives, the same rows for both models; "
    "percentile intervals"
)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _rules(spec: GateSpec) -> list[MetricRule | None]:
    rules: list[MetricRule | None] = list(spec.rules)
    if all(rule.metric != spec.primary_metric for rule in spec.rules):
        rules.insert(0, None)  # the primary metric is reported even without a rule
    return rules


def _comparison(
    metric: str,
    candidate: float | None,
    production: float | None,
    samples: list[dict[str, np.ndarray]],
    confidence: float,
) -> dict[str, Any]:
    if candidate is None or production is None:
        return {"delta": None, "relative_delta": None, "ci_low": None, "ci_high": None}
    sign = 1.0 if METRIC_DIRECTIONS[metric] else -1.0
    low, high = percentile_interval(sign * (samples[0][metric] - samples[1][metric]), confidence)
    delta = improvement(METRIC_DIRECTIONS[metric], candidate, production)
    relative = relative_delta(delta, production)
    return {"delta": delta, "relative_delta": relative, "ci_low": low, "ci_high": high}


def _metric_entry(
    metric: str,
    rule: MetricRule | None,
    points: list[dict[str, float]],
    samples: list[dict[str, np.ndarray]],
    spec: GateSpec,
) -> dict[str, Any]:
    candidate = _finite(points[0][metric])
    production = _finite(points[1][metric]) if len(points) > 1 else None
    compared = _comparison(metric, candidate, production, samples, spec.confidence)
    interval = (compared["ci_low"], compared["ci_high"])
    checks = (
        rule_checks(
            rule,
            candidate=candidate,
            production=production,
            compare=len(points) > 1,
            interval=interval if metric == spec.primary_metric and None not in interval else None,
            confidence=spec.confidence,
        )
        if rule is not None
        else []
    )
    candidate_low, candidate_high = percentile_interval(samples[0][metric], spec.confidence)
    limits = ("threshold", "max_drop", "max_relative_drop")
    return {
        "metric": metric,
        "greater_is_better": METRIC_DIRECTIONS[metric],
        "primary": metric == spec.primary_metric,
        "candidate": candidate,
        "production": production,
        **compared,
        "candidate_ci_low": candidate_low,
        "candidate_ci_high": candidate_high,
        "rule": {limit: getattr(rule, limit, None) for limit in limits},
        "checks": checks,
        "passed": all(check["passed"] for check in checks),
    }


def _all_of(count: int, noun: str) -> str:
    """ "the one absolute floor", "all 3 absolute floors"."""
    return f"the one {noun}" if count == 1 else f"all {count} {noun}s"


def _summary(report: dict[str, Any], refusal: str | None) -> str:
    if refusal:
        return f"Refused: {refusal}."
    metrics, reasons = report["metrics"], report["reasons"]
    ruled = sum(1 for entry in metrics if entry["checks"])
    if reasons:
        if ruled == 1:
            return f"Failed: the one metric rule is not met: {reasons[0]}"
        failed = sum(1 for entry in metrics if not entry["passed"])
        return f"Failed: {failed} of {ruled} metric rules not met; first: {reasons[0]}"
    if report["comparison"] == NO_PRODUCTION:
        if ruled == 0:
            return "Passed: no production model yet, and no absolute floor to meet."
        floors = _all_of(ruled, "absolute floor")
        return f"Passed: no production model yet; the candidate meets {floors}."
    if report["comparison"] == NOT_COMPARABLE:
        floors = _all_of(ruled, "absolute floor")
        return (
            f"Passed on floors alone: {report['not_comparable']}; the candidate meets {floors}. "
            "A request to production will fail closed (override only)."
        )
    primary = next(entry for entry in metrics if entry["primary"])
    return (
        f"Passed: the candidate meets {_all_of(ruled, 'metric rule')} against production; "
        f"{primary['metric']} {numbers.score(primary['candidate'])} vs "
        f"{numbers.score(primary['production'])}, delta {numbers.signed(primary['delta'])}."
    )


def _refusal(n_pos: int, n_neg: int, min_positives: int, excluded_rows: int) -> str | None:
    what = "the holdout"
    if excluded_rows:
        what = f"the holdout, less the {excluded_rows:,} rows production trained on,"
    if n_pos == 0 or n_neg == 0:
        return f"{what} has {n_pos} positive and {n_neg} negative rows; it needs both"
    if n_pos < min_positives:
        advice = (
            "; train the candidate with production's data set version and split to compare"
            if excluded_rows
            else ""
        )
        return (
            f"{what} has {n_pos} positive rows, fewer than the {min_positives} "
            f"needed to compare models{advice}"
        )
    return None


def _comparison_kind(production_scores: Any, excluded_rows: int, not_comparable: str | None) -> str:
    if not_comparable:
        return NOT_COMPARABLE
    if production_scores is None:
        return NO_PRODUCTION
    if excluded_rows:
        return (
            f"{PAIRED}, less the {excluded_rows:,} rows of the candidate's holdout that "
            "production trained on"
        )
    return PAIRED


def run_gate(
    *,
    y_true: np.ndarray,
    candidate_scores: np.ndarray,
    production_scores: np.ndarray | None,
    spec: GateSpec,
    candidate_threshold: float,
    production_threshold: float | None,
    excluded_rows: int = 0,
    not_comparable: str | None = None,
) -> dict[str, Any]:
    """Judge the candidate against production (or against floors only when
    production_scores is None); return a JSON-serialisable report.

    excluded_rows: how many of the candidate's holdout rows were left out
    because production trained on them (y_true and the scores are the rest);
    not_comparable: why production could not be compared (floors only)."""
    check_spec(spec)
    labels, scores, thresholds = parse_inputs(
        y_true,
        candidate_scores,
        production_scores,
        candidate_threshold,
        production_threshold,
    )
    n_pos = int(labels.sum())
    refusal = _refusal(n_pos, len(labels) - n_pos, int(spec.min_positives), excluded_rows)
    report: dict[str, Any] = {
        "passed": False,
        "summary": "",
        "reasons": [refusal] if refusal else [],
        "comparison": _comparison_kind(production_scores, excluded_rows, not_comparable),
        "not_comparable": not_comparable,
        "delta_convention": DELTA_CONVENTION,
        "method": METHOD,
        "primary_metric": spec.primary_metric,
        "seed": int(spec.seed),
        "resamples": int(spec.resamples),
        "confidence": float(spec.confidence),
        "holdout_rows": len(labels),
        "holdout_positives": n_pos,
        "min_positives": int(spec.min_positives),
        "candidate_threshold": thresholds[0],
        "production_threshold": thresholds[1] if len(thresholds) > 1 else None,
        "metrics": [],
    }
    if 0 < n_pos < len(labels):
        report["metrics"] = _evaluate(labels, scores, thresholds, spec)
    report["reasons"] += [
        f"{entry['metric']}: {check['detail']}"
        for entry in report["metrics"]
        for check in entry["checks"]
        if not check["passed"]
    ]
    report["passed"] = not report["reasons"]
    report["summary"] = _summary(report, refusal)
    return report


def _evaluate(
    labels: np.ndarray,
    scores: list[np.ndarray],
    thresholds: list[float],
    spec: GateSpec,
) -> list[dict[str, Any]]:
    holdout = prepare_holdout(labels, scores, thresholds)
    points = point_estimates(holdout)
    samples = bootstrap_metrics(holdout, int(spec.resamples), int(spec.seed))
    return [
        _metric_entry(
            spec.primary_metric if rule is None else rule.metric,
            rule,
            points,
            samples,
            spec,
        )
        for rule in _rules(spec)
    ]


_COLUMNS = (
    "metric",
    "better",
    "candidate",
    "production",
    "delta",
    "relative",
    "CI of delta",
    "rule",
    "result",
)
# Keys format_report knows; any other top-level key (a newer report's field)
# is still printed, as "key: value", so that nothing recorded goes unseen.
REPORT_KEYS = frozenset(
    {
        "passed",
        "summary",
        "reasons",
        "comparison",
        "delta_convention",
        "method",
        "primary_metric",
        "seed",
        "resamples",
        "confidence",
        "holdout_rows",
        "holdout_positives",
        "min_positives",
        "candidate_threshold",
        "production_threshold",
        "metrics",
        "candidate",
        "production",
        # Shown by name: the policy, the data and the rows compared (gate_runs).
        "policy_model",
        "policy_version",
        "policy",
        "tightenings",
        "candidate_data",
        "production_data",
        "excluded_rows",
        "candidate_holdout_rows",
        "comparable",
        "not_comparable",
        "error",
    }
)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _rule_text(rule: dict[str, Any], greater: bool) -> str:
    parts = []
    if rule.get("threshold") is not None:
        parts.append(f"{'>=' if greater else '<='}{rule['threshold']:g}")
    if rule.get("max_drop") is not None:
        parts.append(f"drop<={rule['max_drop']:g}")
    if rule.get("max_relative_drop") is not None:
        parts.append(f"rel. drop<={rule['max_relative_drop']:.0%}")
    return ", ".join(parts) or "-"


def _row(entry: dict[str, Any]) -> list[str]:
    interval = numbers.interval(_number(entry.get("ci_low")), _number(entry.get("ci_high")))
    result = "-" if not entry.get("checks") else ("pass" if entry.get("passed") else "FAIL")
    return [
        str(entry.get("metric", "?")) + (" *" if entry.get("primary") else ""),
        "higher" if entry.get("greater_is_better", True) else "lower",
        numbers.score(_number(entry.get("candidate"))),
        numbers.score(_number(entry.get("production"))),
        numbers.signed(_number(entry.get("delta"))),
        numbers.relative_change(
            _number(entry.get("relative_delta")),
            value=_number(entry.get("candidate")),
            base=_number(entry.get("production")),
        )
        or "-",
        interval,
        _rule_text(entry.get("rule") or {}, entry.get("greater_is_better", True)),
        result,
    ]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _bootstrap_line(report: dict[str, Any]) -> str:
    kind = "paired" if str(report.get("comparison", "")).startswith(PAIRED) else "candidate-only"
    return (
        f"Bootstrap: {numbers.count(report['resamples'])} {kind} class-stratified resamples, "
        f"{report['confidence']:.0%} percentile CI, seed {report['seed']}; "
        "delta > 0 means the candidate is better"
    )


def _policy_lines(report: dict[str, Any]) -> list[str]:
    if report.get("policy_version") is None:
        return []
    line = f"Policy: gate policy v{report['policy_version']} of {report.get('policy_model', '?')}"
    tightenings = report.get("tightenings") or []
    if tightenings:
        line += "; tightened by the candidate's config: " + "; ".join(tightenings)
    return [line]


def _data_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for side in ("candidate", "production"):
        data = report.get(f"{side}_data")
        if data:
            split = data.get("split") or {}
            lines.append(
                f"{side.capitalize()} data: {data['dataset']}, split test_size "
                f"{split.get('test_size')} seed {split.get('seed')}"
            )
    return lines


def _excluded_text(report: dict[str, Any]) -> str:
    excluded = report.get("excluded_rows")
    if not excluded:
        return ""
    total = report.get("candidate_holdout_rows")
    return (
        f"; {numbers.count(excluded)} of the candidate's {numbers.count(total)} holdout rows "
        "excluded (production trained on them)"
    )


def _extra_lines(report: dict[str, Any]) -> list[str]:
    """Fields this renderer does not know by name, one line each."""
    lines = []
    for key, value in report.items():
        if key in REPORT_KEYS or value is None or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{name} {item}" for name, item in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, int):
            value = numbers.count(value)
        lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return lines


def _pair_lines(report: dict[str, Any]) -> list[str]:
    candidate, production = report.get("candidate"), report.get("production")
    lines = []
    if isinstance(candidate, dict) and candidate.get("experiment_id") is not None:
        lines.append(
            f"Candidate: experiment #{candidate['experiment_id']} {candidate.get('name', '')}"
        )
    if isinstance(production, dict) and production.get("version") is not None:
        lines.append(
            f"Against: production v{production['version']} "
            f"(experiment #{production.get('experiment_id', '?')})"
        )
    return lines


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering for the command line and the admin."""
    lines = [
        f"Regression gate: {'PASSED' if report.get('passed') else 'FAILED'}",
        report.get("summary", ""),
        f"Comparison: {report.get('comparison', '-')}",
        *_pair_lines(report),
        *_policy_lines(report),
        *_data_lines(report),
    ]
    if report.get("holdout_rows") is not None:
        lines.append(
            f"Holdout: {numbers.count(_number(report['holdout_rows']))} rows compared, "
            f"{numbers.count(_number(report.get('holdout_positives')))} positives"
            f" (at least {numbers.count(_number(report.get('min_positives')))} needed)"
            + _excluded_text(report)
        )
    if report.get("resamples") is not None:
        lines.append(_bootstrap_line(report))
    lines += _extra_lines(report)
    metrics = report.get("metrics") or []
    if metrics:
        lines += ["", *_table([list(_COLUMNS), *(_row(entry) for entry in metrics)])]
        lines.append("(* primary metric: its drop limits apply to the CI's lower bound)")
    if report.get("reasons"):
        lines += ["", "Reasons:", *(f"- {reason}" for reason in report["reasons"])]
    return "\n".join(lines)
