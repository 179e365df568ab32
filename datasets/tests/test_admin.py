from __future__ import annotations

import pytest
from django.test import Client

from datasets.models import DatasetVersion

pytestmark = pytest.mark.django_db

VERSIONS = "/admin/datasets/datasetversion/"
DATASETS = "/admin/datasets/dataset/"


def test_it_lists_versions_with_their_profile(
    admin_client: Client, registered_dataset: DatasetVersion
) -> None:
    response = admin_client.get(VERSIONS)

    assert response.status_code == 200
    page = response.content.decode()
    for text in ("small_fraud", "v1", "4000", "0: 3,880, 1: 120", "pytest"):
        assert text in page
    assert f"{registered_dataset.sha256[:12]}…" in page
    assert "Add dataset version" not in page
    assert " KiB<" in page or " MiB<" in page  # binary units, labelled as such


def test_it_shows_a_version_read_only(
    admin_client: Client, registered_dataset: DatasetVersion
) -> None:
    response = admin_client.get(f"{VERSIONS}{registered_dataset.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert registered_dataset.sha256 in page
    assert "Time (float64)" in page
    assert 'name="_save"' not in page


def test_it_refuses_to_change_a_version(
    admin_client: Client, registered_dataset: DatasetVersion
) -> None:
    response = admin_client.post(
        f"{VERSIONS}{registered_dataset.pk}/change/",
        {"version": "v2", "description": "edited", "sha256": "0" * 64, "target": "Amount"},
    )

    assert response.status_code == 403
    registered_dataset.refresh_from_db()
    assert (registered_dataset.version, registered_dataset.target) == ("v1", "Class")
    assert registered_dataset.description == "Synthetic fraud data for tests."


def test_it_refuses_to_add_a_version(
    admin_client: Client, registered_dataset: DatasetVersion
) -> None:
    assert admin_client.get(f"{VERSIONS}add/").status_code == 403
    assert admin_client.post(f"{VERSIONS}add/", {"version": "v9"}).status_code == 403
    assert DatasetVersion.objects.count() == 1


def test_it_refuses_to_delete_a_version(
    admin_client: Client, registered_dataset: DatasetVersion
) -> None:
    response = admin_client.post(f"{VERSIONS}{registered_dataset.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert DatasetVersion.objects.count() == 1


def test_it_lists_datasets_with_version_counts(
    admin_client: Client, registered_dataset: DatasetVersion
) -> None:
    response = admin_client.get(DATASETS)

    assert response.status_code == 200
    assert "small_fraud" in response.content.decode()
    assert admin_client.get(f"{DATASETS}add/").status_code == 403


def test_it_shows_a_dataset_with_its_versions(
    admin_client: Client, registered_dataset: DatasetVersion
) -> None:
    response = admin_client.get(f"{DATASETS}{registered_dataset.dataset_id}/change/")

    assert response.status_code == 200
    assert "0: 3,880, 1: 120" in response.content.decode()
