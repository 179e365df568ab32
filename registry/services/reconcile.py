"""registry_reconcile: queue again the registry work whose process died, and
retry registrations that ended in `error`.

- a COMPLETED experiment that should register and has no outcome: waiting
  with no job (Redis lost it), or `registering` whose holder is gone (its
  process known dead, or silent past the lease): a `register-experiment-<id>`
  job;
- a registration that ended in `error` whose retry time has come
  (registration_retry_at, REGISTRATION_MAX_ATTEMPTS attempts in all): back
  to waiting, and the same job;
- a production request still `gating` whose gate holder is gone, or never
  claimed by a process and left too long: a `gate-request-<id>` job.

Each job id is unique on the queue and each job starts with a claim that
never takes a live holder's, so any number of reconcilers may run this at
once. Each item is handled on its own (Reconciliation.each).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from experiments.models import Experiment, Registration, Status
from experiments.services import Reconciliation
from mlplatform.origin import Channel
from registry.jobs import gate_job_enqueue, register_job_enqueue
from registry.models import StageRequest
from registry.services.registration import (
    registration_holder_gone,
    registration_record_error,
    registration_retry_due,
)
from registry.services.stage_requests import gate_holder_gone

# Channels whose production requests are gated on a worker; a request made
# on the command line is gated by that command (which claims it at once), and
# is only taken over unclaimed once it has waited longer than any gate may take.
BACKGROUND_CHANNELS = (Channel.WEB, Channel.API, Channel.ADMIN)


def registry_reconcile(report: Reconciliation, redis_connection: Any) -> None:
    _enqueue_unregistered(report, redis_connection)
    _retry_errors(report, redis_connection)
    _enqueue_ungated(report, redis_connection)


def _enqueue_unregistered(report: Reconciliation, redis_connection: Any) -> None:
    stale_before = timezone.now() - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS)
    orphans = Experiment.objects.filter(status=Status.COMPLETED).filter(
        Q(registration=Registration.PENDING, finished_at__lt=stale_before)
        | Q(registration=Registration.REGISTERING)
    )
    rows = {
        row["pk"]: row
        for row in orphans.order_by("pk").values(
            "pk",
            "registration",
            "registration_owner",
            "registration_heartbeat_at",
            "registration_attempts",
        )
    }

    def requeue(experiment_id: int) -> None:
        row = rows[experiment_id]
        holder_gone = row["registration"] == Registration.REGISTERING
        if holder_gone:
            why = registration_holder_gone(
                row["registration_owner"], row["registration_heartbeat_at"]
            )
            if not why:
                return
            if row["registration_attempts"] >= settings.REGISTRATION_MAX_ATTEMPTS:
                # The last attempt died with its process: an error, no more retries.
                registration_record_error(
                    experiment_id=experiment_id, message=f"the registration stopped: {why}"
                )
                return
        if register_job_enqueue(experiment_id, redis_connection, holder_gone=holder_gone):
            report.registrations_enqueued.append(experiment_id)

    report.each("registration", list(rows), requeue)


def _retry_errors(report: Reconciliation, redis_connection: Any) -> None:
    due = Experiment.objects.filter(
        registration_retry_at__lte=timezone.now(), registration=Registration.ERROR
    )

    def retry(experiment_id: int) -> None:
        if not registration_retry_due(experiment_id=experiment_id):
            return
        report.registrations_retried.append(experiment_id)
        # Waiting now: if Redis refuses the job, the next pass queues it.
        register_job_enqueue(experiment_id, redis_connection)

    report.each("registration", due.order_by("pk").values_list("pk", flat=True), retry)


def _enqueue_ungated(report: Reconciliation, redis_connection: Any) -> None:
    now = timezone.now()
    quick = now - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS)
    slow = now - timedelta(seconds=settings.GATE_JOB_TIMEOUT)
    # Released by a gate that lost the database (it had a heartbeat): at once.
    unclaimed_too_long = Q(gate_owner="") & (
        Q(channel__in=BACKGROUND_CHANNELS, requested_at__lt=quick)
        | Q(requested_at__lt=slow)
        | Q(gate_heartbeat_at__isnull=False)
    )
    gating = StageRequest.objects.filter(status=StageRequest.Status.GATING).filter(
        unclaimed_too_long | ~Q(gate_owner="")
    )
    rows = {
        row["pk"]: row
        for row in gating.order_by("pk").values("pk", "gate_owner", "gate_heartbeat_at")
    }

    def requeue(request_id: int) -> None:
        row = rows[request_id]
        holder_gone = bool(row["gate_owner"])
        if holder_gone and not gate_holder_gone(row["gate_owner"], row["gate_heartbeat_at"]):
            return
        if gate_job_enqueue(request_id, redis_connection, holder_gone=holder_gone):
            report.gates_enqueued.append(request_id)

    report.each("stage request", list(rows), requeue)
