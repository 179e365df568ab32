"""Artifacts in the "artifacts" storage, read back only when they match their digest."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from django.core.files.storage import storages

from experiments import artifacts
from experiments.artifacts import (
    ArtifactIntegrityError,
    artifact_open,
    artifact_read,
    artifact_write,
)

# Not a multiple of the chunk size, and larger than the memory limit below.
DATA = os.urandom(10_000)
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch, data_root: Path) -> None:
    # data_root gives the test a private artifact folder.
    monkeypatch.setattr(artifacts, "CHUNK_BYTES", 1024)
    monkeypatch.setattr(artifacts, "SPOOL_MEMORY_BYTES", 4096)


def test_it_writes_and_reads_back_the_same_bytes_with_their_digest() -> None:
    stored = artifact_write(experiment_id=7, filename="model.skops", data=DATA)

    assert stored.path == "experiments/7/model.skops"
    assert stored.sha256 == DIGEST
    assert stored.size == len(DATA)
    assert artifact_read(path=stored.path, sha256=DIGEST) == DATA


def test_it_opens_a_verified_copy_that_outlives_changes_to_the_stored_file() -> None:
    stored = artifact_write(experiment_id=7, filename="model.skops", data=DATA)

    with artifact_open(path=stored.path, sha256=DIGEST) as copy:
        storages["artifacts"].delete(stored.path)
        assert copy.read() == DATA


def test_it_refuses_bytes_that_no_longer_match_the_digest() -> None:
    stored = artifact_write(experiment_id=7, filename="model.skops", data=DATA)
    with open(storages["artifacts"].path(stored.path), "r+b") as handle:  # noqa: PTH123
        handle.seek(5000)
        handle.write(b"X")

    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded SHA-256"):
        artifact_open(path=stored.path, sha256=DIGEST)


def test_it_refuses_a_missing_artifact() -> None:
    with pytest.raises(ArtifactIntegrityError, match="is missing from storage"):
        artifact_read(path="experiments/8/model.skops", sha256=DIGEST)
    with pytest.raises(ArtifactIntegrityError, match=r"\(none\) is missing"):
        artifact_read(path="", sha256=DIGEST)
