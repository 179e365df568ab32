"""registry_reconcile: queue again the registry work whose process died.

- a COMPLETED experiment that should register and has no outcome (its
  registration never started, or its heartbeat went silent): a
  `register-experiment-<id>` job;
- a production request still `gating` with no job pending (Redis lost it, or
  the process gating it died): a `gate-request-<id>` job.

Each job id is unique on the queue and each job starts with a claim, so any
number of reconcilers may run this at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from experiments import queue
from experiments.models import Experiment, Registration, Status
from experiments.services import Reconciliation
from mlplatform.origin import Channel
from registry.jobs import gate_job_enqueue, gate_job_id, register_job_enqueue
from registry.models import StageRequest

# Channels whose production requests are gated on a worker; a request made
# on the command line is gated by that command, and is only taken over once
# it has been gating for longer than any gate may take.
BACKGROUND_CHANNELS = (Channel.WEB, Channel.API, Channel.ADMIN)


def registry_reconcile(report: Reconciliation, redis_connection: Any) -> None:
    _enqueue_unregistered(report, redis_connection)
    _enqueue_ungated(report, redis_connection)


def _enqueue_unregistered(report: Reconciliation, redis_connection: Any) -> None:
    stale_before = timezone.now() - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS)
    orphans = Experiment.objects.filter(status=Status.COMPLETED).filter(
        Q(registration=Registration.PENDING, finished_at__lt=stale_before)
        | Q(registration=Registration.REGISTERING, registration_heartbeat_at__lt=stale_before)
    )
    for experiment_id in orphans.order_by("pk").values_list("pk", flat=True):
        if register_job_enqueue(experiment_id, redis_connection):
            report.registrations_enqueued.append(experiment_id)


def _enqueue_ungated(report: Reconciliation, redis_connection: Any) -> None:
    now = timezone.now()
    quick = now - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS)
    slow = now - timedelta(seconds=settings.GATE_JOB_TIMEOUT)
    gating = StageRequest.objects.filter(status=StageRequest.Status.GATING).filter(
        Q(channel__in=BACKGROUND_CHANNELS, requested_at__lt=quick) | Q(requested_at__lt=slow)
    )
    for request_id in gating.order_by("pk").values_list("pk", flat=True):
        state = queue.job_state_by_id(job_id=gate_job_id(request_id), connection=redis_connection)
        if not state.pending and gate_job_enqueue(request_id, redis_connection):
            report.gates_enqueued.append(request_id)
