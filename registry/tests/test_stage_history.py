"""The governance record is append-only in the database itself: every path
(ORM, raw SQL, flush) that would change or remove a row is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection, transaction

from registry.models import GateEvaluation, GatePolicy, ModelVersion, StageTransition
from registry.tests.conftest import LAX_POLICY

Guarded = type[StageTransition] | type[GatePolicy] | type[GateEvaluation]
GUARDED: list[Guarded] = [StageTransition, GatePolicy, GateEvaluation]


@pytest.fixture
def history(registered: Callable[..., ModelVersion], set_policy: Callable[..., GatePolicy]) -> None:
    registered()
    set_policy(LAX_POLICY)
    assert all(model.objects.exists() for model in GUARDED)


@pytest.mark.parametrize("model", GUARDED, ids=lambda model: model.__name__)
def test_it_refuses_to_update_a_row(history: None, model: Guarded) -> None:
    before = model.objects.count()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.all().update(created_at="2000-01-01T00:00:00Z")

    assert model.objects.count() == before
    assert not model.objects.filter(created_at__year=2000).exists()


@pytest.mark.parametrize("model", GUARDED, ids=lambda model: model.__name__)
def test_it_refuses_to_delete_a_row(history: None, model: Guarded) -> None:
    before = model.objects.count()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.all()._raw_delete(model.objects.db)  # no ORM cascade, plain DELETE

    assert model.objects.count() == before


@pytest.mark.parametrize("model", GUARDED, ids=lambda model: model.__name__)
def test_it_refuses_raw_sql_deletes(history: None, model: Guarded) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608

    assert model.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
@pytest.mark.parametrize("model", GUARDED, ids=lambda model: model.__name__)
def test_it_refuses_truncate_on_postgresql(history: None, model: Guarded) -> None:
    # The test's own transaction holds deferred foreign-key checks, which
    # PostgreSQL would name instead of the trigger; settle them first.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"TRUNCATE {model._meta.db_table} CASCADE")

    assert model.objects.exists()
