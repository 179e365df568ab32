"""Every gate metric, vectorised over rows of per-row draw counts."""

from __future__ import annotations

import numpy as np

from experiments.metrics import METRIC_DIRECTIONS
from registry.gate.holdout import Holdout, Model

GATE_METRICS: tuple[str, ...] = tuple(METRIC_DIRECTIONS)


def _suffix_sum(values: np.ndarray) -> np.ndarray:
    return np.cumsum(values[:, ::-1], axis=1)[:, ::-1]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    ratio: np.ndarray = np.divide(
        numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0
    )
    return ratio


def _metrics(
    model: Model,
    positive_weights: np.ndarray,
    cell_counts: np.ndarray,
    loss_sums: np.ndarray,
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


def all_metrics(
    holdout: Holdout, positive_counts: np.ndarray, negative_counts: np.ndarray
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


def point_estimates(holdout: Holdout) -> list[dict[str, float]]:
    positive_counts = np.ones((1, len(holdout.positive_rows)))
    negative_counts = np.ones((1, len(holdout.negative_rows)))
    results = all_metrics(holdout, positive_counts, negative_counts)
    return [{name: float(values[0]) for name, values in result.items()} for result in results]
