"""The regression gate: may a candidate model replace the production model?

Both models are scored on the same holdout rows (the caller leaves out rows
either model trained on: registry.services.gate_runs). Every rule of the
GateSpec (the model's gate policy, possibly tightened by the candidate's
config: policy.py) is checked on point estimates, except the primary metric's drop limits
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

Layout: inputs.py checks the inputs, holdout.py reduces the holdout to cells,
metrics.py computes the metrics, bootstrap.py resamples, rules.py checks one
rule, report.py assembles and renders the report, policy.py applies a config's
gate request to the model's policy.
"""

from __future__ import annotations

from experiments.metrics import METRIC_DIRECTIONS
from registry.gate.bootstrap import resample_rows
from registry.gate.inputs import GateError
from registry.gate.metrics import GATE_METRICS
from registry.gate.report import (
    DELTA_CONVENTION,
    METHOD,
    NO_PRODUCTION,
    NOT_COMPARABLE,
    PAIRED,
    format_report,
    run_gate,
)
from registry.gate.rules import relative_delta, rule_checks

__all__ = [
    "DELTA_CONVENTION",
    "GATE_METRICS",
    "METHOD",
    "METRIC_DIRECTIONS",
    "NOT_COMPARABLE",
    "NO_PRODUCTION",
    "PAIRED",
    "GateError",
    "format_report",
    "relative_delta",
    "resample_rows",
    "rule_checks",
    "run_gate",
]
