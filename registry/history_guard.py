"""The database itself keeps the governance record append-only.

On every table below, UPDATE and DELETE are refused by row triggers, on
SQLite and on PostgreSQL, and TRUNCATE by a statement trigger on PostgreSQL
(SQLite has no TRUNCATE). Whatever path a write takes (the ORM, the admin, a
shell, `manage.py flush`, raw SQL), it fails with "<table> is append-only".

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


def _sqlite_install(table: str) -> list[str]:
    return [
        f"""
        CREATE TRIGGER {table}_no_{verb.lower()}
        BEFORE {verb} ON {table}
        BEGIN
            SELECT RAISE(ABORT, '{table} is append-only');
        END;
        """
        for verb in ("UPDATE", "DELETE")
    ]


def _sqlite_uninstall(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_no_{verb}" for verb in ("update", "delete")]


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
