"""The governance record as hash chains: tamper-evident, not only append-only.

Every row of the append-only tables (registry.history_guard: the stage
history, which holds every request decision; the gate policies; the gate
evaluations, which hold every registration outcome) carries `row_hash`, the
SHA-256 of the previous row's hash and of the row's own canonical content:
its columns (CHAINED_COLUMNS) as sorted, compact JSON. Rows are chained in
id order, one chain per table.

So a row changed by anyone who can write the database (with raw SQL, with the
triggers dropped) no longer matches its hash; recomputing its hash breaks the
next row's link; recomputing the whole rest of the chain changes the chain
head, which `verify_history` prints and which, published elsewhere (a ticket,
a chat, a log), proves afterwards which record was the real one. Rows cut
from the end are seen against the chain head kept in HistoryChain.

`history_append` is the only way rows are added: it holds the chain's head
row for the rest of the caller's transaction, so that concurrent appends
are chained one after the other, never forked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

if TYPE_CHECKING:
    from registry.models import ChainedRow

GENESIS = "0" * 64
CHUNK = 2000
M = TypeVar("M", bound="ChainedRow")


# The columns each chain covers, frozen: a column added to a table later is
# not part of the hashes of its rows (old rows must keep verifying) until it
# is added here with a new chain, by a migration that says so.
CHAINED_COLUMNS: dict[str, tuple[str, ...]] = {
    "registry_stagetransition": (
        "channel", "os_user", "host", "model_version_id", "from_stage", "to_stage",
        "request_id", "requested_by_id", "approved_by_id", "actor_label", "decision",
        "reason", "gate_report", "override", "created_at",
    ),
    "registry_gatepolicy": (
        "channel", "os_user", "host", "registered_model_id", "version", "policy", "reason",
        "created_by_id", "actor_label", "created_at",
    ),
    "registry_gateevaluation": (
        "registered_model_id", "candidate_id", "baseline_version_id", "policy_id", "purpose",
        "passed", "report", "created_at",
    ),
}  # fmt: skip


def canonical_content(row: models.Model) -> str:
    """The chained columns of a row as they read back from the database:
    foreign keys as ids, times in UTC, JSON as sorted, compact JSON."""
    values: dict[str, Any] = {}
    for column in CHAINED_COLUMNS[row._meta.db_table]:
        value = getattr(row, column)
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        values[column] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(previous: str, row: models.Model) -> str:
    return hashlib.sha256(f"{previous}\n{canonical_content(row)}".encode()).hexdigest()


def history_append(model: type[M], **fields: Any) -> M:
    """Insert one row into the chained `model`, linked to the current head."""
    from registry.models import HistoryChain

    table = model._meta.db_table
    with transaction.atomic():
        # Writes first: on SQLite they take the database's write lock, on
        # PostgreSQL the head row's, before the head is read. (The head row is
        # made with its table, and again after a test runner's flush.)
        HistoryChain.objects.bulk_create([HistoryChain(table=table)], ignore_conflicts=True)
        HistoryChain.objects.filter(table=table).update(length=F("length"))
        head = HistoryChain.objects.select_for_update().get(table=table)
        row = model(**fields)
        if getattr(row, "created_at", None) is None:
            row.created_at = timezone.now()  # type: ignore[attr-defined]
        row.row_hash = chain_hash(head.head_hash, row)
        row.save(force_insert=True)
        HistoryChain.objects.filter(table=table).update(
            head_id=row.pk,
            head_hash=row.row_hash,
            length=F("length") + 1,
        )
    return row


@dataclass(frozen=True)
class ChainReport:
    """What walking one chain found: `broken_at` is the first row whose
    content or link does not match (None when every row does)."""

    table: str
    rows: int
    head_id: int | None
    head_hash: str
    broken_at: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def chain_verify(model: type[ChainedRow]) -> ChainReport:
    from registry.models import HistoryChain

    table = model._meta.db_table
    previous, count, last_id = GENESIS, 0, None
    for row in _in_id_order(model):
        expected = chain_hash(previous, row)
        stored = row.row_hash
        if stored != expected:
            what = "its content was changed" if stored else "it carries no hash"
            return ChainReport(
                table, count, last_id, previous, row.pk,
                f"row {row.pk} does not match its hash ({what}, or a row before it was): "
                f"stored {stored[:12] or '-'}…, computed {expected[:12]}…",
            )  # fmt: skip
        previous, count, last_id = stored, count + 1, row.pk
    head = HistoryChain.objects.filter(table=table).first()
    if head is not None and (head.head_hash != previous or head.length != count):
        return ChainReport(
            table, count, last_id, previous, None,
            f"the chain ends at row {last_id} ({count:,} rows) but its recorded head is row "
            f"{head.head_id} ({head.length:,} rows): rows were removed, or the head was changed",
        )  # fmt: skip
    return ChainReport(table, count, last_id, previous)


def _in_id_order(model: type[ChainedRow]) -> Iterator[ChainedRow]:
    after = 0
    while True:
        rows = list(model._default_manager.filter(pk__gt=after).order_by("pk")[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        after = rows[-1].pk


def chained_models() -> list[type[ChainedRow]]:
    from registry.models import GateEvaluation, GatePolicy, StageTransition

    return [StageTransition, GatePolicy, GateEvaluation]
