"""Where a decision came from: the channel (web, admin, cli, api, worker) and,
for the command line, the operating-system account and host that ran it.

Every service that writes a governance fact (stage requests, decisions,
withdrawals, gate policies) takes an Origin, and every history row stores it.
No Django here.
"""

from __future__ import annotations

import os
import pwd
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
        return cls(Channel.CLI, os_user=os_account(), host=socket.gethostname())

    @property
    def label(self) -> str:
        """ "cli (alice@host1)", "web"."""
        if self.os_user or self.host:
            return f"{self.channel} ({self.os_user or '?'}@{self.host or '?'})"
        return str(self.channel)


def os_account() -> str:
    """The account this process runs as, from its real uid (the password
    database), never from $USER or $LOGNAME, which anyone can set."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry for this uid (containers)
        return f"uid {uid}"
