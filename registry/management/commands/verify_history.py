from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser
from django.db import connection

from mlplatform.cli import EXIT_ERROR, JsonCommand
from registry import history_guard
from registry.history_chain import ChainReport, chain_verify, chained_models


class Command(JsonCommand):
    help = (
        "Walk the hash chain of every append-only table (stage history, gate policies, "
        "gate evaluations), name the first row that does not match, and check that the "
        "append-only triggers are in place. Prints each chain's head: keep it somewhere "
        "else to prove later that the record was not rewritten. Exit 1 when anything fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        reports = [chain_verify(model) for model in chained_models()]
        missing = history_guard.missing_triggers(connection)
        if options["json"]:
            payload = {
                "ok": all(report.ok for report in reports) and not missing,
                "chains": [_as_json(report) for report in reports],
                "missing_triggers": missing,
            }
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            self.print_reports(reports, missing)
        if missing or not all(report.ok for report in reports):
            raise SystemExit(EXIT_ERROR)

    def print_reports(self, reports: list[ChainReport], missing: list[str]) -> None:
        for report in reports:
            head = f"head row {report.head_id}, {report.head_hash}" if report.rows else "empty"
            state = "OK" if report.ok else "BROKEN"
            self.stdout.write(f"{report.table}: {state}, {report.rows:,} rows, {head}")
            if not report.ok:
                self.stderr.write(f"  {report.problem}")
        for name in missing:
            self.stderr.write(f"append-only trigger missing: {name}")


def _as_json(report: ChainReport) -> dict[str, Any]:
    return {
        "table": report.table,
        "ok": report.ok,
        "rows": report.rows,
        "head_id": report.head_id,
        "head_hash": report.head_hash,
        "broken_at": report.broken_at,
        "problem": report.problem,
    }
