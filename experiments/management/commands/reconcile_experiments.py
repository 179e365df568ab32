from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import connections

from experiments.services import Reconciliation
from mlplatform.cli import EXIT_UNAVAILABLE, PlatformCommand
from mlplatform.reconcile import Outages, reconcile, reconcile_guarded

logger = logging.getLogger(__name__)


class Command(PlatformCommand):
    help = (
        "Compare experiments in the database with the training queue in Redis: queue "
        "CREATED experiments whose job is missing, fail RUNNING ones whose worker died, "
        "queue again registrations and production gates whose process died, and retry "
        "registrations that ended in error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object a pass.")
        parser.add_argument(
            "--loop",
            action="store_true",
            help=(
                "Keep reconciling every EXPERIMENT_RECONCILE_SECONDS until interrupted; "
                "database and Redis outages are waited out."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        self.looping = options["loop"]
        if not options["loop"]:
            result = reconcile()  # a database outage: PlatformCommand's one-line error
            self.report(result)
            if not result.queue_available:
                raise SystemExit(EXIT_UNAVAILABLE)
            return
        outages = Outages("reconcile_experiments", settings.EXPERIMENT_RECONCILE_SECONDS)
        while True:
            try:
                passed = reconcile_guarded(outages)
            except Exception:  # a bug or a transient database error: the next pass retries
                logger.exception("reconcile_experiments: the pass failed")
                passed = None
            if passed is not None:
                self.report(passed)
            connections.close_all()
            time.sleep(outages.next_wait())

    def report(self, result: Reconciliation) -> None:
        if self.as_json:
            payload = {
                "queue_available": result.queue_available,
                "enqueued": result.enqueued,
                "failed": [{"id": pk, "reason": reason} for pk, reason in result.failed],
                "registrations_enqueued": result.registrations_enqueued,
                "registrations_retried": result.registrations_retried,
                "gates_enqueued": result.gates_enqueued,
                "errors": [
                    {"what": what, "id": pk, "error": error} for what, pk, error in result.errors
                ],
            }
            self.stdout.write(json.dumps(payload, sort_keys=True))
            return
        if not result.queue_available and not self.looping:  # --loop: Outages says it once
            self.stderr.write("the training queue (Redis) is unavailable; only runs whose "
                              "process is known dead were checked")  # fmt: skip
        for pk in result.enqueued:
            self.stdout.write(f"experiment #{pk}: queued")
        for pk, reason in result.failed:
            self.stdout.write(f"experiment #{pk}: FAILED, {reason}")
        for pk in result.registrations_enqueued:
            self.stdout.write(f"experiment #{pk}: registration queued again")
        for pk in result.registrations_retried:
            self.stdout.write(f"experiment #{pk}: registration error, trying again")
        for pk in result.gates_enqueued:
            self.stdout.write(f"stage request #{pk}: gate queued again")
        for what, pk, error in result.errors:
            self.stderr.write(f"{what} #{pk}: could not be reconciled ({error}); skipped")
        changed = (
            result.enqueued,
            result.failed,
            result.registrations_enqueued,
            result.registrations_retried,
            result.gates_enqueued,
            result.errors,
        )
        if result.queue_available and not any(changed):
            self.stdout.write("nothing to do: the database and the queue agree")
