"""Resource limits of training, from settings: the bounds a new config must
keep (ConfigLimits for the parser) and the memory limit of a training
process, with the message a run that exceeds it ends with.

The memory limit is the address space (RLIMIT_AS) of the process: on Linux a
failed allocation then raises MemoryError (or ENOMEM) in the run itself,
which is recorded, where running out of real memory would bring the OOM
killer and a dead process. Only the soft limit is set, so an in-process run
can restore what it had before.
"""

from __future__ import annotations

import errno
import resource
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from experiments.configs import ConfigLimits

MIB = 1024 * 1024


def config_limits() -> ConfigLimits:
    return ConfigLimits(
        max_timeout_seconds=settings.TRAINING_MAX_TIMEOUT_SECONDS,
        param_limits=settings.TRAINING_PARAM_LIMITS,
    )


def memory_limit_apply(limit_mb: int | None = None) -> None:
    """Limit this process's address space to limit_mb MiB (settings'
    TRAINING_MEMORY_LIMIT_MB by default; 0 for no limit) for the rest of its
    life; used in the work-horse, which exits after its one job."""
    if limit_mb is None:
        limit_mb = settings.TRAINING_MEMORY_LIMIT_MB
    if limit_mb <= 0:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = limit_mb * MIB
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextmanager
def memory_limited(limit_mb: int | None = None) -> Iterator[None]:
    """The memory limit for the duration of an in-process run, then the soft
    limit the process had before."""
    previous = resource.getrlimit(resource.RLIMIT_AS)
    memory_limit_apply(limit_mb)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, previous)


def memory_limit_in_force_mb() -> int | None:
    """This process's soft address-space limit in MiB, or None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft // MIB


def is_out_of_memory(error: BaseException) -> bool:
    # numpy and pyarrow raise MemoryError subclasses, mmap and some thread pools
    # an OSError; CPython cannot map a new thread's stack (threading's message).
    return (
        isinstance(error, MemoryError)
        or (isinstance(error, OSError) and error.errno == errno.ENOMEM)
        or (isinstance(error, RuntimeError) and str(error) == "can't start new thread")
    )


def memory_failure_message(error: BaseException) -> str | None:
    """What a run that ran out of memory under the limit ends with; None for
    any other error, or when no limit is in force (a real shortage)."""
    limit_mb = memory_limit_in_force_mb()
    if limit_mb is None or not is_out_of_memory(error):
        return None
    return (
        f"exceeded the memory limit of {limit_mb:,} MiB (TRAINING_MEMORY_LIMIT_MB); "
        "raise the limit or train on less data"
    )
