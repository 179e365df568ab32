"""/api/v1/models/{name}/gate-policy/: read by registry readers, changed only
with registry.change_gatepolicy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from django.contrib.auth.models import User

from registry.models import GatePolicy, ModelVersion
from registry.tests.conftest import LAX_POLICY

URL = "/api/v1/models/fraud_detector/gate-policy/"


def test_it_shows_the_policy_in_force_and_its_history(
    api_as: Callable[..., Any], viewer: User, production_version: ModelVersion
) -> None:
    body = api_as(viewer).get(URL).json()

    assert body["current"]["version"] == 1
    assert body["current"]["set_by"] == "project default"
    assert body["current"]["policy"]["metrics"]["average_precision"]["threshold"] == 0.25
    assert [entry["version"] for entry in body["history"]] == [1]


def test_it_records_a_change_by_the_permission_holder(
    api_as: Callable[..., Any], policy_admin: User, production_version: ModelVersion
) -> None:
    response = api_as(policy_admin).post(
        URL, {"policy": yaml.safe_dump(LAX_POLICY), "reason": "faster gates"}
    )

    assert response.status_code == 201
    assert response.json()["current"]["version"] == 2
    assert response.json()["current"]["channel"] == "api"
    assert GatePolicy.objects.get(version=2).created_by == policy_admin


def test_it_refuses_approvers_and_experimenters(
    api_as: Callable[..., Any],
    approver: User,
    experimenter: User,
    production_version: ModelVersion,
) -> None:
    for user in (approver, experimenter):
        response = api_as(user).post(URL, {"policy": yaml.safe_dump(LAX_POLICY), "reason": "x"})
        assert response.status_code == 403
    assert GatePolicy.objects.count() == 1


def test_it_names_what_is_wrong_with_a_policy(
    api_as: Callable[..., Any], policy_admin: User, production_version: ModelVersion
) -> None:
    bad = {**LAX_POLICY, "bootstrap": {"resamples": 5}}

    response = api_as(policy_admin).post(URL, {"policy": yaml.safe_dump(bad), "reason": "x"})

    assert response.status_code == 400
    assert (
        "bootstrap.resamples: must be in [200, 20000], got 5" in response.json()["error"]["message"]
    )
    assert GatePolicy.objects.count() == 1


def test_it_answers_404_for_an_unknown_model(api_as: Callable[..., Any], viewer: User) -> None:
    response = api_as(viewer).get("/api/v1/models/nope/gate-policy/")

    assert response.status_code == 404
