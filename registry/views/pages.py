from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from experiments.selectors import KEY_METRICS, experiment_scalar_metrics
from registry.forms import DecisionForm, StageRequestForm
from registry.models import ModelVersion, RegisteredModel, Stage, StageRequest
from registry.selectors import (
    model_version_page,
    pending_stage_requests,
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
    try:
        registered_model = registered_model_versions(model_name=model_name)
    except RegisteredModel.DoesNotExist:
        raise Http404(f"no registered model {model_name!r}") from None
    context = {"model": registered_model, "key_metrics": KEY_METRICS}
    return render(request, "registry/model.html", context)


def version_or_404(model_name: str, version: int) -> ModelVersion:
    try:
        return model_version_page(model_name=model_name, version=version)
    except ModelVersion.DoesNotExist:
        raise Http404(f"model {model_name!r} has no version {version}") from None


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
        if stage_request.status == StageRequest.Status.PENDING
    ]
    pending_ids = {stage_request.pk for stage_request, _ in pending}
    # A decision on a request that is no longer pending has no form to show its error.
    decision_errors = [
        f"Request #{request_id}: {error}"
        for request_id, form in decision_forms.items()
        if request_id not in pending_ids
        for error in form.non_field_errors()
    ]
    context: dict[str, Any] = {
        "version": version,
        "experiment": version.experiment,
        "metrics": sorted(experiment_scalar_metrics(experiment_id=version.experiment_id).items()),
        "transitions": list(version.transitions.all()),
        "pending": pending,
        "decision_errors": decision_errors,
        "decided": [item for item in requests if item.status != StageRequest.Status.PENDING],
        "gate_evaluations": list(version.experiment.gate_evaluations.all()),
        "request_form": request_form or StageRequestForm(),
        "can_override": request.user.has_perm("registry.override_gate"),
        "scoring_runs": list(scoring_runs_of_version(model_version_id=version.pk)),
    }
    return render(request, "registry/version.html", context, status=status)


@login_required
@permission_required("registry.view_modelversion", raise_exception=True)
@require_GET
def version_detail(request: HttpRequest, model_name: str, version: int) -> HttpResponse:
    return render_version(request, version_or_404(model_name, version))
