from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from datasets.selectors import dataset_version_list
from datasets.services import VerifyResult, dataset_version_verify
from mlplatform.cli import PlatformCommand


class Command(PlatformCommand):
    help = (
        "Re-hash every registered dataset file and compare it with its registration. "
        "Prints OK, MISMATCH or MISSING per version; exits non-zero if any fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checked = failures = 0
        for version in dataset_version_list():
            result = dataset_version_verify(version=version, full=True)
            self.stdout.write(_line(result))  # as it goes: big files take a while
            checked += 1
            failures += not result.ok
        if failures:
            raise CommandError(f"{failures} of {checked} dataset versions failed verification")
        noun = "version" if checked == 1 else "versions"
        self.stdout.write(f"{checked} dataset {noun} verified.")


def _line(result: VerifyResult) -> str:
    detail = result.version.path if result.ok else result.message
    return f"{result.status:<8} {result.version.label}  {detail}"
