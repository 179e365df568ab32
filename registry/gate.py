"""The regression gate: may a candidate model replace the production model?

Both models are scored on the same holdout rows. Every rule of the config's
GateSpec is checked on point estimates, except the primary metric's drop limits
(max_drop and max_relative_drop), which must hold for the lower bound of a
paired, class-stratified bootstrap confidence interval of delta
(non-inferiority). A holdout with fewer positives than spec.min_positives is
refused. No Django and no scikit-learn in here; the tests check that the
numbers equal scikit-learn's.

Conventions, also stated in every report:
- delta is improvement-oriented: candidate - production for higher-is-better
  metrics, production - candidate for lower-is-better ones (log_loss), so a
  positive delta always means "candidate better" and the drop limits read
  "delta >= -max_drop" for every metric.
- relative_delta = delta / |production| (the absolute value, so a negative
  baseline does not flip the sign); None when production is 0. The
  max_relative_drop check is "delta >= -max_relative_drop * |production|",
  which with production 0 passes only when delta >= 0.
- precision, recall, f1 and accuracy predict class 1 when score >= threshold,
  each model at its own threshold; precision is 0 when nothing is predicted
  positive (scikit-learn's default).
- log_loss clips probabilities to [eps, 1 - eps] like scikit-learn and cannot
  be computed for scores outside [0, 1]; a rule on it then fails.

Speed: a resample is a vector of per-row counts. Negatives are grouped into
"cells" of rows that every model ranks alike with respect to its positives'
scores and its threshold, so AP, ROC AUC and the confusion counts of a resample
follow from a few hundred cell counts; only log_loss needs every row's count.
A resample's draws index the negatives in that cell order (uniform draws, so
the distribution is unchanged); resample_rows() returns the rows it used.
Non-inferiority passes when the bound is at or above -max_drop, so identical
models pass even with max_drop 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.metrics import METRIC_DIRECTIONS

if TYPE_CHECKING:
    from experiments.configs import GateSpec, MetricRule

GATE_METRICS: tuple[str, ...] = tuple(METRIC_DIRECTIONS)

PAIRED = "paired: candidate and production scored on the same holdout rows"
NO_PRODUCTION = "no production model: only absolute floors applied"
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
_EPS = float(np.finfo(np.float64).eps)
_DRAWS_PER_CHUNK = 1 << 18  # rows drawn per chunk of resamples: 2 MB arrays stay cheap


class GateError(Exception):
    """The gate's inputs are unusable (lengths, labels, scores, thresholds or spec)."""


# ------------------------------------------------------------------ validation


def _labels(y_true: Any) -> np.ndarray:
    labels = np.asarray(y_true)
    if labels.ndim != 1 or labels.size == 0:
        raise GateError(f"y_true must be a non-empty 1-D array, got shape {labels.shape}")
    if labels.dtype == bool:
        return labels
    if not np.issubdtype(labels.dtype, np.number):
        raise GateError(f"y_true must hold 0 and 1, got dtype {labels.dtype}")
    strange = labels[(labels != 0) & (labels != 1)]
    if strange.size:
        raise GateError(f"y_true must hold only 0 and 1, found {strange[0]!r}")
    return labels == 1


def _scores(name: str, scores: Any, n_rows: int) -> np.ndarray:
    try:
        values = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise GateError(f"{name} must be numbers: {error}") from None
    if values.shape != (n_rows,):
        raise GateError(f"{name} has shape {values.shape}, y_true has {n_rows} rows")
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise GateError(f"{name} has {bad} NaN or infinite values")
    return values


def _threshold(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise GateError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise GateError(f"{name} must be finite, got {value}")
    return float(value)


def _check_spec(spec: GateSpec) -> None:
    if spec.primary_metric not in METRIC_DIRECTIONS:
        raise GateError(f"unknown primary metric {spec.primary_metric!r}")
    for rule in spec.rules:
        if rule.metric not in METRIC_DIRECTIONS:
            raise GateError(f"unknown metric {rule.metric!r}; known: {', '.join(GATE_METRICS)}")
        if rule.greater_is_better != METRIC_DIRECTIONS[rule.metric]:
            word = "higher" if METRIC_DIRECTIONS[rule.metric] else "lower"
            raise GateError(
                f"the rule for {rule.metric} has greater_is_better={rule.greater_is_better}, "
                f"but {word} {rule.metric} is better"
            )
    if int(spec.resamples) < 1 or not 0 < spec.confidence < 1 or int(spec.seed) < 0:
        raise GateError("resamples must be >= 1, confidence in (0, 1) and seed >= 0")


# ------------------------------------------------------------ data preparation


@dataclass(frozen=True)
class _Grouping:
    """Sums the columns of a (resamples, items) matrix that share a group id."""

    order: np.ndarray
    starts: np.ndarray
    present: np.ndarray
    n_groups: int

    @classmethod
    def of(cls, group_ids: np.ndarray, n_groups: int) -> _Grouping:
        order = np.argsort(group_ids, kind="stable")
        ordered = group_ids[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        return cls(order, starts, ordered[starts], n_groups)

    def sum(self, weights: np.ndarray) -> np.ndarray:
        totals = np.zeros((weights.shape[0], self.n_groups))
        totals[:, self.present] = np.add.reduceat(weights[:, self.order], self.starts, axis=1)
        return totals


@dataclass(frozen=True)
class _Model:
    """One model's scores reduced to what the metrics need.

    levels are the distinct positive scores plus the threshold, ascending; a
    negative's segment is 2j when it scores below level j (and above j - 1),
    2j + 1 when it ties level j, and 2L above every level."""

    threshold_level: int
    positive_levels: _Grouping  # positives -> levels
    segments: _Grouping  # negative cells -> segments
    positive_losses: np.ndarray | None
    negative_losses: np.ndarray | None  # in cell order


@dataclass(frozen=True)
class _Holdout:
    positive_rows: np.ndarray
    negative_rows: np.ndarray  # grouped by cell
    cell_starts: np.ndarray
    models: tuple[_Model, ...]
    negative_losses: np.ndarray  # (negatives, models), zeros where log_loss is undefined


def _segments(levels: np.ndarray, negative_scores: np.ndarray) -> np.ndarray:
    below = np.searchsorted(levels, negative_scores, side="left")
    tied = levels[np.minimum(below, len(levels) - 1)] == negative_scores
    return 2 * below + tied


def _log_losses(
    scores: np.ndarray, positive_rows: np.ndarray, negative_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """Per-row log loss as scikit-learn computes it, or None for non-probabilities."""
    if scores.min() < 0 or scores.max() > 1:
        return None, None
    positive = -np.log(np.clip(scores[positive_rows], _EPS, 1 - _EPS))
    negative = -np.log(np.clip(1 - scores[negative_rows], _EPS, 1 - _EPS))
    return positive, negative


def _prepare(
    labels: np.ndarray, scores: Sequence[np.ndarray], thresholds: Sequence[float]
) -> _Holdout:
    positive_rows, negative_rows = np.flatnonzero(labels), np.flatnonzero(~labels)
    levels = [
        np.unique(np.append(s[positive_rows], t)) for s, t in zip(scores, thresholds, strict=True)
    ]
    segments = [_segments(lv, s[negative_rows]) for lv, s in zip(levels, scores, strict=True)]
    cell_key = np.zeros(len(negative_rows), dtype=np.int64)
    for model_levels, model_segments in zip(levels, segments, strict=True):
        cell_key = cell_key * (2 * len(model_levels) + 1) + model_segments
    order = np.argsort(cell_key, kind="stable")
    negative_rows, cell_key = negative_rows[order], cell_key[order]
    cell_starts = np.flatnonzero(np.r_[True, cell_key[1:] != cell_key[:-1]])
    models = tuple(
        _model(s, t, lv, positive_rows, negative_rows, seg[order][cell_starts])
        for s, t, lv, seg in zip(scores, thresholds, levels, segments, strict=True)
    )
    negative_losses = np.column_stack(
        [
            np.zeros(len(negative_rows)) if m.negative_losses is None else m.negative_losses
            for m in models
        ]
    )
    return _Holdout(positive_rows, negative_rows, cell_starts, models, negative_losses)


def _model(
    scores: np.ndarray,
    threshold: float,
    levels: np.ndarray,
    positive_rows: np.ndarray,
    negative_rows: np.ndarray,
    cell_segments: np.ndarray,
) -> _Model:
    positive_levels = np.searchsorted(levels, scores[positive_rows])
    positive_losses, negative_losses = _log_losses(scores, positive_rows, negative_rows)
    return _Model(
        threshold_level=int(np.searchsorted(levels, threshold)),
        positive_levels=_Grouping.of(positive_levels, len(levels)),
        segments=_Grouping.of(cell_segments, 2 * len(levels) + 1),
        positive_losses=positive_losses,
        negative_losses=negative_losses,
    )


# --------------------------------------------------------------------- metrics


def _suffix_sum(values: np.ndarray) -> np.ndarray:
    return np.cumsum(values[:, ::-1], axis=1)[:, ::-1]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _metrics(
    model: _Model, positive_weights: np.ndarray, cell_counts: np.ndarray, loss_sums: np.ndarray
) -> dict[str, np.ndarray]:
    """Every gate metric for each row of weights; rows sum to the class sizes."""
    n_pos, n_neg = positive_weights[0].sum(), cell_counts[0].sum()
    positives_at = model.positive_levels.sum(positive_weights)
    positives_at_or_above = _suffix_sum(positives_at)
    negatives_from = _suffix_sum(model.segments.sum(cell_counts))
    at_or_above, above = negatives_from[:, 1::2], negatives_from[:, 2::2]
    ranked_below = n_neg - 0.5 * (at_or_above + above)  # a tie counts one half
    precision_at = _ratio(positives_at_or_above, positives_at_or_above + at_or_above)
    tp = positives_at_or_above[:, model.threshold_level]
    fp = at_or_above[:, model.threshold_level]
    return {
        "average_precision": (positives_at * precision_at).sum(axis=1) / n_pos,
        "roc_auc": (positives_at * ranked_below).sum(axis=1) / (n_pos * n_neg),
        "log_loss": loss_sums / (n_pos + n_neg),
        "precision": _ratio(tp, tp + fp),
        "recall": tp / n_pos,
        "f1": 2 * tp / (tp + fp + n_pos),
        "accuracy": (tp + n_neg - fp) / (n_pos + n_neg),
    }


def _all_metrics(
    holdout: _Holdout, positive_counts: np.ndarray, negative_counts: np.ndarray
) -> list[dict[str, np.ndarray]]:
    """Metrics per model for each row of (float) draw counts."""
    cell_counts = np.add.reduceat(negative_counts, holdout.cell_starts, axis=1)
    negative_loss_sums = negative_counts @ holdout.negative_losses
    results = []
    for index, model in enumerate(holdout.models):
        if model.positive_losses is None:
            loss_sums = np.full(len(positive_counts), np.nan)
        else:
            loss_sums = positive_counts @ model.positive_losses + negative_loss_sums[:, index]
        results.append(_metrics(model, positive_counts, cell_counts, loss_sums))
    return results


def _point_estimates(holdout: _Holdout) -> list[dict[str, float]]:
    positive_counts = np.ones((1, len(holdout.positive_rows)))
    negative_counts = np.ones((1, len(holdout.negative_rows)))
    results = _all_metrics(holdout, positive_counts, negative_counts)
    return [{name: float(values[0]) for name, values in result.items()} for result in results]


# ------------------------------------------------------------------- bootstrap


def _chunk_size(n_rows: int) -> int:
    return max(1, _DRAWS_PER_CHUNK // n_rows)


def _draws(n_pos: int, n_neg: int, resamples: int, seed: int) -> Iterator[tuple[Any, Any]]:
    """Chunks of (positive draws, negative draws): row positions within each class."""
    rng = np.random.default_rng(seed)
    per_chunk = _chunk_size(n_pos + n_neg)
    for start in range(0, resamples, per_chunk):
        size = min(per_chunk, resamples - start)
        yield rng.integers(0, n_pos, (size, n_pos)), rng.integers(0, n_neg, (size, n_neg))


def _count_into(counts: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """How often each item was drawn, per resample, written into `counts`.

    Filling one reused buffer, rather than a new bincount array per chunk, keeps
    the allocator from handing pages back and faulting them in again."""
    counts.fill(0)
    draws += (np.arange(len(draws)) * counts.shape[1])[:, None]
    np.add.at(counts.reshape(-1), draws.ravel(), 1.0)
    return counts


def _bootstrap(holdout: _Holdout, resamples: int, seed: int) -> list[dict[str, np.ndarray]]:
    n_pos, n_neg = len(holdout.positive_rows), len(holdout.negative_rows)
    negative_buffer = np.empty((_chunk_size(n_pos + n_neg), n_neg))
    chunks = [
        _all_metrics(
            holdout,
            _count_into(np.empty((len(positive), n_pos)), positive),
            _count_into(negative_buffer[: len(negative)], negative),
        )
        for positive, negative in _draws(n_pos, n_neg, resamples, seed)
    ]
    return [
        {name: np.concatenate([chunk[index][name] for chunk in chunks]) for name in GATE_METRICS}
        for index in range(len(holdout.models))
    ]


def _interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    if not np.all(np.isfinite(values)):
        return None, None
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def resample_rows(
    *,
    y_true: np.ndarray,
    candidate_scores: np.ndarray,
    production_scores: np.ndarray | None,
    spec: GateSpec,
    candidate_threshold: float,
    production_threshold: float | None,
) -> np.ndarray:
    """The (resamples, rows) holdout row indices run_gate's bootstrap uses, for
    audits and tests. It materialises every index: small holdouts only."""
    labels, scores, thresholds = _inputs(
        y_true, candidate_scores, production_scores, candidate_threshold, production_threshold
    )
    holdout = _prepare(labels, scores, thresholds)
    n_pos, n_neg = len(holdout.positive_rows), len(holdout.negative_rows)
    blocks = [
        np.hstack([holdout.positive_rows[positive], holdout.negative_rows[negative]])
        for positive, negative in _draws(n_pos, n_neg, int(spec.resamples), int(spec.seed))
    ]
    return np.vstack(blocks)


# ----------------------------------------------------------------------- rules


def _check(name: str, passed: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail}


def _floor_check(rule: MetricRule, candidate: float) -> dict[str, Any]:
    if rule.greater_is_better:
        passed, word = candidate >= rule.threshold, "floor"
    else:
        passed, word = candidate <= rule.threshold, "ceiling"
    verdict = "meets" if passed else "misses"
    return _check(
        "threshold", passed, f"candidate {candidate:.4g} {verdict} the {word} {rule.threshold:.4g}"
    )


def _drop_check(
    name: str, allowed: float, delta: float, interval: tuple[float, float] | None, confidence: float
) -> dict[str, Any]:
    """delta >= -allowed; with an interval, its lower bound must be (non-inferiority)."""
    if interval is None:
        shown = f"candidate is {abs(delta):.4g} {'better' if delta >= 0 else 'worse'}"
        return _check(name, delta >= -allowed, f"{shown}; allowed drop {allowed:.4g}")
    low, high = interval
    verdict = "at or above" if low >= -allowed else "below"
    detail = (
        f"non-inferiority: {confidence:.0%} CI of delta [{low:+.4g}, {high:+.4g}], "
        f"lower bound {verdict} -{allowed:.4g}"
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
    """The checks of one rule. delta is improvement-oriented (see the module doc);
    pass `interval` (the CI of delta) to judge the drop limits by its lower bound."""
    missing = [
        side
        for side, value in (("candidate", candidate), ("production", production))
        if value is None and (side == "candidate" or compare)
    ]
    if missing:
        detail = f"{rule.metric} cannot be computed for the {' and '.join(missing)} model"
        return [_check("computable", False, f"{detail}; it needs probabilities in [0, 1]")]
    checks = [] if rule.threshold is None else [_floor_check(rule, candidate)]
    if not compare:
        return checks
    delta = _improvement(rule.greater_is_better, candidate, production)
    if rule.max_drop is not None:
        checks.append(_drop_check("max_drop", rule.max_drop, delta, interval, confidence))
    if rule.max_relative_drop is not None:
        allowed = rule.max_relative_drop * abs(production)
        check = _drop_check("max_relative_drop", allowed, delta, interval, confidence)
        check["detail"] += f" ({rule.max_relative_drop:.2%} of |production| {abs(production):.4g})"
        checks.append(check)
    return checks


def _improvement(greater_is_better: bool, candidate: float, production: float) -> float:
    return candidate - production if greater_is_better else production - candidate


# ---------------------------------------------------------------------- report


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _inputs(
    y_true: Any,
    candidate_scores: Any,
    production_scores: Any,
    candidate_threshold: Any,
    production_threshold: Any,
) -> tuple[np.ndarray, list[np.ndarray], list[float]]:
    labels = _labels(y_true)
    scores = [_scores("candidate_scores", candidate_scores, len(labels))]
    thresholds = [_threshold("candidate_threshold", candidate_threshold)]
    if production_scores is not None:
        scores.append(_scores("production_scores", production_scores, len(labels)))
        thresholds.append(_threshold("production_threshold", production_threshold))
    return labels, scores, thresholds


def _rules(spec: GateSpec) -> list[MetricRule | None]:
    rules: list[MetricRule | None] = list(spec.rules)
    if all(rule.metric != spec.primary_metric for rule in spec.rules):
        rules.insert(0, None)  # the primary metric is reported even without a rule
    return rules


def relative_delta(delta: float, production: float) -> float | None:
    """delta as a fraction of |production|; None when production is 0."""
    return delta / abs(production) if production != 0 else None


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
    low, high = _interval(sign * (samples[0][metric] - samples[1][metric]), confidence)
    delta = _improvement(METRIC_DIRECTIONS[metric], candidate, production)
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
    candidate_low, candidate_high = _interval(samples[0][metric], spec.confidence)
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


def _summary(report: dict[str, Any], refusal: str | None) -> str:
    if refusal:
        return f"Refused: {refusal}."
    metrics, reasons = report["metrics"], report["reasons"]
    ruled = sum(1 for entry in metrics if entry["checks"])
    if reasons:
        failed = sum(1 for entry in metrics if not entry["passed"])
        return f"Failed: {failed} of {ruled} metric rules not met; first: {reasons[0]}"
    if report["comparison"] == NO_PRODUCTION:
        return f"Passed: no production model yet; the candidate meets all {ruled} absolute floors."
    primary = next(entry for entry in metrics if entry["primary"])
    return (
        f"Passed: the candidate meets all {ruled} metric rules against production; "
        f"{primary['metric']} {_text(primary['candidate'])} vs {_text(primary['production'])}, "
        f"delta {_text(primary['delta'], '+.4f')}."
    )


def _refusal(n_pos: int, n_neg: int, min_positives: int) -> str | None:
    if n_pos == 0 or n_neg == 0:
        return f"the holdout has {n_pos} positive and {n_neg} negative rows; it needs both"
    if n_pos < min_positives:
        return (
            f"the holdout has {n_pos} positive rows, fewer than the {min_positives} "
            "needed to compare models"
        )
    return None


def run_gate(
    *,
    y_true: np.ndarray,
    candidate_scores: np.ndarray,
    production_scores: np.ndarray | None,
    spec: GateSpec,
    candidate_threshold: float,
    production_threshold: float | None,
) -> dict[str, Any]:
    """Judge the candidate against production (or against floors only when
    production_scores is None); return a JSON-serialisable report."""
    _check_spec(spec)
    labels, scores, thresholds = _inputs(
        y_true, candidate_scores, production_scores, candidate_threshold, production_threshold
    )
    n_pos = int(labels.sum())
    refusal = _refusal(n_pos, len(labels) - n_pos, int(spec.min_positives))
    report: dict[str, Any] = {
        "passed": False,
        "summary": "",
        "reasons": [refusal] if refusal else [],
        "comparison": PAIRED if production_scores is not None else NO_PRODUCTION,
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
    labels: np.ndarray, scores: list[np.ndarray], thresholds: list[float], spec: GateSpec
) -> list[dict[str, Any]]:
    holdout = _prepare(labels, scores, thresholds)
    points = _point_estimates(holdout)
    samples = _bootstrap(holdout, int(spec.resamples), int(spec.seed))
    return [
        _metric_entry(
            spec.primary_metric if rule is None else rule.metric, rule, points, samples, spec
        )
        for rule in _rules(spec)
    ]


# ------------------------------------------------------------------- rendering

_COLUMNS = ("metric", "better", "candidate", "production", "delta", "CI of delta", "rule", "result")


def _text(value: Any, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


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
    interval = "-"
    if entry.get("ci_low") is not None:
        interval = f"[{entry['ci_low']:+.4f}, {entry['ci_high']:+.4f}]"
    result = "-" if not entry.get("checks") else ("pass" if entry.get("passed") else "FAIL")
    return [
        entry.get("metric", "?") + (" *" if entry.get("primary") else ""),
        "higher" if entry.get("greater_is_better", True) else "lower",
        _text(entry.get("candidate")),
        _text(entry.get("production")),
        _text(entry.get("delta"), "+.4f"),
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
    kind = "paired" if report.get("comparison") == PAIRED else "candidate-only"
    return (
        f"Bootstrap: {report['resamples']} {kind} class-stratified resamples, "
        f"{report['confidence']:.0%} percentile CI, seed {report['seed']}; "
        "delta > 0 means the candidate is better"
    )


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering for the command line and the admin."""
    lines = [
        f"Regression gate: {'PASSED' if report.get('passed') else 'FAILED'}",
        report.get("summary", ""),
        f"Comparison: {report.get('comparison', '-')}",
    ]
    if report.get("holdout_rows") is not None:
        lines.append(
            f"Holdout: {report['holdout_rows']} rows, {report.get('holdout_positives')} positives"
            f" (at least {report.get('min_positives', '-')} needed)"
        )
    if report.get("resamples") is not None:
        lines.append(_bootstrap_line(report))
    metrics = report.get("metrics") or []
    if metrics:
        lines += ["", *_table([list(_COLUMNS), *(_row(entry) for entry in metrics)])]
        lines.append("(* primary metric: its drop limits apply to the CI's lower bound)")
    if report.get("reasons"):
        lines += ["", "Reasons:", *(f"- {reason}" for reason in report["reasons"])]
    return "\n".join(lines)
