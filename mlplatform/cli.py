"""What the management commands share: the system checks they run, --json
errors and readable choices."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from mlplatform.checks import CHECKS_WITHOUT_URLS
from mlplatform.outages import (
    DATABASE_OUTAGE_ERRORS,
    database_unavailable_message,
    is_database_outage,
)
from mlplatform.users import user_for_command

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Exit codes of every command (README, "Exit codes").
EXIT_OK = 0
EXIT_ERROR = 1  # refused or failed, with a message saying why
BAD_ARGUMENTS_EXIT = 2  # what argparse exits with
EXIT_GATE_REFUSED = 3
EXIT_UNAVAILABLE = 4  # the database or the queue (Redis) could not be reached


def document_json(document: Any) -> str:
    """A document (experiments.documents, registry.documents) as JSON, encoded
    as the API encodes it (Django's encoder: times as "2026-12-08T01:02:03.456Z")."""
    return json.dumps(document, cls=DjangoJSONEncoder, indent=2)


class PlatformCommand(BaseCommand):
    """The base of every command of the platform but `demo`: it runs every
    system check but the URL checks (see mlplatform.checks), and a database
    that cannot be reached ends it with one line,
    `error: database unavailable: ...`, and EXIT_UNAVAILABLE, not a traceback."""

    requires_system_checks = CHECKS_WITHOUT_URLS

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except DATABASE_OUTAGE_ERRORS as error:
            if options.get("traceback") or not is_database_outage(error):
                raise
            message = database_unavailable_message(error)
            if options.get("json"):
                self.stdout.write(json.dumps({"error": message, "code": "unavailable"}))
            else:
                self.stderr.write(f"error: {message}")
            raise SystemExit(EXIT_UNAVAILABLE) from None


class JsonCommand(PlatformCommand):
    """A command with a --json flag. With it, a refusal is printed as one JSON
    object, {"error": "..."}, on stdout (where the result would have gone),
    and the exit code is the one the plain mode gives: the CommandError's
    (1 unless it says otherwise), 2 for arguments argparse refuses."""

    json_errors = False

    def run_from_argv(self, argv: list[str]) -> None:
        self.json_errors = "--json" in argv[2:]
        super().run_from_argv(argv)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if self.json_errors:
            parser.error = self._argument_error  # type: ignore[method-assign]
        return parser

    def _argument_error(self, message: str) -> NoReturn:
        self.stdout.write(json.dumps({"error": message}))
        raise SystemExit(BAD_ARGUMENTS_EXIT)

    def execute(self, *args: Any, **options: Any) -> str | None:
        if not options.get("json") or options.get("traceback"):
            return super().execute(*args, **options)
        try:
            return super().execute(*args, **options)
        except CommandError as error:
            self.stdout.write(json.dumps({"error": str(error)}))
            raise SystemExit(error.returncode) from None


def choice_of(values: Sequence[str], *, what: str) -> Callable[[str], str]:
    """An argparse type that accepts one of `values` and otherwise says
    "'prod' is not a stage; choose from staging, production, archived"
    (argparse's own choices= would print the enum's repr)."""
    plain = [str(value) for value in values]

    def parse(text: str) -> str:
        if text not in plain:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {what}; choose from {', '.join(plain)}"
            )
        return text

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def choices_metavar(values: Sequence[str]) -> str:
    return "{" + ",".join(str(value) for value in values) + "}"


# ------------------------------------------------------------------ identity

TOKEN_VARIABLE = "MLPLATFORM_TOKEN"  # noqa: S105 - the variable's name, not a secret


def identity_arguments(parser: CommandParser, *, acting: str) -> None:
    """--token-file and --user: who runs a command that records a decision.
    `acting` says what the identity does ("the requester")."""
    parser.add_argument(
        "--token-file",
        type=Path,
        help=f"A file holding your personal API token; by default ${TOKEN_VARIABLE} "
        f"holds it. The command acts as its user ({acting}).",
    )
    parser.add_argument(
        "--user",
        help="Only with DJANGO_ENV=local: act as this user without a token "
        "(a convenience for a machine of one's own; refused in production).",
    )


def command_user(options: dict[str, Any], *, required: bool = True) -> User | None:
    """The Django user a command acts as: the owner of the personal API token
    in --token-file or $MLPLATFORM_TOKEN, checked exactly as the API checks
    it; or, with DJANGO_ENV=local only, the user --user names. None when
    neither is given and none is required."""
    secret = _token_given(options.get("token_file"))
    named = options.get("user") or ""
    if secret:
        user = _token_user(secret)
        if named and named != user.get_username():
            raise CommandError(
                f"--user {named} contradicts the API token, which belongs to "
                f"{user.get_username()}; drop --user"
            )
        return user
    if named:
        if settings.PRODUCTION:
            raise CommandError(
                "--user is refused with DJANGO_ENV=production: a command acts as the user of a "
                f"personal API token; set {TOKEN_VARIABLE} (or --token-file FILE) to one of yours "
                "(create it on your profile page)"
            )
        return user_for_command(named)[0]
    if not required:
        return None
    local = "" if settings.PRODUCTION else ", or --user NAME (DJANGO_ENV=local only)"
    raise CommandError(
        f"say who you are: set {TOKEN_VARIABLE} to your personal API token (or give "
        f"--token-file FILE){local}"
    )


def _token_given(token_file: Path | None) -> str:
    if token_file is None:
        return os.environ.get(TOKEN_VARIABLE, "").strip()
    try:
        return token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read the token file {token_file}: {error}") from None


def _token_user(secret: str) -> User:
    from api.services import api_token_authenticate

    user = api_token_authenticate(secret=secret)
    if user is None:
        raise CommandError(
            "the API token is not valid: unknown, revoked, or its user is inactive "
            "(create a new one on your profile page)"
        )
    return user
