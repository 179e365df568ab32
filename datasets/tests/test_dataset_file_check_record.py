from __future__ import annotations

import pytest

from datasets.files import FileIdentity
from datasets.models import DatasetFileCheck, DatasetVersion
from datasets.services import dataset_file_check_record

pytestmark = pytest.mark.django_db


def test_it_replaces_the_previous_check_of_a_version(registered_dataset: DatasetVersion) -> None:
    identity = FileIdentity(size_bytes=10, mtime_ns=123, inode=456)

    check = dataset_file_check_record(version=registered_dataset, identity=identity)

    assert DatasetFileCheck.objects.get() == check
    assert (check.size_bytes, check.mtime_ns, check.inode) == (10, 123, 456)


def test_it_creates_a_check_for_a_version_without_one(registered_dataset: DatasetVersion) -> None:
    DatasetFileCheck.objects.all().delete()
    identity = FileIdentity(size_bytes=1, mtime_ns=2, inode=3)

    dataset_file_check_record(version=registered_dataset, identity=identity)

    assert DatasetFileCheck.objects.get(version=registered_dataset).inode == 3
