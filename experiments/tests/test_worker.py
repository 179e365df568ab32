"""experiments/worker.py: the TrainingWorker itself, in this process."""

from __future__ import annotations

import pytest
from rq.exceptions import StopRequested

from experiments.queue import training_queue
from experiments.worker import TrainingWorker
from mlplatform import reconcile as reconcile_module
from mlplatform.redis_server import RedisServer


def stop_requested() -> None:
    raise StopRequested


def test_it_lets_a_shutdown_requested_during_reconciliation_stop_the_worker(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RQ raises StopRequested from its SIGTERM handler in whatever an idle
    # worker is doing; swallowed there, the worker ran on until killed.
    connection = redis_server.client()
    worker = TrainingWorker([training_queue(connection)], connection=connection)
    monkeypatch.setattr(reconcile_module, "reconcile", stop_requested)

    with pytest.raises(StopRequested):
        worker.reconcile()


def test_it_survives_a_reconciliation_that_fails(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down() -> None:
        raise RuntimeError("database restarting")

    connection = redis_server.client()
    worker = TrainingWorker([training_queue(connection)], connection=connection)
    monkeypatch.setattr(reconcile_module, "reconcile", database_down)

    worker.reconcile()  # logged, and the next round retries
