from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from experiments.models import Experiment, Registration
from experiments.services import experiment_create, experiment_execute
from registry.models import ModelVersion
from registry.services import registration_record_error


@pytest.fixture
def errored(make_config: Callable[..., str]) -> Experiment:
    experiment = experiment_create(config_text=make_config())
    experiment_execute(experiment_id=experiment.pk)
    registration_record_error(experiment_id=experiment.pk, message="worker died: SIGKILL")
    return Experiment.objects.get(pk=experiment.pk)


def test_it_follows_a_registration_live_until_its_outcome(
    client: Client, viewer: User, make_config: Callable[..., str]
) -> None:
    experiment = experiment_create(config_text=make_config())
    experiment_execute(experiment_id=experiment.pk)
    client.force_login(viewer)

    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    polled = client.get(f"/experiments/{experiment.pk}/status/", HTTP_HX_REQUEST="true")

    assert "Waiting to register" in page
    assert 'hx-trigger="every 2s"' in page
    assert polled.status_code == 200  # keeps polling: no outcome yet
    Experiment.objects.filter(pk=experiment.pk).update(
        registration=Registration.GATE_FAILED, phase=""
    )
    done = client.get(f"/experiments/{experiment.pk}/status/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    assert done["HX-Refresh"] == "true"


def test_it_shows_the_error_and_offers_a_retry_to_experimenters(
    client: Client, experimenter: User, errored: Experiment
) -> None:
    client.force_login(experimenter)

    page = client.get(f"/experiments/{errored.pk}/").content.decode()

    assert "registration error" in page
    assert "worker died: SIGKILL" in page
    assert "Attempt 1 of 3; tried again automatically at " in page
    assert 'id="register-again"' in page


def test_it_says_when_no_automatic_attempt_is_left(
    client: Client, viewer: User, errored: Experiment
) -> None:
    Experiment.objects.filter(pk=errored.pk).update(
        registration_attempts=3, registration_retry_at=None
    )
    client.force_login(viewer)

    page = client.get(f"/experiments/{errored.pk}/").content.decode()

    assert "Attempt 3 of 3; no automatic attempt left." in page


def test_it_queues_the_retry_on_a_worker(
    client: Client,
    experimenter: User,
    errored: Experiment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[int] = []

    def enqueue(pk: int, connection: object = None) -> bool:
        queued.append(pk)
        return True

    monkeypatch.setattr("registry.jobs.register_job_enqueue", enqueue)
    client.force_login(experimenter)

    response = client.post(f"/registry/experiments/{errored.pk}/register/", follow=True)

    errored.refresh_from_db()
    assert response.redirect_chain == [(f"/experiments/{errored.pk}/", 302)]
    assert queued == [errored.pk]
    assert errored.registration == Registration.PENDING
    assert errored.phase == "registering"
    assert "queued to be gated again" in response.content.decode()


def test_it_does_not_offer_the_retry_to_viewers(
    client: Client, viewer: User, errored: Experiment
) -> None:
    client.force_login(viewer)

    page = client.get(f"/experiments/{errored.pk}/").content.decode()
    response = client.post(f"/registry/experiments/{errored.pk}/register/")

    assert 'id="register-again"' not in page
    assert response.status_code == 403
    errored.refresh_from_db()
    assert errored.registration == Registration.ERROR


def test_it_refuses_a_retry_of_a_registered_experiment(
    client: Client, experimenter: User, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    client.force_login(experimenter)

    response = client.post(f"/registry/experiments/{version.experiment_id}/register/", follow=True)

    assert "already registered as fraud_detector v1" in response.content.decode()
