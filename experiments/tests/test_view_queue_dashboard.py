"""/django-rq/: django-rq's dashboard behind experiments.view_queue_dashboard,
its job actions refused except Stop (the experiment's cancel), and a page
rather than a server error while Redis is down. A private Redis per test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings
from rq.job import Job

from experiments.models import Experiment, Phase, Status
from experiments.queue import job_id_for
from experiments.services import experiment_submit
from experiments.tests.rq_helpers import WorkerProcess, pid_alive, wait_for
from experiments.tests.worker_helpers import slow_config, wait_for_phase, wait_for_status
from experiments.views.queue_dashboard import PERMISSION
from mlplatform.redis_server import RedisServer
from mlplatform.testing import make_user

HOME = "/django-rq/"


def staff(username: str, *groups: str, permissions: tuple[str, ...] = ()) -> User:
    user = make_user(username, *groups, permissions=permissions)
    user.is_staff = True
    user.save()
    return User.objects.get(pk=user.pk)


@pytest.fixture
def queue_keeper(db: None) -> User:
    """Staff with the dashboard permission and the experimenter role (cancel)."""
    return staff("quinn", "experimenter", permissions=(PERMISSION,))


@pytest.fixture
def queued(
    make_config: Callable[..., str],
    queue_settings: Settings,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Experiment:
    """An experiment whose job waits on the private Redis's training queue."""
    with django_capture_on_commit_callbacks(execute=True):  # the enqueue runs on exit
        return experiment_submit(config_text=make_config()).experiment


def queued_job_ids(redis_server: RedisServer) -> list[str]:
    job_ids = redis_server.client().lrange("rq:queue:training", 0, -1)
    return [raw.decode() for raw in cast("list[bytes]", job_ids)]


def test_it_shows_the_dashboard_to_staff_with_the_permission(
    client: Client, queue_keeper: User, queue_settings: Settings
) -> None:
    client.force_login(queue_keeper)
    response = client.get(HOME)
    assert response.status_code == 200
    assert b"training" in response.content


def test_it_shows_the_dashboard_to_a_superuser(
    client: Client, django_user_model: type[User], queue_settings: Settings
) -> None:
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    assert client.get(HOME).status_code == 200


@pytest.mark.parametrize("role", ["viewer", "experimenter", "approver", "outsider"])
def test_it_refuses_every_role_without_the_permission(
    request: pytest.FixtureRequest, client: Client, role: str, queue_settings: Settings
) -> None:
    client.force_login(request.getfixturevalue(role))
    assert client.get(HOME).status_code == 403


def test_it_refuses_staff_without_the_permission(
    client: Client, queued: Experiment, redis_server: RedisServer
) -> None:
    client.force_login(staff("stan"))
    job_id = job_id_for(queued.pk)
    assert client.get(HOME).status_code == 403
    assert client.post(f"{HOME}queues/0/empty/").status_code == 403
    assert client.post(f"{HOME}queues/0/{job_id}/stop/").status_code == 403
    queued.refresh_from_db()
    assert queued.status == Status.CREATED
    assert queued_job_ids(redis_server) == [job_id]


def test_it_sends_an_anonymous_visitor_to_the_login_page(client: Client, db: None) -> None:
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_has_no_copy_of_the_dashboard_inside_the_admin(
    client: Client, django_user_model: type[User]
) -> None:
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    assert client.get("/admin/django_rq/dashboard/").status_code == 404
    assert client.post("/admin/django_rq/dashboard/queues/0/empty/").status_code == 404


def test_it_renders_a_job_page_whose_buttons_all_resolve(
    client: Client, queue_keeper: User, queued: Experiment
) -> None:
    client.force_login(queue_keeper)
    response = client.get(f"{HOME}queues/0/{job_id_for(queued.pk)}/")
    assert response.status_code == 200
    for page in ("jobs", "failed_jobs", "finished_jobs", "started_jobs", "workers"):
        assert client.get(reverse(f"django_rq:{page}", args=[0])).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "queues/0/empty/"),
        ("post", "queues/0/failed/clear/"),
        ("post", "queues/0/requeue-all/"),
        ("post", "queues/0/{job}/delete/"),
        ("get", "queues/0/{job}/delete/"),
        ("post", "queues/0/{job}/requeue/"),
        ("post", "queues/0/{job}/enqueue/"),
        ("post", "queues/confirm-action/0/"),
        ("post", "queues/actions/0/"),
    ],
)
def test_it_refuses_the_actions_that_change_the_queue(
    client: Client,
    queue_keeper: User,
    queued: Experiment,
    redis_server: RedisServer,
    method: str,
    path: str,
) -> None:
    job_id = job_id_for(queued.pk)
    client.force_login(queue_keeper)
    data = {"action": "delete", "job_ids": [job_id], "_selected_action": [job_id]}
    response = getattr(client, method)(HOME + path.format(job=job_id), data)
    assert response.status_code == 403
    assert "does not delete, empty or requeue jobs" in response.content.decode()
    assert queued_job_ids(redis_server) == [job_id]
    assert Job.exists(job_id, connection=redis_server.client())


def test_it_stops_an_experiments_job_by_cancelling_it_on_record(
    client: Client,
    queue_keeper: User,
    queued: Experiment,
    redis_server: RedisServer,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    job_id = job_id_for(queued.pk)
    client.force_login(queue_keeper)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{HOME}queues/0/{job_id}/stop/")
    assert response.status_code == 302
    assert response["Location"] == f"{HOME}queues/0/{job_id}/"
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED
    assert queued.error_message == "cancelled by quinn"
    assert queued_job_ids(redis_server) == []


def test_it_needs_the_cancel_permission_to_stop_a_job(
    client: Client, queued: Experiment, redis_server: RedisServer
) -> None:
    client.force_login(staff("stella", "viewer", permissions=(PERMISSION,)))
    response = client.post(f"{HOME}queues/0/{job_id_for(queued.pk)}/stop/")
    assert response.status_code == 403
    assert "needs the cancel permission" in response.content.decode()
    queued.refresh_from_db()
    assert queued.status == Status.CREATED


def test_it_refuses_to_stop_a_job_that_is_no_experiments(
    client: Client, queue_keeper: User, queue_settings: Settings
) -> None:
    client.force_login(queue_keeper)
    response = client.post(f"{HOME}queues/0/something-else/stop/")
    assert response.status_code == 403
    assert "something-else is not one" in response.content.decode()


def test_it_shows_a_page_not_a_server_error_while_redis_is_down(
    client: Client, queue_keeper: User, settings: Settings
) -> None:
    settings.RQ_QUEUES = {
        "training": {**settings.RQ_QUEUES["training"], "URL": "redis://127.0.0.1:1/0"}
    }
    client.force_login(queue_keeper)
    for path in ("", "queues/0/", "queues/0/experiment-1/", "workers/0/"):
        response = client.get(HOME + path)
        assert response.status_code == 503, path
        assert "The training queue (Redis) does not answer right now" in (response.content.decode())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_stops_a_running_experiment_on_record_with_a_real_worker(
    client: Client,
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    keeper = staff("quinn", "experimenter", permissions=(PERMISSION,))
    worker = start_worker()
    experiment = experiment_submit(config_text=slow_config(make_config)).experiment
    wait_for_phase(experiment.pk, Phase.FITTING)
    horse = worker.wait_for_horse()
    client.force_login(keeper)

    response = client.post(f"{HOME}queues/0/{job_id_for(experiment.pk)}/stop/")

    assert response.status_code == 302
    wait_for(lambda: not pid_alive(horse), timeout=20, what="the work-horse to stop")
    experiment = wait_for_status(experiment.pk, (Status.CANCELLED,), timeout=20)
    assert experiment.error_message == "cancelled by quinn"
    assert worker.alive()
