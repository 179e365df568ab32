from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from datasets.selectors import dataset_version_list
from datasets.services import VerifyResult, dataset_cache_verify, dataset_version_verify
from mlplatform.cli import PlatformCommand


class Command(PlatformCommand):
    help = (
        "Re-hash every registered dataset file and compare it with its registration, and "
        "check this host's Arrow cache of it against the digest recorded when it was "
        "written (a cache that differs is removed: the next load rebuilds it from the file). "
        "Prints OK, MISMATCH or MISSING per version; exits non-zero if any fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checked = failures = 0
        for version in dataset_version_list():
            result = dataset_version_verify(version=version, full=True)
            self.stdout.write(_line(result))  # as it goes: big files take a while
            cache = dataset_cache_verify(version=version)
            if cache == "mismatch":
                self.stdout.write(
                    f"MISMATCH {version.label}  its cache differs from what was written from "
                    "the verified file; removed (rebuilt on next use)"
                )
            checked += 1
            failures += (not result.ok) + (cache == "mismatch")
        if failures:
            raise CommandError(f"{failures} of {checked} dataset versions failed verification")
        noun = "version" if checked == 1 else "versions"
        self.stdout.write(f"{checked} dataset {noun} verified.")


def _line(result: VerifyResult) -> str:
    detail = result.version.path if result.ok else result.message
    return f"{result.status:<8} {result.version.label}  {detail}"
