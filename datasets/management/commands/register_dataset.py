from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from datasets.models import DatasetVersion
from datasets.profiling import class_counts_text
from datasets.services import dataset_register
from mlplatform.cli import PlatformCommand, command_user, identity_arguments
from mlplatform.numbers import size
from mlplatform.origin import os_account


class Command(PlatformCommand):
    help = (
        "Register a CSV file under DATA_ROOT as NAME:VERSION and print its SHA-256 and "
        "profile. PATH is relative to the current directory or absolute."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Dataset name, e.g. credit_card_fraud.")
        parser.add_argument("version", help="Version name, e.g. v1. Versions never change.")
        parser.add_argument("path", help="The CSV file; it must lie under DATA_ROOT.")
        parser.add_argument("--target", required=True, help="Binary target column, e.g. Class.")
        parser.add_argument(
            "--positive-label",
            default="",
            help="When the target is not 0/1: the class that means positive (e.g. fraud); "
            "training counts it as 1 and the other class as 0.",
        )
        parser.add_argument("--description", default="", help="Free text shown with the version.")
        identity_arguments(parser, acting="the registrant")

    def handle(self, *args: Any, **options: Any) -> None:
        user = command_user(options, required=False)
        try:
            registered = dataset_register(
                name=options["name"],
                version=options["version"],
                path=Path(options["path"]).absolute(),
                target=options["target"],
                positive_label=options["positive_label"],
                description=options["description"],
                user=user,
                user_name=None if user else f"cli:{os_account()}",
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write("\n".join(_summary_lines(registered)))


def _summary_lines(version: DatasetVersion) -> list[str]:
    names = [column["name"] for column in version.columns]
    return [
        f"Registered {version.label}",
        f"  path     {version.path} (under DATA_ROOT)",
        f"  sha256   {version.sha256}",
        f"  size     {size(version.size_bytes)} ({version.size_bytes:,} bytes)",
        f"  rows     {version.row_count:,}",
        f"  columns  {len(names)}: {', '.join(names)}",
        f"  target   {version.target} ({class_counts_text(version.class_counts)})"
        + _positive(version),
    ]


def _positive(version: DatasetVersion) -> str:
    if not version.positive_label:
        return ""
    return f", positive label {version.positive_label!r} (trained as 1, the other class as 0)"
