"""Checks on the gate's inputs: labels, scores, thresholds and the GateSpec."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.metrics import METRIC_DIRECTIONS
from registry.gate.metrics import GATE_METRICS

if TYPE_CHECKING:
    from experiments.configs import GateSpec


class GateError(Exception):
    """The gate's inputs are unusable (lengths, labels, scores, thresholds or spec)."""


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
    positive: np.ndarray = labels == 1
    return positive


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


def check_spec(spec: GateSpec) -> None:
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


def parse_inputs(
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
