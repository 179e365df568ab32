"""run_experiment --enqueue: record, queue and return at once (private Redis)."""

from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import cast

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from experiments.models import Experiment, Status
from experiments.queue import job_id_for
from mlplatform.redis_server import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def queued_job_ids(redis_server: RedisServer) -> list[str]:
    job_ids = redis_server.client().lrange("rq:queue:training", 0, -1)
    return [raw.decode() for raw in cast("list[bytes]", job_ids)]


def test_it_queues_the_experiment_and_prints_its_id(
    make_config: Callable[..., str],
    queue_settings: Settings,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    out = StringIO()

    call_command("run_experiment", config=write(tmp_path, make_config()), enqueue=True, stdout=out)

    experiment = Experiment.objects.get()
    assert experiment.status == Status.CREATED
    assert experiment.source == "cli"
    assert queued_job_ids(redis_server) == [job_id_for(experiment.pk)]
    assert f"experiment #{experiment.pk} small_baseline created" in out.getvalue()
    assert "is queued" in out.getvalue()


def test_it_prints_one_json_object_with_json(
    make_config: Callable[..., str],
    queue_settings: Settings,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    out = StringIO()

    call_command(
        "run_experiment", config=write(tmp_path, make_config()), enqueue=True, json=True, stdout=out
    )

    experiment = Experiment.objects.get()
    printed = json.loads(out.getvalue())
    # The experiment as the API's POST /experiments/ answers it.
    assert {key: printed[key] for key in ("id", "name", "status", "enqueued", "message")} == {
        "id": experiment.pk,
        "name": "small_baseline",
        "status": "created",
        "enqueued": True,
        "message": f"Experiment #{experiment.pk} is queued; a worker will start it shortly.",
    }
    assert printed["registration"]["state"] == ""
    assert printed["enqueued_at"] is not None


def test_it_records_the_experiment_and_says_so_when_redis_is_down(
    make_config: Callable[..., str],
    queue_settings: Settings,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    redis_server.stop()
    out, err = StringIO(), StringIO()

    call_command(
        "run_experiment",
        config=write(tmp_path, make_config()),
        enqueue=True,
        stdout=out,
        stderr=err,
    )

    experiment = Experiment.objects.get()
    assert experiment.status == Status.CREATED
    assert experiment.enqueued_at is None
    assert "will run when the queue is back" in err.getvalue()


def test_it_refuses_an_invalid_config_and_writes_nothing(
    make_config: Callable[..., str],
    queue_settings: Settings,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    path = write(tmp_path, make_config(extra={"thresold": 0.4}))

    with pytest.raises(CommandError, match="thresold"):
        call_command("run_experiment", config=path, enqueue=True)

    assert not Experiment.objects.exists()
    assert queued_job_ids(redis_server) == []
