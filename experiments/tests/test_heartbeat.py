from __future__ import annotations

import threading

from django.db import OperationalError

from experiments.services.heartbeat import heartbeat


def test_it_keeps_beating_after_a_failed_beat() -> None:
    beats: list[int] = []
    third = threading.Event()

    def beat() -> None:
        beats.append(1)
        if len(beats) == 1:
            raise OperationalError("database is locked")
        if len(beats) >= 3:
            third.set()

    with heartbeat(beat, name="test-heartbeat", interval=0.01):
        assert third.wait(timeout=10), "the heartbeat stopped after its first failure"

    assert len(beats) >= 3


def test_it_stops_with_its_block() -> None:
    beats: list[int] = []

    with heartbeat(lambda: beats.append(1), name="test-heartbeat", interval=0.01):
        pass
    count = len(beats)
    threading.Event().wait(0.05)

    assert len(beats) == count
