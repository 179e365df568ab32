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


@dataclass(frozen=True)
class Step:
    """One step of the timeline on the experiment's page: when it happened and
    how long after the step before it (the wait in the queue, the run)."""

    name: str
    at: datetime | None
    after: float | None


def timeline(experiment: Experiment) -> list[Step]:
    """created, queued, started, finished (or how it ended), each with the
    seconds since the previous one: "started ... (+4.6 s)" is the wait the
    status line counted as "queued for". The times are the database's, and
    in order: a job is stamped enqueued before it is pushed, so no worker can
    start it earlier."""
    ended = "finished" if experiment.is_active else experiment.get_status_display().lower()
    moments = (
        ("created", experiment.created_at),
        ("queued", experiment.enqueued_at),
        ("started", experiment.started_at),
        (ended, experiment.finished_at),
    )
    steps: list[Step] = []
    previous: datetime | None = None
    for name, at in moments:
        after = _seconds(previous, at) if previous is not None and at is not None else None
        steps.append(Step(name, at, after if name != "created" else None))
        previous = at or previous
    return steps
