from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import connections

from experiments.services import Reconciliation
from mlplatform.cli import PlatformCommand
from mlplatform.reconcile import reconcile


class Command(PlatformCommand):
    help = (
        "Compare experiments in the database with the training queue in Redis: queue "
        "CREATED experiments whose job is missing, fail RUNNING ones whose worker died, "
        "queue again registrations and production gates whose process died."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object a pass.")
        parser.add_argument(
            "--loop",
            action="store_true",
            help="Keep reconciling every EXPERIMENT_RECONCILE_SECONDS until interrupted.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        while True:
            result = reconcile()
            self.report(result)
            if not options["loop"]:
                if not result.queue_available:
                    raise SystemExit(1)
                return
            connections.close_all()
            time.sleep(settings.EXPERIMENT_RECONCILE_SECONDS)

    def report(self, result: Reconciliation) -> None:
        if self.as_json:
            payload = {
                "queue_available": result.queue_available,
                "enqueued": result.enqueued,
                "failed": [{"id": pk, "reason": reason} for pk, reason in result.failed],
                "registrations_enqueued": result.registrations_enqueued,
                "gates_enqueued": result.gates_enqueued,
            }
            self.stdout.write(json.dumps(payload, sort_keys=True))
            return
        if not result.queue_available:
            self.stderr.write("the training queue (Redis) is unavailable; nothing changed")
        for pk in result.enqueued:
            self.stdout.write(f"experiment #{pk}: queued")
        for pk, reason in result.failed:
            self.stdout.write(f"experiment #{pk}: FAILED, {reason}")
        for pk in result.registrations_enqueued:
            self.stdout.write(f"experiment #{pk}: registration queued again")
        for pk in result.gates_enqueued:
            self.stdout.write(f"stage request #{pk}: gate queued again")
        changed = (
            result.enqueued,
            result.failed,
            result.registrations_enqueued,
            result.gates_enqueued,
        )
        if result.queue_available and not any(changed):
            self.stdout.write("nothing to do: the database and the queue agree")
