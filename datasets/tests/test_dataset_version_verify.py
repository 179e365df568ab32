from __future__ import annotations

import os
from pathlib import Path

import pytest

from datasets import files
from datasets.models import DatasetFileCheck, DatasetVersion
from datasets.services import VerifyStatus, dataset_version_verify

pytestmark = pytest.mark.django_db


def rewrite_in_place_keeping_mtime(path: Path) -> None:
    """Same size, same inode, same mtime, different bytes: only a full hash can tell."""
    status = path.stat()
    with path.open("r+b") as handle:
        handle.seek(-2, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-2, os.SEEK_END)
        handle.write(b"1" if last == b"0" else b"0")
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_it_reports_an_intact_file_as_ok(registered_dataset: DatasetVersion) -> None:
    result = dataset_version_verify(version=registered_dataset, full=True)

    assert result.status is VerifyStatus.OK
    assert result.ok
    assert result.message == ""


def test_it_remembers_when_a_full_check_passed(registered_dataset: DatasetVersion) -> None:
    before = DatasetFileCheck.objects.get(version=registered_dataset).verified_at

    dataset_version_verify(version=registered_dataset, full=True)

    assert DatasetFileCheck.objects.get(version=registered_dataset).verified_at > before


def test_it_skips_the_hash_of_an_unchanged_file_unless_full(
    registered_dataset: DatasetVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[Path] = []
    real_sha256 = files.file_sha256

    def recorded_sha256(path: Path) -> str:
        hashed.append(path)
        return real_sha256(path)

    monkeypatch.setattr(files, "file_sha256", recorded_sha256)

    assert dataset_version_verify(version=registered_dataset, full=False).ok
    assert hashed == []
    assert dataset_version_verify(version=registered_dataset, full=True).ok
    assert len(hashed) == 1


def test_it_finds_a_change_hidden_from_the_quick_check_when_full(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    rewrite_in_place_keeping_mtime(small_fraud_csv)

    assert dataset_version_verify(version=registered_dataset, full=False).ok
    result = dataset_version_verify(version=registered_dataset, full=True)

    assert result.status is VerifyStatus.MISMATCH
    assert "no longer matches its registered SHA-256" in result.message


def test_it_reports_a_changed_size_as_mismatch(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    with small_fraud_csv.open("a") as handle:
        handle.write("\n")

    result = dataset_version_verify(version=registered_dataset, full=False)

    assert result.status is VerifyStatus.MISMATCH
    assert "no longer matches its registered size" in result.message


def test_it_reports_a_missing_file(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    small_fraud_csv.unlink()

    result = dataset_version_verify(version=registered_dataset, full=True)

    assert result.status is VerifyStatus.MISSING
    assert result.message.startswith("small_fraud:v1: file ")
    assert "is missing" in result.message


def test_it_does_not_remember_a_failed_check(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    before = DatasetFileCheck.objects.get(version=registered_dataset)
    rewrite_in_place_keeping_mtime(small_fraud_csv)

    dataset_version_verify(version=registered_dataset, full=True)

    assert DatasetFileCheck.objects.get(version=registered_dataset).verified_at == (
        before.verified_at
    )


def test_it_reports_a_symlink_loop_as_missing(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    small_fraud_csv.unlink()
    small_fraud_csv.symlink_to(small_fraud_csv)

    result = dataset_version_verify(version=registered_dataset, full=True)

    assert result.status is VerifyStatus.MISSING
    assert "cannot be resolved" in result.message
