"""Real Redis servers and real RQ worker processes for tests.

Each RedisServer (mlplatform.redis_server) runs its own redis-server on a
free port, so tests may stop, restart and empty it without touching the
shared Redis on 6379. Workers are
`manage.py rqworker training` subprocesses pointed at the test database.
The fixtures at the end (redis_server, queue_settings, start_worker) are
loaded for every test through pytest_plugins in the root conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from pytest_django.fixtures import Settings

from mlplatform.redis_server import RedisServer
from mlplatform.redis_server import wait_for as wait_for  # re-exported for the tests

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


def database_url(*, host: str | None = None, port: int | None = None) -> str:
    """The URL of the test database this pytest process uses, for subprocesses
    (PostgreSQL: through `host` and `port` when given, e.g. a TcpProxy)."""
    config = connection.settings_dict
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(config['NAME']).resolve()}"
    user = config["USER"] or "postgres"
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    host = host or config["HOST"] or "127.0.0.1"
    port = port or config["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{config['NAME']}"


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def child_pids(pid: int) -> list[int]:
    """The direct children of pid (the work-horse of a worker), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class WorkerProcess:
    """One `manage.py rqworker training` process and its work-horses."""

    def __init__(self, env: dict[str, str], log_path: Path, name: str | None = None) -> None:
        self.name = name or f"test-worker-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, str(MANAGE_PY), "rqworker", "training",
                    "--worker-class", "experiments.worker.TrainingWorker",
                    "--name", self.name,
                ],
                cwd=str(MANAGE_PY.parent),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    def wait_until_listening(self, client: redis.Redis, timeout: float = 60) -> None:
        """Until the worker has finished starting: registered in Redis, subscribed
        to its command channel and its state past "starting". Only then does it
        retry, rather than exit, when Redis goes away."""

        def registered() -> bool:
            assert self.alive(), f"worker {self.name} exited:\n{self.log_text()}"
            key = f"rq:worker:{self.name}"
            if client.hget(key, "pid") != str(self.pid).encode():
                return False  # not yet, or still the registration of a dead namesake
            return client.hget(key, "state") not in (None, b"starting")

        wait_for(registered, timeout=timeout, interval=0.1, what=f"worker {self.name}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def horse_pids(self) -> list[int]:
        return child_pids(self.pid) if self.process is not None else []

    def wait_for_horse(self, timeout: float = 30) -> int:
        pids = wait_for(self.horse_pids, timeout=timeout, interval=0.05, what="a work-horse")
        return pids[0]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_parent(self) -> None:
        """SIGKILL the worker alone (a supervisor that kills only its main
        process): its work-horse, in a process group of its own, runs on."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL the worker and its work-horses, as a crashed host would."""
        if self.process is None:
            return
        horses = self.horse_pids()
        for pid in [self.pid, *horses]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_for(
            lambda: not any(pid_alive(pid) for pid in horses), timeout=10, what="horses to die"
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def worker_env(redis_url: str, **overrides: Any) -> dict[str, str]:
    """The environment of a worker subprocess: this test's database, Redis,
    data folders, and short heartbeat and reconciliation intervals."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        DATA_ROOT=str(settings.DATA_ROOT),
        ARTIFACT_ROOT=str(settings.ARTIFACT_ROOT),
        DATASET_CACHE_ROOT=str(settings.DATASET_CACHE_ROOT),
        EXPERIMENT_HEARTBEAT_SECONDS="1",
        EXPERIMENT_STALE_SECONDS="6",
        EXPERIMENT_RECONCILE_SECONDS="2",
        REDIS_CONNECT_TIMEOUT_SECONDS="1",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


# ------------------------------------------------------------------- Fixtures
# Registered for every test through pytest_plugins in the root conftest.py.


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server on a free port; never the shared one."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def queue_settings(settings: Settings, redis_server: RedisServer) -> Settings:
    """This process's settings pointed at the private Redis, with the short
    intervals that the workers get too."""
    training = {**settings.RQ_QUEUES["training"], "URL": redis_server.url}
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "training": training}
    settings.EXPERIMENT_HEARTBEAT_SECONDS = 1
    settings.EXPERIMENT_STALE_SECONDS = 6
    settings.REDIS_CONNECT_TIMEOUT_SECONDS = 1
    return settings


@pytest.fixture
def start_worker(
    transactional_db: None, queue_settings: Settings, redis_server: RedisServer, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start a `manage.py rqworker training` process and wait until it listens
    (unless listening=False); all are SIGKILLed (with their work-horses) at teardown, and their logs
    printed for failed tests."""
    workers: list[WorkerProcess] = []

    def start(
        *, listening: bool = True, name: str | None = None, **env_overrides: Any
    ) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(workers)}.log"
        worker = WorkerProcess(worker_env(redis_server.url, **env_overrides), log_path, name)
        workers.append(worker.start())
        if listening:
            worker.wait_until_listening(redis_server.client())
        return worker

    yield start
    for worker in workers:
        worker.kill()
        print(f"----- log of {worker.name} -----\n{worker.log_text()[-6000:]}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """SIGKILLed workers leave the SQLite test database's -wal and -shm files
    behind after pytest-django has deleted the database itself."""
    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if not name or Path(name).exists():
        return
    for suffix in ("-wal", "-shm"):
        Path(name + suffix).unlink(missing_ok=True)
