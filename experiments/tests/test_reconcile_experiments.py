"""The reconcile_experiments command, against a private redis-server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command
from pytest_django.fixtures import Settings

from experiments.models import Experiment
from experiments.services import experiment_submit
from experiments.tests.outage_helpers import DatabaseOutage
from experiments.tests.rq_helpers import MANAGE_PY, worker_env
from mlplatform.cli import EXIT_UNAVAILABLE
from mlplatform.redis_server import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)


def submit_while_redis_is_down(
    make_config: Callable[..., str], redis_server: RedisServer
) -> Experiment:
    redis_server.stop()
    experiment = experiment_submit(config_text=make_config()).experiment
    redis_server.start()
    return experiment


def test_it_prints_what_it_queued(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = submit_while_redis_is_down(make_config, redis_server)
    out = StringIO()

    call_command("reconcile_experiments", stdout=out)

    assert out.getvalue() == f"experiment #{experiment.pk}: queued\n"


def test_it_says_when_there_is_nothing_to_do(
    db: None, queue_settings: Settings, redis_server: RedisServer
) -> None:
    out = StringIO()

    call_command("reconcile_experiments", stdout=out)

    assert "nothing to do" in out.getvalue()


def test_it_prints_one_json_object_with_json(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = submit_while_redis_is_down(make_config, redis_server)
    out = StringIO()

    call_command("reconcile_experiments", json=True, stdout=out)

    assert json.loads(out.getvalue()) == {
        "queue_available": True,
        "enqueued": [experiment.pk],
        "failed": [],
        "registrations_enqueued": [],
        "registrations_retried": [],
        "gates_enqueued": [],
        "errors": [],
    }


def test_it_exits_non_zero_when_redis_is_down(
    db: None, queue_settings: Settings, redis_server: RedisServer
) -> None:
    redis_server.stop()
    err = StringIO()

    with pytest.raises(SystemExit) as exit_info:
        call_command("reconcile_experiments", stderr=err)

    assert exit_info.value.code == EXIT_UNAVAILABLE
    assert "unavailable" in err.getvalue()


@pytest.mark.slow
def test_the_loop_outlives_database_and_redis_outages_with_one_line_each(
    database_outage: DatabaseOutage, queue_settings: Settings, redis_server: RedisServer
) -> None:
    """Both outages, each logged once when it starts and once when it ends;
    the loop never exits for them and goes on reconciling afterwards."""
    env = worker_env(
        redis_server.url, DATABASE_URL=database_outage.url, EXPERIMENT_RECONCILE_SECONDS="1"
    )
    output = subprocess.Popen(
        [sys.executable, str(MANAGE_PY), "reconcile_experiments", "--loop"],
        env=env, cwd=str(MANAGE_PY.parent), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        database_outage.begin()
        time.sleep(6)
        database_outage.end()
        time.sleep(4)
        redis_server.stop()
        time.sleep(5)
        redis_server.start()
        time.sleep(4)
        assert output.poll() is None, "the loop exited"
    finally:
        output.terminate()
        text = output.communicate(timeout=30)[0]

    lines = text.splitlines()
    unavailable = [line for line in lines if "unavailable" in line]
    assert len(unavailable) == 2, text  # one line an outage, however many passes failed
    assert "the database is unavailable" in unavailable[0]
    assert "the queue (Redis) is unavailable" in unavailable[1]
    assert sum("is back after" in line for line in lines) == 2, text
    assert "Traceback" not in text
