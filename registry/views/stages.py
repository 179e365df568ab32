from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from experiments.artifacts import ArtifactIntegrityError
from experiments.models import Experiment
from mlplatform.origin import Origin
from mlplatform.typing import HtmxHttpRequest
from registry.forms import DecisionForm, StageRequestForm, WithdrawForm
from registry.models import ModelVersion, StageRequest
from registry.services import (
    ApprovalRefused,
    PromotionConflict,
    model_version_artifact_open,
    registration_retry,
    stage_request_create,
    stage_request_decide,
    stage_request_withdraw,
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
    """Ask for a stage change; a request to production is gated on a worker
    (the page shows it gating until its report is in)."""
    model_version = version_or_404(model_name, version)
    form = StageRequestForm(request.POST, current_stage=model_version.stage)
    if form.is_valid():
        try:
            created = stage_request_create(
                model_version=model_version,
                to_stage=form.cleaned_data["to_stage"],
                user=request.user,
                reason=form.cleaned_data["reason"],
                origin=Origin.web(),
                gate_in_background=True,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            _report_request(request, created)
            return _to_version(model_version)
    return render_version(request, model_version, request_form=form, status=400)


def _report_request(request: HttpRequest, created: StageRequest) -> None:
    if created.status == StageRequest.Status.GATING:
        messages.info(
            request,
            f"Request #{created.pk} to {created.to_stage} is being gated against production; "
            "its report appears below when a worker has run the gate.",
        )
        return
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
                origin=Origin.web(),
            )
        except (PromotionConflict, ApprovalRefused) as error:
            form.add_error(None, error)
            status = 409
        except ValidationError as error:
            form.add_error(None, error)
        except PermissionDenied as error:
            # Said on the page, next to the request (e.g. "you requested this"),
            # not as a bare 403 page about roles.
            form.add_error(None, str(error))
            status = 403
        else:
            messages.success(request, f"Request #{decided.pk} {decided.status}.")
            return _to_version(model_version)
    page_version = version_or_404(model_version.registered_model.name, model_version.version)
    return render_version(
        request, page_version, decision_forms={stage_request.pk: form}, status=status
    )


@login_required
@permission_required("registry.request_stage_change", raise_exception=True)
@require_POST
def stage_request_withdraw_view(request: HttpRequest, request_id: int) -> HttpResponse:
    """The requester takes back their own open request."""
    stage_request = get_object_or_404(
        StageRequest.objects.select_related("model_version__registered_model"), pk=request_id
    )
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            stage_request_withdraw(
                request_id=stage_request.pk,
                user=request.user,
                reason=form.cleaned_data["reason"],
                origin=Origin.web(),
            )
        except ValidationError as error:  # PromotionConflict too: decided meanwhile
            messages.error(request, "; ".join(error.messages))
        else:
            messages.success(request, f"Request #{stage_request.pk} is withdrawn.")
    else:
        messages.error(request, "Say why you withdraw the request.")
    return _to_version(stage_request.model_version)


@login_required
@permission_required("experiments.add_experiment", raise_exception=True)
@require_POST
def experiment_register_again(request: HttpRequest, experiment_id: int) -> HttpResponse:
    """Gate and register a COMPLETED experiment again, on a worker."""
    experiment = get_object_or_404(Experiment.objects.only("pk"), pk=experiment_id)
    try:
        queued = registration_retry(experiment_id=experiment.pk, user=request.user)
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    else:
        if queued:
            messages.success(request, f"Experiment #{experiment.pk} is queued to be gated again.")
        else:
            messages.warning(
                request,
                "The queue is unavailable right now; the registration is recorded as waiting "
                "and runs when the queue is back.",
            )
    return redirect("experiments:detail", experiment_id=experiment.pk)


@login_required
@permission_required("registry.view_stagerequest", raise_exception=True)
@require_GET
def stage_request_status(request: HtmxHttpRequest, request_id: int) -> HttpResponse:
    """A gating request's live line, polled every 2 s; once its report is in,
    the polling stops (HTTP 286) and the page reloads to show it."""
    stage_request = get_object_or_404(StageRequest.objects.only("status"), pk=request_id)
    response = render(request, "registry/_gating.html", {"stage_request": stage_request})
    if stage_request.status != StageRequest.Status.GATING:
        response.status_code = HTMX_STOP_POLLING
        if request.htmx:
            response["HX-Refresh"] = "true"
    return response


@login_required
@permission_required("registry.view_modelversion", raise_exception=True)
@require_GET
def artifact_download(
    request: HttpRequest, model_name: str, version: int
) -> HttpResponse | FileResponse:
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
