from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser

from mlplatform.cli import (
    EXIT_GATE_REFUSED,
    EXIT_UNAVAILABLE,
    JsonCommand,
    choice_of,
    choices_metavar,
    command_user,
    document_json,
    identity_arguments,
)
from mlplatform.origin import Origin
from registry import gate
from registry.documents import stage_request_document
from registry.models import ModelVersion, Stage, StageRequest
from registry.services import model_version_get, stage_request_create

STAGES = [Stage.STAGING.value, Stage.PRODUCTION.value, Stage.ARCHIVED.value]


class Command(JsonCommand):
    help = (
        "Request a stage change for a model version. A request to production runs the "
        "regression gate first. Exit 0: pending approval; 3: the gate failed (the request "
        "is gate_failed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model")
        parser.add_argument("version", type=int)
        parser.add_argument(
            "--stage",
            required=True,
            type=choice_of(STAGES, what="stage"),
            metavar=choices_metavar(STAGES),
        )
        identity_arguments(parser, acting="the requester")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = command_user(options)
        try:
            version = model_version_get(model_name=options["model"], version=options["version"])
            request = stage_request_create(
                model_version=version,
                to_stage=options["stage"],
                user=user,
                reason=options["reason"],
                origin=Origin.cli(),
            )
        except (ValidationError, PermissionDenied) as error:
            raise CommandError(_messages(error)) from None
        except ModelVersion.DoesNotExist as error:
            raise CommandError(str(error)) from None
        if request.status == StageRequest.Status.GATING:
            # The gate lost the database and let go of the request.
            raise CommandError(
                f"request #{request.pk} is recorded, but the database became unavailable "
                "while gating it; a worker gates it once the database is back",
                returncode=EXIT_UNAVAILABLE,
            )
        report = request.gate.report if request.gate else None
        if options["json"]:  # the request as the API shows it
            self.stdout.write(document_json(stage_request_document(request)))
        else:
            self._print(request, report)
        if request.gate is not None and not request.gate.passed:
            raise SystemExit(EXIT_GATE_REFUSED)

    def _print(self, request: StageRequest, report: dict[str, Any] | None) -> None:
        states: dict[str, str] = {
            StageRequest.Status.PENDING: "pending approval",
            StageRequest.Status.GATE_FAILED: "refused by the regression gate (only an approver "
            "who may override the gate can decide it; withdraw it with withdraw_request)",
        }
        state = states.get(str(request.status), str(request.status))
        self.stdout.write(
            f"request #{request.pk}: {request.model_version} "
            f"{request.from_stage} -> {request.to_stage}, {state}"
        )
        if report is not None:
            self.stdout.write(gate.format_report(report))


def _messages(error: ValidationError | PermissionDenied) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error)
