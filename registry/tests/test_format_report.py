"""How a gate report reads: the summary's grammar and format_report's text."""

from __future__ import annotations

from typing import Any

import numpy as np

from experiments.configs import GateSpec, MetricRule
from registry import gate


def holdout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y_true = np.zeros(2000, dtype=np.int8)
    y_true[rng.choice(2000, 60, replace=False)] = 1
    signal = rng.normal(size=2000) + 2.5 * y_true
    candidate, production = (1 / (1 + np.exp(4 - signal - rng.normal(size=2000))) for _ in "ab")
    return y_true, candidate, production


def report(*rules: MetricRule, production: bool = True) -> dict[str, Any]:
    y_true, candidate, other = holdout()
    return gate.run_gate(
        y_true=y_true,
        candidate_scores=candidate,
        production_scores=other if production else None,
        spec=GateSpec(rules=rules, resamples=200, seed=1, min_positives=10),
        candidate_threshold=0.5,
        production_threshold=0.5 if production else None,
    )


def test_it_says_the_one_absolute_floor_in_the_singular() -> None:
    one = report(MetricRule(metric="average_precision", threshold=0.1), production=False)
    assert (
        one["summary"]
        == "Passed: no production model yet; the candidate meets the one absolute floor."
    )
    two = report(
        MetricRule(metric="average_precision", threshold=0.1),
        MetricRule(metric="roc_auc", threshold=0.5),
        production=False,
    )
    assert two["summary"].endswith("meets all 2 absolute floors.")


def test_it_says_the_one_metric_rule_failed_in_the_singular() -> None:
    failed = report(MetricRule(metric="average_precision", threshold=0.99), production=False)
    assert failed["summary"].startswith(
        "Failed: the one metric rule is not met: average_precision:"
    )


def test_it_signs_deltas_gives_relative_changes_as_percentages_and_rounds_intervals_alike() -> None:
    passed = report(MetricRule(metric="average_precision", max_drop=1.0))
    text = gate.format_report(passed)
    entry = passed["metrics"][0]
    assert f"{entry['delta']:+.4f}" in text
    assert f"{100 * entry['relative_delta']:+.2f}%" in text
    assert f"[{entry['ci_low']:+.4f}, {entry['ci_high']:+.4f}]" in text
    assert any(line.startswith("metric ") and "relative" in line for line in text.splitlines())
    assert "Holdout: 2,000 rows compared, 60 positives" in text
    assert passed["summary"].startswith("Passed: the candidate meets the one metric rule against")


def test_it_prints_fields_it_does_not_know_by_name() -> None:
    newer = {
        "passed": True,
        "summary": "Passed.",
        "metrics": [{"metric": "roc_auc", "ci_low": None, "extra": 1}],
        "owner": "fraud team",
        "retries": 1204,
        "audited": False,
        "dataset": {"name": "fraud", "version": "v2"},
        "split": None,
    }
    text = gate.format_report(newer)
    assert "Owner: fraud team" in text
    assert "Retries: 1,204" in text
    assert "Audited: no" in text
    assert "Dataset: name fraud, version v2" in text
    assert "Split" not in text


def test_it_names_the_policy_the_data_and_the_rows_excluded() -> None:
    report = {
        "passed": False,
        "summary": "Failed.",
        "policy_model": "fraud_detector",
        "policy_version": 3,
        "tightenings": ["gate.metrics.roc_auc.threshold: 0.75 -> 0.9"],
        "candidate_data": {"dataset": "fraud:v2", "split": {"test_size": 0.2, "seed": 43}},
        "production_data": {"dataset": "fraud:v1", "split": {"test_size": 0.2, "seed": 42}},
        "holdout_rows": 11_269,
        "holdout_positives": 21,
        "min_positives": 20,
        "excluded_rows": 45_693,
        "candidate_holdout_rows": 56_962,
    }
    text = gate.format_report(report)
    assert (
        "Policy: gate policy v3 of fraud_detector; tightened by the candidate's config: "
        "gate.metrics.roc_auc.threshold: 0.75 -> 0.9" in text
    )
    assert "Candidate data: fraud:v2, split test_size 0.2 seed 43" in text
    assert "Production data: fraud:v1, split test_size 0.2 seed 42" in text
    assert (
        "Holdout: 11,269 rows compared, 21 positives (at least 20 needed); 45,693 of the "
        "candidate's 56,962 holdout rows excluded (production trained on them)" in text
    )


def test_it_names_the_candidate_and_the_production_version() -> None:
    stored = {
        "passed": True,
        "summary": "Passed.",
        "candidate": {"experiment_id": 7, "name": "fraud_hgb"},
        "production": {"version": 2, "experiment_id": 3},
    }
    lines = gate.format_report(stored).splitlines()
    assert "Candidate: experiment #7 fraud_hgb" in lines
    assert "Against: production v2 (experiment #3)" in lines
