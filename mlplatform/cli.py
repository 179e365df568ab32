"""What the management commands share: the system checks they run, --json
errors and readable choices."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlplatform.checks import CHECKS_WITHOUT_URLS
from mlplatform.outages import DATABASE_OUTAGE_ERRORS, database_unavailable_message

# Exit codes of every command (README, "Exit codes").
EXIT_OK = 0
EXIT_ERROR = 1  # refused or failed, with a message saying why
BAD_ARGUMENTS_EXIT = 2  # what argparse exits with
EXIT_GATE_REFUSED = 3
EXIT_UNAVAILABLE = 4  # the database or the queue (Redis) could not be reached


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
            if options.get("traceback"):
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
