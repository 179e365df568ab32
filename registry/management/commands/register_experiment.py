from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser

from experiments.documents import experiment_document
from experiments.models import Experiment, Registration
from experiments.selectors import experiment_detail
from mlplatform.cli import (
    EXIT_ERROR,
    EXIT_GATE_REFUSED,
    PlatformCommand,
    command_user,
    document_json,
    identity_arguments,
)
from mlplatform.origin import Origin
from registry import gate


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
            raise SystemExit(EXIT_GATE_REFUSED)
        if experiment.registration != Registration.REGISTERED:
            raise SystemExit(EXIT_ERROR)

    def report(self, experiment: Experiment, evaluation: Any, version: Any, as_json: bool) -> None:
        if as_json:  # the experiment as the API shows it
            self.stdout.write(
                document_json(experiment_document(experiment_detail(experiment_id=experiment.pk)))
            )
            return
        self.stdout.write(
            f"experiment #{experiment.pk}: {experiment.get_registration_display()}"
            + (f" as {version}" if version else "")
        )
        if experiment.registration == Registration.ERROR:
            self.stderr.write(f"  error: {experiment.registration_message}")
        if evaluation is not None:
            self.stdout.write(gate.format_report(evaluation.report))
