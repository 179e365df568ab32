"""The edit page for tags and notes. Object pages show the current tags and
note with an inline form posting here; this page shows the whole history
and, when a save is refused, the form with the reason (400)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from experiments.models import Experiment
from notes.forms import AnnotationForm
from notes.selectors import annotation_of
from notes.services import annotation_set
from registry.models import ModelVersion


@login_required
@permission_required("experiments.view_experiment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def experiment_annotation(request: HttpRequest, experiment_id: int) -> HttpResponse:
    try:
        experiment = Experiment.objects.only("name").get(pk=experiment_id)
    except Experiment.DoesNotExist:
        raise Http404(f"no experiment #{experiment_id}") from None
    back = reverse("experiments:detail", args=[experiment.pk])
    return _annotation_page(
        request, experiment, f"experiment #{experiment.pk} {experiment.name}", back
    )


@login_required
@permission_required("registry.view_modelversion", raise_exception=True)
@require_http_methods(["GET", "POST"])
def model_version_annotation(request: HttpRequest, model_name: str, version: int) -> HttpResponse:
    try:
        model_version = ModelVersion.objects.select_related("registered_model").get(
            registered_model__name=model_name, version=version
        )
    except ModelVersion.DoesNotExist:
        raise Http404(f"no version {version} of a model named {model_name!r}") from None
    back = reverse("registry:version", args=[model_name, version])
    return _annotation_page(request, model_version, str(model_version), back)


def _annotation_page(
    request: HttpRequest, target: Experiment | ModelVersion, label: str, back: str
) -> HttpResponse:
    annotation = annotation_of(target)
    if request.method == "POST":
        form = AnnotationForm(request.POST)
        if form.is_valid():
            try:
                annotation_set(target=target, user=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Tags and note of {label} saved.")
                return redirect(back)
        status = 400
    else:
        initial = {"tags": " ".join(annotation.tags), "note": annotation.note} if annotation else {}
        form, status = AnnotationForm(initial=initial), 200
    context = {"form": form, "annotation": annotation, "label": label, "back": back}
    return render(request, "notes/edit.html", context, status=status)
