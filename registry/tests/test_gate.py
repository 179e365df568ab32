from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from experiments.configs import GateSpec, MetricRule
from registry import gate

ROOT = Path(__file__).resolve().parents[2]

SKLEARN: dict[str, Callable[[np.ndarray, np.ndarray, float], float]] = {
    "average_precision": lambda y, s, t: sk.average_precision_score(y, s),
    "roc_auc": lambda y, s, t: sk.roc_auc_score(y, s),
    "log_loss": lambda y, s, t: sk.log_loss(y, s, labels=[0, 1]),
    "precision": lambda y, s, t: sk.precision_score(y, s >= t, zero_division=0),
    "recall": lambda y, s, t: sk.recall_score(y, s >= t),
    "f1": lambda y, s, t: sk.f1_score(y, s >= t),
    "accuracy": lambda y, s, t: sk.accuracy_score(y, s >= t),
}


def holdout(
    *, rows: int = 2000, positives: int = 60, seed: int = 0, decimals: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two correlated probability vectors; rounding makes many ties."""
    rng = np.random.default_rng(seed)
    y_true = np.zeros(rows, dtype=np.int8)
    y_true[rng.choice(rows, positives, replace=False)] = 1
    signal = rng.normal(size=rows) + 2.5 * y_true
    scores = [1 / (1 + np.exp(4 - signal - 0.5 * rng.normal(size=rows))) for _ in range(2)]
    if decimals is not None:
        scores = [np.round(s, decimals) for s in scores]
    return y_true, scores[0], scores[1]


def all_rules(max_drop: float = 0.05) -> tuple[MetricRule, ...]:
    return tuple(
        MetricRule(metric=name, greater_is_better=better, max_drop=max_drop)
        for name, better in gate.METRIC_DIRECTIONS.items()
    )


def spec(**overrides: Any) -> GateSpec:
    values: dict[str, Any] = {"rules": all_rules(), "resamples": 200, "seed": 1}
    return GateSpec(**{**values, **overrides})


def run(
    y_true: np.ndarray,
    candidate: np.ndarray,
    production: np.ndarray | None,
    gate_spec: GateSpec | None = None,
    thresholds: tuple[float, float] = (0.5, 0.5),
) -> dict[str, Any]:
    return gate.run_gate(
        y_true=y_true,
        candidate_scores=candidate,
        production_scores=production,
        spec=gate_spec or spec(),
        candidate_threshold=thresholds[0],
        production_threshold=None if production is None else thresholds[1],
    )


def entry(report: dict[str, Any], metric: str) -> dict[str, Any]:
    return next(item for item in report["metrics"] if item["metric"] == metric)


def test_it_imports_neither_django_nor_sklearn() -> None:
    code = (
        "import importlib, pkgutil, sys; import registry.gate as package; "
        "[importlib.import_module(m.name) for m in pkgutil.iter_modules("
        "package.__path__, 'registry.gate.')]; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'sklearn'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_it_matches_sklearn_point_estimates_with_and_without_ties(decimals: int | None) -> None:
    y_true, candidate, production = holdout(decimals=decimals)
    thresholds = (0.3, 0.2)  # with decimals, rows score exactly at the threshold

    report = run(y_true, candidate, production, thresholds=thresholds)

    for name, metric in SKLEARN.items():
        item = entry(report, name)
        assert item["candidate"] == pytest.approx(metric(y_true, candidate, 0.3), abs=1e-12)
        assert item["production"] == pytest.approx(metric(y_true, production, 0.2), abs=1e-12)


def test_it_matches_sklearn_when_nothing_is_predicted_positive() -> None:
    y_true, candidate, production = holdout()

    report = run(y_true, candidate, production, thresholds=(1.5, 0.0))

    assert entry(report, "precision")["candidate"] == 0.0
    assert entry(report, "recall")["candidate"] == 0.0
    assert entry(report, "accuracy")["production"] == pytest.approx(y_true.mean())


def test_it_matches_a_naive_sklearn_bootstrap_on_the_same_rows() -> None:
    y_true, candidate, production = holdout(rows=300, positives=25, seed=4, decimals=2)
    gate_spec = spec(resamples=60, seed=9, confidence=0.9)
    arguments: dict[str, Any] = {
        "y_true": y_true,
        "candidate_scores": candidate,
        "production_scores": production,
        "spec": gate_spec,
        "candidate_threshold": 0.3,
        "production_threshold": 0.25,
    }

    report = gate.run_gate(**arguments)
    rows = gate.resample_rows(**arguments)

    assert rows.shape == (60, 300)
    for name, metric in SKLEARN.items():
        sign = 1 if gate.METRIC_DIRECTIONS[name] else -1
        cand = np.array([metric(y_true[r], candidate[r], 0.3) for r in rows])
        prod = np.array([metric(y_true[r], production[r], 0.25) for r in rows])
        item = entry(report, name)
        delta_ci = np.quantile(sign * (cand - prod), [0.05, 0.95])
        assert [item["ci_low"], item["ci_high"]] == pytest.approx(delta_ci, abs=1e-12)
        cand_ci = np.quantile(cand, [0.05, 0.95])
        assert [item["candidate_ci_low"], item["candidate_ci_high"]] == pytest.approx(
            cand_ci, abs=1e-12
        )


def test_it_matches_a_naive_sklearn_bootstrap_without_production() -> None:
    y_true, candidate, _ = holdout(rows=300, positives=25, seed=6, decimals=1)
    arguments: dict[str, Any] = {
        "y_true": y_true,
        "candidate_scores": candidate,
        "production_scores": None,
        "spec": spec(resamples=40, seed=2),
        "candidate_threshold": 0.2,
        "production_threshold": None,
    }

    report = gate.run_gate(**arguments)
    rows = gate.resample_rows(**arguments)

    for name, metric in SKLEARN.items():
        values = [metric(y_true[r], candidate[r], 0.2) for r in rows]
        item = entry(report, name)
        assert [item["candidate_ci_low"], item["candidate_ci_high"]] == pytest.approx(
            np.quantile(values, [0.025, 0.975]), abs=1e-12
        )


def test_it_resamples_positives_and_negatives_separately() -> None:
    y_true, candidate, production = holdout(rows=500, positives=30)

    rows = gate.resample_rows(
        y_true=y_true,
        candidate_scores=candidate,
        production_scores=production,
        spec=spec(resamples=40),
        candidate_threshold=0.5,
        production_threshold=0.5,
    )

    assert (y_true[rows].sum(axis=1) == 30).all()
    assert len({tuple(np.sort(r)) for r in rows}) == 40


def test_it_puts_the_point_estimates_inside_their_intervals() -> None:
    y_true, candidate, production = holdout(rows=5000, positives=120)

    report = run(y_true, candidate, production, spec(resamples=500))

    for name in ("average_precision", "roc_auc", "log_loss", "f1"):
        item = entry(report, name)
        assert item["ci_low"] <= item["delta"] <= item["ci_high"]
        assert item["candidate_ci_low"] <= item["candidate"] <= item["candidate_ci_high"]


def test_it_passes_identical_models_with_zero_delta() -> None:
    y_true, candidate, _ = holdout()

    report = run(y_true, candidate, candidate.copy(), spec(rules=all_rules(max_drop=0.0)))

    assert report["passed"], report["reasons"]
    for item in report["metrics"]:
        assert (item["delta"], item["ci_low"], item["ci_high"]) == (0.0, 0.0, 0.0)
    assert report["summary"].startswith("Passed")


def test_it_fails_a_clearly_worse_candidate_on_non_inferiority() -> None:
    y_true, _, production = holdout()
    noise = np.random.default_rng(5).random(len(y_true))

    report = run(y_true, noise, production)

    primary = entry(report, "average_precision")
    assert not report["passed"]
    assert primary["ci_high"] < -0.05
    check = next(c for c in primary["checks"] if c["name"] == "max_drop")
    assert not check["passed"]
    assert "non-inferiority" in check["detail"]
    assert report["reasons"][0].startswith("average_precision: non-inferiority")


def test_it_judges_only_the_primary_metric_by_its_interval() -> None:
    y_true, candidate, production = holdout(rows=3000, positives=50, seed=2)
    item = entry(run(y_true, candidate, production), "average_precision")
    assert item["ci_low"] < 0
    assert item["ci_low"] < item["delta"]
    margin = (max(0.0, -item["delta"]) + -item["ci_low"]) / 2  # between the two
    rules = (
        MetricRule(metric="average_precision", max_drop=margin),
        MetricRule(metric="roc_auc", max_drop=1.0),
    )

    as_primary = run(y_true, candidate, production, spec(rules=rules))
    as_secondary = run(y_true, candidate, production, spec(rules=rules, primary_metric="roc_auc"))

    assert not entry(as_primary, "average_precision")["passed"]
    assert entry(as_secondary, "average_precision")["passed"]


def test_it_uses_the_absolute_baseline_for_relative_drops() -> None:
    rule = MetricRule(metric="roc_auc", max_relative_drop=0.1)

    # 10% of |-2.0| allows a drop of 0.2; MLflow's baseline * (1 - 0.1) would not.
    within = gate.rule_checks(rule, candidate=-2.15, production=-2.0)
    beyond = gate.rule_checks(rule, candidate=-2.25, production=-2.0)

    assert [c["passed"] for c in within] == [True]
    assert [c["passed"] for c in beyond] == [False]
    as_primary = gate.rule_checks(rule, candidate=-2.15, production=-2.0, interval=(-0.25, 0.1))
    assert not as_primary[0]["passed"]
    assert gate.relative_delta(-0.15, -2.0) == pytest.approx(-0.075)


def test_it_allows_no_relative_drop_from_a_zero_baseline() -> None:
    rule = MetricRule(metric="recall", max_relative_drop=0.5)

    assert gate.rule_checks(rule, candidate=0.0, production=0.0)[0]["passed"]
    assert gate.rule_checks(rule, candidate=0.1, production=0.0)[0]["passed"]
    assert not gate.rule_checks(rule, candidate=-0.1, production=0.0)[0]["passed"]
    assert gate.relative_delta(0.1, 0.0) is None


def test_it_treats_log_loss_as_lower_is_better() -> None:
    y_true, candidate, production = holdout()
    blurred = 0.5 * production + 0.25  # same ranking, much worse probabilities
    rules = (MetricRule(metric="log_loss", greater_is_better=False, threshold=0.2, max_drop=0.01),)

    better = run(y_true, candidate, blurred, spec(rules=rules, primary_metric="log_loss"))
    worse = run(y_true, blurred, candidate, spec(rules=rules, primary_metric="log_loss"))

    item = entry(better, "log_loss")
    assert item["candidate"] < item["production"]
    assert item["delta"] == pytest.approx(item["production"] - item["candidate"])
    assert item["ci_low"] > 0
    assert better["passed"], better["reasons"]
    assert {c["name"]: c["passed"] for c in entry(worse, "log_loss")["checks"]} == {
        "threshold": False,
        "max_drop": False,
    }


def test_it_applies_only_floors_without_a_production_model() -> None:
    y_true, candidate, _ = holdout()
    rules = (
        MetricRule(metric="average_precision", threshold=0.1, max_drop=0.0),
        MetricRule(metric="recall", threshold=0.99),
    )

    report = run(y_true, candidate, None, spec(rules=rules))

    assert report["comparison"] == "no production model: only absolute floors applied"
    primary = entry(report, "average_precision")
    assert [c["name"] for c in primary["checks"]] == ["threshold"]
    assert primary["passed"]
    assert (primary["production"], primary["delta"], primary["ci_low"]) == (None, None, None)
    assert primary["candidate_ci_low"] <= primary["candidate"] <= primary["candidate_ci_high"]
    assert report["reasons"] == [
        entry(report, "recall")["checks"][0]["detail"].join(["recall: ", ""])
    ]
    assert report["production_threshold"] is None


def test_it_refuses_a_holdout_with_too_few_positives() -> None:
    y_true, candidate, production = holdout(rows=1000, positives=12)

    report = run(y_true, candidate, production, spec(min_positives=20))

    assert not report["passed"]
    assert report["summary"].startswith("Refused")
    assert "12 positive rows, fewer than the 20" in report["reasons"][0]
    assert report["metrics"]  # still reported, for information


def test_it_refuses_a_holdout_without_positives() -> None:
    report = run(np.zeros(50, dtype=np.int8), np.linspace(0, 1, 50), None, spec(min_positives=0))

    assert not report["passed"]
    assert report["metrics"] == []
    assert "0 positive and 50 negative rows" in report["reasons"][0]


def test_it_fails_log_loss_for_scores_that_are_not_probabilities() -> None:
    y_true, candidate, _production = holdout()
    margins = 3 * candidate - 1  # a decision function: fine for ranking, not for log loss

    report = run(y_true, candidate, margins)

    item = entry(report, "log_loss")
    assert item["production"] is None
    assert item["checks"][0]["name"] == "computable"
    assert "production" in item["checks"][0]["detail"]
    assert entry(report, "roc_auc")["passed"]
    assert not report["passed"]


def test_it_returns_a_json_serialisable_report() -> None:
    y_true, candidate, production = holdout()
    report = run(y_true, candidate, 3 * production - 1)  # log_loss undefined: None, not NaN

    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert_plain(report)


def assert_plain(value: Any) -> None:
    if isinstance(value, dict):
        assert all(isinstance(key, str) for key in value)
        for item in value.values():
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or type(value) in (bool, int, float, str), repr(value)


def test_it_reports_the_documented_fields() -> None:
    y_true, candidate, production = holdout()

    report = run(y_true, candidate, production)

    assert set(report) >= {
        "passed", "summary", "reasons", "comparison", "primary_metric", "seed", "resamples",
        "confidence", "holdout_rows", "holdout_positives", "min_positives", "metrics",
    }  # fmt: skip
    assert (report["holdout_rows"], report["holdout_positives"]) == (2000, 60)
    assert set(report["metrics"][0]) >= {
        "metric", "greater_is_better", "candidate", "production", "delta", "relative_delta",
        "ci_low", "ci_high", "rule", "checks", "passed",
    }  # fmt: skip
    assert set(report["metrics"][0]["rule"]) == {"threshold", "max_drop", "max_relative_drop"}


def test_it_is_reproducible_for_a_seed() -> None:
    y_true, candidate, production = holdout()

    first, again = (run(y_true, candidate, production, spec(seed=7)) for _ in range(2))
    other = run(y_true, candidate, production, spec(seed=8))

    assert first == again
    assert (
        entry(first, "average_precision")["ci_low"] != entry(other, "average_precision")["ci_low"]
    )


def test_it_reports_the_primary_metric_even_without_a_rule() -> None:
    y_true, candidate, production = holdout()
    rules = (MetricRule(metric="recall", max_drop=1.0),)

    report = run(y_true, candidate, production, spec(rules=rules, primary_metric="roc_auc"))

    assert [item["metric"] for item in report["metrics"]] == ["roc_auc", "recall"]
    assert entry(report, "roc_auc")["checks"] == []


BAD_INPUTS = [
    ({"y_true": np.array([0, 1, 2, 1])}, "only 0 and 1"),
    ({"y_true": np.array([0.0, 1.0, np.nan, 1.0])}, "only 0 and 1"),
    ({"y_true": np.array(["a", "b", "a", "b"])}, "0 and 1"),
    ({"y_true": np.zeros((2, 2))}, "1-D"),
    ({"candidate_scores": np.array([0.1, 0.2, 0.3])}, "candidate_scores has shape"),
    ({"production_scores": np.array([0.1, np.nan, 0.3, 0.4])}, "1 NaN or infinite"),
    ({"candidate_scores": np.array([0.1, np.inf, 0.3, 0.4])}, "1 NaN or infinite"),
    ({"production_threshold": None}, "production_threshold must be a number"),
    ({"candidate_threshold": float("nan")}, "candidate_threshold must be finite"),
    ({"spec": GateSpec(rules=(MetricRule(metric="auc"),))}, "unknown metric 'auc'"),
    (
        {"spec": GateSpec(rules=(MetricRule(metric="log_loss"),))},
        "greater_is_better=True, but lower log_loss is better",
    ),
    ({"spec": GateSpec(primary_metric="brier")}, "unknown primary metric"),
    ({"spec": GateSpec(confidence=1.0)}, "confidence"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUTS)
def test_it_rejects_bad_inputs(change: dict[str, Any], message: str) -> None:
    arguments = {
        "y_true": np.array([0, 1, 0, 1]),
        "candidate_scores": np.array([0.1, 0.9, 0.2, 0.8]),
        "production_scores": np.array([0.2, 0.7, 0.1, 0.6]),
        "spec": GateSpec(),
        "candidate_threshold": 0.5,
        "production_threshold": 0.5,
        **change,
    }

    with pytest.raises(gate.GateError, match=message):
        gate.run_gate(**arguments)


def test_it_formats_a_plain_text_table() -> None:
    y_true, candidate, production = holdout()
    report = run(y_true, candidate, production, spec(rules=all_rules(max_drop=0.0)))

    text = gate.format_report(report)

    assert text.startswith("Regression gate: ")
    for name in gate.GATE_METRICS:
        assert name in text
    assert "CI of delta" in text


def test_it_formats_a_report_of_a_gate_that_did_not_run() -> None:
    report = {"passed": False, "summary": "Gate error: boom", "reasons": ["boom"], "metrics": []}

    text = gate.format_report(report)

    assert text.startswith("Regression gate: FAILED\nGate error: boom")
    assert "- boom" in text


@pytest.mark.slow
def test_it_matches_sklearn_at_full_size() -> None:
    y_true, candidate, production = holdout(rows=57_000, positives=98, seed=3)

    report = run(y_true, candidate, production, spec(resamples=1000))

    for name, metric in SKLEARN.items():
        assert entry(report, name)["candidate"] == pytest.approx(
            metric(y_true, candidate, 0.5), abs=1e-12
        )


@pytest.mark.slow
def test_it_runs_the_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "bench/gate_bench.py", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "run_gate" in result.stdout
