from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from datasets.synthetic import write_fraud_csv
from mlplatform import numbers
from mlplatform.cli import PlatformCommand


class Command(PlatformCommand):
    help = (
        "Write a synthetic credit-card fraud CSV with the columns of Kaggle's "
        "creditcard.csv (Time, V1..V28, Amount, Class). The same seed gives the same bytes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="File to write; folders are created.")
        parser.add_argument("--rows", type=int, default=284_807)
        parser.add_argument("--frauds", type=int, default=492)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--force", action="store_true", help="Replace the file if it already exists."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"]).absolute()
        if out.exists() and not options["force"]:
            raise CommandError(
                f"{out} already exists; a registered version of it would stop matching. "
                "Use --force to replace it."
            )
        rows, frauds, seed = options["rows"], options["frauds"], options["seed"]
        self.stdout.write(f"Generating {numbers.count(rows)} rows ...")
        try:
            write_fraud_csv(
                out, rows=rows, frauds=frauds, seed=seed, on_rows_written=self._written(rows)
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Wrote {out} ({rows:,} rows, {frauds:,} frauds, seed {seed}, "
            f"{numbers.size(out.stat().st_size)})"
        )

    def _written(self, total: int) -> Callable[[int], None]:
        def report(done: int) -> None:
            self.stdout.write(f"  {numbers.count(done)} of {numbers.count(total)} rows written")

        return report
