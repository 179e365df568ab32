from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mlplatform.origin import Origin
from mlplatform.testing import make_user
from registry.models import GatePolicy, ModelVersion, Stage, StageRequest, StageTransition
from registry.services import stage_request_create
from registry.tests.conftest import UNDERFIT, promote


def ask(version: ModelVersion, user: User, to_stage: str = Stage.PRODUCTION) -> StageRequest:
    return stage_request_create(
        origin=Origin.cli(), model_version=version, to_stage=to_stage, user=user, reason="go"
    )


def url(request: StageRequest) -> str:
    return f"/registry/requests/{request.pk}/decide/"


@pytest.fixture
def pending(registered: Callable[..., ModelVersion], experimenter: User) -> StageRequest:
    return ask(registered(), experimenter)


def test_it_approves_and_applies_the_change(
    client: Client, approver: User, pending: StageRequest
) -> None:
    client.force_login(approver)
    response = client.post(url(pending), {"decision": "approve", "reason": "AP is better"})
    assert response.status_code == 302
    assert response["Location"] == "/registry/models/fraud_detector/versions/1/"
    pending.refresh_from_db()
    pending.model_version.refresh_from_db()
    assert pending.status == StageRequest.Status.APPROVED
    assert pending.decided_by == approver
    assert pending.model_version.stage == Stage.PRODUCTION
    entry = StageTransition.objects.filter(request=pending).get()
    assert entry.approved_by == approver
    assert "AP is better" in entry.reason


def test_it_rejects_without_changing_the_stage(
    client: Client, approver: User, pending: StageRequest
) -> None:
    client.force_login(approver)
    client.post(url(pending), {"decision": "reject", "reason": "not yet"})
    pending.refresh_from_db()
    pending.model_version.refresh_from_db()
    assert pending.status == StageRequest.Status.REJECTED
    assert pending.model_version.stage == Stage.STAGING


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"decision": "approve", "reason": ""}, "This field is required."),
        ({"decision": "maybe", "reason": "x"}, "Select a valid choice."),
        ({"reason": "x"}, "This field is required."),
    ],
)
def test_it_refuses_a_bad_decision_with_a_message_and_writes_nothing(
    client: Client, approver: User, pending: StageRequest, data: dict[str, str], message: str
) -> None:
    client.force_login(approver)
    response = client.post(url(pending), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == StageRequest.Status.PENDING
    assert not StageTransition.objects.filter(request=pending).exists()


def test_it_refuses_to_approve_a_failed_gate_without_override(
    client: Client,
    approver: User,
    experimenter: User,
    registered: Callable[..., ModelVersion],
    lax_policy: GatePolicy,
) -> None:
    weak = registered(name="weak", **UNDERFIT)
    promote(registered(name="strong"), experimenter, approver)
    request = ask(weak, experimenter)
    assert request.gate is not None
    assert not request.gate.passed
    assert request.status == StageRequest.Status.GATE_FAILED
    client.force_login(approver)
    page = client.get(f"/registry/models/fraud_detector/versions/{weak.version}/").content.decode()
    assert "only an approver who may override the gate can decide" in page
    assert f'id="approve-{request.pk}"' not in page  # no button this approver cannot use
    assert f'id="reject-{request.pk}"' not in page
    response = client.post(url(request), {"decision": "approve", "reason": "meh"})
    assert response.status_code == 403
    assert "only an approver who may override the gate" in response.content.decode()
    weak.refresh_from_db()
    assert weak.stage == Stage.STAGING


def test_it_records_an_override_with_its_justification(
    client: Client,
    approver: User,
    experimenter: User,
    registered: Callable[..., ModelVersion],
    lax_policy: GatePolicy,
) -> None:
    weak = registered(name="weak", **UNDERFIT)
    promote(registered(name="strong"), experimenter, approver)
    request = ask(weak, experimenter)
    overrider = make_user("olga", "approver", permissions=("registry.override_gate",))
    client.force_login(overrider)
    page = client.get(f"/registry/models/fraud_detector/versions/{weak.version}/").content.decode()
    assert f'id="id_override_{request.pk}"' in page
    assert f'id="reject-{request.pk}"' in page
    assert "Approve with override" in page
    response = client.post(
        url(request),
        {"decision": "approve", "reason": "ok", "override_justification": "incident 42"},
    )
    assert response.status_code == 302
    weak.refresh_from_db()
    assert weak.stage == Stage.PRODUCTION
    assert StageTransition.objects.filter(request=request).get().override


def test_it_refuses_self_approval(client: Client, registered: Callable[..., ModelVersion]) -> None:
    both = make_user("bea", "experimenter", "approver")
    request = ask(registered(), both)
    client.force_login(both)
    response = client.post(url(request), {"decision": "approve", "reason": "me"})
    assert response.status_code == 403
    content = response.content.decode()
    assert "you requested this; another approver must decide" in content
    assert "Ask an administrator" not in content
    request.refresh_from_db()
    assert request.status == StageRequest.Status.PENDING


def test_it_refuses_to_decide_twice(client: Client, approver: User, pending: StageRequest) -> None:
    client.force_login(approver)
    client.post(url(pending), {"decision": "reject", "reason": "no"})
    response = client.post(url(pending), {"decision": "approve", "reason": "yes"})
    assert response.status_code == 409
    assert "was already rejected" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == StageRequest.Status.REJECTED


def test_it_refuses_a_request_superseded_when_production_changed(
    client: Client,
    approver: User,
    experimenter: User,
    registered: Callable[..., ModelVersion],
) -> None:
    first, second = registered(name="a"), registered(name="b")
    first_request, second_request = ask(first, experimenter), ask(second, experimenter)
    client.force_login(approver)
    client.post(url(first_request), {"decision": "approve", "reason": "first"})
    response = client.post(url(second_request), {"decision": "approve", "reason": "second"})
    assert response.status_code == 409
    assert "was already superseded" in response.content.decode()
    second.refresh_from_db()
    assert second.stage == Stage.STAGING


@pytest.mark.parametrize("role", ["viewer", "experimenter", "outsider"])
def test_it_refuses_users_who_may_not_decide(
    request: pytest.FixtureRequest, client: Client, pending: StageRequest, role: str
) -> None:
    client.force_login(request.getfixturevalue(role))
    assert client.post(url(pending), {"decision": "approve", "reason": "x"}).status_code == 403
    pending.refresh_from_db()
    assert pending.status == StageRequest.Status.PENDING


def test_it_refuses_get(client: Client, approver: User, pending: StageRequest) -> None:
    client.force_login(approver)
    assert client.get(url(pending)).status_code == 405


def test_it_answers_404_for_an_unknown_request(client: Client, approver: User) -> None:
    client.force_login(approver)
    response = client.post("/registry/requests/4242/decide/", {"decision": "approve"})
    assert response.status_code == 404


def test_a_failed_gate_shows_each_role_what_it_can_do(
    client: Client,
    approver: User,
    experimenter: User,
    viewer: User,
    registered: Callable[..., ModelVersion],
    lax_policy: GatePolicy,
) -> None:
    weak = registered(name="weak", **UNDERFIT)
    promote(registered(name="strong"), experimenter, approver)
    request = ask(weak, experimenter)
    page_url = f"/registry/models/fraud_detector/versions/{weak.version}/"

    def page_as(user: User) -> str:
        client.force_login(user)
        return client.get(page_url).content.decode()

    as_requester, as_viewer = page_as(experimenter), page_as(viewer)

    assert request.status == StageRequest.Status.GATE_FAILED
    assert "you can withdraw it" in as_requester
    assert f'id="withdraw-{request.pk}"' in as_requester
    assert f'id="approve-{request.pk}"' not in as_requester
    for button in (f'id="approve-{request.pk}"', f'id="reject-{request.pk}"', "withdraw-"):
        assert button not in as_viewer
    assert "only an approver who may override the gate can decide" in as_viewer
