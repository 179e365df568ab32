"""Stage change requests and their decisions; history rows are only inserted.

A request to production is gated: it is recorded as `gating`, the gate runs
outside any transaction (in this process, or on a worker for the web and the
API) and the request becomes `pending` with its report. An approver decides a
pending request once; approving re-verifies what the gate relied on (the
candidate's artifact bytes, the production version gated against). When
production changes, or the model's gate policy does, pending production
requests gated against the old state become `superseded`; a requester may
withdraw their own open request. Every decision is a StageTransition row that
records who, why and through which channel (mlplatform.origin).
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments.artifacts import ArtifactIntegrityError, artifact_open, artifact_verify
from experiments.models import Status
from experiments.services import failure_message
from experiments.services.heartbeat import heartbeat
from mlplatform.origin import Origin
from mlplatform.outages import database_write, is_database_outage
from mlplatform.owners import holder_gone, process_owner
from registry.history_chain import history_append
from registry.models import (
    GateEvaluation,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageRequest,
    StageTransition,
)
from registry.services.gate_runs import (
    GateRun,
    gate_compute,
    gate_error_record,
    gate_record,
    gate_run_stale_reason,
    production_version,
    verified_model,
)
from registry.services.locks import locked_model
from registry.services.policies import gate_policy_current

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from mlplatform.typing import Actor

logger = logging.getLogger(__name__)

REQUESTABLE_STAGES = (Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED)
OPEN_STATUSES = (
    StageRequest.Status.GATING,
    StageRequest.Status.PENDING,
    StageRequest.Status.GATE_FAILED,
)
# Gated and waiting for a decision: a passed gate (any approver) or a failed
# one (an approver who may override it).
DECIDABLE_STATUSES = (StageRequest.Status.PENDING, StageRequest.Status.GATE_FAILED)
MAX_GATE_ATTEMPTS = 3


class PromotionConflict(ValidationError):
    """Another decision changed the model's stages first; nothing was written."""


class ApprovalRefused(ValidationError):
    """What the request was gated on no longer holds; only the refusal was recorded."""


def _user_label(user: Actor) -> str:
    return user.get_username() if user is not None else "system"


def _require_perm(user: Actor, perm: str, action: str) -> User:
    """The user, when active and holding `perm` (an anonymous user never is)."""
    if user is None or not user.is_authenticated or not user.is_active or not user.has_perm(perm):
        raise PermissionDenied(f"{_user_label(user)} is not allowed to {action}")
    return user


def _require_reason(reason: str, action: str) -> str:
    if not reason.strip():
        raise ValidationError(f"a reason is required to {action}")
    return reason.strip()


def _validate_request(version: ModelVersion, to_stage: str) -> None:
    if to_stage not in REQUESTABLE_STAGES:
        allowed = ", ".join(REQUESTABLE_STAGES)
        raise ValidationError(f"stage {to_stage!r} cannot be requested; use one of: {allowed}")
    if version.stage == to_stage:
        raise ValidationError(f"{version} is already in {to_stage}")
    if version.experiment.status != Status.COMPLETED:
        raise ValidationError(f"{version}: its experiment is {version.experiment.status.upper()}")
    open_request = version.stage_requests.filter(status__in=OPEN_STATUSES).first()
    if open_request is not None:
        raise ValidationError(
            f"{version} already has an open request (#{open_request.pk}, to "
            f"{open_request.to_stage}, {open_request.get_status_display().lower()}); a version "
            "holds one open request at a time: withdraw it or wait for its decision"
        )


def _candidate_usable(version: ModelVersion, to_stage: str) -> None:
    """Refuse a version whose artifact changed; for production (gated, put into
    service), one that cannot be loaded safely too. Staging and the archive
    check the bytes only: loading imports scikit-learn and skops, over a second
    of a command that records a request, and a file that does not load is
    refused wherever it is loaded (serving, a gate against it)."""
    from experiments.model_format import UnsafeArtifactError

    try:
        if to_stage == Stage.PRODUCTION:
            verified_model(version)
        else:
            _artifact_unchanged(version)
    except (ArtifactIntegrityError, UnsafeArtifactError) as error:
        raise ValidationError(f"{version} cannot be requested: {error}") from None


def _artifact_unchanged(version: ModelVersion) -> None:
    experiment = version.experiment
    if experiment.artifact_sha256 != version.artifact_sha256:
        raise ArtifactIntegrityError(
            f"{version}: the experiment's artifact digest differs from the registered one"
        )
    artifact_open(path=experiment.artifact_path, sha256=version.artifact_sha256).close()


def model_version_get(*, model_name: str, version: int) -> ModelVersion:
    try:
        return ModelVersion.objects.select_related(
            "registered_model", "experiment__dataset_version__dataset"
        ).get(registered_model__name=model_name, version=version)
    except ModelVersion.DoesNotExist:
        if not RegisteredModel.objects.filter(name=model_name).exists():
            raise ModelVersion.DoesNotExist(f"no model named {model_name!r}") from None
        raise ModelVersion.DoesNotExist(f"model {model_name!r} has no version {version}") from None


# ------------------------------------------------------------------ requests


def stage_request_create(
    *,
    model_version: ModelVersion,
    to_stage: str,
    user: Actor,
    reason: str,
    origin: Origin,
    gate_in_background: bool = False,
) -> StageRequest:
    """Ask for a stage change. A request to production is gated: here and now,
    or (gate_in_background) on a worker after commit, the request showing
    `gating` meanwhile. It is recorded even when the gate fails, and then
    cannot be approved without an override."""
    requester = _require_perm(user, "registry.request_stage_change", "request stage changes")
    reason = _require_reason(reason, "request a stage change")
    _validate_request(model_version, to_stage)
    _candidate_usable(model_version, to_stage)
    gated = to_stage == Stage.PRODUCTION
    request = _request_insert(model_version, to_stage, requester, reason, origin, gated=gated)
    if not gated:
        return request
    if gate_in_background:
        from registry.jobs import gate_job_enqueue_after_commit

        gate_job_enqueue_after_commit(request.pk)
        return request
    return stage_request_gate(request_id=request.pk)


def _request_insert(
    model_version: ModelVersion,
    to_stage: str,
    user: User,
    reason: str,
    origin: Origin,
    *,
    gated: bool,
) -> StageRequest:
    try:
        with transaction.atomic():
            return StageRequest.objects.create(
                model_version=model_version,
                from_stage=model_version.stage,
                to_stage=to_stage,
                reason=reason,
                requested_by=user,
                status=StageRequest.Status.GATING if gated else StageRequest.Status.PENDING,
                channel=origin.channel,
                os_user=origin.os_user,
                host=origin.host,
            )
    except IntegrityError:  # the open-request constraint: someone asked at the same moment
        _validate_request(model_version, to_stage)
        raise


def stage_request_gate(*, request_id: int) -> StageRequest:
    """Gate a `gating` production request and make it `pending` with its
    report. The process that gates it first claims it (gate_owner), so a
    duplicate job leaves a live gate alone, and beats while it computes. The
    gate is computed outside any transaction; the short write re-checks that
    production, the policy and the artifact are still what it relied on
    (else it gates again). A request no longer gating (withdrawn) is left
    alone. An unexpected error is recorded as a failed gate."""
    owner = process_owner().token
    claimed = database_write(
        lambda: stage_request_gate_claim(request_id=request_id, owner=owner),
        what=f"gate claim of request #{request_id}",
        wait=30,
    )
    if not claimed:
        return _request_get(request_id)
    try:
        with heartbeat(
            lambda: _gate_beat(request_id, owner),
            name=f"gate-{request_id}",
            interval=settings.EXPERIMENT_HEARTBEAT_SECONDS,
        ):
            return _gate_until_recorded(request_id, owner)
    except Exception as error:
        if is_database_outage(error):
            # Not the gate's verdict: let go of the claim, so that the request
            # is gated again (reconciliation queues it) once the database is back.
            logger.warning("gating request #%s: %s; released", request_id, failure_message(error))
            database_write(
                lambda: _gate_release(request_id, owner),
                what=f"gate claim of request #{request_id}",
            )
            return _request_get(request_id)
        logger.exception("gating request #%s failed", request_id)
        return stage_request_gate_failed(
            request_id=request_id, message=failure_message(error), owner=owner
        )


def _gate_release(request_id: int, owner: str) -> None:
    StageRequest.objects.filter(
        pk=request_id, status=StageRequest.Status.GATING, gate_owner=owner
    ).update(gate_owner="")  # gate_heartbeat_at stays: reconciliation gates it again soon


def stage_request_gate_claim(*, request_id: int, owner: str) -> bool:
    """Hold a `gating` request for `owner` (mlplatform.owners): unclaimed, or
    its holder is gone (dead, or silent past the lease). A live holder's
    claim is never taken."""
    row = (
        StageRequest.objects.filter(pk=request_id, status=StageRequest.Status.GATING)
        .values("gate_owner", "gate_heartbeat_at")
        .first()
    )
    if row is None:
        return False
    holder = row["gate_owner"]
    if holder and not gate_holder_gone(holder, row["gate_heartbeat_at"]):
        return False
    claimed = StageRequest.objects.filter(
        pk=request_id, status=StageRequest.Status.GATING, gate_owner=holder
    ).update(gate_owner=owner, gate_heartbeat_at=timezone.now())
    return claimed == 1


def gate_holder_gone(owner: str, heartbeat_at: datetime | None) -> str:
    return holder_gone(owner, heartbeat_at, timezone.now(), lease=settings.EXPERIMENT_LEASE_SECONDS)


def _gate_beat(request_id: int, owner: str) -> None:
    StageRequest.objects.filter(
        pk=request_id, status=StageRequest.Status.GATING, gate_owner=owner
    ).update(gate_heartbeat_at=timezone.now())


def _gate_until_recorded(request_id: int, owner: str) -> StageRequest:
    for _ in range(MAX_GATE_ATTEMPTS):
        request = _request_get(request_id)
        if request.status != StageRequest.Status.GATING or request.gate_owner != owner:
            return request
        run = gate_compute(
            candidate=request.model_version.experiment,
            registered_model=request.model_version.registered_model,
            purpose=GateEvaluation.Purpose.PROMOTION,
        )
        if database_write(
            partial(_gate_record_if_current, request, run, owner),
            what=f"gate of request #{request_id}",
        ):
            return _request_get(request_id)
    raise ValidationError(
        f"production or the gate policy changed {MAX_GATE_ATTEMPTS} times while gating"
    )


def _gate_record_if_current(request: StageRequest, run: GateRun, owner: str) -> bool:
    with transaction.atomic():
        locked_model(request.model_version.registered_model.name)
        if gate_run_stale_reason(run) is not None:
            return False
        _gating_done(request, gate_record(run), owner)
        return True


def _gating_done(request: StageRequest, evaluation: GateEvaluation, owner: str) -> None:
    """gating -> pending (the gate passed) or gate_failed (it did not: only an
    approver who may override it can then approve)."""
    status = StageRequest.Status.PENDING if evaluation.passed else StageRequest.Status.GATE_FAILED
    moved = StageRequest.objects.filter(
        pk=request.pk, status=StageRequest.Status.GATING, gate_owner=owner
    ).update(status=status, gate=evaluation)
    if moved != 1:
        transaction.set_rollback(True)  # withdrawn or taken over meanwhile: keep nothing


def stage_request_gate_failed(*, request_id: int, message: str, owner: str = "") -> StageRequest:
    """A gate that could not run to its end (a crash, a timeout, a killed
    worker) is recorded as a failed gate: the request becomes pending and can
    be withdrawn, requested again, or approved only with an override. With
    `owner`, only that process's own gate (or an unclaimed one); without,
    only a gate whose holder is gone. A live gate is never ended."""
    request = _request_get(request_id)
    holder = request.gate_owner
    if request.status != StageRequest.Status.GATING:
        return request
    if holder and holder != owner and not gate_holder_gone(holder, request.gate_heartbeat_at):
        return request
    with transaction.atomic():
        evaluation = gate_error_record(
            candidate=request.model_version.experiment,
            registered_model=request.model_version.registered_model,
            purpose=GateEvaluation.Purpose.PROMOTION,
            reason=f"the gate could not run: {message}",
        )
        _gating_done(request, evaluation, holder)
    return _request_get(request_id)


def _request_get(request_id: int) -> StageRequest:
    try:
        return StageRequest.objects.select_related(
            "gate",
            "model_version__registered_model",
            "model_version__experiment__dataset_version__dataset",
        ).get(pk=request_id)
    except StageRequest.DoesNotExist:
        raise ValidationError(f"stage request #{request_id} does not exist") from None


# ----------------------------------------------------------------- decisions


def _check_decision(
    request: StageRequest, user: User, approve: bool, override_justification: str
) -> bool:
    """Returns whether this approval overrides a failed gate. `user` may approve
    (_require_perm)."""
    if request.status == StageRequest.Status.GATING:
        raise PromotionConflict(
            f"request #{request.pk} is still being gated; decide it once its report is in"
        )
    if request.status not in DECIDABLE_STATUSES:
        raise PromotionConflict(f"request #{request.pk} was already {request.status}")
    if request.requested_by_id == user.pk:
        raise PermissionDenied("you requested this; another approver must decide")
    if request.status == StageRequest.Status.GATE_FAILED and not user.has_perm(
        "registry.override_gate"
    ):
        raise PermissionDenied(
            f"request #{request.pk}: its regression gate failed; only an approver who may "
            "override the gate decides it (its requester may withdraw it)"
        )
    gate_failed = request.gate is not None and not request.gate.passed
    if not approve or not gate_failed:
        return False
    if not user.has_perm("registry.override_gate"):
        raise ValidationError(
            f"request #{request.pk}: the regression gate failed; it cannot be approved "
            "without the override permission"
        )
    if not override_justification.strip():
        raise ValidationError("overriding a failed gate requires a written justification")
    return True


def stage_request_decide(
    *,
    request_id: int,
    user: Actor,
    approve: bool,
    reason: str,
    origin: Origin,
    override_justification: str = "",
) -> StageRequest:
    """Approve (and apply) or reject a pending request, exactly once. A reason
    is required either way. Approving first re-verifies the candidate's
    artifact and the production version it was gated against; if either
    changed, the approval is refused and only the refusal is recorded. The
    candidate's bytes are hashed once more inside the decision, with the
    model locked, so that a file swapped after the first check never reaches
    production (what was verified is what serves)."""
    request = _request_get(request_id)
    reason = _require_reason(reason, "approve or reject a request")
    decider = _require_perm(
        user, "registry.approve_stage_change", "approve or reject stage changes"
    )
    override = _check_decision(request, decider, approve, override_justification)
    if approve:
        _reverify_or_refuse(request, decider, origin)
    decision_reason = (
        f"{reason}\n\noverride: {override_justification.strip()}" if override else reason
    )
    try:
        with transaction.atomic():
            # The model first, then request rows: the order every writer of a
            # model's requests keeps (superseding updates other requests).
            locked_model(request.model_version.registered_model.name)
            _claim_request(request, decider, approve, decision_reason, override)
            if approve:
                _apply_stage_change(request, decider, decision_reason, override, origin)
            else:
                _record(
                    request, decider, StageTransition.Decision.REJECTED, decision_reason, origin
                )
    except _CandidateChanged as changed:  # rolled back: record only the refusal
        with transaction.atomic():
            _record(request, decider, StageTransition.Decision.REFUSED, str(changed), origin)
        raise ApprovalRefused(f"request #{request.pk} cannot be approved: {changed}") from None
    except IntegrityError:
        raise PromotionConflict(
            f"{request.model_version.registered_model} got another production version at "
            "the same moment; nothing was changed. Request again to gate against it."
        ) from None
    request.refresh_from_db()
    return request


def _reverify_or_refuse(request: StageRequest, user: User, origin: Origin) -> None:
    problem = _reverification_problem(request)
    if problem is None:
        return
    with transaction.atomic():
        _record(request, user, StageTransition.Decision.REFUSED, problem, origin)
    raise ApprovalRefused(f"request #{request.pk} cannot be approved: {problem}")


def _reverification_problem(request: StageRequest) -> str | None:
    """What no longer holds of what a request to production was gated on, or
    None. The artifact is re-hashed outside any transaction. (Moving a version
    to staging or the archive puts nothing into service: archiving a version
    whose file broke must stay possible.)"""
    if request.to_stage != Stage.PRODUCTION:
        return None
    version = request.model_version
    experiment = version.experiment
    if experiment.artifact_sha256 != version.artifact_sha256:
        return f"{version}: the experiment's artifact digest differs from the registered one"
    try:
        artifact_open(path=experiment.artifact_path, sha256=version.artifact_sha256).close()
    except ArtifactIntegrityError as error:
        return f"the candidate's artifact changed since it was gated: {error}"
    return _baseline_problem(request, version.registered_model)


def _baseline_problem(request: StageRequest, registered_model: RegisteredModel) -> str | None:
    current = production_version(registered_model)
    gated_against = request.gate.baseline_version_id if request.gate else None
    if (current.pk if current else None) != gated_against:
        return (
            f"the production version of {registered_model} changed since request "
            f"#{request.pk} was gated; request again to gate against the current one"
        )
    return None


def _claim_request(
    request: StageRequest, user: User, approve: bool, reason: str, override: bool
) -> None:
    status = StageRequest.Status.APPROVED if approve else StageRequest.Status.REJECTED
    claimed = StageRequest.objects.filter(pk=request.pk, status__in=DECIDABLE_STATUSES).update(
        status=status,
        decided_by=user,
        decided_at=timezone.now(),
        decision_reason=reason,
        override=override,
    )
    if claimed != 1:
        now = StageRequest.objects.filter(pk=request.pk).values_list("status", flat=True).first()
        again = (
            "; request again to gate against the current production" if now == "superseded" else ""
        )
        raise PromotionConflict(f"request #{request.pk} was already {now}{again}")


def _apply_stage_change(
    request: StageRequest, user: User, reason: str, override: bool, origin: Origin
) -> None:
    registered_model = locked_model(request.model_version.registered_model.name)
    version = ModelVersion.objects.select_for_update().get(pk=request.model_version_id)
    if version.stage != request.from_stage:
        raise PromotionConflict(
            f"{version} moved from {request.from_stage} to {version.stage} after this request; "
            "request again"
        )
    if request.to_stage == Stage.PRODUCTION:
        problem = _baseline_problem(request, registered_model)
        if problem:
            raise PromotionConflict(problem)
        _candidate_bytes_unchanged(version)
        _archive_production(registered_model, version, user, origin)
    ModelVersion.objects.filter(pk=version.pk).update(
        stage=request.to_stage, stage_changed_at=timezone.now()
    )
    _record(request, user, StageTransition.Decision.APPROVED, reason, origin, override=override)
    if Stage.PRODUCTION in (request.from_stage, request.to_stage):
        requests_supersede_stale(
            registered_model=registered_model,
            reason=f"production of {registered_model} changed (request #{request.pk} approved)",
            origin=origin,
        )


class _CandidateChanged(Exception):
    """The candidate's bytes changed between the check and the decision."""


def _candidate_bytes_unchanged(version: ModelVersion) -> None:
    """Hash the candidate's stored bytes inside the decision's transaction.
    Hashing reads the file (no model is loaded or scored): milliseconds for
    the platform's models, about a second for a 500 MB forest."""
    try:
        artifact_verify(path=version.experiment.artifact_path, sha256=version.artifact_sha256)
    except ArtifactIntegrityError as error:
        raise _CandidateChanged(
            f"the candidate's artifact changed while the approval was being recorded: {error}"
        ) from None


def _archive_production(
    registered_model: RegisteredModel, incoming: ModelVersion, user: User, origin: Origin
) -> None:
    for previous in ModelVersion.objects.filter(
        registered_model=registered_model, stage=Stage.PRODUCTION
    ).select_for_update():
        ModelVersion.objects.filter(pk=previous.pk).update(
            stage=Stage.ARCHIVED, stage_changed_at=timezone.now()
        )
        history_append(
            StageTransition,
            model_version=previous,
            from_stage=Stage.PRODUCTION,
            to_stage=Stage.ARCHIVED,
            approved_by=user,
            actor_label="promotion",
            decision=StageTransition.Decision.AUTOMATIC,
            reason=f"replaced in production by version {incoming.version}",
            channel=origin.channel,
            os_user=origin.os_user,
            host=origin.host,
        )


def requests_supersede_stale(
    *, registered_model: RegisteredModel, reason: str, origin: Origin
) -> list[int]:
    """Decidable production requests gated against another production version or
    another gate policy than the model's current ones: `superseded`, each with
    a history row; their versions can be requested again. Call inside the
    transaction that changed production or the policy, with the model locked."""
    current = production_version(registered_model)
    policy = gate_policy_current(registered_model=registered_model)
    stale = [
        request
        for request in StageRequest.objects.select_related("gate", "model_version").filter(
            model_version__registered_model=registered_model,
            to_stage=Stage.PRODUCTION,
            status__in=DECIDABLE_STATUSES,
        )
        if request.gate is None
        or request.gate.baseline_version_id != (current.pk if current else None)
        or request.gate.policy_id != policy.pk
    ]
    for request in stale:
        claimed = StageRequest.objects.filter(pk=request.pk, status__in=DECIDABLE_STATUSES).update(
            status=StageRequest.Status.SUPERSEDED,
            decided_at=timezone.now(),
            decision_reason=reason,
        )
        if claimed:
            _record(
                request, None, StageTransition.Decision.SUPERSEDED, reason, origin,
                actor_label="the platform",
            )  # fmt: skip
    return [request.pk for request in stale]


def stage_request_withdraw(
    *, request_id: int, user: Actor, reason: str, origin: Origin
) -> StageRequest:
    """The requester takes back their own open (gating or pending) request."""
    request = _request_get(request_id)
    reason = _require_reason(reason, "withdraw a request")
    if (
        user is None
        or not user.is_authenticated
        or not user.is_active
        or request.requested_by_id != user.pk
    ):
        raise PermissionDenied(
            f"only {request.requested_by} (who made request #{request.pk}) may withdraw it"
        )
    with transaction.atomic():
        claimed = StageRequest.objects.filter(pk=request.pk, status__in=OPEN_STATUSES).update(
            status=StageRequest.Status.WITHDRAWN,
            decided_by=user,
            decided_at=timezone.now(),
            decision_reason=reason,
        )
        if claimed != 1:
            raise PromotionConflict(f"request #{request.pk} was already {request.status}")
        _record(request, user, StageTransition.Decision.WITHDRAWN, reason, origin)
    request.refresh_from_db()
    return request


def _record(
    request: StageRequest,
    user: User | None,
    decision: str,
    reason: str,
    origin: Origin,
    *,
    override: bool = False,
    actor_label: str = "",
) -> StageTransition:
    text = request.reason if not reason else f"{request.reason}\n\n{decision}: {reason}"
    return history_append(
        StageTransition,
        model_version=request.model_version,
        from_stage=request.from_stage,
        to_stage=request.to_stage,
        request=request,
        requested_by=request.requested_by,
        approved_by=user,
        actor_label=actor_label,
        decision=decision,
        reason=text,
        gate_report=request.gate.report if request.gate else None,
        override=override,
        channel=origin.channel,
        os_user=origin.os_user,
        host=origin.host,
    )
