"""Any COMPLETED experiment's model can be downloaded, registered or not,
digest-verified, with the permission a registered version's download needs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from experiments.models import Experiment
from experiments.services import experiment_create, experiment_execute


@pytest.fixture
def unregistered(make_config: Callable[..., str]) -> Experiment:
    experiment = experiment_create(config_text=make_config(model_name=None))
    experiment_execute(experiment_id=experiment.pk)
    return Experiment.objects.get(pk=experiment.pk)


def test_it_downloads_the_model_of_a_run_that_was_never_registered(
    client: Client, viewer: User, unregistered: Experiment
) -> None:
    client.force_login(viewer)

    page = client.get(f"/experiments/{unregistered.pk}/").content.decode()
    response = client.get(f"/experiments/{unregistered.pk}/model/")

    assert 'id="download-model"' in page
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert hashlib.sha256(body).hexdigest() == unregistered.artifact_sha256
    assert response["X-Artifact-SHA256"] == unregistered.artifact_sha256
    assert f"experiment-{unregistered.pk}.skops" in response["Content-Disposition"]


def test_it_refuses_a_model_whose_bytes_changed(
    client: Client, viewer: User, unregistered: Experiment
) -> None:
    path = Path(settings.ARTIFACT_ROOT) / unregistered.artifact_path
    path.write_bytes(path.read_bytes() + b"x")
    client.force_login(viewer)

    response = client.get(f"/experiments/{unregistered.pk}/model/")

    assert response.status_code == 409
    assert "does not match its recorded SHA-256" in response.content.decode()


def test_it_answers_404_for_a_run_without_a_model(
    client: Client, viewer: User, make_config: Callable[..., str]
) -> None:
    created = experiment_create(config_text=make_config())
    client.force_login(viewer)

    assert client.get(f"/experiments/{created.pk}/model/").status_code == 404


def test_it_refuses_an_outsider(client: Client, outsider: User, unregistered: Experiment) -> None:
    client.force_login(outsider)

    assert client.get(f"/experiments/{unregistered.pk}/model/").status_code == 403
