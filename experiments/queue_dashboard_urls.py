"""/django-rq/: django-rq's own URL names (its templates link by them), each
view behind experiments.views.queue_dashboard. Pages are let through by name;
any other view, today's job actions and whatever a later django-rq adds, is
refused, and Stop is the experiment's cancel."""

from __future__ import annotations

from django.urls import URLPattern
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from experiments.views.queue_dashboard import action_refused, dashboard_view, job_stop

app_name = "django_rq"

READ_ONLY = frozenset(
    {
        "home",
        "home_json",
        "metrics",
        "jobs",
        "queue_details",
        "finished_jobs",
        "failed_jobs",
        "scheduled_jobs",
        "started_jobs",
        "deferred_jobs",
        "job_detail",
        "result_detail",
        "workers",
        "worker_details",
        "scheduler_jobs",
        "cron_scheduler_detail",
        "cron_job_detail",
    }
)
REPLACED = {"stop_job": job_stop}


def _narrowed(pattern: URLPattern) -> URLPattern:
    if pattern.name in READ_ONLY:
        view = pattern.callback
    else:
        view = REPLACED.get(pattern.name or "", action_refused)
    return URLPattern(pattern.pattern, dashboard_view(view), pattern.default_args, pattern.name)


urlpatterns = [_narrowed(pattern) for pattern in get_api_urlpatterns() + get_admin_urlpatterns()]
