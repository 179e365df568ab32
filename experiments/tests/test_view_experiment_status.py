from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from datasets.models import DatasetVersion
from experiments.models import Experiment, Status
from mlplatform.tests.factories import make_dataset_version, make_experiment


@pytest.fixture
def version(db: None) -> DatasetVersion:
    return make_dataset_version()


def test_it_keeps_polling_while_running_and_shows_phase_and_elapsed_time(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(
        version,
        status=Status.RUNNING,
        phase="evaluating",
        started_at=timezone.now() - timedelta(seconds=75),
    )
    client.force_login(viewer)
    response = client.get(f"/experiments/{experiment.pk}/status/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert 'hx-trigger="every 2s"' in content
    assert "Evaluating" in content
    assert "1 min 15 s" in content or "1 min 16 s" in content
    assert "HX-Refresh" not in response


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED, Status.CANCELLED])
def test_it_stops_polling_and_reloads_the_page_when_final(
    client: Client, viewer: User, version: DatasetVersion, status: str
) -> None:
    experiment = make_experiment(version, status=status)
    client.force_login(viewer)
    response = client.get(f"/experiments/{experiment.pk}/status/", headers={"HX-Request": "true"})
    assert response.status_code == 286  # htmx: stop polling
    assert response["HX-Refresh"] == "true"
    assert "hx-trigger" not in response.content.decode()


def test_it_does_not_ask_a_plain_request_to_reload(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(version, status=Status.COMPLETED)
    client.force_login(viewer)
    response = client.get(f"/experiments/{experiment.pk}/status/")
    assert response.status_code == 286
    assert "HX-Refresh" not in response


def test_it_answers_404_for_an_unknown_experiment(client: Client, viewer: User) -> None:
    client.force_login(viewer)
    assert client.get("/experiments/424242/status/").status_code == 404


def test_it_refuses_an_outsider(client: Client, outsider: User, version: DatasetVersion) -> None:
    experiment = make_experiment(version, status=Status.RUNNING)
    client.force_login(outsider)
    assert client.get(f"/experiments/{experiment.pk}/status/").status_code == 403


def test_it_says_how_long_a_queued_run_has_waited(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(
        version,
        status=Status.CREATED,
        phase="queued",
        enqueued_at=timezone.now() - timedelta(seconds=42),
    )
    client.force_login(viewer)
    content = client.get(f"/experiments/{experiment.pk}/status/").content.decode()
    assert "queued for <strong" in content
    assert "running for" not in content
    assert "42 s" in content or "43 s" in content


def test_it_gives_the_run_time_to_the_tenth_of_a_second(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    started = timezone.now() - timedelta(minutes=5)
    experiment = make_experiment(
        version, started_at=started, finished_at=started + timedelta(seconds=2.8)
    )
    client.force_login(viewer)
    content = client.get(f"/experiments/{experiment.pk}/status/").content.decode()
    assert 'ran for <strong id="elapsed">2.8 s</strong>' in content


def test_it_counts_the_heartbeat_in_seconds(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(
        version,
        status=Status.RUNNING,
        started_at=timezone.now() - timedelta(seconds=30),
        heartbeat_at=timezone.now() - timedelta(seconds=4),
    )
    client.force_login(viewer)
    content = client.get(f"/experiments/{experiment.pk}/status/").content.decode()
    assert "last heartbeat 4.0 s ago" in content or "last heartbeat 4.1 s ago" in content
    assert "minutes" not in content


def test_it_removes_the_queued_message_once_the_run_has_started(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    queued = make_experiment(version, status=Status.CREATED)
    running = make_experiment(version, status=Status.RUNNING)
    client.force_login(viewer)
    htmx = {"HX-Request": "true"}
    waiting = client.get(f"/experiments/{queued.pk}/status/", headers=htmx).content.decode()
    assert "submission-message" not in waiting
    started = client.get(f"/experiments/{running.pk}/status/", headers=htmx).content.decode()
    assert '<li id="submission-message" hx-swap-oob="delete"></li>' in started


def fitting(version: DatasetVersion, **progress: Any) -> Experiment:
    now = timezone.now()
    return make_experiment(
        version,
        status=Status.RUNNING,
        phase="fitting",
        started_at=now - timedelta(seconds=70),
        phase_started_at=now - timedelta(seconds=60),
        progress_at=now,
        **progress,
    )


def test_it_shows_the_iteration_the_validation_loss_and_the_time_left(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = fitting(
        version,
        progress_unit="iteration",
        progress_done=120,
        progress_total=200,
        progress_detail="val loss 0.0041",
    )
    client.force_login(viewer)

    response = client.get(f"/experiments/{experiment.pk}/status/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    # 60 s for 120 iterations: 80 more take 40 s.
    assert "iteration 120 / 200, val loss 0.0041, about 40 s left" in response.content.decode()


def test_it_says_at_most_when_early_stopping_may_end_the_fit_sooner(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = fitting(
        version,
        progress_unit="iteration",
        progress_done=1500,
        progress_total=3000,
        progress_at_most=True,
    )
    client.force_login(viewer)

    response = client.get(f"/experiments/{experiment.pk}/status/", headers={"HX-Request": "true"})

    assert "iteration 1,500 / at most 3,000, at most 1 min 0 s left" in response.content.decode()


def test_it_shows_the_trees_of_a_forest_on_the_detail_page(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = fitting(version, progress_unit="tree", progress_done=40, progress_total=100)
    client.force_login(viewer)

    response = client.get(f"/experiments/{experiment.pk}/")

    assert response.status_code == 200
    assert "tree 40 / 100, about 1 min 30 s left" in response.content.decode()


def test_it_shows_only_the_phase_while_fitting_a_model_that_does_not_tell(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = fitting(version)
    client.force_login(viewer)

    response = client.get(f"/experiments/{experiment.pk}/status/", headers={"HX-Request": "true"})

    content = response.content.decode()
    assert "Fitting" in content
    assert 'id="fit-progress"' not in content


def test_its_timeline_gives_the_wait_in_the_queue_and_the_run_time(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    """The status line said "queued for 4.6 s" while the timeline's started
    time read the same second as created: each step now says how long after
    the one before it happened, so the two agree."""
    created = timezone.now() - timedelta(minutes=5)
    experiment = make_experiment(
        version,
        status=Status.COMPLETED,
        enqueued_at=created + timedelta(seconds=0.2),
        started_at=created + timedelta(seconds=4.8),
        finished_at=created + timedelta(seconds=7.6),
    )
    Experiment.objects.filter(pk=experiment.pk).update(created_at=created)
    client.force_login(viewer)
    content = client.get(f"/experiments/{experiment.pk}/status/").content.decode()

    steps = content.split('<ol class="timeline">')[1].split("</ol>")[0].split("<li")[1:]
    assert [step.split("<span>")[1].split("</span>")[0] for step in steps] == [
        "created", "queued", "started", "completed",
    ]  # fmt: skip
    assert "after" not in steps[0]
    assert '<span class="muted after">+0.2 s</span>' in steps[1]
    assert '<span class="muted after">+4.6 s</span>' in steps[2]
    assert '<span class="muted after">+2.8 s</span>' in steps[3]
    assert 'ran for <strong id="elapsed">2.8 s</strong>' in content
