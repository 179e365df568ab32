from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from experiments.forms import LaunchForm, config_file_text, config_files
from experiments.services import experiment_submit
from experiments.views.detail import SUBMISSION_TAG


def _initial(request: HttpRequest) -> dict[str, str]:
    """?config=<name> pre-fills the editor with a shipped config."""
    name = request.GET.get("config", "")
    if name not in config_files():
        return {}
    return {"config_file": name, "config_text": config_file_text(name)}


@login_required
@permission_required("experiments.add_experiment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def experiment_launch(request: HttpRequest) -> HttpResponse:
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
