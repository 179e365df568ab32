"""The dashboard: the state of the platform on one page; and the login page
as it answers a locked-out login."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.forms import AuthenticationForm
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


def login_locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout response (settings.AXES_LOCKOUT_CALLABLE): the login
    page again, saying why it refuses, with 429 Too Many Requests."""
    username = request.POST.get("username", "")
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next", ""),
        "lockout_message": lockout_message(),
    }
    return render(request, "registration/login.html", context, status=429)


def lockout_message() -> str:
    cool_off = settings.AXES_COOLOFF_TIME
    until = (
        f"for {int(cool_off.total_seconds() // 60)} minutes; an administrator can unlock it sooner"
        if cool_off
        else "until an administrator unlocks it"
    )
    return f"Too many failed logins: this user name is locked out from your address {until}."
