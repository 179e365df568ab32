"""One reconciliation pass over everything the queue carries: experiments
(experiments.services.reconcile), then registrations and production gates
(registry.services.reconcile). Run by every worker and by
`manage.py reconcile_experiments`."""

from __future__ import annotations

import logging

from experiments import queue
from experiments.services import Reconciliation, experiment_reconcile

logger = logging.getLogger(__name__)


def reconcile() -> Reconciliation:
    from registry.services.reconcile import registry_reconcile

    report = experiment_reconcile()
    if not report.queue_available:
        return report
    try:
        registry_reconcile(report, queue.redis_connection())
    except queue.QueueUnavailable as error:
        logger.warning("reconciliation of the registry stopped: %s", error)
        report.queue_available = False
    return report
