from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError

from mlplatform.origin import Origin
from mlplatform.testing import make_user
from registry.models import GatePolicy, ModelVersion, Stage, StageRequest, StageTransition
from registry.services import stage_request_create, stage_request_decide
from registry.tests.conftest import UNDERFIT, promote


def request_for(
    version: ModelVersion, user: User, stage: str = Stage.PRODUCTION, reason: str = "please"
) -> StageRequest:
    return stage_request_create(
        origin=Origin.cli(), model_version=version, to_stage=stage, user=user, reason=reason
    )


def test_it_applies_an_approved_request_and_records_who_and_why(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    version = registered()
    request = request_for(version, experimenter, reason="best AP so far")

    stage_request_decide(
        origin=Origin.cli(), request_id=request.pk, user=approver, approve=True, reason="agreed"
    )

    version.refresh_from_db()
    request.refresh_from_db()
    assert version.stage == Stage.PRODUCTION
    assert request.status == StageRequest.Status.APPROVED
    assert request.decided_by == approver
    entry = StageTransition.objects.filter(model_version=version).first()
    assert entry is not None
    assert (entry.from_stage, entry.to_stage) == (Stage.STAGING, Stage.PRODUCTION)
    assert entry.requested_by == experimenter
    assert entry.approved_by == approver
    assert entry.decision == StageTransition.Decision.APPROVED
    assert "best AP so far" in entry.reason
    assert "agreed" in entry.reason
    assert request.gate is not None
    assert entry.gate_report == request.gate.report


def test_it_archives_the_previous_production_version_in_the_same_step(
    production_version: ModelVersion,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    newer = registered(name="newer")

    promote(newer, experimenter, approver)

    production_version.refresh_from_db()
    assert production_version.stage == Stage.ARCHIVED
    assert ModelVersion.objects.filter(stage=Stage.PRODUCTION).get() == newer
    archived = StageTransition.objects.filter(model_version=production_version).first()
    assert archived is not None
    assert archived.to_stage == Stage.ARCHIVED
    assert archived.approved_by == approver


def test_it_records_a_rejection_without_changing_the_stage(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    version = registered()
    request = request_for(version, experimenter)

    stage_request_decide(
        origin=Origin.cli(), request_id=request.pk, user=approver, approve=False, reason="not yet"
    )

    version.refresh_from_db()
    assert version.stage == Stage.STAGING
    entry = StageTransition.objects.filter(model_version=version).first()
    assert entry is not None
    assert entry.decision == StageTransition.Decision.REJECTED
    assert "not yet" in entry.reason


def test_it_refuses_self_approval(registered: Callable[..., ModelVersion]) -> None:
    both = make_user("bea", "experimenter", "approver")
    request = request_for(registered(), both)

    with pytest.raises(PermissionDenied, match="you requested this; another approver must decide"):
        stage_request_decide(
            origin=Origin.cli(), request_id=request.pk, user=both, approve=True, reason="decided"
        )

    request.refresh_from_db()
    assert request.status == StageRequest.Status.PENDING


@pytest.mark.parametrize("persona", ["viewer", "outsider"])
def test_it_refuses_a_user_without_the_approver_role(
    registered: Callable[..., ModelVersion],
    experimenter: User,
    persona: str,
    request: pytest.FixtureRequest,
) -> None:
    stage_request = request_for(registered(), experimenter)

    with pytest.raises(PermissionDenied):
        stage_request_decide(
            origin=Origin.cli(),
            request_id=stage_request.pk,
            user=request.getfixturevalue(persona),
            approve=True,
            reason="decided",
        )

    stage_request.refresh_from_db()
    assert stage_request.status == StageRequest.Status.PENDING


def test_it_refuses_to_decide_a_request_twice(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    request = request_for(registered(), experimenter)
    stage_request_decide(
        origin=Origin.cli(), request_id=request.pk, user=approver, approve=False, reason="no"
    )

    with pytest.raises(ValidationError, match="already rejected"):
        stage_request_decide(
            origin=Origin.cli(),
            request_id=request.pk,
            user=approver,
            approve=True,
            reason="decided",
        )

    assert StageTransition.objects.filter(decision="approved").count() == 0


def test_it_refuses_an_unknown_request(approver: User) -> None:
    with pytest.raises(ValidationError, match="#999 does not exist"):
        stage_request_decide(
            origin=Origin.cli(), request_id=999, user=approver, approve=True, reason="decided"
        )


def weak_request(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> tuple[ModelVersion, StageRequest]:
    weak = registered(name="weak", **UNDERFIT)
    promote(registered(name="strong"), experimenter, approver)
    request = request_for(weak, experimenter)
    assert request.gate is not None
    assert not request.gate.passed
    return weak, request


def test_it_refuses_to_approve_a_failed_gate(
    lax_policy: GatePolicy,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    weak, request = weak_request(registered, experimenter, approver)

    for approve in (True, False):  # neither decision is a plain approver's
        with pytest.raises(PermissionDenied, match="only an approver who may override the gate"):
            stage_request_decide(
                origin=Origin.cli(), request_id=request.pk, user=approver, approve=approve,
                reason="meh",
            )  # fmt: skip

    weak.refresh_from_db()
    assert weak.stage == Stage.STAGING
    assert StageRequest.objects.get(pk=request.pk).status == StageRequest.Status.GATE_FAILED


def test_it_lets_an_overriding_approver_reject_a_failed_gate(
    lax_policy: GatePolicy,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    _, request = weak_request(registered, experimenter, approver)
    overrider = make_user("olga", "approver", permissions=("registry.override_gate",))

    decided = stage_request_decide(
        origin=Origin.cli(),
        request_id=request.pk,
        user=overrider,
        approve=False,
        reason="decided",
    )

    assert decided.status == StageRequest.Status.REJECTED


def test_it_records_an_override_with_its_justification(
    lax_policy: GatePolicy,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    weak, request = weak_request(registered, experimenter, approver)
    overrider = make_user("olga", "approver", permissions=("registry.override_gate",))

    with pytest.raises(ValidationError, match="written justification"):
        stage_request_decide(
            origin=Origin.cli(),
            request_id=request.pk,
            user=overrider,
            approve=True,
            reason="decided",
        )
    stage_request_decide(
        origin=Origin.cli(),
        request_id=request.pk,
        user=overrider,
        approve=True,
        override_justification="incident 42: the current model is broken",
        reason="decided",
    )

    weak.refresh_from_db()
    assert weak.stage == Stage.PRODUCTION
    entry = StageTransition.objects.filter(model_version=weak).first()
    assert entry is not None
    assert entry.override
    assert "incident 42" in entry.reason


def test_it_supersedes_a_request_gated_against_an_older_production(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    first, second = registered(name="a"), registered(name="b")
    request_first = request_for(first, experimenter)
    request_second = request_for(second, experimenter)
    stage_request_decide(
        origin=Origin.cli(),
        request_id=request_first.pk,
        user=approver,
        approve=True,
        reason="decided",
    )

    with pytest.raises(ValidationError, match="already superseded"):
        stage_request_decide(
            origin=Origin.cli(),
            request_id=request_second.pk,
            user=approver,
            approve=True,
            reason="decided",
        )

    request_second.refresh_from_db()
    second.refresh_from_db()
    assert request_second.status == StageRequest.Status.SUPERSEDED
    assert second.stage == Stage.STAGING


@pytest.mark.parametrize("approve", [True, False])
def test_it_requires_a_reason_either_way(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User, approve: bool
) -> None:
    request = request_for(registered(), experimenter)

    with pytest.raises(ValidationError, match="a reason is required to approve or reject"):
        stage_request_decide(
            origin=Origin.web(), request_id=request.pk, user=approver, approve=approve, reason=""
        )

    request.refresh_from_db()
    assert request.status == StageRequest.Status.PENDING
    assert not StageTransition.objects.filter(request=request).exists()
