from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from experiments.models import Experiment, Status
from mlplatform.tests.factories import make_dataset_version, make_experiment


@pytest.fixture
def original(db: None) -> Experiment:
    return make_experiment(make_dataset_version(), status=Status.FAILED)


def test_it_submits_the_same_config_again(
    client: Client, experimenter: User, original: Experiment
) -> None:
    client.force_login(experimenter)
    response = client.post(f"/experiments/{original.pk}/rerun/")
    rerun = Experiment.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/experiments/{rerun.pk}/"
    assert rerun.config_text == original.config_text
    assert rerun.status == Status.CREATED
    assert rerun.source == "rerun"
    assert rerun.created_by == experimenter


@pytest.mark.parametrize("role", ["viewer", "approver", "outsider"])
def test_it_refuses_users_who_may_not_launch(
    request: pytest.FixtureRequest, client: Client, original: Experiment, role: str
) -> None:
    client.force_login(request.getfixturevalue(role))
    assert client.post(f"/experiments/{original.pk}/rerun/").status_code == 403
    assert Experiment.objects.count() == 1


def test_it_refuses_get(client: Client, experimenter: User, original: Experiment) -> None:
    client.force_login(experimenter)
    assert client.get(f"/experiments/{original.pk}/rerun/").status_code == 405
    assert Experiment.objects.count() == 1


def test_it_answers_404_for_an_unknown_experiment(client: Client, experimenter: User) -> None:
    client.force_login(experimenter)
    assert client.post("/experiments/424242/rerun/").status_code == 404
