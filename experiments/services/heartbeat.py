"""A heartbeat thread: proof of life for work the database must not mistake
for dead (a training run, a registration), refreshed while the main thread
works."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT_ATTEMPTS = 3


def retry_transient(write: Callable[[], T], *, what: str) -> T:
    """A small status write, tried again after a transient database error
    (a lock held a moment too long, a reconnect) before giving up."""
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            return write()
        except DatabaseError:
            if attempt == TRANSIENT_ATTEMPTS:
                raise
            logger.warning("%s failed (attempt %s), retrying", what, attempt, exc_info=True)
            connection.close()
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


@contextmanager
def heartbeat(beat: Callable[[], object], *, name: str, interval: float) -> Iterator[None]:
    """Call beat() every `interval` seconds from a thread until the block ends.

    A failing beat (a database restart, "database is locked") is logged and
    tried again at the next interval: one lost UPDATE must not end the
    heartbeat of a run that is alive, or the reconciler would declare it dead.
    The thread stops only when its block ends."""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(interval):
                try:
                    beat()
                except DatabaseError:
                    logger.warning("%s: heartbeat failed, retrying", name, exc_info=True)
                    connection.close()  # a broken connection is reopened on the next beat
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)
