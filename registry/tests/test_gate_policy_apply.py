"""registry.gate.policy.apply_request: a config may restate or tighten its
model's gate policy, never loosen it."""

from __future__ import annotations

from experiments.configs import GateRequest, GateSpec, MetricRule
from registry.gate.policy import apply_request

POLICY = GateSpec(
    primary_metric="average_precision",
    rules=(
        MetricRule("average_precision", True, threshold=0.25, max_drop=0.02),
        MetricRule("log_loss", False, threshold=0.5),
    ),
    resamples=1000,
    confidence=0.95,
    seed=0,
    min_positives=20,
)


def test_it_applies_the_policy_unchanged_for_an_empty_request() -> None:
    applied = apply_request(POLICY, GateRequest())

    assert applied.spec == POLICY
    assert applied.tightenings == applied.loosenings == []


def test_it_accepts_a_restatement_as_no_change() -> None:
    request = GateRequest(
        primary_metric="average_precision",
        resamples=1000,
        seed=0,
        min_positives=20,
        rules=(MetricRule("average_precision", True, threshold=0.25),),
    )

    applied = apply_request(POLICY, request)

    assert applied.spec == POLICY
    assert applied.tightenings == applied.loosenings == []


def test_it_applies_and_lists_every_tightening() -> None:
    request = GateRequest(
        min_positives=30,
        confidence=0.99,
        rules=(
            MetricRule("average_precision", True, threshold=0.4, max_drop=0.01),
            MetricRule("log_loss", False, threshold=0.3),
            MetricRule("recall", True, threshold=0.5),
        ),
    )

    applied = apply_request(POLICY, request)

    assert applied.loosenings == []
    assert applied.spec.min_positives == 30
    assert applied.spec.confidence == 0.99
    assert applied.spec.rule_for("average_precision") == MetricRule(
        "average_precision", True, threshold=0.4, max_drop=0.01
    )
    log_loss, recall = applied.spec.rule_for("log_loss"), applied.spec.rule_for("recall")
    assert log_loss is not None
    assert recall is not None
    assert log_loss.threshold == 0.3  # a lower ceiling
    assert recall.threshold == 0.5
    assert applied.tightenings == [
        "gate.min_positives: 20 -> 30",
        "gate.bootstrap.confidence: 0.95 -> 0.99",
        "gate.metrics.average_precision.threshold: 0.25 -> 0.4",
        "gate.metrics.average_precision.max_drop: 0.02 -> 0.01",
        "gate.metrics.log_loss.threshold: 0.5 -> 0.3",
        "gate.metrics.recall: added (threshold 0.5)",
    ]


def test_it_adds_a_limit_the_policy_rule_does_not_set() -> None:
    request = GateRequest(rules=(MetricRule("log_loss", False, max_relative_drop=0.25),))

    applied = apply_request(POLICY, request)

    assert applied.spec.rule_for("log_loss") == MetricRule(
        "log_loss", False, threshold=0.5, max_relative_drop=0.25
    )
    assert applied.tightenings == ["gate.metrics.log_loss.max_relative_drop: none -> 0.25"]


def test_it_refuses_every_loosening_and_keeps_the_policys_values() -> None:
    request = GateRequest(
        primary_metric="roc_auc",
        resamples=200,
        seed=7,
        min_positives=1,
        confidence=0.5,
        rules=(
            MetricRule("average_precision", True, threshold=0.0, max_drop=1.0),
            MetricRule("log_loss", False, threshold=0.9),
        ),
    )

    applied = apply_request(POLICY, request)

    assert applied.spec == POLICY
    assert applied.tightenings == []
    assert applied.loosenings == [
        "gate.primary_metric: roc_auc differs from the policy's average_precision",
        "gate.bootstrap.resamples: 200 differs from the policy's 1000",
        "gate.bootstrap.seed: 7 differs from the policy's 0",
        "gate.min_positives: 1 is below the policy's 20",
        "gate.bootstrap.confidence: 0.5 is below the policy's 0.95",
        "gate.metrics.average_precision.threshold: 0 is looser than the policy's 0.25",
        "gate.metrics.average_precision.max_drop: 1 is looser than the policy's 0.02",
        "gate.metrics.log_loss.threshold: 0.9 is looser than the policy's 0.5",
    ]
