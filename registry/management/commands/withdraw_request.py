from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser

from mlplatform.cli import JsonCommand, command_user, document_json, identity_arguments
from mlplatform.origin import Origin
from registry.documents import stage_request_document
from registry.management.commands.request_promotion import _messages
from registry.services import stage_request_withdraw


class Command(JsonCommand):
    help = "Withdraw your own open (gating or pending) stage change request."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("request_id", type=int)
        identity_arguments(parser, acting="the requester")
        parser.add_argument(
            "--reason", required=True, help="Why; recorded in the stage history (required)."
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = command_user(options)
        try:
            request = stage_request_withdraw(
                request_id=options["request_id"],
                user=user,
                reason=options["reason"],
                origin=Origin.cli(),
            )
        except (ValidationError, PermissionDenied) as error:
            raise CommandError(_messages(error)) from None
        if options["json"]:  # the request as the API shows it
            self.stdout.write(document_json(stage_request_document(request)))
            return
        self.stdout.write(
            f"request #{request.pk} withdrawn by {user.get_username() if user else '-'}"
        )
