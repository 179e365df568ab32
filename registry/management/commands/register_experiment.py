from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser

from experiments.models import Experiment, Registration
from mlplatform.cli import PlatformCommand, command_user, identity_arguments
from mlplatform.origin import Origin
from registry import gate

GATE_FAILED_EXIT = 3


class Command(PlatformCommand):
    help = (
        "Gate a COMPLETED experiment against production and register it in staging if it "
        "passes: a retry after a registration error or a failed gate. Exit 0: registered; "
        "3: the gate failed; 1: an error (recorded on the experiment)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("experiment_id", type=int)
        identity_arguments(parser, acting="an experimenter")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from registry.services import registration_by_hand

        user = command_user(options)
        experiment_id = options["experiment_id"]
        if not Experiment.objects.filter(pk=experiment_id).exists():
            raise CommandError(f"experiment #{experiment_id} does not exist")
        error = ""
        try:
            evaluation, version = registration_by_hand(
                experiment_id=experiment_id, user=user, origin=Origin.cli()
            )
        except ValidationError as refused:
            raise CommandError("; ".join(refused.messages)) from None
        except PermissionDenied as refused:
            raise CommandError(str(refused)) from None
        except Exception as failure:  # recorded on the experiment as a registration error
            evaluation, version, error = None, None, str(failure)
        if evaluation is None and version is None and not error:
            raise CommandError(f"experiment #{experiment_id}'s config names no registry model")
        experiment = Experiment.objects.get(pk=experiment_id)
        self.report(experiment, evaluation, version, options["json"])
        if experiment.registration == Registration.GATE_FAILED:
            raise SystemExit(GATE_FAILED_EXIT)
        if experiment.registration != Registration.REGISTERED:
            raise SystemExit(1)

    def report(self, experiment: Experiment, evaluation: Any, version: Any, as_json: bool) -> None:
        if as_json:
            payload = {
                "experiment_id": experiment.pk,
                "registration": experiment.registration,
                "message": experiment.registration_message,
                "attempts": experiment.registration_attempts,
                "max_attempts": settings.REGISTRATION_MAX_ATTEMPTS,
                "next_retry_at": (
                    experiment.registration_retry_at.isoformat()
                    if experiment.registration_retry_at
                    else None
                ),
                "model": version.registered_model.name if version else None,
                "version": version.version if version else None,
                "stage": version.stage if version else None,
                "gate_passed": evaluation.passed if evaluation else None,
                "gate_report": evaluation.report if evaluation else None,
            }
            self.stdout.write(json.dumps(payload, indent=2))
            return
        self.stdout.write(
            f"experiment #{experiment.pk}: {experiment.get_registration_display()}"
            + (f" as {version}" if version else "")
        )
        if experiment.registration == Registration.ERROR:
            self.stderr.write(f"  error: {experiment.registration_message}")
        if evaluation is not None:
            self.stdout.write(gate.format_report(evaluation.report))
