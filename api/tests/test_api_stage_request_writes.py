"""/api/v1/stage-requests/ writes: request, approve, reject, withdraw, through
the same services as the web, recorded with the channel `api`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from mlplatform.origin import Origin
from mlplatform.testing import make_user
from registry.models import ModelVersion, Stage, StageRequest, StageTransition
from registry.services import stage_request_create, stage_request_gate
from registry.tests.conftest import UNDERFIT

URL = "/api/v1/stage-requests/"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Gate jobs the API queued (run by hand here; by real workers in the slow tests)."""
    jobs: list[int] = []

    def enqueue(pk: int, connection: object = None) -> bool:
        jobs.append(pk)
        return True

    monkeypatch.setattr("registry.jobs.gate_job_enqueue", enqueue)
    return jobs


@pytest.fixture
def pending(
    production_version: ModelVersion, registered: Callable[..., ModelVersion], experimenter: User
) -> StageRequest:
    return stage_request_create(
        model_version=registered(name="second"),
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="better AP",
        origin=Origin.cli(),
    )


def test_it_records_a_request_that_a_worker_gates(
    api_as: Callable[..., Any],
    experimenter: User,
    production_version: ModelVersion,
    registered: Callable[..., ModelVersion],
    queued: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    registered(name="second")
    body = {"model": "fraud_detector", "version": 2, "to_stage": "production", "reason": "AP"}

    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(experimenter).post(URL, body)

    created = response.json()
    assert response.status_code == 201
    assert (created["status"], created["channel"], created["gate_report"]) == (
        "gating",
        "api",
        None,
    )
    assert queued == [created["id"]]
    stage_request_gate(request_id=created["id"])  # what the worker's job does
    gated = api_as(experimenter).get(f"{URL}{created['id']}/").json()
    assert gated["status"] == "pending"
    assert gated["gate_passed"] is True
    assert gated["gate_report"]["policy_version"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "fraud_detector", "version": 1, "to_stage": "none", "reason": "x"}, "to_stage"),
        (
            {"model": "fraud_detector", "version": 1, "to_stage": "archived", "reason": " "},
            "reason",
        ),
        ({"model": "../etc", "version": 1, "to_stage": "archived", "reason": "x"}, "model"),
        (
            {"model": "fraud_detector", "version": 0, "to_stage": "archived", "reason": "x"},
            "version",
        ),
    ],
)
def test_it_refuses_bad_input_with_the_field_named(
    api_as: Callable[..., Any],
    experimenter: User,
    production_version: ModelVersion,
    body: dict[str, Any],
    field: str,
) -> None:
    response = api_as(experimenter).post(URL, body)

    assert response.status_code == 400
    assert any(name.endswith(field) for name in response.json()["error"]["fields"])
    assert not StageRequest.objects.filter(channel="api").exists()


def test_it_names_an_unknown_model(api_as: Callable[..., Any], experimenter: User) -> None:
    body = {"model": "nope", "version": 1, "to_stage": "archived", "reason": "x"}

    response = api_as(experimenter).post(URL, body)

    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "no model named 'nope'"}


def test_it_approves_and_records_the_api_channel(
    api_as: Callable[..., Any], approver: User, pending: StageRequest
) -> None:
    response = api_as(approver).post(f"{URL}{pending.pk}/approve/", {"reason": "reviewed"})

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    pending.model_version.refresh_from_db()
    assert pending.model_version.stage == Stage.PRODUCTION
    entry = StageTransition.objects.get(request=pending)
    assert (entry.channel, entry.approved_by) == ("api", approver)
    history = api_as(approver).get("/api/v1/models/fraud_detector/versions/2/history/").json()
    assert history[0]["channel"] == "api"


def test_it_refuses_self_approval(
    api_as: Callable[..., Any], production_version: ModelVersion
) -> None:
    both = make_user("bea", "experimenter", "approver")
    api = api_as(both)
    body = {"model": "fraud_detector", "version": 1, "to_stage": "archived", "reason": "old"}

    created = api.post(URL, body).json()
    response = api.post(f"{URL}{created['id']}/approve/", {"reason": "mine"})

    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert "you requested this; another approver must decide" in message


def test_it_refuses_a_failed_gate_without_the_override(
    api_as: Callable[..., Any],
    approver: User,
    experimenter: User,
    registered: Callable[..., ModelVersion],
    set_policy: Callable[..., Any],
) -> None:
    from registry.tests.conftest import LAX_POLICY, promote

    set_policy(LAX_POLICY)  # floors at 0: the weak model registers while nothing is in production
    weak = registered(name="weak", **UNDERFIT)
    promote(registered(name="strong"), experimenter, approver)
    request = stage_request_create(
        model_version=weak,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="try",
        origin=Origin.cli(),
    )
    assert request.gate is not None
    assert not request.gate.passed

    response = api_as(approver).post(f"{URL}{request.pk}/approve/", {"reason": "meh"})

    assert response.status_code == 403
    assert "only an approver who may override the gate" in response.json()["error"]["message"]


def test_it_answers_409_when_the_candidate_changed_after_its_gate(
    api_as: Callable[..., Any], approver: User, pending: StageRequest
) -> None:
    path = Path(settings.ARTIFACT_ROOT) / pending.model_version.experiment.artifact_path
    with path.open("ab") as handle:
        handle.write(b"X")

    response = api_as(approver).post(f"{URL}{pending.pk}/approve/", {"reason": "ok"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "approval_refused"
    pending.refresh_from_db()
    assert pending.status == StageRequest.Status.PENDING


def test_it_rejects_with_a_reason(
    api_as: Callable[..., Any], approver: User, pending: StageRequest
) -> None:
    missing = api_as(approver).post(f"{URL}{pending.pk}/reject/", {})
    response = api_as(approver).post(f"{URL}{pending.pk}/reject/", {"reason": "not yet"})

    assert missing.status_code == 400
    assert "reason" in str(missing.json()["error"]["fields"])
    assert response.json()["status"] == "rejected"
    assert response.json()["decision_reason"] == "not yet"


def test_it_lets_only_the_requester_withdraw(
    api_as: Callable[..., Any], approver: User, experimenter: User, pending: StageRequest
) -> None:
    other = make_user("eve", "experimenter")

    refused = api_as(other).post(f"{URL}{pending.pk}/withdraw/", {"reason": "not mine"})
    done = api_as(experimenter).post(f"{URL}{pending.pk}/withdraw/", {"reason": "oops"})

    assert refused.status_code == 403
    assert done.status_code == 200
    assert done.json()["status"] == "withdrawn"
    assert StageTransition.objects.get(request=pending).channel == "api"


def test_it_answers_404_for_an_unknown_request(
    api_as: Callable[..., Any], approver: User, db: None
) -> None:
    response = api_as(approver).post(f"{URL}424242/approve/", {"reason": "x"})

    assert response.status_code == 404


def test_it_answers_409_for_a_decision_on_a_decided_request(
    api_as: Callable[..., Any], approver: User, experimenter: User, pending: StageRequest
) -> None:
    assert api_as(approver).post(f"{URL}{pending.pk}/reject/", {"reason": "no"}).status_code == 200

    for who, action in ((approver, "approve"), (approver, "reject"), (experimenter, "withdraw")):
        response = api_as(who).post(f"{URL}{pending.pk}/{action}/", {"reason": "again"})
        assert response.status_code == 409, action
        assert response.json()["error"] == {
            "code": "conflict",
            "message": f"request #{pending.pk} was already rejected",
        }


def test_it_refuses_a_second_open_request_on_a_version(
    api_as: Callable[..., Any], experimenter: User, pending: StageRequest
) -> None:
    version = pending.model_version
    body = {"model": "fraud_detector", "version": version.version, "to_stage": "archived",
            "reason": "old"}  # fmt: skip

    response = api_as(experimenter).post(URL, body)

    assert response.status_code == 400
    assert "already has an open request" in response.json()["error"]["message"]
    assert StageRequest.objects.filter(model_version=version).count() == 1
