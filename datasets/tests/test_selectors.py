from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_django.fixtures import DjangoAssertNumQueries

from datasets.models import DatasetVersion
from datasets.selectors import (
    dataset_version_get,
    dataset_version_get_by_label,
    dataset_version_list,
    dataset_version_page,
    datasets_overview,
)
from datasets.services import dataset_register
from datasets.tests.conftest import TINY_CSV

pytestmark = pytest.mark.django_db


def register_tiny_versions(
    write_data_file: Callable[[str, str | bytes], Path], name: str, count: int
) -> None:
    for number in range(1, count + 1):
        path = write_data_file(f"{name}/v{number}.csv", TINY_CSV + f"{number},0,0\n")
        dataset_register(
            name=name, version=f"v{number}", path=path, target="Class", user_name="pytest"
        )


def test_it_lists_datasets_and_versions_in_two_queries(
    write_data_file: Callable[[str, str | bytes], Path],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    register_tiny_versions(write_data_file, "alpha", 3)
    register_tiny_versions(write_data_file, "beta", 2)

    with django_assert_num_queries(2):
        overview = [
            (dataset.name, [version.version for version in dataset.versions.all()])
            for dataset in datasets_overview()
        ]

    assert overview == [("alpha", ["v3", "v2", "v1"]), ("beta", ["v2", "v1"])]


def test_it_lists_versions_in_registration_order(
    write_data_file: Callable[[str, str | bytes], Path],
) -> None:
    register_tiny_versions(write_data_file, "alpha", 2)

    assert [version.label for version in dataset_version_list()] == ["alpha:v1", "alpha:v2"]


def test_it_gets_a_version_by_name_and_version(registered_dataset: DatasetVersion) -> None:
    assert dataset_version_get("small_fraud", "v1") == registered_dataset
    assert dataset_version_get_by_label("small_fraud:v1") == registered_dataset
    assert dataset_version_page(name="small_fraud", version="v1").file_check is not None


@pytest.mark.parametrize("label", ["small_fraud:v2", "small_fraud", "other:v1"])
def test_it_raises_does_not_exist_for_an_unknown_label(
    registered_dataset: DatasetVersion, label: str
) -> None:
    with pytest.raises(DatasetVersion.DoesNotExist):
        dataset_version_get_by_label(label)
