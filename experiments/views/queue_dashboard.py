"""django-rq's queue dashboard (/django-rq/), narrowed: its pages need the
`experiments.view_queue_dashboard` permission on top of django-rq's own staff
check, its job-changing actions are refused except Stop, which goes through
experiment_cancel (recorded with who), and a Redis outage is a page saying so,
not a server error. The URLs are wired in experiments/queue_dashboard_urls.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from experiments.queue import REDIS_ERRORS, experiment_id_for
from experiments.services import experiment_cancel

PERMISSION = "experiments.view_queue_dashboard"
View = Callable[..., HttpResponse]


def dashboard_view(view: View) -> View:
    """Login, the dashboard permission, and a 503 page while Redis is down."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except REDIS_ERRORS as error:
            context = {"reason": type(error).__name__}
            return render(request, "experiments/queue_unavailable.html", context, status=503)

    gated = permission_required(PERMISSION, raise_exception=True)(guarded)
    return never_cache(login_required(gated))


def action_refused(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Emptying, deleting and requeueing jobs behind the database's back would
    leave experiments without the work the database says is queued."""
    raise PermissionDenied(
        "The queue dashboard only shows the queue: it does not delete, empty or requeue "
        "jobs. Cancel an experiment from its page (or Stop on its running job here)."
    )


@require_POST
def job_stop(request: HttpRequest, queue_index: int, job_id: str) -> HttpResponse:
    """django-rq's Stop button, as the experiment page's Cancel: the experiment
    is CANCELLED by this user, then its job stopped."""
    experiment_id = experiment_id_for(job_id)
    if experiment_id is None:
        raise PermissionDenied(
            f"only an experiment's job can be stopped here, and {job_id} is not one"
        )
    if not request.user.has_perm("experiments.cancel_experiment"):
        raise PermissionDenied(
            "Stopping an experiment's job cancels it: that needs the cancel permission."
        )
    if experiment_cancel(experiment_id=experiment_id, user=request.user):
        messages.success(request, f"Experiment #{experiment_id} is cancelled; its job is stopped.")
    else:
        messages.error(request, f"Experiment #{experiment_id} has already finished.")
    return redirect("django_rq:job_detail", queue_index, job_id)
