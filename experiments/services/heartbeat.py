"""A heartbeat thread: proof of life for work the database must not mistake
for dead (a training run, a registration, a gate), refreshed while the main
thread works."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

from mlplatform.outages import database_unavailable_message

logger = logging.getLogger(__name__)


@contextmanager
def heartbeat(beat: Callable[[], object], *, name: str, interval: float) -> Iterator[None]:
    """Call beat() every `interval` seconds from a thread until the block ends.

    A failing beat (a database restart, "database is locked") is tried again
    at the next interval, with one log line when the failures start and one
    when a beat succeeds again: a database outage must not end the heartbeat
    of a run that is alive, whose claim the next beat renews. The thread
    stops only when its block ends."""
    stop = threading.Event()

    def run() -> None:
        failing = False
        try:
            while not stop.wait(interval):
                try:
                    beat()
                except DatabaseError as error:
                    if not failing:
                        logger.warning("%s: heartbeat failed (%s), retrying", name,
                                       database_unavailable_message(error))  # fmt: skip
                    failing = True
                    connection.close()  # a broken connection is reopened on the next beat
                    continue
                if failing:
                    logger.warning("%s: heartbeat written again", name)
                failing = False
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)
