"""A database that went away, told apart from a bug and named as what it is.

Django raises OperationalError and InterfaceError when the database cannot be
reached or drops the connection (PostgreSQL restarting, "the database system
is starting up", SQLite's "database is locked" held too long). Commands,
pages, the API and workers all ask `is_database_outage` and say
`database unavailable: ...` instead of a traceback or a false reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")
DATABASE_OUTAGE_ERRORS = (OperationalError, InterfaceError)
MAX_PAUSE_SECONDS = 5.0


# SQLSTATE classes and codes that mean the server cannot be used right now:
# 08 connection exceptions; admin or crash shutdown, cannot connect now (a
# restart); too many connections. A deadlock, a serialization failure, a
# cancelled statement or a missing column is not an outage.
POSTGRES_OUTAGE_CODES = ("08", "57P01", "57P02", "57P03", "53300")
SQLITE_OUTAGE_MESSAGES = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
)


def is_database_outage(error: BaseException | None) -> bool:
    """True for an error that says the database cannot be reached or used
    for now (it will be again), not that the statement was wrong."""
    while error is not None:
        if isinstance(error, InterfaceError):
            return True
        if isinstance(error, OperationalError):
            return _operational_outage(error)
        error = error.__cause__
    return False


def _operational_outage(error: OperationalError) -> bool:
    driver = error.__cause__
    code = getattr(driver, "sqlstate", None)
    if code:
        return str(code).startswith(POSTGRES_OUTAGE_CODES)
    if type(driver).__module__.startswith("psycopg"):
        return True  # no SQLSTATE: the connection itself failed
    text = str(error).strip().lower()
    return any(text.startswith(message) for message in SQLITE_OUTAGE_MESSAGES)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def database_unavailable_message(error: BaseException) -> str:
    """ "database unavailable: connection refused ..." in one line."""
    return f"database unavailable: {first_line(error)}"


def database_write(write: Callable[[], T], *, what: str, wait: float | None = None) -> T:
    """Run a small write, waiting out a database outage for up to `wait`
    seconds (DATABASE_OUTAGE_WAIT_SECONDS) with growing pauses, one log line
    when the outage starts and one when it ends. Any other error, and an
    outage that outlasts the wait, is raised."""
    limit = settings.DATABASE_OUTAGE_WAIT_SECONDS if wait is None else wait
    started = time.monotonic()
    pause = 0.25
    while True:
        try:
            result = write()
        except DATABASE_OUTAGE_ERRORS as error:
            waited = time.monotonic() - started
            if waited >= limit or not is_database_outage(error):
                raise
            if pause == 0.25:
                logger.warning("%s: %s; waiting for it", what, database_unavailable_message(error))
            connection.close()  # reopened by the next attempt
            time.sleep(min(pause, max(0.0, limit - waited)))
            pause = min(pause * 2, MAX_PAUSE_SECONDS)
            continue
        if pause > 0.25:
            logger.warning(
                "%s: the database is back after %.1f s", what, time.monotonic() - started
            )
        return result
