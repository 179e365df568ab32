from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from registry.models import GateEvaluation, ModelVersion, Stage, StageRequest
from registry.services import stage_request_gate

URL = "/registry/models/fraud_detector/versions/1/request/"


def test_it_records_a_request_to_production_that_a_worker_gates(
    client: Client,
    experimenter: User,
    registered: Callable[..., ModelVersion],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered()
    queued: list[int] = []
    monkeypatch.setattr(
        "registry.jobs.gate_job_enqueue", lambda pk, connection=None: queued.append(pk)
    )
    client.force_login(experimenter)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"to_stage": "production", "reason": "best AP"}, follow=True)
    request = StageRequest.objects.get()
    assert response.redirect_chain == [("/registry/models/fraud_detector/versions/1/", 302)]
    assert (request.to_stage, request.reason, request.requested_by, request.channel) == (
        Stage.PRODUCTION,
        "best AP",
        experimenter,
        "web",
    )
    # No gate in the web request: it is queued for a worker, and the page says so.
    assert request.status == StageRequest.Status.GATING
    assert request.gate is None
    assert queued == [request.pk]
    page = response.content.decode()
    assert f"Request #{request.pk} to production is being gated" in page
    assert f'hx-get="/registry/requests/{request.pk}/status/"' in page
    # What the worker's job then does:
    stage_request_gate(request_id=request.pk)
    request = StageRequest.objects.get(pk=request.pk)
    assert request.status == StageRequest.Status.PENDING
    assert request.gate is not None
    assert request.gate.purpose == GateEvaluation.Purpose.PROMOTION
    status = client.get(f"/registry/requests/{request.pk}/status/", HTTP_HX_REQUEST="true")
    assert status.status_code == 286  # stop polling
    assert status["HX-Refresh"] == "true"
    assert "Regression gate report" in client.get(URL.replace("request/", "")).content.decode()


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
    experimenter: User,
    registered: Callable[..., ModelVersion],
    data: dict[str, str],
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
    client: Client, experimenter: User, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(experimenter)
    client.post(URL, {"to_stage": "archived", "reason": "old"})
    response = client.post(URL, {"to_stage": "production", "reason": "again"})
    assert response.status_code == 400
    assert "already has an open request" in response.content.decode()
    assert "to archived, pending" in response.content.decode()
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
    client: Client, experimenter: User, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(experimenter)
    assert client.get(URL).status_code == 405


def test_it_answers_404_for_an_unknown_version(client: Client, experimenter: User) -> None:
    client.force_login(experimenter)
    response = client.post(URL, {"to_stage": "production", "reason": "x"})
    assert response.status_code == 404
