"""The database itself keeps the governance record append-only.

On every table below, UPDATE and DELETE are refused by row triggers, on
SQLite and on PostgreSQL, and TRUNCATE by a statement trigger on PostgreSQL
(SQLite has no TRUNCATE). An insert that collides with a row (SQLite's INSERT
OR REPLACE, which deletes without firing DELETE triggers) is refused too; on
PostgreSQL an upsert is an UPDATE, refused as such. Whatever path a write
takes (the ORM, the admin, a shell, `manage.py flush`, raw SQL), it fails
with "<table> is append-only". Whoever owns the tables can still drop a
trigger: registry.history_chain makes any change visible then.

Only the test runner lifts the guard, for the moment it empties the database
between transactional tests (suspended()); nothing in the product does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

APPEND_ONLY_TABLES = (
    "registry_stagetransition",
    "registry_gatepolicy",
    "registry_gateevaluation",
)
_POSTGRES_FUNCTION = "registry_append_only"


# The unique keys an INSERT OR REPLACE could collide with, besides the id.
UNIQUE_KEYS = {"registry_gatepolicy": ("registered_model_id", "version")}


def _sqlite_install(table: str) -> list[str]:
    return [
        *(
            f"""
            CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()}
            BEFORE {verb} ON {table}
            BEGIN
                SELECT RAISE(ABORT, '{table} is append-only');
            END;
            """
            for verb in ("UPDATE", "DELETE")
        ),
        _sqlite_no_replace(table),
    ]


def _sqlite_no_replace(table: str) -> str:
    """INSERT OR REPLACE deletes the row it collides with without firing
    DELETE triggers (unless the connection turned recursive_triggers on, which
    a hostile one would not): refuse any insert that collides, before it."""
    collisions = ["id = NEW.id"]
    if table in UNIQUE_KEYS:
        collisions.append(" AND ".join(f"{column} = NEW.{column}" for column in UNIQUE_KEYS[table]))
    where = " OR ".join(f"({collision})" for collision in collisions)
    # Table and column names from the constants above; nothing from outside.
    return f"""
        CREATE TRIGGER IF NOT EXISTS {table}_no_replace
        BEFORE INSERT ON {table}
        WHEN EXISTS (SELECT 1 FROM {table} WHERE {where})
        BEGIN
            SELECT RAISE(ABORT, '{table} is append-only');
        END;
        """  # noqa: S608


def _sqlite_uninstall(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_no_{verb}" for verb in ("update", "delete", "replace")]


def _postgres_install(table: str) -> list[str]:
    return [
        f"""
        CREATE TRIGGER {table}_no_change
        BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {_POSTGRES_FUNCTION}()
        """,
        f"""
        CREATE TRIGGER {table}_no_truncate
        BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {_POSTGRES_FUNCTION}()
        """,
    ]


def _postgres_uninstall(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]


_POSTGRES_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {_POSTGRES_FUNCTION}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only';
END;
$$ LANGUAGE plpgsql
"""


def install_statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [sql for table in APPEND_ONLY_TABLES for sql in _sqlite_install(table)]
    if vendor == "postgresql":
        tables = [sql for table in APPEND_ONLY_TABLES for sql in _postgres_install(table)]
        return [_POSTGRES_FUNCTION_SQL, *tables]
    return []


def uninstall_statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [sql for table in APPEND_ONLY_TABLES for sql in _sqlite_uninstall(table)]
    if vendor == "postgresql":
        tables = [sql for table in APPEND_ONLY_TABLES for sql in _postgres_uninstall(table)]
        return [*tables, f"DROP FUNCTION IF EXISTS {_POSTGRES_FUNCTION}()"]
    return []


@contextlib.contextmanager
def suspended(connection: Any) -> Iterator[None]:
    """For the test runner's flush only: the guard is off inside the block."""
    vendor = connection.vendor
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            for table in APPEND_ONLY_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            for sql in uninstall_statements(vendor):
                cursor.execute(sql)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                for table in APPEND_ONLY_TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            else:
                for sql in install_statements(vendor):
                    cursor.execute(sql)


def missing_triggers(connection: Any) -> list[str]:
    """The guard's triggers that are not installed (someone dropped them)."""
    vendor = connection.vendor
    if vendor == "sqlite":
        wanted = {
            f"{table}_no_{verb}"
            for table in APPEND_ONLY_TABLES
            for verb in ("update", "delete", "replace")
        }
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    elif vendor == "postgresql":
        wanted = {
            f"{table}_no_{what}" for table in APPEND_ONLY_TABLES for what in ("change", "truncate")
        }
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'"
    else:
        return []
    with connection.cursor() as cursor:
        cursor.execute(query)
        present = {name for (name,) in cursor.fetchall()}
    return sorted(wanted - present)
