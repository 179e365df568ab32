from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from experiments.models import Status
from mlplatform.tests.factories import make_dataset_version, make_experiment


@pytest.fixture
def version(db: Any) -> Any:
    return make_dataset_version()


def test_it_keeps_polling_while_running_and_shows_phase_and_elapsed_time(
    client: Client, viewer: Any, version: Any
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
    client: Client, viewer: Any, version: Any, status: str
) -> None:
    experiment = make_experiment(version, status=status)
    client.force_login(viewer)
    response = client.get(f"/experiments/{experiment.pk}/status/", headers={"HX-Request": "true"})
    assert response.status_code == 286  # htmx: stop polling
    assert response["HX-Refresh"] == "true"
    assert "hx-trigger" not in response.content.decode()


def test_it_does_not_ask_a_plain_request_to_reload(
    client: Client, viewer: Any, version: Any
) -> None:
    experiment = make_experiment(version, status=Status.COMPLETED)
    client.force_login(viewer)
    response = client.get(f"/experiments/{experiment.pk}/status/")
    assert response.status_code == 286
    assert "HX-Refresh" not in response


def test_it_answers_404_for_an_unknown_experiment(client: Client, viewer: Any) -> None:
    client.force_login(viewer)
    assert client.get("/experiments/424242/status/").status_code == 404


def test_it_refuses_an_outsider(client: Client, outsider: Any, version: Any) -> None:
    experiment = make_experiment(version, status=Status.RUNNING)
    client.force_login(outsider)
    assert client.get(f"/experiments/{experiment.pk}/status/").status_code == 403
