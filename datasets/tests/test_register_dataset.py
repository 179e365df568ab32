from __future__ import annotations

import hashlib
import io
import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from datasets.models import DatasetVersion
from datasets.tests.conftest import TINY_CSV
from mlplatform.numbers import size

pytestmark = pytest.mark.django_db


def run(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command("register_dataset", *args, stdout=out, **options)
    return out.getvalue()


def test_it_registers_and_prints_the_digest_and_profile(small_fraud_csv: Path) -> None:
    output = run("small_fraud", "v1", str(small_fraud_csv), target="Class")

    digest = hashlib.sha256(small_fraud_csv.read_bytes()).hexdigest()
    assert "Registered small_fraud:v1" in output
    assert f"sha256   {digest}" in output
    assert "rows     4,000" in output
    assert "columns  31: Time, V1, V2" in output
    assert "target   Class (0: 3,880, 1: 120)" in output
    assert f"({small_fraud_csv.stat().st_size:,} bytes)" in output
    assert f"size     {size(small_fraud_csv.stat().st_size)} (" in output
    assert " MiB (" in output  # binary units, labelled as such
    assert DatasetVersion.objects.get().sha256 == digest


def test_it_records_and_prints_the_positive_label(
    write_data_file: Callable[[str, str | bytes], Path],
) -> None:
    path = write_data_file("text.csv", "x,y,Class\n1,2,fraud\n3,4,ok\n5,6,ok\n")

    output = run("texts", "v1", str(path), target="Class", positive_label="fraud")

    assert DatasetVersion.objects.get().positive_label == "fraud"
    assert (
        "target   Class (fraud: 1, ok: 2), positive label 'fraud' (trained as 1, "
        "the other class as 0)"
    ) in output


def test_it_refuses_a_text_target_without_a_positive_label(
    write_data_file: Callable[[str, str | bytes], Path],
    assert_nothing_registered: Callable[[], None],
) -> None:
    path = write_data_file("text.csv", "x,y,Class\n1,2,fraud\n3,4,ok\n")

    with pytest.raises(CommandError, match="training needs 0 and 1: give the positive label"):
        run("texts", "v1", str(path), target="Class")
    assert_nothing_registered()


def test_it_takes_a_path_relative_to_the_current_directory(
    small_fraud_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(small_fraud_csv.parent.parent)

    run("small_fraud", "v1", "v1/small_fraud.csv", target="Class")

    assert DatasetVersion.objects.get().path == "small_fraud/v1/small_fraud.csv"


def test_it_records_the_os_account_of_the_real_uid_without_user_option(
    small_fraud_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$USER and $LOGNAME are the caller's to set; the uid is not."""
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")

    run("small_fraud", "v1", str(small_fraud_csv), target="Class", description="demo")

    version = DatasetVersion.objects.get()
    account = pwd.getpwuid(os.getuid()).pw_name
    assert (version.registered_by, version.registered_by_name) == (None, f"cli:{account}")
    assert version.description == "demo"


def test_it_records_the_given_user(small_fraud_csv: Path, django_user_model: type[User]) -> None:
    user = django_user_model.objects.create_user(username="erin")

    run("small_fraud", "v1", str(small_fraud_csv), target="Class", user="erin")

    version = DatasetVersion.objects.get()
    assert (version.registered_by, version.registered_by_name) == (user, "erin")


def test_it_refuses_an_unknown_user(
    small_fraud_csv: Path, assert_nothing_registered: Callable[[], None]
) -> None:
    with pytest.raises(CommandError, match="user 'nobody' does not exist"):
        run("small_fraud", "v1", str(small_fraud_csv), target="Class", user="nobody")
    assert_nothing_registered()


def test_it_refuses_a_duplicate_and_keeps_the_first(small_fraud_csv: Path) -> None:
    run("small_fraud", "v1", str(small_fraud_csv), target="Class")

    with pytest.raises(CommandError, match="small_fraud:v1 is already registered"):
        run("small_fraud", "v1", str(small_fraud_csv), target="Class")
    assert DatasetVersion.objects.count() == 1


# Each bad input: (arguments built under DATA_ROOT, part of the expected message).
BadInput = Callable[[Path], list[str]]


def _missing(root: Path) -> list[str]:
    return ["tiny", "v1", str(root / "nope.csv")]


def _directory(root: Path) -> list[str]:
    (root / "folder").mkdir()
    return ["tiny", "v1", str(root / "folder")]


def _file(root: Path, content: str | bytes, name: str = "tiny.csv") -> str:
    path = root / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def _empty(root: Path) -> list[str]:
    return ["tiny", "v1", _file(root, "")]


def _binary(root: Path) -> list[str]:
    return ["tiny", "v1", _file(root, bytes(range(256)) * 8)]


def _ragged(root: Path) -> list[str]:
    return ["tiny", "v1", _file(root, "x,y,Class\n1,2,0\n1,2,3,4\n")]


def _outside(root: Path) -> list[str]:
    return ["tiny", "v1", _file(root.parent, TINY_CSV)]


def _climbing(root: Path) -> list[str]:
    _file(root.parent, TINY_CSV)
    return ["tiny", "v1", f"{root}/../tiny.csv"]


def _symlink_out(root: Path) -> list[str]:
    (root / "link.csv").symlink_to(_file(root.parent, TINY_CSV))
    return ["tiny", "v1", str(root / "link.csv")]


def _no_target(root: Path) -> list[str]:
    return ["tiny", "v1", _file(root, "x,y,label\n1,2,0\n3,4,1\n")]


def _target_gap(root: Path) -> list[str]:
    return ["tiny", "v1", _file(root, "x,y,Class\n1,2,0\n3,4,\n5,6,1\n")]


def _one_class(root: Path) -> list[str]:
    return ["tiny", "v1", _file(root, "x,y,Class\n1,2,1\n3,4,1\n")]


def _three_classes(root: Path) -> list[str]:
    return ["tiny", "v1", _file(root, "x,y,Class\n1,2,0\n3,4,1\n5,6,2\n")]


def _bad_name(root: Path) -> list[str]:
    return ["tiny data", "v1", _file(root, TINY_CSV)]


def _bad_version(root: Path) -> list[str]:
    return ["tiny", "v1/x", _file(root, TINY_CSV)]


BAD_INPUTS: dict[str, tuple[BadInput, str]] = {
    "missing file": (_missing, "File not found"),
    "directory": (_directory, "is a directory"),
    "empty file": (_empty, "is empty (0 bytes)"),
    "binary garbage": (_binary, "looks like a binary file"),
    "ragged rows": (_ragged, "could not be parsed as CSV"),
    "outside DATA_ROOT": (_outside, "is outside DATA_ROOT"),
    "../ out of DATA_ROOT": (_climbing, "is outside DATA_ROOT"),
    "symlink out of DATA_ROOT": (_symlink_out, "is outside DATA_ROOT"),
    "no target column": (_no_target, "has no column 'Class'"),
    "target with NaN": (_target_gap, "1 rows without a value in target column 'Class'"),
    "one class": (_one_class, "has 1 classes in target column 'Class'"),
    "three classes": (_three_classes, "has 3 classes in target column 'Class'"),
    "bad name": (_bad_name, "Dataset name 'tiny data'"),
    "bad version": (_bad_version, "Dataset version 'v1/x'"),
}


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_it_fails_on_bad_input_and_writes_nothing(
    case: tuple[BadInput, str], data_root: Path, assert_nothing_registered: Callable[[], None]
) -> None:
    build_arguments, expected = case

    with pytest.raises(CommandError) as caught:
        run(*build_arguments(data_root), target="Class")

    assert expected in str(caught.value)
    assert_nothing_registered()
