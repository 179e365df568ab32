"""When production or the gate policy changes, pending production requests
gated against the old state are superseded, and can be asked again."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User

from mlplatform.origin import Origin
from registry.models import GatePolicy, ModelVersion, Stage, StageRequest, StageTransition
from registry.services import stage_request_create, stage_request_decide
from registry.tests.conftest import LAX_POLICY


def ask(version: ModelVersion, user: User, stage: str = Stage.PRODUCTION) -> StageRequest:
    return stage_request_create(
        model_version=version, to_stage=stage, user=user, reason="ship", origin=Origin.cli()
    )


def approve(request: StageRequest, approver: User) -> StageRequest:
    return stage_request_decide(
        request_id=request.pk, user=approver, approve=True, reason="ok", origin=Origin.web()
    )


def test_it_supersedes_requests_gated_against_the_previous_production(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    first, second = registered(name="a"), registered(name="b")
    winner, stale = ask(first, experimenter), ask(second, experimenter)

    approve(winner, approver)

    stale.refresh_from_db()
    assert stale.status == StageRequest.Status.SUPERSEDED
    assert "production of fraud_detector changed" in stale.decision_reason
    entry = StageTransition.objects.get(request=stale)
    assert entry.decision == StageTransition.Decision.SUPERSEDED
    assert entry.actor_label == "the platform"
    assert entry.channel == "web"
    # The version can be requested again, gated against the new production.
    again = ask(second, experimenter)
    assert again.status == StageRequest.Status.PENDING
    assert again.gate is not None
    assert again.gate.baseline_version == first


def test_it_supersedes_them_when_production_is_archived(
    production_version: ModelVersion,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    candidate = registered(name="next")
    stale = ask(candidate, experimenter)
    retire = ask(production_version, experimenter, stage=Stage.ARCHIVED)

    approve(retire, approver)

    stale.refresh_from_db()
    assert stale.status == StageRequest.Status.SUPERSEDED


def test_it_supersedes_them_when_the_gate_policy_changes(
    registered: Callable[..., ModelVersion],
    experimenter: User,
    set_policy: Callable[..., GatePolicy],
) -> None:
    stale = ask(registered(), experimenter)

    set_policy(LAX_POLICY)

    stale.refresh_from_db()
    assert stale.status == StageRequest.Status.SUPERSEDED
    assert "gate policy of fraud_detector changed to version 2" in stale.decision_reason


def test_it_leaves_requests_to_other_stages_alone(
    production_version: ModelVersion,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    candidate = registered(name="next")
    archive = ask(candidate, experimenter, stage=Stage.ARCHIVED)
    approve(ask(registered(name="winner"), experimenter), approver)

    archive.refresh_from_db()
    assert archive.status == StageRequest.Status.PENDING
