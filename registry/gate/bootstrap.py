"""The paired, class-stratified bootstrap: resample draws, their metrics and
percentile intervals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from registry.gate.holdout import Holdout, prepare_holdout
from registry.gate.inputs import parse_inputs
from registry.gate.metrics import GATE_METRICS, all_metrics

if TYPE_CHECKING:
    from experiments.configs import GateSpec


_DRAWS_PER_CHUNK = 1 << 18  # rows drawn per chunk of resamples: 2 MB arrays stay cheap


def _chunk_size(n_rows: int) -> int:
    return max(1, _DRAWS_PER_CHUNK // n_rows)


def _draws(n_pos: int, n_neg: int, resamples: int, seed: int) -> Iterator[tuple[Any, Any]]:
    """Chunks of (positive draws, negative draws): row positions within each class."""
    rng = np.random.default_rng(seed)
    per_chunk = _chunk_size(n_pos + n_neg)
    for start in range(0, resamples, per_chunk):
        size = min(per_chunk, resamples - start)
        yield (
            rng.integers(0, n_pos, (size, n_pos)),
            rng.integers(0, n_neg, (size, n_neg)),
        )


def _count_into(counts: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """How often each item was drawn, per resample, written into `counts`.

    Filling one reused buffer, rather than a new bincount array per chunk, keeps
    the allocator from handing pages back and faulting them in again."""
    counts.fill(0)
    draws += (np.arange(len(draws)) * counts.shape[1])[:, None]
    np.add.at(counts.reshape(-1), draws.ravel(), 1.0)
    return counts


def bootstrap_metrics(holdout: Holdout, resamples: int, seed: int) -> list[dict[str, np.ndarray]]:
    n_pos, n_neg = len(holdout.positive_rows), len(holdout.negative_rows)
    negative_buffer = np.empty((_chunk_size(n_pos + n_neg), n_neg))
    chunks = [
        all_metrics(
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


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
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
    labels, scores, thresholds = parse_inputs(
        y_true,
        candidate_scores,
        production_scores,
        candidate_threshold,
        production_threshold,
    )
    holdout = prepare_holdout(labels, scores, thresholds)
    n_pos, n_neg = len(holdout.positive_rows), len(holdout.negative_rows)
    blocks = [
        np.hstack([holdout.positive_rows[positive], holdout.negative_rows[negative]])
        for positive, negative in _draws(n_pos, n_neg, int(spec.resamples), int(spec.seed))
    ]
    return np.vstack(blocks)
