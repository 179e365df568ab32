"""The reconcile_experiments command, against a private redis-server."""

from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command
from pytest_django.fixtures import Settings

from experiments.models import Experiment
from experiments.services import experiment_submit
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
