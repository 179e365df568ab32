"""The append-only tables are hash chains: a rewrite by anyone who can write
the database (triggers dropped or not) is named by verify_history, and
SQLite's INSERT OR REPLACE (PostgreSQL's upsert) is refused as UPDATE is."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from mlplatform.cli import EXIT_ERROR
from mlplatform.tests.factories import make_dataset_version, make_experiment, make_model_version
from registry.history_chain import GENESIS, history_append
from registry.models import HistoryChain, ModelVersion, StageTransition
from registry.tests.conftest import promote

pytestmark = pytest.mark.django_db(transaction=True)
# The statements below are the attacker's raw SQL, built from the test's own ids.
# ruff: noqa: S608
TABLE = "registry_stagetransition"


def verify() -> tuple[int, dict[str, object]]:
    out = StringIO()
    try:
        call_command("verify_history", json=True, stdout=out)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    answer: dict[str, object] = json.loads(out.getvalue())
    return code, answer


def chain(answer: dict[str, object], table: str = TABLE) -> dict[str, object]:
    chains = answer["chains"]
    assert isinstance(chains, list)
    found: dict[str, object] = next(entry for entry in chains if entry["table"] == table)
    return found


def raw(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def drop_guard() -> None:
    """What the owner of the tables can always do."""
    if connection.vendor == "sqlite":
        raw(f"DROP TRIGGER {TABLE}_no_update")
        raw(f"DROP TRIGGER {TABLE}_no_delete")
    else:
        raw(f"DROP TRIGGER {TABLE}_no_change ON {TABLE}")


def restore_guard() -> None:
    """What a careful forger does afterwards (and every test, at its end)."""
    from registry import history_guard

    if connection.vendor == "sqlite":
        statements = history_guard._sqlite_install(TABLE)
    else:
        statements = [
            *history_guard._postgres_uninstall(TABLE),
            *history_guard._postgres_install(TABLE),
        ]
    for sql in statements:
        raw(sql)


@pytest.fixture(autouse=True)
def guard_put_back() -> Iterator[None]:
    """The triggers a test dropped are installed again for the tests after it."""
    yield
    restore_guard()


@pytest.fixture
def history(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> list[StageTransition]:
    promote(registered(), experimenter, approver)
    promote(registered(name="second"), experimenter, approver)
    return list(StageTransition.objects.order_by("pk"))


def test_it_reports_every_chain_whole_with_its_head(history: list[StageTransition]) -> None:
    code, answer = verify()

    assert code == 0
    assert answer["ok"] is True
    stages = chain(answer)
    assert stages["rows"] == len(history) >= 4
    assert stages["head_id"] == history[-1].pk
    assert stages["head_hash"] == history[-1].row_hash != GENESIS
    assert answer["missing_triggers"] == []


def test_it_names_a_row_rewritten_with_the_trigger_dropped(
    history: list[StageTransition],
) -> None:
    forged = history[1]
    drop_guard()
    raw(f"UPDATE {TABLE} SET reason = 'FORGED' WHERE id = {forged.pk}")

    code, answer = verify()

    assert code == EXIT_ERROR
    stages = chain(answer)
    assert stages["ok"] is False
    assert stages["broken_at"] == forged.pk
    assert f"row {forged.pk} does not match its hash" in str(stages["problem"])
    assert answer["missing_triggers"]


def test_it_sees_a_rewrite_whose_hashes_were_recomputed_in_the_head(
    history: list[StageTransition],
) -> None:
    """Rewriting a row and then every hash after it keeps the chain whole,
    but changes its head: a head published earlier proves the rewrite."""
    _, before = verify()
    published = chain(before)["head_hash"]
    drop_guard()
    raw(f"UPDATE {TABLE} SET reason = 'FORGED' WHERE id = {history[0].pk}")
    from registry.history_chain import chain_hash

    previous = GENESIS
    for row in StageTransition.objects.order_by("pk"):
        previous = chain_hash(previous, row)
        raw(f"UPDATE {TABLE} SET row_hash = '{previous}' WHERE id = {row.pk}")
    HistoryChain.objects.filter(table=TABLE).update(head_hash=previous)
    restore_guard()

    code, after = verify()

    assert code == 0  # consistent again...
    assert chain(after)["head_hash"] != published  # ...but not the record that was published


def test_it_sees_rows_cut_from_the_end(history: list[StageTransition]) -> None:
    drop_guard()
    raw(f"DELETE FROM {TABLE} WHERE id = {history[-1].pk}")

    code, answer = verify()

    assert code == EXIT_ERROR
    assert "rows were removed" in str(chain(answer)["problem"])


def test_it_refuses_insert_or_replace_and_upsert(history: list[StageTransition]) -> None:
    target = history[0]
    if connection.vendor == "sqlite":
        forge = (
            f"INSERT OR REPLACE INTO {TABLE} (id, from_stage, to_stage, actor_label, decision, "
            "reason, gate_report, override, created_at, approved_by_id, model_version_id, "
            "request_id, requested_by_id, channel, host, os_user, row_hash) SELECT id, "
            "from_stage, to_stage, 'forged', decision, 'FORGED', gate_report, override, "
            "created_at, approved_by_id, model_version_id, request_id, requested_by_id, channel, "
            f"'forged-host', 'forged-user', row_hash FROM {TABLE} WHERE id = {target.pk}"
        )
        policy = (
            "INSERT OR REPLACE INTO registry_gatepolicy (version, policy, reason, actor_label, "
            "channel, os_user, host, created_at, created_by_id, registered_model_id, row_hash) "
            "SELECT version, policy, 'loose', actor_label, channel, os_user, host, created_at, "
            "created_by_id, registered_model_id, row_hash FROM registry_gatepolicy LIMIT 1"
        )
    else:
        forge = (
            f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE id = {target.pk} "
            "ON CONFLICT (id) DO UPDATE SET reason = 'FORGED'"
        )
        policy = (
            "INSERT INTO registry_gatepolicy SELECT * FROM registry_gatepolicy LIMIT 1 "
            "ON CONFLICT (id) DO UPDATE SET reason = 'loose'"
        )

    for statement in (forge, policy):
        with (
            pytest.raises((IntegrityError, DatabaseError), match="append-only"),
            transaction.atomic(),
        ):
            raw(statement)

    target.refresh_from_db()
    assert target.reason != "FORGED"
    assert verify()[0] == 0


def test_concurrent_appends_make_one_chain(db: None) -> None:
    version = make_model_version(make_experiment(make_dataset_version()))
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            for i in range(5):
                history_append(
                    StageTransition, model_version=version, from_stage="staging",
                    to_stage="staging", actor_label=f"thread {n}", decision="automatic",
                    reason=f"append {i}",
                )  # fmt: skip
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    code, answer = verify()
    assert code == 0, answer
    assert chain(answer)["rows"] == 15
