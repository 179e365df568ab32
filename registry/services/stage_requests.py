"""Stage change requests and their decisions; history rows are only inserted."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments.artifacts import ArtifactIntegrityError
from experiments.models import Status
from registry.models import (
    GateEvaluation,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageRequest,
    StageTransition,
)
from registry.services.gate_runs import gate_evaluate, production_version, verified_model
from registry.services.registration import locked_model

REQUESTABLE_STAGES = (Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED)


class PromotionConflict(ValidationError):
    """Another decision changed the model's stages first; nothing was written."""


def _user_label(user: Any) -> str:
    return user.get_username() if user is not None else "system"


def _require_perm(user: Any, perm: str, action: str) -> None:
    if user is None or not user.is_active or not user.has_perm(perm):
        raise PermissionDenied(f"{_user_label(user)} is not allowed to {action}")


def _validate_request(version: ModelVersion, to_stage: str, reason: str) -> None:
    if to_stage not in REQUESTABLE_STAGES:
        allowed = ", ".join(REQUESTABLE_STAGES)
        raise ValidationError(f"stage {to_stage!r} cannot be requested; use one of: {allowed}")
    if not reason.strip():
        raise ValidationError("a reason is required for every stage change")
    if version.stage == to_stage:
        raise ValidationError(f"{version} is already in {to_stage}")
    if version.experiment.status != Status.COMPLETED:
        raise ValidationError(f"{version}: its experiment is {version.experiment.status.upper()}")
    pending = version.stage_requests.filter(status=StageRequest.Status.PENDING, to_stage=to_stage)
    if pending.exists():
        raise ValidationError(
            f"{version} already has a pending request to {to_stage} (#{pending.first().pk})"
        )


def model_version_get(*, model_name: str, version: int) -> ModelVersion:
    try:
        return ModelVersion.objects.select_related(
            "registered_model", "experiment__dataset_version__dataset"
        ).get(registered_model__name=model_name, version=version)
    except ModelVersion.DoesNotExist:
        if not RegisteredModel.objects.filter(name=model_name).exists():
            raise ValidationError(f"no model named {model_name!r}") from None
        raise ValidationError(f"model {model_name!r} has no version {version}") from None


def stage_request_create(
    *, model_version: ModelVersion, to_stage: str, user: Any, reason: str
) -> StageRequest:
    """Ask for a stage change. A request to production runs the gate first;
    the request is recorded even when the gate fails (and then cannot be
    approved without an override)."""
    _require_perm(user, "registry.request_stage_change", "request stage changes")
    _validate_request(model_version, to_stage, reason)
    try:
        verified_model(model_version)
    except ArtifactIntegrityError as error:
        raise ValidationError(str(error)) from None
    with transaction.atomic():
        evaluation = None
        if to_stage == Stage.PRODUCTION:
            evaluation = gate_evaluate(
                candidate=model_version.experiment,
                registered_model=model_version.registered_model,
                purpose=GateEvaluation.Purpose.PROMOTION,
            )
        return StageRequest.objects.create(
            model_version=model_version,
            from_stage=model_version.stage,
            to_stage=to_stage,
            reason=reason.strip(),
            requested_by=user,
            gate=evaluation,
        )


def _check_decision(
    request: StageRequest, user: Any, approve: bool, override_justification: str
) -> bool:
    """Returns whether this approval overrides a failed gate."""
    _require_perm(user, "registry.approve_stage_change", "approve or reject stage changes")
    if request.status != StageRequest.Status.PENDING:
        raise ValidationError(f"request #{request.pk} was already {request.status}")
    if request.requested_by_id == user.pk:
        raise PermissionDenied("you requested this; another approver must decide")
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
    user: Any,
    approve: bool,
    reason: str = "",
    override_justification: str = "",
) -> StageRequest:
    """Approve (and apply) or reject a pending request, exactly once."""
    try:
        request = StageRequest.objects.select_related(
            "gate", "model_version__registered_model", "model_version__experiment"
        ).get(pk=request_id)
    except StageRequest.DoesNotExist:
        raise ValidationError(f"stage request #{request_id} does not exist") from None
    override = _check_decision(request, user, approve, override_justification)
    decision_reason = (override_justification if override else reason).strip()
    try:
        with transaction.atomic():
            _claim_request(request, user, approve, decision_reason, override)
            if approve:
                _apply_stage_change(request, user, decision_reason, override)
            else:
                _record(request, user, StageTransition.Decision.REJECTED, decision_reason)
    except IntegrityError:
        raise PromotionConflict(
            f"{request.model_version.registered_model} got another production version at "
            "the same moment; nothing was changed. Request again to gate against it."
        ) from None
    request.refresh_from_db()
    return request


def _claim_request(
    request: StageRequest, user: Any, approve: bool, reason: str, override: bool
) -> None:
    status = StageRequest.Status.APPROVED if approve else StageRequest.Status.REJECTED
    claimed = StageRequest.objects.filter(pk=request.pk, status=StageRequest.Status.PENDING).update(
        status=status,
        decided_by=user,
        decided_at=timezone.now(),
        decision_reason=reason,
        override=override,
    )
    if claimed != 1:
        raise ValidationError(f"request #{request.pk} was already decided")


def _apply_stage_change(request: StageRequest, user: Any, reason: str, override: bool) -> None:
    registered_model = locked_model(request.model_version.registered_model.name)
    version = ModelVersion.objects.select_for_update().get(pk=request.model_version_id)
    if version.stage != request.from_stage:
        raise PromotionConflict(
            f"{version} moved from {request.from_stage} to {version.stage} after this request; "
            "request again"
        )
    if request.to_stage == Stage.PRODUCTION:
        _check_baseline_current(request, registered_model)
        _archive_production(registered_model, version, user)
    ModelVersion.objects.filter(pk=version.pk).update(
        stage=request.to_stage, stage_changed_at=timezone.now()
    )
    _record(request, user, StageTransition.Decision.APPROVED, reason, override=override)


def _check_baseline_current(request: StageRequest, registered_model: RegisteredModel) -> None:
    current = production_version(registered_model)
    gated_against = request.gate.baseline_version_id if request.gate else None
    if (current.pk if current else None) != gated_against:
        raise PromotionConflict(
            f"the production version of {registered_model} changed since request "
            f"#{request.pk} was gated; request again to gate against the current one"
        )


def _archive_production(
    registered_model: RegisteredModel, incoming: ModelVersion, user: Any
) -> None:
    for previous in ModelVersion.objects.filter(
        registered_model=registered_model, stage=Stage.PRODUCTION
    ).select_for_update():
        ModelVersion.objects.filter(pk=previous.pk).update(
            stage=Stage.ARCHIVED, stage_changed_at=timezone.now()
        )
        StageTransition.objects.create(
            model_version=previous,
            from_stage=Stage.PRODUCTION,
            to_stage=Stage.ARCHIVED,
            approved_by=user,
            actor_label="promotion",
            decision=StageTransition.Decision.AUTOMATIC,
            reason=f"replaced in production by version {incoming.version}",
        )


def _record(
    request: StageRequest, user: Any, decision: str, reason: str, *, override: bool = False
) -> StageTransition:
    text = request.reason if not reason else f"{request.reason}\n\n{decision}: {reason}"
    return StageTransition.objects.create(
        model_version=request.model_version,
        from_stage=request.from_stage,
        to_stage=request.to_stage,
        request=request,
        requested_by=request.requested_by,
        approved_by=user,
        decision=decision,
        reason=text,
        gate_report=request.gate.report if request.gate else None,
        override=override,
    )
