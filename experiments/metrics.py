"""Names of the metrics a model is judged by (no Django, no scikit-learn)."""

from __future__ import annotations

# Metric name -> whether a larger value is better. The regression gate can
# compute every one of these from labels and scores.
METRIC_DIRECTIONS: dict[str, bool] = {
    "average_precision": True,
    "roc_auc": True,
    "log_loss": False,
    "precision": True,
    "recall": True,
    "f1": True,
    "accuracy": True,
}
