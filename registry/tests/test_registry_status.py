from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO

from django.contrib.auth.models import User
from django.core.management import call_command

from mlplatform.origin import Origin
from registry.models import ModelVersion, Stage
from registry.services import stage_request_create


def test_it_lists_models_versions_stages_and_pending_requests(
    production_version: ModelVersion, registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    newer = registered(name="newer")
    stage_request_create(
        origin=Origin.cli(),
        model_version=newer,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="next",
    )
    out = StringIO()

    call_command("registry_status", json=True, stdout=out)

    status = json.loads(out.getvalue())
    (model,) = status["models"]
    assert model["name"] == "fraud_detector"
    stages = {v["version"]: v["stage"] for v in model["versions"]}
    assert stages == {1: "production", 2: "staging"}
    first = next(v for v in model["versions"] if v["version"] == 1)
    assert first["history"][0]["decision"] == "approved"
    assert first["history"][0]["by"] == "arthur"
    assert "average_precision" in first["metrics"]
    (request,) = status["pending_requests"]
    assert (request["version"], request["to_stage"], request["gate_passed"]) == (
        2,
        "production",
        True,
    )


def test_it_prints_a_readable_listing(production_version: ModelVersion) -> None:
    out = StringIO()

    call_command("registry_status", stdout=out)

    text = out.getvalue()
    assert "fraud_detector" in text
    assert "v1" in text
    assert "production" in text
    assert "pending requests: 0" in text
