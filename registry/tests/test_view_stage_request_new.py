from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from registry.models import GateEvaluation, ModelVersion, Stage, StageRequest

URL = "/registry/models/fraud_detector/versions/1/request/"


def test_it_records_a_request_to_production_with_its_gate(
    client: Client, experimenter: Any, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(experimenter)
    response = client.post(URL, {"to_stage": "production", "reason": "best AP"}, follow=True)
    request = StageRequest.objects.get()
    assert response.redirect_chain == [("/registry/models/fraud_detector/versions/1/", 302)]
    assert (request.to_stage, request.reason, request.requested_by) == (
        Stage.PRODUCTION,
        "best AP",
        experimenter,
    )
    assert request.gate.purpose == GateEvaluation.Purpose.PROMOTION
    assert f"Request #{request.pk} to production is pending approval." in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_stage": "production", "reason": ""}, "This field is required."),
        ({"to_stage": "production", "reason": "   "}, "This field is required."),
        ({"to_stage": "none", "reason": "x"}, "Select a valid choice."),
        # The form does not offer the stage the version is in.
        ({"to_stage": "staging", "reason": "x"}, "staging is not one of the available choices"),
    ],
)
def test_it_refuses_a_bad_request_with_a_message_and_writes_nothing(
    client: Client,
    experimenter: Any,
    registered: Callable[..., ModelVersion],
    data: dict,
    message: str,
) -> None:
    registered()
    gates_before = GateEvaluation.objects.count()
    client.force_login(experimenter)
    response = client.post(URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not StageRequest.objects.exists()
    assert GateEvaluation.objects.count() == gates_before


def test_it_refuses_a_second_pending_request(
    client: Client, experimenter: Any, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(experimenter)
    client.post(URL, {"to_stage": "archived", "reason": "old"})
    response = client.post(URL, {"to_stage": "archived", "reason": "again"})
    assert response.status_code == 400
    assert "already has a pending request" in response.content.decode()
    assert StageRequest.objects.count() == 1


@pytest.mark.parametrize("role", ["viewer", "approver", "outsider"])
def test_it_refuses_users_who_may_not_request(
    request: pytest.FixtureRequest,
    client: Client,
    registered: Callable[..., ModelVersion],
    role: str,
) -> None:
    registered()
    client.force_login(request.getfixturevalue(role))
    assert client.post(URL, {"to_stage": "production", "reason": "x"}).status_code == 403
    assert not StageRequest.objects.exists()


def test_it_refuses_get(
    client: Client, experimenter: Any, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(experimenter)
    assert client.get(URL).status_code == 405


def test_it_answers_404_for_an_unknown_version(client: Client, experimenter: Any) -> None:
    client.force_login(experimenter)
    response = client.post(URL, {"to_stage": "production", "reason": "x"})
    assert response.status_code == 404
