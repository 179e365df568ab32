from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser

from api.models import ApiToken
from api.selectors import api_tokens_list
from api.services import api_token_create, api_token_revoke
from mlplatform.cli import TOKEN_VARIABLE, PlatformCommand, command_user
from mlplatform.users import user_for_command


class Command(PlatformCommand):
    help = (
        "Personal API tokens for automation: create one for a user (its secret is printed "
        "once), list them, revoke one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="Create a token for USER; prints it once.")
        create.add_argument("user", help="The username the token acts as.")
        create.add_argument("--name", required=True, help="What the token is for.")
        create.add_argument("--json", action="store_true")
        listing = actions.add_parser("list", help="List tokens (never their secrets).")
        listing.add_argument("user", nargs="?", default="", help="Only this user's tokens.")
        listing.add_argument("--json", action="store_true")
        revoke = actions.add_parser("revoke", help="Revoke token ID at once.")
        revoke.add_argument("token_id", type=int, metavar="ID")
        revoke.add_argument("--json", action="store_true")
        for action in (create, revoke):
            action.add_argument(
                "--token-file",
                type=Path,
                help=f"Your personal API token (default: ${TOKEN_VARIABLE}). Required with "
                "DJANGO_ENV=production, where only a superuser creates or revokes another "
                "user's tokens.",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"handle_{options['action']}")(options)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        except PermissionDenied as error:
            raise CommandError(str(error)) from None

    def caller(self, options: dict[str, Any]) -> User | None:
        """Who asks: the owner of the token given; required in production
        (anyone who can run commands could otherwise mint a token for anyone)."""
        return command_user({"token_file": options["token_file"]}, required=settings.PRODUCTION)

    def handle_create(self, options: dict[str, Any]) -> None:
        user, _ = user_for_command(options["user"])
        if user is None:  # argparse requires the name; an empty one reaches here
            raise CommandError("name the user the token acts as")
        issued = api_token_create(user=user, name=options["name"], issued_by=self.caller(options))
        if options["json"]:
            self.stdout.write(json.dumps({**_token_json(issued.token), "token": issued.secret}))
            return
        self.stdout.write(issued.secret)
        self.stderr.write(
            f"token #{issued.token.pk} {issued.token.name!r} for {user.get_username()}: "
            "shown once, keep it secret (Authorization: Bearer <token>)"
        )

    def handle_list(self, options: dict[str, Any]) -> None:
        tokens = list(api_tokens_list(username=options["user"]))
        if options["json"]:
            self.stdout.write(json.dumps([_token_json(token) for token in tokens], indent=2))
            return
        for token in tokens:
            state = "active" if token.is_active else f"revoked {token.revoked_at:%Y-%m-%d %H:%M}"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"#{token.pk:<4} {token.user.get_username():<16} {token.prefix}…  "
                f"{token.name!r}  created {token.created_at:%Y-%m-%d %H:%M}, "
                f"last used {used}, {state}"
            )

    def handle_revoke(self, options: dict[str, Any]) -> None:
        revoked = api_token_revoke(token_id=options["token_id"], revoked_by=self.caller(options))
        if options["json"]:
            self.stdout.write(json.dumps({"id": options["token_id"], "revoked": revoked}))
            return
        state = "revoked" if revoked else "was already revoked"
        self.stdout.write(f"token #{options['token_id']} {state}")


def _token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "user": token.user.get_username(),
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }
