"""One sign convention everywhere: a delta and its interval read "how much
better the candidate is", positive is better, on the gate report (web, API,
command line) and on the compare page, for a lower-is-better metric too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from mlplatform import numbers
from registry.gate import format_report
from registry.models import GateEvaluation, GatePolicy, ModelVersion
from registry.tests.conftest import LAX_POLICY


def test_the_log_loss_interval_reads_the_same_in_every_channel(
    client: Client,
    api_as: Callable[..., Any],
    production_version: ModelVersion,
    registered: Callable[..., ModelVersion],
    viewer: User,
    set_policy: Callable[..., GatePolicy],
) -> None:
    set_policy(
        {
            **LAX_POLICY,
            "metrics": {
                "average_precision": {"threshold": 0.05, "max_drop": 0.05},
                "log_loss": {"max_drop": 1.0},
            },
        }
    )
    candidate = registered(name="candidate", params={"C": 0.01, "max_iter": 500})
    assert candidate.registration_gate_id is not None
    gate = GateEvaluation.objects.get(pk=candidate.registration_gate_id)
    entry = next(row for row in gate.report["metrics"] if row["metric"] == "log_loss")
    expected = numbers.interval(entry["ci_low"], entry["ci_high"])
    assert entry["greater_is_better"] is False

    client.force_login(viewer)
    ids = [production_version.experiment_id, candidate.experiment_id]
    compare = client.get("/experiments/compare/", {"ids": ids})
    rows = {row.name: row for group in compare.context["metric_groups"] for row in group.rows}
    web_page = client.get(f"/registry/models/fraud_detector/versions/{candidate.version}/")
    api = api_as(viewer).get(
        f"/api/v1/models/fraud_detector/versions/{candidate.version}/gate-reports/"
    )
    api_entry = next(
        row for row in api.json()[0]["report"]["metrics"] if row["metric"] == "log_loss"
    )

    assert rows["log_loss"].cells[1].interval == f"95% CI {expected}"
    assert expected in web_page.content.decode()
    assert (api_entry["ci_low"], api_entry["ci_high"]) == (entry["ci_low"], entry["ci_high"])
    assert expected in format_report(gate.report)  # the command line and the admin
    # The sign of the compare page's delta says the same as the gate's: better or worse.
    delta = rows["log_loss"].cells[1]
    assert (delta.trend == "better") == (entry["delta"] > 0)
