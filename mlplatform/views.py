"""The dashboard: the state of the platform on one page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from experiments.models import Status
from experiments.selectors import (
    KEY_METRICS,
    experiment_status_counts,
    recent_experiments,
    training_queue_overview,
)
from registry.models import Stage
from registry.selectors import pending_stage_requests, registered_models_overview

RECENT = 10


@login_required
@permission_required(
    ["experiments.view_experiment", "registry.view_modelversion"], raise_exception=True
)
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = experiment_status_counts()
    context = {
        "status_counts": [(status, label, counts[status]) for status, label in Status.choices],
        "recent": recent_experiments(limit=RECENT),
        "models": registered_models_overview(
            stages=(Stage.PRODUCTION, Stage.STAGING), by_stage=True
        ),
        "pending": pending_stage_requests(),
        "queue": training_queue_overview(),
        "key_metrics": KEY_METRICS,
    }
    return render(request, "dashboard.html", context)
