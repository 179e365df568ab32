from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from experiments.artifacts import ArtifactIntegrityError, experiment_artifact_open
from experiments.elapsed import elapsed, timeline
from experiments.metrics import metrics_grouped
from experiments.models import REGISTRATION_RETRYABLE, Experiment, Status
from experiments.progress import fit_progress_of
from experiments.selectors import (
    experiment_detail as experiment_detail_selector,
)
from experiments.selectors import (
    experiment_live_status,
    experiment_scalar_metrics,
    experiment_stepped_metrics,
)
from experiments.services import experiment_cancel, experiment_submit
from experiments.views.charts import Chart, Run, loss_chart, pr_chart, roc_chart
from mlplatform.typing import HtmxHttpRequest
from notes.selectors import annotation_of

DIGEST_HEADER = "X-Artifact-SHA256"

CONFUSION_CELLS = ("tn", "fp", "fn", "tp")


def _experiment_or_404(experiment_id: int) -> Experiment:
    try:
        return experiment_detail_selector(experiment_id=experiment_id)
    except Experiment.DoesNotExist:
        raise Http404(f"no experiment #{experiment_id}") from None


# The flash of a submission says "queued"; tagged so that the page can drop
# it once the run has moved on (base.html, _status.html).
SUBMISSION_TAG = "submission"


def _confusion(metrics: dict[str, float]) -> dict[str, int] | None:
    if not all(cell in metrics for cell in CONFUSION_CELLS):
        return None
    return {cell: int(metrics[cell]) for cell in CONFUSION_CELLS}


def _charts(
    experiment: Experiment,
    metrics: dict[str, float],
    stepped: dict[str, list[tuple[int, float]]],
) -> list[Chart]:
    runs = [Run(experiment.name, experiment.curves or {}, metrics, stepped)]
    losses = [loss_chart(runs, name=name) for name in sorted(stepped)]
    return [chart for chart in (pr_chart(runs), roc_chart(runs), *losses) if chart]


@login_required
@permission_required("experiments.view_experiment", raise_exception=True)
@require_GET
def experiment_detail(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = _experiment_or_404(experiment_id)
    metrics = experiment_scalar_metrics(experiment_id=experiment.pk)
    stepped = experiment_stepped_metrics(experiment_id=experiment.pk)
    context = {
        "experiment": experiment,
        "elapsed": elapsed(experiment),
        "timeline": timeline(experiment),
        "fit_progress": fit_progress_of(experiment),
        "submission_stale": experiment.status != Status.CREATED,
        "metrics": metrics_grouped(metrics),
        "confusion": _confusion(metrics),
        "charts": _charts(experiment, metrics, stepped),
        "model_version": getattr(experiment, "model_version", None),
        "gate_evaluations": list(experiment.gate_evaluations.all()),
        "registration_max_attempts": settings.REGISTRATION_MAX_ATTEMPTS,
        "can_register_again": request.user.has_perm("experiments.add_experiment")
        and experiment.registration in REGISTRATION_RETRYABLE,
        "show_traceback": may_see_traceback(request.user),
        "annotation": annotation_of(experiment),
    }
    return render(request, "experiments/detail.html", context)


def may_see_traceback(user: User | AnonymousUser) -> bool:
    """Tracebacks name server paths and code: for the people who run
    experiments and for staff; everyone else reads the error message."""
    return bool(user.is_staff) or user.has_perm("experiments.add_experiment")


@login_required
@permission_required("experiments.view_experiment", raise_exception=True)
@require_GET
def experiment_status(request: HtmxHttpRequest, experiment_id: int) -> HttpResponse:
    """The live part of the detail page, polled by htmx every 2 s while the
    experiment is active or being gated and registered. A final status and a
    recorded registration outcome stop the polling (HTTP 286) and reload the
    page so that the metrics, charts and the outcome appear."""
    try:
        experiment = experiment_live_status(experiment_id=experiment_id)
    except Experiment.DoesNotExist:
        raise Http404(f"no experiment #{experiment_id}") from None
    context = {
        "experiment": experiment,
        "elapsed": elapsed(experiment),
        "timeline": timeline(experiment),
        "fit_progress": fit_progress_of(experiment),
        # Once the run has left the queue, the "queued" flash above is stale.
        "drop_submission_message": request.htmx and experiment.status != Status.CREATED,
    }
    response = render(request, "experiments/_status.html", context)
    if not experiment.is_live:
        response.status_code = HTMX_STOP_POLLING
        if request.htmx:
            response["HX-Refresh"] = "true"
    return response


@login_required
@permission_required("experiments.cancel_experiment", raise_exception=True)
@require_POST
def experiment_cancel_view(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment.objects.only("status"), pk=experiment_id)
    if experiment_cancel(experiment_id=experiment.pk, user=request.user):
        messages.success(request, f"Experiment #{experiment.pk} is cancelled.")
    else:
        messages.info(request, f"Experiment #{experiment.pk} had already finished.")
    return redirect("experiments:detail", experiment_id=experiment.pk)


@login_required
@permission_required("experiments.add_experiment", raise_exception=True)
@require_POST
def experiment_rerun(request: HttpRequest, experiment_id: int) -> HttpResponse:
    """Submit the same config text again as a new experiment."""
    original = get_object_or_404(Experiment.objects.only("config_text"), pk=experiment_id)
    try:
        submission = experiment_submit(
            config_text=original.config_text, user=request.user, source="rerun"
        )
    except ValidationError as error:
        messages.error(request, "Cannot run it again: " + "; ".join(error.messages))
        return redirect("experiments:detail", experiment_id=original.pk)
    level = messages.SUCCESS if submission.enqueued else messages.WARNING
    messages.add_message(request, level, submission.message, extra_tags=SUBMISSION_TAG)
    return redirect("experiments:detail", experiment_id=submission.experiment.pk)


@login_required
@permission_required(
    ["experiments.view_experiment", "registry.view_modelversion"], raise_exception=True
)
@require_GET
def experiment_artifact_download(request: HttpRequest, experiment_id: int) -> HttpResponseBase:
    """The model of any COMPLETED experiment, registered or not, served only if
    its bytes still match the digest recorded when it completed; the same
    permission as a registered version's download."""
    experiment = get_object_or_404(Experiment, pk=experiment_id)
    try:
        artifact = experiment_artifact_open(experiment=experiment)
    except LookupError as error:
        raise Http404(str(error)) from None
    except ArtifactIntegrityError as error:
        context = {"experiment": experiment, "error": str(error)}
        return render(request, "experiments/artifact_error.html", context, status=409)
    filename = f"experiment-{experiment.pk}.skops"
    response = FileResponse(artifact, as_attachment=True, filename=filename)
    response[DIGEST_HEADER] = experiment.artifact_sha256
    return response
