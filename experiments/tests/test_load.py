"""50 experiments submitted at once, two worker processes: every one runs
exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from rq.worker import Worker

from experiments.models import Experiment, Metric, Status
from experiments.queue import job_id_for
from experiments.services import experiment_submit
from experiments.tests.rq_helpers import WorkerProcess, wait_for
from experiments.tests.worker_helpers import wait_for_job_end
from mlplatform.redis_server import RedisServer
from registry.models import GateEvaluation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SUBMISSIONS = 50


def submit_concurrently(config_text: str, count: int) -> list[int]:
    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def submit() -> None:
        try:
            barrier.wait()
            submission = experiment_submit(config_text=config_text)
            assert submission.enqueued, submission.message
            ids.append(submission.experiment.pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return ids


def test_it_completes_fifty_concurrent_submissions_exactly_once_with_two_workers(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    workers = [start_worker(), start_worker()]
    wait_for(
        lambda: len(Worker.all(connection=redis_server.client())) == 2,
        timeout=60,
        what="two workers to register",
    )

    ids = submit_concurrently(make_config(), SUBMISSIONS)

    assert len(set(ids)) == SUBMISSIONS
    wait_for(
        lambda: (
            Experiment.objects.filter(pk__in=ids, status__in=("created", "running")).count() == 0
        ),
        timeout=240,
        interval=1,
        what="all experiments to finish",
    )
    experiments = list(Experiment.objects.filter(pk__in=ids))
    assert len(experiments) == SUBMISSIONS
    assert {experiment.status for experiment in experiments} == {Status.COMPLETED}
    assert {experiment.worker_name for experiment in experiments} == {w.name for w in workers}
    client = redis_server.client()
    for experiment in experiments:
        assert experiment.job_id == job_id_for(experiment.pk)
        assert len(wait_for_job_end(client, experiment.pk).results()) == 1
    assert Metric.objects.filter(experiment_id__in=ids, name="accuracy").count() == SUBMISSIONS
    assert GateEvaluation.objects.filter(candidate_id__in=ids).count() == SUBMISSIONS
