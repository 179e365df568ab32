"""Owner tokens: which process holds a claim, and whether it is known dead."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

from rq.utils import utcformat

from mlplatform.owners import (
    Owner,
    OwnerState,
    dead_worker_reason,
    holder_gone,
    owner_parse,
    owner_state,
    process_owner,
    this_machine,
)
from mlplatform.tests.factories import dead_owner, elsewhere_owner


def test_it_names_this_process_and_finds_it_alive() -> None:
    owner = process_owner()

    assert owner.pid == os.getpid()
    assert owner_parse(owner.token) == owner
    assert owner_state(owner.token) is OwnerState.ALIVE


def test_it_knows_a_process_of_this_machine_that_exited_is_dead() -> None:
    assert owner_state(dead_owner()) is OwnerState.DEAD


def test_it_knows_a_reused_pid_is_not_the_same_process() -> None:
    """pid 1 runs, but it started long before this made-up owner did."""
    reused = Owner(host="here", pid=1, machine=this_machine(), start=10**12, nonce="x")

    assert owner_state(reused.token) is OwnerState.DEAD


def test_it_cannot_look_up_a_process_of_another_machine() -> None:
    assert owner_state(elsewhere_owner()) is OwnerState.UNKNOWN
    assert owner_state("") is OwnerState.UNKNOWN
    assert owner_state("not/a/token") is OwnerState.UNKNOWN


def test_a_forked_child_gets_its_own_owner() -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, process_owner().token.encode())
        os._exit(0)
    os.waitpid(child, 0)
    token = os.read(read, 500).decode()

    assert owner_parse(token).pid == child  # type: ignore[union-attr]
    assert token != process_owner().token
    assert owner_state(token) is OwnerState.DEAD


def test_a_holder_elsewhere_is_gone_only_after_its_lease() -> None:
    now = datetime.now(UTC)

    assert holder_gone(elsewhere_owner(), now - timedelta(seconds=100), now, lease=600) == ""
    assert "lease" in holder_gone(elsewhere_owner(), now - timedelta(seconds=700), now, lease=600)
    assert "is gone" in holder_gone(dead_owner(), now, now, lease=600)
    assert holder_gone(process_owner().token, now - timedelta(days=1), now, lease=600) == ""


def registration(
    pid: int, *, host: str | None = None, beat_ago: float = 1
) -> dict[bytes | str, bytes | str]:
    beat = datetime.now(UTC) - timedelta(seconds=beat_ago)
    return {
        b"pid": str(pid).encode(),
        b"hostname": (host or socket.gethostname()).encode(),
        b"birth": utcformat(datetime.now(UTC) - timedelta(hours=1)).encode(),
        b"last_heartbeat": utcformat(beat).encode(),
    }


def test_it_finds_a_killed_worker_of_this_host_dead() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()

    assert "is gone" in dead_worker_reason(registration(gone.pid), stale_seconds=45)
    assert "is now this process's" in dead_worker_reason(
        registration(os.getpid()), stale_seconds=45
    )


def test_it_finds_a_live_worker_alive() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.05)
        alive = registration(sleeper.pid)
        alive[b"birth"] = utcformat(datetime.now(UTC) + timedelta(seconds=5)).encode()

        assert dead_worker_reason(alive, stale_seconds=45) == ""
    finally:
        sleeper.kill()
        sleeper.wait()


def test_it_judges_a_worker_of_another_host_by_its_heartbeat() -> None:
    fresh = registration(4242, host="elsewhere", beat_ago=5)
    silent = registration(4242, host="elsewhere", beat_ago=60)

    assert dead_worker_reason(fresh, stale_seconds=45) == ""
    assert "no heartbeat" in dead_worker_reason(silent, stale_seconds=45)


def test_a_namesake_from_another_machine_is_judged_by_its_heartbeat_alone() -> None:
    """Same host name, another pid namespace (two containers): its pid, gone
    here, says nothing about it."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    namesake = registration(gone.pid, beat_ago=5)
    namesake[b"machine"] = b"another-boot.4026531999"

    assert dead_worker_reason(namesake, stale_seconds=45) == ""
    namesake[b"machine"] = this_machine().encode()
    assert "is gone" in dead_worker_reason(namesake, stale_seconds=45)
