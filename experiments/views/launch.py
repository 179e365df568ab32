from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from experiments.forms import LaunchForm, config_file_text, config_files
from experiments.services import experiment_submit
from experiments.views.detail import SUBMISSION_TAG

DRAIN_CHUNK_BYTES = 64 * 1024
MAX_DRAINED_BYTES = 64 * 1024 * 1024


def _initial(request: HttpRequest) -> dict[str, str]:
    """?config=<name> pre-fills the editor with a shipped config."""
    name = request.GET.get("config", "")
    if name not in config_files():
        return {}
    return {"config_file": name, "config_text": config_file_text(name)}


def _too_large(request: HttpRequest) -> int | None:
    """The size of a POST body Django would refuse to read (RequestDataTooBig,
    a bare "Bad request" page), or None."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if limit is not None and length > limit else None


def _discard_body(request: HttpRequest, length: int) -> None:
    # Read what the browser is still sending before answering, so that it shows
    # the page rather than a reset connection; a body past the cap is not read.
    if length <= MAX_DRAINED_BYTES:
        while request.read(DRAIN_CHUNK_BYTES):
            pass


# CSRF is checked by csrf_protect on _launch, once the body is known to be
# readable: the CSRF middleware would otherwise read an oversized body first.
@csrf_exempt
@login_required
@permission_required("experiments.add_experiment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def experiment_launch(request: HttpRequest) -> HttpResponse:
    too_large = _too_large(request) if request.method == "POST" else None
    if too_large is not None:
        _discard_body(request, too_large)
        form = LaunchForm({}, too_large_bytes=too_large)
        form.is_valid()
        return render(request, "experiments/launch.html", {"form": form}, status=400)
    return _launch(request)


@csrf_protect
def _launch(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = LaunchForm(initial=_initial(request))
        return render(request, "experiments/launch.html", {"form": form})
    form = LaunchForm(request.POST)
    if form.is_valid():
        try:
            submission = experiment_submit(
                config_text=form.cleaned_data["config_text"], user=request.user, source="web"
            )
        except ValidationError as error:
            form.add_error("config_text", error)
        else:
            level = messages.SUCCESS if submission.enqueued else messages.WARNING
            messages.add_message(request, level, submission.message, extra_tags=SUBMISSION_TAG)
            return redirect("experiments:detail", experiment_id=submission.experiment.pk)
    return render(request, "experiments/launch.html", {"form": form}, status=400)
