"""/api/v1/stage-requests/: requests to move versions, read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from mlplatform.origin import Origin
from registry.models import ModelVersion, Stage
from registry.services import stage_request_create

URL = "/api/v1/stage-requests/"


@pytest.fixture
def api(api_as: Callable[..., Any], approver: User) -> Any:
    return api_as(approver)


@pytest.fixture
def pending(
    production_version: ModelVersion, registered: Callable[..., ModelVersion], experimenter: User
) -> Any:
    second = registered(name="second")
    return stage_request_create(
        origin=Origin.cli(),
        model_version=second,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="better AP",
    )


def test_it_lists_requests_newest_first(api: Any, pending: Any) -> None:
    body = api.get(URL).json()

    assert body["count"] == 2
    newest = body["results"][0]
    assert (newest["id"], newest["model"], newest["version"]) == (pending.pk, "fraud_detector", 2)
    assert (newest["from_stage"], newest["to_stage"], newest["status"]) == (
        "staging",
        "production",
        "pending",
    )
    assert (newest["requested_by"], newest["reason"]) == ("erin", "better AP")
    assert newest["gate_passed"] == pending.gate.passed
    assert newest["decided_by"] is None


def test_it_filters_by_status_and_model(api: Any, pending: Any) -> None:
    assert [r["id"] for r in api.get(URL, status="pending").json()["results"]] == [pending.pk]
    assert api.get(URL, status="approved").json()["count"] == 1
    assert api.get(URL, model="other").json()["count"] == 0
    assert api.get(URL, model="fraud_detector").json()["count"] == 2


def test_it_shows_a_request_with_its_gate_report(api: Any, pending: Any) -> None:
    body = api.get(f"{URL}{pending.pk}/").json()

    assert body["gate_report"] == pending.gate.report
    assert body["gate_baseline_version"] == 1


def test_it_answers_404_for_an_unknown_request(api: Any, db: Any) -> None:
    response = api.get(f"{URL}404/")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "there is no stage request #404"
