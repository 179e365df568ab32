"""experiment_execute: claim a CREATED experiment, train it with a heartbeat
running, and record the outcome."""

from __future__ import annotations

import logging
import threading
import time
import traceback as traceback_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

from datasets.services import dataset_version_load, dataset_version_row_identities
from experiments.configs import parse_config
from experiments.fit_progress import FitProgress, ProgressReceiver
from experiments.limits import memory_failure_message
from experiments.models import Experiment, Phase
from experiments.progress import progress_detail
from experiments.services.heartbeat import heartbeat
from experiments.services.lifecycle import (
    experiment_complete,
    experiment_fail,
    experiment_heartbeat,
    experiment_set_phase,
    experiment_set_progress,
    experiment_start,
)
from experiments.threads import ThreadBudget, thread_budget_for_run, threads_limited
from mlplatform.outages import database_unavailable_message, database_write, is_database_outage
from mlplatform.owners import process_owner

logger = logging.getLogger(__name__)


ProgressCallback = Callable[[Experiment, str], None]
# The page polls every 2 s: more writes would not be seen.
PROGRESS_WRITE_SECONDS = 2.0
# A claim waits this long for a database that went away: a job that cannot
# claim fails, its experiment stays CREATED and reconciliation queues it again.
CLAIM_OUTAGE_WAIT_SECONDS = 30.0


class ExperimentStateError(Exception):
    """A transition that the experiment's current status does not allow."""


@contextmanager
def _in_process_timeout(experiment: Experiment, job_id: str) -> Iterator[None]:
    """run.timeout_seconds for a run in this process (`run_experiment` without
    --enqueue): SIGALRM raises JobTimeoutException in the main thread, as RQ
    does in a work-horse (which has its own timer: job_id is set there)."""
    if job_id or threading.current_thread() is not threading.main_thread():
        yield
        return
    # rq leaves UnixSignalDeathPenalty.__init__ unannotated.
    with UnixSignalDeathPenalty(experiment.timeout_seconds, JobTimeoutException):  # type: ignore[no-untyped-call]
        yield


def training_stack_preload() -> None:
    """Import what a run needs (the engine, the model format, the estimator
    classes) and collect the runtime environment, so that none of it runs
    between a job's start, when its timeout starts counting, and its claim.
    A work-horse calls this before RQ starts the job."""
    from importlib import import_module

    from experiments.configs import MODEL_TYPES
    from experiments.environment import runtime_environment
    from mlplatform.startup import collector_paused

    with collector_paused():
        import_module("experiments.training")
        import_module("experiments.model_format")
        for model_type in MODEL_TYPES:
            MODEL_TYPES[model_type]
        runtime_environment()


def failure_message(error: BaseException, *, timeout_seconds: float | None = None) -> str:
    """What went wrong, in one line, as the experiment's error message."""
    if isinstance(error, JobTimeoutException):
        return f"timed out after {timeout_seconds} s"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    if out_of_memory := memory_failure_message(error):
        return out_of_memory
    if is_database_outage(error):
        return database_unavailable_message(error)
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _fit_progress_recorder(
    experiment_id: int, owner: str, on_fit_progress: ProgressReceiver | None
) -> ProgressReceiver:
    """Pass each FitProgress on to `on_fit_progress` and record it on the
    experiment, at most once per PROGRESS_WRITE_SECONDS. Called from the
    estimator's threads too (a forest's trees), and must not fail the fit:
    a lost write is logged, and the next one may succeed."""
    lock = threading.Lock()
    last_write = -PROGRESS_WRITE_SECONDS
    run_thread = threading.get_ident()

    def receive(progress: FitProgress) -> None:
        nonlocal last_write
        if on_fit_progress is not None:
            on_fit_progress(progress)
        with lock:
            now = time.monotonic()
            if now - last_write < PROGRESS_WRITE_SECONDS:
                return
            last_write = now
        try:
            _record_progress(experiment_id, owner, progress)
        except DatabaseError:
            logger.warning("progress of experiment #%s not recorded", experiment_id, exc_info=True)
        finally:
            if threading.get_ident() != run_thread:
                connection.close()  # a worker thread's own connection: not left open

    return receive


def _record_progress(experiment_id: int, owner: str, progress: FitProgress) -> None:
    # Progress is a nicety: one try, never a wait that holds up the fit.
    experiment_set_progress(
        experiment_id=experiment_id,
        unit=progress.unit,
        done=progress.done,
        total=progress.total,
        at_most=progress.at_most,
        detail=progress_detail(progress),
        owner=owner,
    )


def _train_and_store(
    experiment: Experiment,
    owner: str,
    report: Callable[[str], None],
    fit_progress: ProgressReceiver,
    threads: ThreadBudget,
) -> None:
    # Imported by the run that needs them, not by every page and command that
    # imports the services (scikit-learn and skops are over a second of start-up).
    from experiments import training
    from experiments.model_format import model_to_bytes

    config = parse_config(experiment.config_text)
    report(Phase.LOADING)
    # Both read and write rows (the file check, the cache digest, the row
    # identities): a database restart meanwhile is waited out, not a FAILED run.
    frame = database_write(
        lambda: dataset_version_load(version=experiment.dataset_version),
        what=f"data of experiment #{experiment.pk}",
    )
    # Stored once per version: the gate tells by them which rows a model saw.
    database_write(
        lambda: dataset_version_row_identities(version=experiment.dataset_version, frame=frame),
        what=f"row identities of experiment #{experiment.pk}",
    )
    result = training.train(
        frame,
        config=config,
        target=experiment.dataset_version.target,
        positive_label=experiment.dataset_version.positive_label or None,
        progress=report,
        threads=threads.threads,
        fit_progress=fit_progress,
    )
    report(Phase.SAVING)
    artifact_data = model_to_bytes(result.model)
    if not experiment_complete(
        experiment_id=experiment.pk, result=result, artifact_data=artifact_data, owner=owner
    ):
        raise ExperimentStateError(
            f"experiment #{experiment.pk} left RUNNING while training (cancelled?)"
        )


def experiment_execute(
    *,
    experiment_id: int,
    job_id: str = "",
    worker_name: str = "",
    on_progress: ProgressCallback | None = None,
    on_fit_progress: ProgressReceiver | None = None,
) -> Experiment | None:
    """Claim a CREATED experiment, train it and record the outcome.
    `on_progress` hears each phase, `on_fit_progress` each step of the fit
    (from the estimator's threads, possibly).

    The one path for the command line and the queue workers. Returns None when
    the claim is lost (someone else runs it, or it was cancelled). Any error
    ends the experiment FAILED with its reason; a KeyboardInterrupt or other
    BaseException is recorded the same way and then re-raised.
    """
    # A work-horse has its budget already (experiments.worker); a run in a
    # command's process counts the host's workers now.
    threads = thread_budget_for_run(in_worker=bool(job_id))
    owner = process_owner().token
    claimed = database_write(
        lambda: experiment_start(
            experiment_id=experiment_id,
            owner=owner,
            job_id=job_id,
            worker_name=worker_name,
            threads=threads,
        ),
        what=f"claim of experiment #{experiment_id}",
        wait=min(CLAIM_OUTAGE_WAIT_SECONDS, settings.DATABASE_OUTAGE_WAIT_SECONDS),
    )
    if not claimed:
        return None
    logger.info("experiment #%s: claimed by %s, training", experiment_id, owner)
    experiment = database_write(
        lambda: Experiment.objects.select_related("dataset_version__dataset").get(pk=experiment_id),
        what=f"experiment #{experiment_id}",
    )

    def report(phase: str) -> None:
        moved = database_write(
            lambda: experiment_set_phase(experiment_id=experiment_id, phase=phase, owner=owner),
            what=f"phase of experiment #{experiment_id}",
        )
        if not moved:
            # Cancelled (or failed by the reconciler) under our feet: stop here.
            raise ExperimentStateError(f"experiment #{experiment_id} is no longer RUNNING")
        if on_progress is not None:
            on_progress(experiment, phase)

    try:
        with (
            heartbeat(
                lambda: experiment_heartbeat(experiment_id=experiment_id, owner=owner),
                name=f"heartbeat-{experiment_id}",
                interval=settings.EXPERIMENT_HEARTBEAT_SECONDS,
            ),
            _in_process_timeout(experiment, job_id),
            threads_limited(threads),
        ):
            _train_and_store(
                experiment,
                owner,
                report,
                _fit_progress_recorder(experiment_id, owner, on_fit_progress),
                threads,
            )
    except BaseException as error:
        message = failure_message(error, timeout_seconds=experiment.timeout_seconds)
        trace = traceback_module.format_exc()
        database_write(
            lambda: experiment_fail(
                experiment_id=experiment_id, message=message, traceback=trace, owner=owner
            ),
            what=f"failure of experiment #{experiment_id}",
        )
        if not isinstance(error, Exception):
            raise
    database_write(experiment.refresh_from_db, what=f"experiment #{experiment_id}")
    return experiment
