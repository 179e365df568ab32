from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from datasets import files, services
from datasets.models import Dataset, DatasetFileCheck, DatasetVersion
from datasets.services import dataset_register
from datasets.synthetic import column_names
from datasets.tests.conftest import TINY_CSV

pytestmark = pytest.mark.django_db


def register(path: str | Path, **overrides: object) -> DatasetVersion:
    arguments: dict[str, object] = {
        "name": "tiny",
        "version": "v1",
        "path": path,
        "target": "Class",
        "user_name": "cli:tester",
    }
    arguments.update(overrides)
    return dataset_register(**arguments)


def refused(path: str | Path, **overrides: object) -> str:
    with pytest.raises(ValidationError) as caught:
        register(path, **overrides)
    return " ".join(caught.value.messages)


def test_it_registers_a_csv_with_its_digest_and_profile(small_fraud_csv):
    version = register(small_fraud_csv, name="small_fraud")

    assert version.label == "small_fraud:v1"
    assert version.path == "small_fraud/v1/small_fraud.csv"
    assert version.sha256 == hashlib.sha256(small_fraud_csv.read_bytes()).hexdigest()
    assert version.size_bytes == small_fraud_csv.stat().st_size
    assert version.row_count == 4000
    assert version.class_counts == {"0": 3880, "1": 120}
    assert [column["name"] for column in version.columns] == column_names()
    assert version.columns[0] == {"name": "Time", "dtype": "float64"}
    assert version.columns[-1] == {"name": "Class", "dtype": "int64"}
    assert version.target == "Class"
    assert version.registered_by is None
    assert version.registered_by_name == "cli:tester"


def test_it_records_the_file_identity_it_verified(small_fraud_csv):
    version = register(small_fraud_csv)

    check = DatasetFileCheck.objects.get(version=version)
    assert check.size_bytes == small_fraud_csv.stat().st_size
    assert check.mtime_ns == small_fraud_csv.stat().st_mtime_ns
    assert check.inode == small_fraud_csv.stat().st_ino


def test_it_writes_no_cache_at_registration(small_fraud_csv, settings):
    # Writing the cache would slow registration down; the first load writes it.
    register(small_fraud_csv)

    assert not Path(settings.DATASET_CACHE_ROOT).exists()


def test_it_accepts_a_path_relative_to_data_root(write_data_file):
    write_data_file("versions/v1/tiny.csv", TINY_CSV)

    version = register("versions/v1/tiny.csv")

    assert version.path == "versions/v1/tiny.csv"
    assert version.row_count == 4


def test_it_records_the_registering_user(write_data_file, django_user_model):
    user = django_user_model.objects.create_user(username="erin")

    version = register(write_data_file("tiny.csv", TINY_CSV), user=user, user_name=None)

    assert version.registered_by == user
    assert version.registered_by_name == "erin"


def test_it_stores_the_real_path_of_a_symlink_inside_data_root(write_data_file, data_root):
    write_data_file("versions/v1/tiny.csv", TINY_CSV)
    (data_root / "current.csv").symlink_to(data_root / "versions/v1/tiny.csv")

    version = register("current.csv")

    assert version.path == "versions/v1/tiny.csv"


def test_it_adds_versions_to_one_dataset(write_data_file):
    register(write_data_file("a.csv", TINY_CSV), version="v1")
    register(write_data_file("b.csv", TINY_CSV + "5.5,6,0\n"), version="v2")

    assert Dataset.objects.get().versions.count() == 2


def test_it_refuses_a_missing_file(data_root, assert_nothing_registered):
    message = refused(data_root / "versions" / "nope.csv")

    assert "File not found" in message
    assert "nope.csv" in message
    assert_nothing_registered()


def test_it_refuses_a_directory(data_root, assert_nothing_registered):
    (data_root / "versions").mkdir()

    assert "is a directory" in refused(data_root / "versions")
    assert_nothing_registered()


def test_it_refuses_an_empty_file(write_data_file, assert_nothing_registered):
    assert "is empty (0 bytes)" in refused(write_data_file("empty.csv", ""))
    assert_nothing_registered()


def test_it_refuses_a_file_of_blank_lines(write_data_file, assert_nothing_registered):
    assert "has no header row" in refused(write_data_file("blank.csv", "\n\n\n"))
    assert_nothing_registered()


def test_it_refuses_binary_garbage(write_data_file, assert_nothing_registered):
    garbage = random.Random(0).randbytes(4096)

    message = refused(write_data_file("garbage.csv", garbage))

    assert "looks like a binary file" in message
    assert_nothing_registered()


def test_it_refuses_text_that_is_not_utf8(write_data_file, assert_nothing_registered):
    latin1 = "ville,Class\nMontréal,0\nQuébec,1\n".encode("latin-1")

    assert "is not UTF-8 text" in refused(write_data_file("latin1.csv", latin1))
    assert_nothing_registered()


def test_it_refuses_a_row_with_too_many_fields(write_data_file, assert_nothing_registered):
    ragged = "x,y,Class\n1,2,0\n3,4,1,9,9\n5,6,0\n"

    message = refused(write_data_file("ragged.csv", ragged))

    assert "could not be parsed as CSV" in message
    assert "Expected 3 fields in line 3, saw 5" in message
    assert_nothing_registered()


def test_it_refuses_a_row_with_too_few_fields(write_data_file, assert_nothing_registered):
    short = "x,Class,y\n1,0,2\n3,1\n5,0,6\n"

    message = refused(write_data_file("short.csv", short))

    assert "1 rows with empty cells (first at data row 2, columns y)" in message
    assert "short rows" in message
    assert_nothing_registered()


def test_it_refuses_a_header_without_rows(write_data_file, assert_nothing_registered):
    assert "no data rows" in refused(write_data_file("header.csv", "x,y,Class\n"))
    assert_nothing_registered()


def test_it_refuses_a_single_column_file(write_data_file, assert_nothing_registered):
    message = refused(write_data_file("one.csv", "Class\n0\n1\n"))

    assert "has 1 column" in message
    assert_nothing_registered()


def test_it_refuses_an_absolute_path_outside_data_root(tmp_path, assert_nothing_registered):
    outside = tmp_path / "outside.csv"
    outside.write_text(TINY_CSV)

    message = refused(outside)

    assert "is outside DATA_ROOT" in message
    assert "move or copy the file under DATA_ROOT" in message
    assert_nothing_registered()


def test_it_refuses_a_relative_path_that_climbs_out(tmp_path, assert_nothing_registered):
    (tmp_path / "outside.csv").write_text(TINY_CSV)

    assert "is outside DATA_ROOT" in refused("../outside.csv")
    assert_nothing_registered()


def test_it_refuses_a_symlink_inside_data_root_pointing_outside(
    tmp_path, data_root, assert_nothing_registered
):
    outside = tmp_path / "outside.csv"
    outside.write_text(TINY_CSV)
    (data_root / "link.csv").symlink_to(outside)

    message = refused(data_root / "link.csv")

    assert f"resolves to {outside}" in message
    assert "is outside DATA_ROOT" in message
    assert_nothing_registered()


def test_it_refuses_a_missing_target_column(write_data_file, assert_nothing_registered):
    message = refused(write_data_file("tiny.csv", TINY_CSV), target="Klass")

    assert "has no column 'Klass' to use as the target; its columns are x, y, Class" in message
    assert_nothing_registered()


def test_it_refuses_a_target_with_missing_values(write_data_file, assert_nothing_registered):
    gaps = "x,y,Class\n1,2,0\n3,4,\n5,6,1\n"

    message = refused(write_data_file("gaps.csv", gaps))

    assert "1 rows without a value in target column 'Class' (first at data row 2)" in message
    assert_nothing_registered()


def test_it_refuses_a_target_with_one_class(write_data_file, assert_nothing_registered):
    one_class = "x,y,Class\n1,2,0\n3,4,0\n"

    message = refused(write_data_file("one.csv", one_class))

    assert "has 1 classes in target column 'Class' (0); it must hold exactly two" in message
    assert_nothing_registered()


def test_it_refuses_a_target_with_three_classes(write_data_file, assert_nothing_registered):
    three = "x,y,Class\n1,2,0\n3,4,1\n5,6,2\n"

    message = refused(write_data_file("three.csv", three))

    assert "has 3 classes in target column 'Class' (0, 1, 2)" in message
    assert_nothing_registered()


def test_it_refuses_a_duplicate_name_and_version(write_data_file):
    first = register(write_data_file("a.csv", TINY_CSV))

    message = refused(write_data_file("b.csv", TINY_CSV + "5.5,6,0\n"))

    assert "tiny:v1 is already registered" in message
    assert list(DatasetVersion.objects.all()) == [first]
    assert DatasetFileCheck.objects.count() == 1


def test_it_refuses_a_duplicate_that_reaches_the_database_first(write_data_file, monkeypatch):
    first = register(write_data_file("a.csv", TINY_CSV))
    real_exists = services.dataset_version_exists
    calls: list[str] = []

    def missed_by_the_early_check(*, name: str, version: str) -> bool:
        calls.append(version)  # as in a race: the row appears after the first look
        return len(calls) > 1 and real_exists(name=name, version=version)

    monkeypatch.setattr(services, "dataset_version_exists", missed_by_the_early_check)

    message = refused(write_data_file("b.csv", TINY_CSV + "5.5,6,0\n"))

    assert "tiny:v1 is already registered" in message
    assert list(DatasetVersion.objects.all()) == [first]
    assert Dataset.objects.count() == 1


@pytest.mark.parametrize("name", ["has space", "a/b", "..", "naïve", "", "x" * 101])
def test_it_refuses_a_bad_name_before_reading_the_file(
    name, write_data_file, monkeypatch, assert_nothing_registered
):
    monkeypatch.setattr(files, "hash_and_read_csv", _must_not_be_called)

    message = refused(write_data_file("tiny.csv", TINY_CSV), name=name)

    assert message.startswith(f"Dataset name {name!r}:")
    assert_nothing_registered()


@pytest.mark.parametrize("version", ["v 1", "v1/../x", "v1;rm", ""])
def test_it_refuses_a_bad_version_before_reading_the_file(
    version, write_data_file, monkeypatch, assert_nothing_registered
):
    monkeypatch.setattr(files, "hash_and_read_csv", _must_not_be_called)

    message = refused(write_data_file("tiny.csv", TINY_CSV), version=version)

    assert message.startswith(f"Dataset version {version!r}:")
    assert_nothing_registered()


def test_it_refuses_a_registration_by_nobody(write_data_file, assert_nothing_registered):
    message = refused(write_data_file("tiny.csv", TINY_CSV), user=None, user_name=None)

    assert "give a user or a user name" in message
    assert_nothing_registered()


def test_it_refuses_a_file_that_changes_while_it_is_read(
    write_data_file, monkeypatch, assert_nothing_registered
):
    path = write_data_file("tiny.csv", TINY_CSV)
    real_read = files.hash_and_read_csv

    def read_then_append(file_path: Path) -> tuple[str, object]:
        result = real_read(file_path)
        with file_path.open("a") as handle:
            handle.write("9,9,0\n")
        return result

    monkeypatch.setattr(files, "hash_and_read_csv", read_then_append)

    assert "changed while it was being read" in refused(path)
    assert_nothing_registered()


def _must_not_be_called(path: Path) -> None:
    raise AssertionError(f"{path} was read although the input was invalid")
