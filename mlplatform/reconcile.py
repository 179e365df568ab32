"""One reconciliation pass over everything the queue carries: experiments
(experiments.services.reconcile), then registrations and production gates
(registry.services.reconcile). Run by every worker and by
`manage.py reconcile_experiments`.

`Outages` is what the long-running callers share: a database or Redis
outage is a state, logged in one line when it starts and one when it ends,
never a crash, and passes are retried with a growing pause meanwhile."""

from __future__ import annotations

import logging
import time

from experiments import queue
from experiments.services import Reconciliation, experiment_reconcile
from mlplatform.outages import (
    DATABASE_OUTAGE_ERRORS,
    database_unavailable_message,
    is_database_outage,
)

logger = logging.getLogger(__name__)


def reconcile() -> Reconciliation:
    from registry.services.reconcile import registry_reconcile

    report = experiment_reconcile()
    if not report.queue_available:
        return report
    try:
        registry_reconcile(report, queue.redis_connection())
    except queue.QueueUnavailable as error:
        logger.debug("reconciliation of the registry stopped: %s", error)
        report.queue_available = False
    return report


class Outages:
    """Which services were down at the last pass, and how long to wait
    before the next one (the interval, or less while something is down, up
    to the interval: 1, 2, 4 ... seconds)."""

    def __init__(self, who: str, interval: float) -> None:
        self.who = who
        self.interval = interval
        self.down: dict[str, float] = {}
        self.pause = 1.0

    def passed(self, report: Reconciliation) -> None:
        self._mark("the database", None)
        self._mark("the queue (Redis)", None if report.queue_available else "unreachable")

    def database_failed(self, error: BaseException) -> None:
        self._mark("the database", database_unavailable_message(error))

    def _mark(self, service: str, problem: str | None) -> None:
        if problem is not None and service not in self.down:
            self.down[service] = time.monotonic()
            logger.error("%s: %s is unavailable (%s); retrying", self.who, service, problem)
        elif problem is None and service in self.down:
            lasted = time.monotonic() - self.down.pop(service)
            logger.warning("%s: %s is back after %.0f s", self.who, service, lasted)

    def next_wait(self) -> float:
        if not self.down:
            self.pause = 1.0
            return self.interval
        wait, self.pause = self.pause, min(self.pause * 2, self.interval)
        return min(wait, self.interval)


def reconcile_guarded(outages: Outages) -> Reconciliation | None:
    """One pass that never raises for an outage: None when the database was
    unavailable (logged once per outage by `outages`)."""
    try:
        report = reconcile()
    except DATABASE_OUTAGE_ERRORS as error:
        if not is_database_outage(error):
            raise
        outages.database_failed(error)
        return None
    outages.passed(report)
    return report
