from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from datasets.selectors import dataset_version_list
from datasets.services import VerifyResult, dataset_version_verify


class Command(BaseCommand):
    help = (
        "Re-hash every registered dataset file and compare it with its registration. "
        "Prints OK, MISMATCH or MISSING per version; exits non-zero if any fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        results = [
            dataset_version_verify(version=version, full=True) for version in dataset_version_list()
        ]
        for result in results:
            self.stdout.write(_line(result))
        failures = sum(not result.ok for result in results)
        if failures:
            raise CommandError(f"{failures} of {len(results)} dataset versions failed verification")
        self.stdout.write(f"{len(results)} dataset versions verified.")


def _line(result: VerifyResult) -> str:
    detail = result.version.path if result.ok else result.message
    return f"{result.status:<8} {result.version.label}  {detail}"
