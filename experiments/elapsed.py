"""How long an experiment has waited or run, as its page and the API say it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from experiments.models import Experiment, Status


@dataclass(frozen=True)
class Elapsed:
    label: str  # "queued for", "running for", "ran for", "never started"
    seconds: float | None


def elapsed(experiment: Experiment) -> Elapsed:
    """What the status line says about time: the wait in the queue while
    CREATED, the run time so far (RUNNING) or in total (finished), to the
    tenth of a second as the command line prints it."""
    now = timezone.now()
    if experiment.status == Status.CREATED:
        waiting_since = experiment.enqueued_at or experiment.created_at
        return Elapsed("queued for", _seconds(waiting_since, now))
    if experiment.started_at is None:
        return Elapsed("never started", None)
    label = "running for" if experiment.is_active else "ran for"
    return Elapsed(label, _seconds(experiment.started_at, experiment.finished_at or now))


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())
