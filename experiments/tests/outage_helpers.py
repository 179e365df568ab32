"""A real database outage for subprocesses (workers, commands, a web
server), begun and ended by a test.

On PostgreSQL the subprocesses reach the test database through a TcpProxy:
an outage refuses new connections and drops open ones, as a restart does.
On SQLite they reach the file through a symbolic link to its folder: an
outage removes the link (a new connection cannot open the file) and holds
the write lock (an open connection cannot write: "database is locked").
The fixture at the end is loaded for every test through pytest_plugins.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from experiments.tests.rq_helpers import database_url, is_postgresql
from mlplatform.tcp_proxy import TcpProxy


class DatabaseOutage:
    def __init__(self, folder: Path) -> None:
        config = connection.settings_dict
        self.proxy: TcpProxy | None = None
        self.lock: sqlite3.Connection | None = None
        if is_postgresql():
            self.proxy = TcpProxy(config["HOST"] or "127.0.0.1", int(config["PORT"] or 5432))
            self.proxy.start()
            self.url = database_url(host="127.0.0.1", port=self.proxy.port)
            return
        self.file = Path(config["NAME"]).resolve()
        self.link = folder / "database"
        self.link.symlink_to(self.file.parent, target_is_directory=True)
        self.url = f"sqlite:///{self.link / self.file.name}"

    def begin(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
            return
        self.link.unlink()
        self.lock = sqlite3.connect(self.file, timeout=30, isolation_level=None)
        self.lock.execute("BEGIN IMMEDIATE")  # the write lock (WAL: readers go on)

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
            return
        if self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
            self.lock = None
        if not self.link.exists():
            self.link.symlink_to(self.file.parent, target_is_directory=True)


@pytest.fixture
def database_outage(transactional_db: None, tmp_path: Path) -> Iterator[DatabaseOutage]:
    outage = DatabaseOutage(tmp_path)
    yield outage
    outage.end()
    if outage.proxy is not None:
        outage.proxy.cut()
