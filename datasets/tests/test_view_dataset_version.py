from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.contrib.auth.models import User
from django.test import Client

from datasets.models import DatasetVersion
from datasets.services import dataset_register
from mlplatform.numbers import size
from mlplatform.tests.factories import make_dataset_version, make_experiment


def test_it_shows_the_profile_and_the_experiments_that_used_it(
    client: Client, viewer: User, registered_dataset: DatasetVersion
) -> None:
    used = make_experiment(registered_dataset, name="used_it")
    make_experiment(make_dataset_version(name="other"), name="did_not")
    client.force_login(viewer)
    response = client.get("/datasets/small_fraud/v1/")
    assert response.status_code == 200
    content = response.content.decode()
    assert registered_dataset.sha256 in content
    assert '<dd id="row-count">4,000</dd>' in content
    assert "<code>float64</code>" in content
    assert "1: 120 (3.00%)" in content
    assert "MiB" in content or "KiB" in content
    assert f'href="/experiments/{used.pk}/"' in content
    assert "did_not" not in content
    assert (
        f"{size(registered_dataset.size_bytes)} ({registered_dataset.size_bytes:,} bytes)"
        in content
    )
    assert "KiB" in content or "MiB" in content
    assert 'id="positive-label"' not in content  # 0/1 target: nothing to map


def test_it_shows_the_positive_label_of_a_text_target(
    client: Client, viewer: User, write_data_file: Callable[[str, str | bytes], Path]
) -> None:
    path = write_data_file("text.csv", "x,y,Class\n1,2,fraud\n3,4,ok\n")
    dataset_register(
        name="texts", version="v1", path=path, target="Class", positive_label="fraud",
        user_name="pytest",
    )  # fmt: skip
    client.force_login(viewer)
    content = client.get("/datasets/texts/v1/").content.decode()
    assert (
        '<dt>Positive label</dt><dd id="positive-label"><code>fraud</code> is trained as 1, '
        "the other class as 0</dd>"
    ) in content


def test_it_answers_404_for_an_unknown_version(client: Client, viewer: User) -> None:
    client.force_login(viewer)
    assert client.get("/datasets/small_fraud/v9/").status_code == 404


def test_it_refuses_an_outsider(client: Client, outsider: User) -> None:
    make_dataset_version()
    client.force_login(outsider)
    assert client.get("/datasets/fraud/v1/").status_code == 403


def test_it_lists_every_column_with_the_statistics_recorded_at_registration(
    client: Client, viewer: User, registered_dataset: DatasetVersion
) -> None:
    client.force_login(viewer)
    response = client.get("/datasets/small_fraud/v1/")
    columns = response.context["columns"]
    assert [column.name for column in columns] == [c["name"] for c in registered_dataset.columns]
    assert len(columns) == 31
    target = columns[-1]
    assert (target.name, target.is_target, target.minimum, target.maximum) == (
        "Class",
        True,
        "0",
        "1",
    )
    assert target.mean == "0.0300"  # 120 frauds in 4,000 rows
    assert {column.missing for column in columns} == {"0"}
    content = response.content.decode()
    assert "All 31 columns" in content
    assert "scroll-y" not in content  # no box hiding columns


def test_it_says_when_a_version_has_no_recorded_statistics(client: Client, viewer: User) -> None:
    make_dataset_version()  # written directly, as a version registered before statistics were
    client.force_login(viewer)
    response = client.get("/datasets/fraud/v1/")
    assert response.status_code == 200
    assert b'id="no-column-stats"' in response.content
    assert [column.minimum for column in response.context["columns"]] == ["-", "-"]
