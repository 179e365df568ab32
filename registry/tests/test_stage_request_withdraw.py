from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from mlplatform.origin import Origin
from mlplatform.testing import make_user
from registry.models import ModelVersion, Stage, StageRequest, StageTransition
from registry.services import stage_request_create, stage_request_withdraw


@pytest.fixture
def pending(registered: Callable[..., ModelVersion], experimenter: User) -> StageRequest:
    return stage_request_create(
        model_version=registered(),
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="ship",
        origin=Origin.cli(),
    )


def test_it_lets_the_requester_withdraw_and_records_it(
    pending: StageRequest, experimenter: User
) -> None:
    stage_request_withdraw(
        request_id=pending.pk, user=experimenter, reason="found a bug", origin=Origin.cli()
    )

    pending.refresh_from_db()
    assert pending.status == StageRequest.Status.WITHDRAWN
    assert pending.decided_by == experimenter
    entry = StageTransition.objects.get(request=pending)
    assert entry.decision == StageTransition.Decision.WITHDRAWN
    assert "found a bug" in entry.reason
    assert entry.channel == "cli"
    # ...and the version can be requested again.
    again = stage_request_create(
        model_version=pending.model_version,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="fixed",
        origin=Origin.cli(),
    )
    assert again.status == StageRequest.Status.PENDING


@pytest.mark.parametrize("persona", ["approver", "viewer"])
def test_it_refuses_anyone_but_the_requester(
    pending: StageRequest, persona: str, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(PermissionDenied, match="only erin"):
        stage_request_withdraw(
            request_id=pending.pk,
            user=request.getfixturevalue(persona),
            reason="no",
            origin=Origin.cli(),
        )

    pending.refresh_from_db()
    assert pending.status == StageRequest.Status.PENDING


def test_it_refuses_another_experimenter(pending: StageRequest) -> None:
    other = make_user("eve", "experimenter")

    with pytest.raises(PermissionDenied):
        stage_request_withdraw(request_id=pending.pk, user=other, reason="x", origin=Origin.web())


def test_it_requires_a_reason(pending: StageRequest, experimenter: User) -> None:
    with pytest.raises(ValidationError, match="a reason is required to withdraw"):
        stage_request_withdraw(
            request_id=pending.pk, user=experimenter, reason=" ", origin=Origin.web()
        )


def test_it_refuses_a_decided_request(pending: StageRequest, experimenter: User) -> None:
    stage_request_withdraw(
        request_id=pending.pk, user=experimenter, reason="a", origin=Origin.web()
    )

    with pytest.raises(ValidationError, match="already withdrawn"):
        stage_request_withdraw(
            request_id=pending.pk, user=experimenter, reason="b", origin=Origin.web()
        )

    assert StageTransition.objects.filter(request=pending).count() == 1


def test_it_withdraws_from_the_version_page(
    client: Client, pending: StageRequest, experimenter: User
) -> None:
    client.force_login(experimenter)
    page = client.get("/registry/models/fraud_detector/versions/1/")
    response = client.post(f"/registry/requests/{pending.pk}/withdraw/", {"reason": "oops"})

    assert f'id="withdraw-{pending.pk}"' in page.content.decode()
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == StageRequest.Status.WITHDRAWN
    assert StageTransition.objects.get(request=pending).channel == "web"


def test_it_refuses_an_outsider_on_the_page(
    client: Client, pending: StageRequest, outsider: User
) -> None:
    client.force_login(outsider)

    response = client.post(f"/registry/requests/{pending.pk}/withdraw/", {"reason": "x"})

    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == StageRequest.Status.PENDING
