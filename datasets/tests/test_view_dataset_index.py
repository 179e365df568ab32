from __future__ import annotations

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from datasets.models import DatasetVersion
from mlplatform.numbers import size
from mlplatform.tests.factories import make_dataset_version, make_experiment


def test_it_lists_datasets_with_their_versions_profiles_and_usage(
    client: Client, viewer: User, registered_dataset: DatasetVersion
) -> None:
    make_experiment(registered_dataset)
    client.force_login(viewer)
    response = client.get("/datasets/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'href="/datasets/small_fraud/v1/"' in content
    assert "Class=1: 120 (3.00%)" in content
    assert registered_dataset.sha256[:10] in content
    assert f'<td class="num">{size(registered_dataset.size_bytes)}</td>' in content
    (version,) = response.context["datasets"][0].versions.all()
    assert version.experiment_count == 1


def test_its_query_count_does_not_grow_with_the_versions(client: Client, viewer: User) -> None:
    client.force_login(viewer)
    make_dataset_version(version="v1")
    with CaptureQueriesContext(connection) as few:
        client.get("/datasets/")
    for number in range(2, 12):
        make_dataset_version(name=f"d{number % 3}", version=f"v{number}")
    with CaptureQueriesContext(connection) as many:
        client.get("/datasets/")
    assert len(many) == len(few)


def test_it_refuses_an_outsider(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    assert client.get("/datasets/").status_code == 403


def test_it_requires_login(client: Client) -> None:
    assert client.get("/datasets/").status_code == 302
