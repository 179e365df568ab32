"""The thread budget of a training process: how many BLAS and OpenMP threads
(and how many joblib jobs) one fit may use.

Left alone, every training process on a host takes one OpenMP thread per
core: two workers training at once on two cores run four spinning threads,
and a gradient-boosting fit that takes 5 s alone took 20 s that way. The
budget splits the CPUs this process may use (`os.sched_getaffinity`) between
the training workers alive on this host, which RQ registers with their
hostname; the setting TRAINING_THREADS (when above 0) replaces that rule.

The budget is applied with threadpoolctl (the libraries already loaded) and
the environment variables that libraries loaded later and child processes
read, and recorded in the experiment's environment block.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)

# Read by OpenMP, OpenBLAS, MKL, BLIS and numexpr as they start, and by child processes.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

_in_force: ThreadBudget | None = None


@dataclass(frozen=True)
class ThreadBudget:
    threads: int
    reason: str

    def as_environment(self) -> dict[str, str]:
        return {"threads": str(self.threads), "threads_from": self.reason}


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which containers
    and `taskset` narrow), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def budget_for(*, configured: int, cpus: int, trainers: int) -> ThreadBudget:
    """TRAINING_THREADS when set; otherwise an equal share of the CPUs per
    training process on the host, at least one thread."""
    if configured > 0:
        return ThreadBudget(configured, f"TRAINING_THREADS={configured}")
    trainers = max(1, trainers)
    share = max(1, cpus // trainers)
    cpus_text = f"{cpus} CPU{'s' if cpus != 1 else ''}"
    if trainers == 1:
        return ThreadBudget(share, f"{cpus_text}, 1 training process on this host")
    return ThreadBudget(share, f"{cpus_text} shared by {trainers} training processes on this host")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def training_workers_on_host() -> int:
    """Training workers registered in Redis from this host whose process is
    alive (a killed worker's registration outlives it by its TTL). 0 when
    Redis cannot be reached: a run in this process must not wait for it."""
    from rq.worker import Worker

    from experiments.queue import REDIS_ERRORS, training_queue

    hostname = socket.gethostname()
    try:
        workers = Worker.all(queue=training_queue())
    except REDIS_ERRORS as error:
        logger.info("thread budget: Redis unavailable (%s), counting no workers", error)
        return 0
    return sum(
        1
        for worker in workers
        if worker.hostname == hostname and worker.pid is not None and process_alive(worker.pid)
    )


def thread_budget(*, in_worker: bool) -> ThreadBudget:
    """The budget for a training run in this process. A work-horse is one of
    the host's workers; a run in a command's own process comes on top of them."""
    configured = settings.TRAINING_THREADS
    if configured > 0:
        return budget_for(configured=configured, cpus=0, trainers=1)
    workers = training_workers_on_host()
    trainers = max(1, workers) if in_worker else workers + 1
    return budget_for(configured=0, cpus=usable_cpus(), trainers=trainers)


def thread_budget_in_force() -> ThreadBudget | None:
    return _in_force


def thread_budget_for_run(*, in_worker: bool) -> ThreadBudget:
    """The budget already in force (a work-horse's, or an enclosing run's), or
    a new one counted now."""
    return _in_force or thread_budget(in_worker=in_worker)


def thread_budget_apply(budget: ThreadBudget) -> None:
    """For the rest of this process's life (a work-horse, which exits after its job)."""
    global _in_force
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(budget.threads)))
    threadpool_limits(limits=budget.threads)
    _in_force = budget


@contextlib.contextmanager
def threads_limited(budget: ThreadBudget) -> Iterator[ThreadBudget]:
    """The budget for the duration of an in-process run, then what was before."""
    global _in_force
    previous_budget = _in_force
    previous_variables = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(budget.threads)))
    _in_force = budget
    try:
        with threadpool_limits(limits=budget.threads):
            yield budget
    finally:
        _in_force = previous_budget
        for name, value in previous_variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
