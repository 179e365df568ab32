from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings
from rq import Queue

from datasets.models import DatasetVersion
from experiments.models import Status
from experiments.queue import QUEUE_NAME, redis_connection
from experiments.tests.rq_helpers import WorkerProcess
from mlplatform.testing import make_user
from mlplatform.tests.factories import make_dataset_version, make_experiment
from registry.models import ModelVersion, RegisteredModel, Stage, StageRequest

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def no_redis(settings: Settings) -> None:
    settings.RQ_QUEUES = {"training": {**settings.RQ_QUEUES["training"], "URL": DEAD_REDIS}}


def add_jobs(count: int) -> None:
    # Plain RQ: django-rq's queue would wait for the test's transaction to commit.
    queue = Queue(QUEUE_NAME, connection=redis_connection())
    for _ in range(count):
        queue.enqueue("os.getcwd")


def add_version(
    model: RegisteredModel, number: int, stage: str, dataset_version: DatasetVersion
) -> ModelVersion:
    experiment = make_experiment(
        dataset_version, name=f"m{number}", metrics={"average_precision": number / 10}
    )
    return ModelVersion.objects.create(
        registered_model=model,
        version=number,
        experiment=experiment,
        artifact_sha256="0" * 64,
        stage=stage,
    )


def test_it_shows_counts_models_pending_requests_and_recent_experiments(
    client: Client, viewer: User, experimenter: User, no_redis: None
) -> None:
    dataset_version = make_dataset_version()
    make_experiment(dataset_version, name="still_running", status=Status.RUNNING)
    model = RegisteredModel.objects.create(name="fraud_detector")
    add_version(model, 1, Stage.ARCHIVED, dataset_version)
    add_version(model, 2, Stage.PRODUCTION, dataset_version)
    staged = add_version(model, 3, Stage.STAGING, dataset_version)
    StageRequest.objects.create(
        model_version=staged,
        from_stage=Stage.STAGING,
        to_stage=Stage.PRODUCTION,
        reason="v3 is better",
        requested_by=experimenter,
    )
    client.force_login(viewer)
    response = client.get("/")
    assert response.status_code == 200
    counts = {status: count for status, _, count in response.context["status_counts"]}
    assert counts[Status.RUNNING] == 1
    assert counts[Status.COMPLETED] == 3
    (listed,) = response.context["models"]
    # Production above staging, although staging is newer.
    assert [(v.version, v.stage) for v in listed.listed_versions] == [
        (2, Stage.PRODUCTION),
        (3, Stage.STAGING),
    ]
    content = response.content.decode()
    assert content.index("stage-row-production") < content.index("stage-row-staging")
    assert "0.2000" in content  # v2's average precision
    assert "v3 is better" in content
    assert "still_running" in content


def test_it_says_the_queue_is_unavailable_when_redis_is_down(
    client: Client, viewer: User, no_redis: None
) -> None:
    client.force_login(viewer)
    response = client.get("/")
    assert response.status_code == 200
    assert "Queue unavailable" in response.content.decode()


# A worker process reads the database, so this test is transactional.
@pytest.mark.django_db(transaction=True)
def test_it_shows_queue_depth_and_live_workers(
    client: Client,
    viewer: User,
    queue_settings: Settings,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker()
    client.force_login(viewer)
    content = client.get("/").content.decode()
    assert '<dd id="queue-workers">1 (0 busy)</dd>' in content
    assert "No worker is running" not in content


def test_it_counts_waiting_jobs(client: Client, viewer: User, queue_settings: Settings) -> None:
    add_jobs(2)
    client.force_login(viewer)
    content = client.get("/").content.decode()
    assert '<dd id="queue-depth">2</dd>' in content
    assert "No worker is running" in content


def test_it_links_staff_to_the_admin_and_the_queue_dashboard(
    client: Client, db: None, no_redis: None
) -> None:
    staff = make_user("stan", "viewer", permissions=("experiments.view_queue_dashboard",))
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    content = client.get("/").content.decode()
    assert 'href="/admin/registry/stagerequest/?status__exact=pending"' in content
    assert 'href="/django-rq/"' in content


def test_it_links_the_queue_dashboard_only_with_its_permission(
    client: Client, db: None, no_redis: None
) -> None:
    staff = make_user("stan", "viewer")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    content = client.get("/").content.decode()
    assert 'href="/admin/registry/stagerequest/?status__exact=pending"' in content
    assert "/django-rq/" not in content


def test_it_hides_staff_links_from_others(client: Client, viewer: User, no_redis: None) -> None:
    client.force_login(viewer)
    content = client.get("/").content.decode()
    assert "/admin/" not in content
    assert "/django-rq/" not in content


def test_its_query_count_does_not_grow_with_the_rows(
    client: Client, viewer: User, experimenter: User, no_redis: None
) -> None:
    dataset_version = make_dataset_version()
    client.force_login(viewer)

    def add_model(name: str) -> None:
        model = RegisteredModel.objects.create(name=name)
        add_version(model, 1, Stage.PRODUCTION, dataset_version)
        staged = add_version(model, 2, Stage.STAGING, dataset_version)
        StageRequest.objects.create(
            model_version=staged,
            from_stage=Stage.STAGING,
            to_stage=Stage.PRODUCTION,
            reason="r",
            requested_by=experimenter,
        )

    add_model("a")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for name in "bcdefg":
        add_model(name)
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(many) == len(few)


def test_it_refuses_an_outsider(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    assert client.get("/").status_code == 403


def test_it_requires_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_it_shows_no_red_no_role_badge_to_a_superuser(
    client: Client, db: None, no_redis: None
) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    content = client.get("/").content.decode()
    assert '<span class="role">superuser</span>' in content
    assert "no role" not in content
