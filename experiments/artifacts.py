"""Model artifacts in the "artifacts" storage, each checked against its digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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


def artifact_read(*, path: str, sha256: str) -> bytes:
    storage = storages["artifacts"]
    if not path or not storage.exists(path):
        raise ArtifactIntegrityError(f"artifact {path or '(none)'} is missing from storage")
    with storage.open(path, "rb") as handle:
        data = handle.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactIntegrityError(
            f"artifact {path} does not match its recorded SHA-256 "
            f"(recorded {sha256[:12]}…, found {actual[:12]}…); refusing to load it"
        )
    return data


def artifact_delete(*, path: str) -> None:
    storage = storages["artifacts"]
    if path and storage.exists(path):
        storage.delete(path)
