"""Where a decision came from: the channel (web, admin, cli, api, worker) and,
for the command line, the operating-system account and host that ran it.

Every service that writes a governance fact (stage requests, decisions,
withdrawals, gate policies) takes an Origin, and every history row stores it.
No Django here.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    WEB = "web"
    ADMIN = "admin"
    CLI = "cli"
    API = "api"
    WORKER = "worker"


@dataclass(frozen=True)
class Origin:
    channel: Channel
    os_user: str = ""
    host: str = ""

    @classmethod
    def web(cls) -> Origin:
        return cls(Channel.WEB)

    @classmethod
    def admin(cls) -> Origin:
        return cls(Channel.ADMIN)

    @classmethod
    def api(cls) -> Origin:
        return cls(Channel.API)

    @classmethod
    def worker(cls) -> Origin:
        return cls(Channel.WORKER, host=socket.gethostname())

    @classmethod
    def cli(cls) -> Origin:
        """The account and host running this command, as the OS reports them."""
        return cls(Channel.CLI, os_user=_os_user(), host=socket.gethostname())

    @property
    def label(self) -> str:
        """ "cli (alice@host1)", "web"."""
        if self.os_user or self.host:
            return f"{self.channel} ({self.os_user or '?'}@{self.host or '?'})"
        return str(self.channel)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        return f"uid {os.getuid()}"
