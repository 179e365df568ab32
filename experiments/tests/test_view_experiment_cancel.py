from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from experiments.models import Experiment, Status
from mlplatform.tests.factories import make_dataset_version, make_experiment


@pytest.fixture
def running(db: None) -> Experiment:
    return make_experiment(make_dataset_version(), status=Status.RUNNING)


def test_it_cancels_a_running_experiment(
    client: Client, experimenter: User, running: Experiment
) -> None:
    client.force_login(experimenter)
    response = client.post(f"/experiments/{running.pk}/cancel/", follow=True)
    assert response.redirect_chain == [(f"/experiments/{running.pk}/", 302)]
    running.refresh_from_db()
    assert running.status == Status.CANCELLED
    assert running.error_message == "cancelled by erin"
    assert f"Experiment #{running.pk} is cancelled." in response.content.decode()


def test_it_leaves_a_finished_experiment_alone(client: Client, experimenter: User) -> None:
    finished = make_experiment(make_dataset_version(), status=Status.COMPLETED)
    client.force_login(experimenter)
    response = client.post(f"/experiments/{finished.pk}/cancel/", follow=True)
    finished.refresh_from_db()
    assert finished.status == Status.COMPLETED
    assert "had already finished" in response.content.decode()


@pytest.mark.parametrize("role", ["viewer", "approver", "outsider"])
def test_it_refuses_users_who_may_not_cancel(
    request: pytest.FixtureRequest, client: Client, running: Experiment, role: str
) -> None:
    client.force_login(request.getfixturevalue(role))
    assert client.post(f"/experiments/{running.pk}/cancel/").status_code == 403
    running.refresh_from_db()
    assert running.status == Status.RUNNING


def test_it_refuses_get(client: Client, experimenter: User, running: Experiment) -> None:
    client.force_login(experimenter)
    assert client.get(f"/experiments/{running.pk}/cancel/").status_code == 405
    running.refresh_from_db()
    assert running.status == Status.RUNNING


def test_it_answers_404_for_an_unknown_experiment(client: Client, experimenter: User) -> None:
    client.force_login(experimenter)
    assert client.post("/experiments/424242/cancel/").status_code == 404
