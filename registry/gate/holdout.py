"""The holdout reduced to what the metrics need: positives by score level and
negatives grouped into cells that every model ranks alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_EPS = float(np.finfo(np.float64).eps)


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
class Model:
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
class Holdout:
    positive_rows: np.ndarray
    negative_rows: np.ndarray  # grouped by cell
    cell_starts: np.ndarray
    models: tuple[Model, ...]
    negative_losses: np.ndarray  # (negatives, models), zeros where log_loss is undefined


def _segments(levels: np.ndarray, negative_scores: np.ndarray) -> np.ndarray:
    below = np.searchsorted(levels, negative_scores, side="left")
    tied = levels[np.minimum(below, len(levels) - 1)] == negative_scores
    segments: np.ndarray = 2 * below + tied
    return segments


def _log_losses(
    scores: np.ndarray, positive_rows: np.ndarray, negative_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """Per-row log loss as scikit-learn computes it, or None for non-probabilities."""
    if scores.min() < 0 or scores.max() > 1:
        return None, None
    positive = -np.log(np.clip(scores[positive_rows], _EPS, 1 - _EPS))
    negative = -np.log(np.clip(1 - scores[negative_rows], _EPS, 1 - _EPS))
    return positive, negative


def prepare_holdout(
    labels: np.ndarray, scores: Sequence[np.ndarray], thresholds: Sequence[float]
) -> Holdout:
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
    return Holdout(positive_rows, negative_rows, cell_starts, models, negative_losses)


def _model(
    scores: np.ndarray,
    threshold: float,
    levels: np.ndarray,
    positive_rows: np.ndarray,
    negative_rows: np.ndarray,
    cell_segments: np.ndarray,
) -> Model:
    positive_levels = np.searchsorted(levels, scores[positive_rows])
    positive_losses, negative_losses = _log_losses(scores, positive_rows, negative_rows)
    return Model(
        threshold_level=int(np.searchsorted(levels, threshold)),
        positive_levels=_Grouping.of(positive_levels, len(levels)),
        segments=_Grouping.of(cell_segments, 2 * len(levels) + 1),
        positive_losses=positive_losses,
        negative_losses=negative_losses,
    )
