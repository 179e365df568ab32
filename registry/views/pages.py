from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from experiments.metrics import metrics_grouped
from experiments.selectors import KEY_METRICS, experiment_scalar_metrics
from notes.selectors import annotation_of
from registry.forms import DecisionForm, StageRequestForm, WithdrawForm
from registry.models import ModelVersion, RegisteredModel, Stage, StageRequest
from registry.selectors import (
    better_staging_versions,
    identical_versions,
    model_version_page,
    pending_stage_requests,
    primary_metric_of,
    registered_model_versions,
    registered_models_index,
)
from serving.selectors import scoring_runs_of_version

SHOWN_STAGES = (Stage.PRODUCTION, Stage.STAGING)


@login_required
@permission_required("registry.view_modelversion", raise_exception=True)
@require_GET
def registry_index(request: HttpRequest) -> HttpResponse:
    context = {
        "models": registered_models_index(),
        "pending": pending_stage_requests(),
        "key_metrics": KEY_METRICS,
    }
    return render(request, "registry/index.html", context)


@login_required
@permission_required("registry.view_modelversion", raise_exception=True)
@require_GET
def model_detail(request: HttpRequest, model_name: str) -> HttpResponse:
    tag = request.GET.get("tag", "").strip().lower()
    try:
        registered_model = registered_model_versions(model_name=model_name, tag=tag)
    except RegisteredModel.DoesNotExist:
        raise Http404(f"no model named {model_name!r}") from None
    context = {"model": registered_model, "key_metrics": KEY_METRICS, "tag": tag}
    return render(request, "registry/model.html", context)


def version_or_404(model_name: str, version: int) -> ModelVersion:
    try:
        return model_version_page(model_name=model_name, version=version)
    except ModelVersion.DoesNotExist:
        if not RegisteredModel.objects.filter(name=model_name).exists():
            raise Http404(f"no model named {model_name!r}") from None
        raise Http404(f"model {model_name!r} has no version {version}") from None


def _approver_warnings(version: ModelVersion, metrics: dict[str, float]) -> dict[str, Any]:
    """What an approver should know before deciding: staging versions that
    do better on the primary metric, and versions that are this one again."""
    metric = primary_metric_of(version)
    own = metrics.get(metric)
    better = (
        [] if own is None else better_staging_versions(version=version, metric=metric, value=own)
    )
    return {
        "primary_metric": metric,
        "primary_value": own,
        "better_staging": better,
        "identical": identical_versions(version=version),
    }


def _is_open(stage_request: StageRequest) -> bool:
    return stage_request.status in (
        StageRequest.Status.GATING,
        StageRequest.Status.PENDING,
        StageRequest.Status.GATE_FAILED,
    )


def render_version(
    request: HttpRequest,
    version: ModelVersion,
    *,
    request_form: StageRequestForm | None = None,
    decision_forms: dict[int, DecisionForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The version page; the POST views re-render it with their bound form."""
    requests = list(version.stage_requests.all())
    decision_forms = decision_forms or {}
    pending = [
        (stage_request, decision_forms.get(stage_request.pk) or DecisionForm())
        for stage_request in requests
        if _is_open(stage_request)
    ]
    # A decision on a request that is no longer pending, on one's own
    # request, or on a failed gate one may not override, has no form on the
    # page to show its error next to.
    can_override = request.user.has_perm("registry.override_gate")
    pending_ids = {
        stage_request.pk
        for stage_request, _ in pending
        if stage_request.requested_by_id != request.user.pk
        and (stage_request.status != StageRequest.Status.GATE_FAILED or can_override)
    }
    decision_errors = [
        f"Request #{request_id}: {error}"
        for request_id, form in decision_forms.items()
        if request_id not in pending_ids
        for error in form.non_field_errors()
    ]
    # Each gate report appears once: a pending request's is shown with the request.
    shown_with_requests = {item.gate_id for item, _ in pending if item.gate_id}
    evaluations = [
        evaluation
        for evaluation in version.experiment.gate_evaluations.all()
        if evaluation.pk not in shown_with_requests
    ]
    metrics = experiment_scalar_metrics(experiment_id=version.experiment_id)
    context: dict[str, Any] = {
        "version": version,
        "experiment": version.experiment,
        "metrics": metrics_grouped(metrics),
        "transitions": list(version.transitions.all()),
        "pending": pending,
        "decision_errors": decision_errors,
        "decided": [item for item in requests if not _is_open(item)],
        "gate_evaluations": evaluations,
        "gates_shown_with_requests": bool(shown_with_requests),
        "request_form": request_form or StageRequestForm(current_stage=version.stage),
        "can_override": can_override,
        "withdraw_form": WithdrawForm(),
        "annotation": annotation_of(version),
        **_approver_warnings(version, metrics),
        "scoring_runs": list(scoring_runs_of_version(model_version_id=version.pk)),
    }
    return render(request, "registry/version.html", context, status=status)


@login_required
@permission_required("registry.view_modelversion", raise_exception=True)
@require_GET
def version_detail(request: HttpRequest, model_name: str, version: int) -> HttpResponse:
    return render_version(request, version_or_404(model_name, version))
