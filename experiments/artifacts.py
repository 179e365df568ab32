"""Model artifacts in the "artifacts" storage, each checked against its digest."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from django.core.files.base import ContentFile
from django.core.files.storage import storages


class ArtifactIntegrityError(Exception):
    """The stored bytes no longer match the recorded digest, or are gone."""


@dataclass(frozen=True)
class StoredArtifact:
    path: str
    sha256: str
    size: int


def artifact_write(*, experiment_id: int, filename: str, data: bytes) -> StoredArtifact:
    storage = storages["artifacts"]
    path = f"experiments/{experiment_id}/{filename}"
    # A retried run may find its own leftover; the row, not the file, is the truth.
    if storage.exists(path):
        storage.delete(path)
    saved_path = storage.save(path, ContentFile(data))
    return StoredArtifact(path=saved_path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


# Artifacts are copied in chunks of this size; a copy larger than
# SPOOL_MEMORY_BYTES goes to a temporary file instead of memory.
CHUNK_BYTES = 1024 * 1024
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024


def artifact_verify(*, path: str, sha256: str) -> None:
    """Hash the stored bytes and compare: no copy is kept (a decision that
    only needs to know the file is unchanged, with a lock held)."""
    storage = storages["artifacts"]
    if not path or not storage.exists(path):
        raise ArtifactIntegrityError(f"artifact {path or '(none)'} is missing from storage")
    digest = hashlib.sha256()
    with storage.open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise ArtifactIntegrityError(
            f"artifact {path} does not match its recorded SHA-256 "
            f"(recorded {sha256[:12]}…, found {digest.hexdigest()[:12]}…)"
        )


def experiment_artifact_open(*, experiment: Any) -> IO[bytes]:
    """The model file of a COMPLETED experiment, registered or not, checked
    against the digest recorded when it completed (ArtifactIntegrityError if
    it changed or is gone; LookupError if the experiment has no model). The
    page and the API download through here. The caller closes it."""
    if experiment.status != "completed" or not experiment.artifact_path:
        raise LookupError(f"experiment #{experiment.pk} has no model: it is {experiment.status}")
    return artifact_open(path=experiment.artifact_path, sha256=experiment.artifact_sha256)


def artifact_read(*, path: str, sha256: str) -> bytes:
    """The artifact's bytes, after checking them against sha256."""
    with artifact_open(path=path, sha256=sha256) as handle:
        return handle.read()


def artifact_open(*, path: str, sha256: str) -> IO[bytes]:
    """A private, verified copy of the artifact, positioned at its start: the
    bytes are hashed as they are copied, so what the caller reads is exactly
    what was checked, whatever happens to the stored file meanwhile. Memory
    stays bounded for large models (the copy spills to a temporary file).
    The caller closes it."""
    storage = storages["artifacts"]
    if not path or not storage.exists(path):
        raise ArtifactIntegrityError(f"artifact {path or '(none)'} is missing from storage")
    copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (returned)
    digest = hashlib.sha256()
    try:
        with storage.open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
                digest.update(chunk)
                copy.write(chunk)
        actual = digest.hexdigest()
        if actual != sha256:
            raise ArtifactIntegrityError(
                f"artifact {path} does not match its recorded SHA-256 "
                f"(recorded {sha256[:12]}…, found {actual[:12]}…); refusing to load it"
            )
    except BaseException:
        copy.close()
        raise
    copy.seek(0)
    return copy


def artifact_delete(*, path: str) -> None:
    storage = storages["artifacts"]
    if path and storage.exists(path):
        storage.delete(path)
