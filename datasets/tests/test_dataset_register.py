from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from pytest_django.fixtures import Settings

from datasets import files, services
from datasets.models import Dataset, DatasetFileCheck, DatasetVersion
from datasets.selectors import dataset_version_exists
from datasets.services import dataset_register
from datasets.synthetic import column_names
from datasets.tests.conftest import TINY_CSV

pytestmark = pytest.mark.django_db


def register(path: str | Path, **overrides: Any) -> DatasetVersion:
    arguments: dict[str, Any] = {
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


def test_it_registers_a_csv_with_its_digest_and_profile(small_fraud_csv: Path) -> None:
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


def test_it_records_the_file_identity_it_verified(small_fraud_csv: Path) -> None:
    version = register(small_fraud_csv)

    check = DatasetFileCheck.objects.get(version=version)
    assert check.size_bytes == small_fraud_csv.stat().st_size
    assert check.mtime_ns == small_fraud_csv.stat().st_mtime_ns
    assert check.inode == small_fraud_csv.stat().st_ino


def test_it_writes_no_cache_at_registration(small_fraud_csv: Path, settings: Settings) -> None:
    # Writing the cache would slow registration down; the first load writes it.
    register(small_fraud_csv)

    assert not Path(settings.DATASET_CACHE_ROOT).exists()


def test_it_accepts_a_path_relative_to_data_root(
    write_data_file: Callable[[str, str | bytes], Path],
) -> None:
    write_data_file("versions/v1/tiny.csv", TINY_CSV)

    version = register("versions/v1/tiny.csv")

    assert version.path == "versions/v1/tiny.csv"
    assert version.row_count == 4


def test_it_records_the_registering_user(
    write_data_file: Callable[[str, str | bytes], Path], django_user_model: type[User]
) -> None:
    user = django_user_model.objects.create_user(username="erin")

    version = register(write_data_file("tiny.csv", TINY_CSV), user=user, user_name=None)

    assert version.registered_by == user
    assert version.registered_by_name == "erin"


def test_it_stores_the_real_path_of_a_symlink_inside_data_root(
    write_data_file: Callable[[str, str | bytes], Path], data_root: Path
) -> None:
    write_data_file("versions/v1/tiny.csv", TINY_CSV)
    (data_root / "current.csv").symlink_to(data_root / "versions/v1/tiny.csv")

    version = register("current.csv")

    assert version.path == "versions/v1/tiny.csv"


def test_it_adds_versions_to_one_dataset(
    write_data_file: Callable[[str, str | bytes], Path],
) -> None:
    register(write_data_file("a.csv", TINY_CSV), version="v1")
    register(write_data_file("b.csv", TINY_CSV + "5.5,6,0\n"), version="v2")

    assert Dataset.objects.get().versions.count() == 2


def test_it_refuses_a_missing_file(
    data_root: Path, assert_nothing_registered: Callable[[], None]
) -> None:
    message = refused(data_root / "versions" / "nope.csv")

    assert "File not found" in message
    assert "nope.csv" in message
    assert_nothing_registered()


def test_it_refuses_a_directory(
    data_root: Path, assert_nothing_registered: Callable[[], None]
) -> None:
    (data_root / "versions").mkdir()

    assert "is a directory" in refused(data_root / "versions")
    assert_nothing_registered()


def test_it_refuses_an_empty_file(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    assert "is empty (0 bytes)" in refused(write_data_file("empty.csv", ""))
    assert_nothing_registered()


def test_it_refuses_a_file_of_blank_lines(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    assert "has no header row" in refused(write_data_file("blank.csv", "\n\n\n"))
    assert_nothing_registered()


def test_it_refuses_binary_garbage(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    garbage = random.Random(0).randbytes(4096)

    message = refused(write_data_file("garbage.csv", garbage))

    assert "looks like a binary file" in message
    assert_nothing_registered()


def test_it_refuses_text_that_is_not_utf8(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    latin1 = "ville,Class\nMontréal,0\nQuébec,1\n".encode("latin-1")

    assert "is not UTF-8 text" in refused(write_data_file("latin1.csv", latin1))
    assert_nothing_registered()


def test_it_refuses_a_row_with_too_many_fields(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    ragged = "x,y,Class\n1,2,0\n3,4,1,9,9\n5,6,0\n"

    message = refused(write_data_file("ragged.csv", ragged))

    assert "could not be parsed as CSV" in message
    assert "Expected 3 fields in line 3, saw 5" in message
    assert_nothing_registered()


def test_it_refuses_a_row_with_too_few_fields(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    short = "x,Class,y\n1,0,2\n3,1\n5,0,6\n"

    message = refused(write_data_file("short.csv", short))

    assert "1 rows with empty cells (first at data row 2, columns y)" in message
    assert "short rows" in message
    assert_nothing_registered()


def test_it_refuses_a_header_without_rows(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    assert "no data rows" in refused(write_data_file("header.csv", "x,y,Class\n"))
    assert_nothing_registered()


def test_it_refuses_a_single_column_file(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    message = refused(write_data_file("one.csv", "Class\n0\n1\n"))

    assert "has 1 column" in message
    assert_nothing_registered()


def test_it_refuses_an_absolute_path_outside_data_root(
    tmp_path: Path, assert_nothing_registered: Callable[[], None]
) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text(TINY_CSV)

    message = refused(outside)

    assert message.startswith(f"{outside} is outside DATA_ROOT;")  # as the caller gave it
    assert "move or copy the file under DATA_ROOT" in message
    assert_nothing_registered()


def test_it_refuses_a_relative_path_that_climbs_out(
    tmp_path: Path, assert_nothing_registered: Callable[[], None]
) -> None:
    (tmp_path / "outside.csv").write_text(TINY_CSV)

    assert refused("../outside.csv").startswith("../outside.csv is outside DATA_ROOT;")
    assert_nothing_registered()


def test_it_refuses_a_symlink_inside_data_root_pointing_outside(
    tmp_path: Path, data_root: Path, assert_nothing_registered: Callable[[], None]
) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text(TINY_CSV)
    (data_root / "link.csv").symlink_to(outside)

    message = refused(data_root / "link.csv")

    assert message == (
        "link.csv (through a symbolic link) is outside DATA_ROOT; "
        "move or copy the file under DATA_ROOT and register it there"
    )
    assert str(tmp_path) not in message  # neither the link's target nor DATA_ROOT
    assert_nothing_registered()


def test_it_refuses_a_missing_target_column(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    message = refused(write_data_file("tiny.csv", TINY_CSV), target="Klass")

    assert "has no column 'Klass' to use as the target; its columns are x, y, Class" in message
    assert_nothing_registered()


def test_it_refuses_a_target_with_missing_values(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    gaps = "x,y,Class\n1,2,0\n3,4,\n5,6,1\n"

    message = refused(write_data_file("gaps.csv", gaps))

    assert "1 rows without a value in target column 'Class' (first at data row 2)" in message
    assert_nothing_registered()


def test_it_refuses_a_target_with_one_class(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    one_class = "x,y,Class\n1,2,0\n3,4,0\n"

    message = refused(write_data_file("one.csv", one_class))

    assert "has 1 classes in target column 'Class' (0); it must hold exactly two" in message
    assert_nothing_registered()


def test_it_refuses_a_target_with_three_classes(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    three = "x,y,Class\n1,2,0\n3,4,1\n5,6,2\n"

    message = refused(write_data_file("three.csv", three))

    assert "has 3 classes in target column 'Class' (0, 1, 2)" in message
    assert_nothing_registered()


def test_it_refuses_a_duplicate_name_and_version(
    write_data_file: Callable[[str, str | bytes], Path],
) -> None:
    first = register(write_data_file("a.csv", TINY_CSV))

    message = refused(write_data_file("b.csv", TINY_CSV + "5.5,6,0\n"))

    assert "tiny:v1 is already registered" in message
    assert list(DatasetVersion.objects.all()) == [first]
    assert DatasetFileCheck.objects.count() == 1


def test_it_refuses_a_duplicate_that_reaches_the_database_first(
    write_data_file: Callable[[str, str | bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = register(write_data_file("a.csv", TINY_CSV))
    real_exists = dataset_version_exists  # what services calls, until patched
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
    name: str,
    write_data_file: Callable[[str, str | bytes], Path],
    monkeypatch: pytest.MonkeyPatch,
    assert_nothing_registered: Callable[[], None],
) -> None:
    monkeypatch.setattr(files, "hash_and_read_csv", _must_not_be_called)

    message = refused(write_data_file("tiny.csv", TINY_CSV), name=name)

    assert message.startswith(f"Dataset name {name!r}:")
    assert_nothing_registered()


@pytest.mark.parametrize("version", ["v 1", "v1/../x", "v1;rm", ""])
def test_it_refuses_a_bad_version_before_reading_the_file(
    version: str,
    write_data_file: Callable[[str, str | bytes], Path],
    monkeypatch: pytest.MonkeyPatch,
    assert_nothing_registered: Callable[[], None],
) -> None:
    monkeypatch.setattr(files, "hash_and_read_csv", _must_not_be_called)

    message = refused(write_data_file("tiny.csv", TINY_CSV), version=version)

    assert message.startswith(f"Dataset version {version!r}:")
    assert_nothing_registered()


def test_it_refuses_a_registration_by_nobody(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    message = refused(write_data_file("tiny.csv", TINY_CSV), user=None, user_name=None)

    assert "give a user or a user name" in message
    assert_nothing_registered()


def test_it_refuses_a_file_that_changes_while_it_is_read(
    write_data_file: Callable[[str, str | bytes], Path],
    monkeypatch: pytest.MonkeyPatch,
    assert_nothing_registered: Callable[[], None],
) -> None:
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


def test_it_names_files_relative_to_data_root(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    message = refused(write_data_file("deep/er/empty.csv", ""))

    assert message == "deep/er/empty.csv is empty (0 bytes)"
    assert_nothing_registered()


# What training needs -------------------------------------------------------


def gzip_with_a_long_extra_field(csv: bytes) -> bytes:
    """A gzip member whose 64 KiB extra field has no NUL byte in it, so that
    the first 64 KiB look like text: the hostile probe's file."""
    extra = b"A" * 65_531
    header = b"\x1f\x8b\x08\x04" + b"\x01\x01\x01\x01\x02\x03" + struct.pack("<H", len(extra))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(csv) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(csv), len(csv) & 0xFFFFFFFF)
    return header + extra + body + trailer


@pytest.mark.parametrize("name", ["bomb.csv.gz", "bomb.csv"])
def test_it_refuses_a_gzip_file_whatever_its_name(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
    name: str,
) -> None:
    inflated = b"x,y,Class\n" + b"1,2,0\n1,2,1\n" * 500_000  # 6 MB from ~10 KB
    path = write_data_file(name, gzip_with_a_long_extra_field(inflated))
    assert path.stat().st_size < 100_000

    message = refused(path)

    assert message == (
        f"{name} is a gzip-compressed file; compressed files are not accepted (they can "
        "inflate without bound): decompress it and give the plain CSV"
    )
    assert_nothing_registered()


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("gzip", gzip.compress(TINY_CSV.encode())),
        ("bzip2", bz2.compress(TINY_CSV.encode())),
        ("xz", lzma.compress(TINY_CSV.encode())),
    ],
)
def test_it_refuses_compressed_files(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
    kind: str,
    content: bytes,
) -> None:
    assert f"is a {kind}-compressed file" in refused(write_data_file("data.csv", content))
    assert_nothing_registered()


def test_it_refuses_a_zip_file(
    write_data_file: Callable[[str, str | bytes], Path],
    tmp_path: Path,
    assert_nothing_registered: Callable[[], None],
) -> None:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("data.csv", TINY_CSV)

    message = refused(write_data_file("data.zip", archive.read_bytes()))

    assert "is a zip-compressed file" in message
    assert_nothing_registered()


def test_it_reads_a_plain_csv_by_its_content_not_its_name(
    write_data_file: Callable[[str, str | bytes], Path],
) -> None:
    version = register(write_data_file("plain.csv.gz", TINY_CSV))

    assert version.row_count == 4


def test_it_refuses_a_text_target_without_a_positive_label(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    text_target = "x,y,Class\n1,2,fraud\n3,4,ok\n5,6,ok\n"

    message = refused(write_data_file("text.csv", text_target))

    assert message == (
        "text.csv has the classes 'fraud' and 'ok' in target column 'Class', and training "
        "needs 0 and 1: give the positive label, the class that counts as 1 (e.g. 'fraud'); "
        "the other one counts as 0"
    )
    assert_nothing_registered()


def test_it_records_the_positive_label_of_a_text_target(
    write_data_file: Callable[[str, str | bytes], Path],
) -> None:
    text_target = "x,y,Class\n1,2,fraud\n3,4,ok\n5,6,ok\n"

    version = register(write_data_file("text.csv", text_target), positive_label="fraud")

    version.refresh_from_db()
    assert version.positive_label == "fraud"
    assert version.class_counts == {"fraud": 1, "ok": 2}


def test_it_refuses_a_positive_label_that_is_not_a_class(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    text_target = "x,y,Class\n1,2,fraud\n3,4,ok\n"

    message = refused(write_data_file("text.csv", text_target), positive_label="Fraud")

    assert "has no class 'Fraud' in target column 'Class' to use as the positive label" in message
    assert "its classes are 'fraud', 'ok'" in message
    assert_nothing_registered()


def test_it_refuses_a_numeric_target_other_than_0_and_1(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    message = refused(write_data_file("twos.csv", "x,y,Class\n1,2,1\n3,4,2\n"))

    assert "has the classes '1' and '2' in target column 'Class'" in message
    assert_nothing_registered()


def test_it_refuses_feature_columns_that_are_not_numbers(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    formulas = "x,y,Class\n1,2,0\n=CMD(),4,1\n5,6,0\n"

    message = refused(write_data_file("formulas.csv", formulas))

    assert message == (
        "formulas.csv has feature columns that are not numeric: x (e.g. '=CMD()' in 'x', "
        "data row 2); every column but the target must hold numbers (no text, no formulas)"
    )
    assert_nothing_registered()
