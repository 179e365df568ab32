"""Owner tokens: which process holds a claim (a training run, a registration,
a gate), and whether that process is known to be dead.

A token names the process by host, pid and start time, plus a random part:

    "host1/4242/6b6bf24e.4026531836/30962/9f3c1a2b"
     host  pid  machine            start nonce

`machine` is the kernel's boot id and the pid namespace, so a pid is only
ever looked up where it means the same process: two containers that share a
host name but not their pid numbering are different machines. A token from
this machine whose pid is gone, or belongs to a process started later (the
pid was reused), is *dead*; one whose process runs is *alive*; a token from
another machine (or none) is *unknown*, and only silence past a lease may
end its claim. No Django here.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path


class OwnerState(StrEnum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    machine: str
    start: int
    nonce: str

    @property
    def token(self) -> str:
        return f"{self.host}/{self.pid}/{self.machine}/{self.start}/{self.nonce}"

    @property
    def label(self) -> str:
        """ "pid 4242 on host1", for messages."""
        return f"pid {self.pid} on {self.host}"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


@cache
def this_machine() -> str:
    """The boot id and pid namespace of this process's kernel view; the host
    name when /proc does not tell (then a pid is trusted by host name)."""
    boot = _read("/proc/sys/kernel/random/boot_id")[:8]
    try:
        namespace = str(Path("/proc/self/ns/pid").readlink()).removeprefix("pid:[").rstrip("]")
    except OSError:
        namespace = ""
    if not boot:
        return socket.gethostname()
    return f"{boot}.{namespace}" if namespace else boot


def process_start(pid: int) -> int | None:
    """When the process started, in clock ticks since boot; None if there is
    no such process (or it is a zombie, already dead)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # "pid (comm) state ...": comm may hold spaces
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


@cache
def _owner_of(pid: int) -> Owner:
    return Owner(
        host=socket.gethostname()[:60],
        pid=pid,
        machine=this_machine(),
        start=process_start(pid) or 0,
        nonce=secrets.token_hex(4),
    )


def process_owner() -> Owner:
    """This process's owner (a forked child gets its own: the pid differs)."""
    return _owner_of(os.getpid())


def owner_parse(token: str) -> Owner | None:
    parts = token.split("/")
    if len(parts) != 5 or not parts[1].isdigit() or not parts[3].isdigit():
        return None
    host, pid, machine, start, nonce = parts
    return Owner(host=host, pid=int(pid), machine=machine, start=int(start), nonce=nonce)


def owner_state(token: str) -> OwnerState:
    """Whether the process named by `token` runs; UNKNOWN unless it can be
    looked up from here."""
    owner = owner_parse(token)
    if owner is None or owner.machine != this_machine():
        return OwnerState.UNKNOWN
    start = process_start(owner.pid)
    if start is None or (owner.start and start != owner.start):
        return OwnerState.DEAD
    return OwnerState.ALIVE


def owner_label(token: str) -> str:
    owner = owner_parse(token)
    return owner.label if owner is not None else "an unknown process"


def holder_gone(token: str, heartbeat_at: datetime | None, now: datetime, *, lease: float) -> str:
    """Why the process holding a claim is gone, or "" while it may live: its
    process is known dead, or it cannot be looked up and has been silent for
    longer than `lease` seconds."""
    state = owner_state(token)
    if state is OwnerState.DEAD:
        return f"its process ({owner_label(token)}) is gone"
    if state is OwnerState.ALIVE:
        return ""
    if heartbeat_at is None or (now - heartbeat_at).total_seconds() > lease:
        return f"no heartbeat for more than {lease:,.0f} s (the lease)"
    return ""


@cache
def _boot_time() -> float:
    for line in _read("/proc/stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def process_started_at(pid: int) -> float | None:
    """When the process started, as a Unix time; None if it does not run."""
    ticks = process_start(pid)
    if ticks is None:
        return None
    return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")


def dead_worker_reason(
    registration: Mapping[bytes | str, bytes | str], *, stale_seconds: float
) -> str:
    """Why the RQ worker whose Redis registration (its hash) this is has
    died, or "" if it may be alive: on this machine, its pid is gone, is now
    ours, or belongs to a process started after the worker was born (reused);
    elsewhere, no heartbeat for `stale_seconds`."""

    def text(name: str) -> str:
        value = registration.get(name.encode(), registration.get(name, b""))
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    pid = int(text("pid")) if text("pid").isdigit() else None
    # Its pid means something here only on this machine (boot and pid
    # namespace); a registration from before machines were recorded is
    # trusted by its host name, as RQ does.
    machine = text("machine")
    here = machine == this_machine() if machine else text("hostname") == socket.gethostname()
    if here and pid is not None:
        if pid == os.getpid():
            return f"its pid {pid} is now this process's"
        started = process_started_at(pid)
        if started is None:
            return f"its process (pid {pid}) is gone"
        birth = _unix_time(text("birth"))
        if birth is not None and started > birth + 1:
            return f"its pid {pid} now belongs to a process started after it"
        return ""
    beat = _unix_time(text("last_heartbeat"))
    if beat is None or time.time() - beat > stale_seconds:
        return f"no heartbeat for more than {stale_seconds:,.0f} s"
    return ""


def _unix_time(iso: str) -> float | None:
    """RQ's UTC timestamps ("2026-12-07T23:41:55.993000Z") as Unix time."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
