from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from experiments.artifacts import ArtifactIntegrityError
from registry.forms import DecisionForm, StageRequestForm
from registry.models import ModelVersion, StageRequest
from registry.services import (
    PromotionConflict,
    model_version_artifact_open,
    stage_request_create,
    stage_request_decide,
)
from registry.views.pages import render_version, version_or_404

DIGEST_HEADER = "X-Artifact-SHA256"


def _to_version(version: ModelVersion) -> HttpResponse:
    return redirect(
        "registry:version", model_name=version.registered_model.name, version=version.version
    )


@login_required
@permission_required("registry.request_stage_change", raise_exception=True)
@require_POST
def stage_request_new(request: HttpRequest, model_name: str, version: int) -> HttpResponse:
    """Ask for a stage change; a request to production runs the gate now."""
    model_version = version_or_404(model_name, version)
    form = StageRequestForm(request.POST)
    if form.is_valid():
        try:
            created = stage_request_create(
                model_version=model_version,
                to_stage=form.cleaned_data["to_stage"],
                user=request.user,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            _report_request(request, created)
            return _to_version(model_version)
    return render_version(request, model_version, request_form=form, status=400)


def _report_request(request: HttpRequest, created: StageRequest) -> None:
    text = f"Request #{created.pk} to {created.to_stage} is pending approval."
    if created.gate is not None and not created.gate.passed:
        messages.warning(
            request, text + " Its regression gate FAILED: it can only be approved with an override."
        )
    else:
        messages.success(request, text)


@login_required
@permission_required("registry.approve_stage_change", raise_exception=True)
@require_POST
def stage_request_decide_view(request: HttpRequest, request_id: int) -> HttpResponse:
    stage_request = get_object_or_404(
        StageRequest.objects.select_related("model_version__registered_model"), pk=request_id
    )
    model_version = stage_request.model_version
    form = DecisionForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            decided = stage_request_decide(
                request_id=stage_request.pk,
                user=request.user,
                approve=form.approve,
                reason=form.cleaned_data["reason"],
                override_justification=form.cleaned_data["override_justification"],
            )
        except PromotionConflict as error:
            form.add_error(None, error)
            status = 409
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Request #{decided.pk} {decided.status}.")
            return _to_version(model_version)
    page_version = version_or_404(model_version.registered_model.name, model_version.version)
    return render_version(
        request, page_version, decision_forms={stage_request.pk: form}, status=status
    )


@login_required
@permission_required("registry.view_modelversion", raise_exception=True)
@require_GET
def artifact_download(request: HttpRequest, model_name: str, version: int) -> HttpResponse:
    """The version's model file, served only if it still matches its digest."""
    model_version = version_or_404(model_name, version)
    try:
        artifact = model_version_artifact_open(model_version=model_version)
    except ArtifactIntegrityError as error:
        context = {"version": model_version, "error": str(error)}
        return render(request, "registry/artifact_error.html", context, status=409)
    filename = f"{model_name}-v{version}.skops"
    response = FileResponse(artifact, as_attachment=True, filename=filename)
    response[DIGEST_HEADER] = model_version.artifact_sha256
    return response
