"""Registering an uploaded data file: stored under DATA_ROOT/uploads/<name>/
<version>/ and then registered by the same service as the command, so the
same validations apply. Nothing stays behind when registration fails."""

from __future__ import annotations

import contextlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest
from django.utils.text import get_valid_filename

from datasets.models import DatasetVersion
from datasets.services import dataset_register
from mlplatform.typing import Actor

UPLOAD_DIRECTORY = "uploads"


class SizeLimitedUploadHandler(FileUploadHandler):
    """Stops storing an upload as soon as it passes the limit, so an oversized
    file never fills the disk; `exceeded` tells the form why the file is missing."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            # Read and discard the rest (no disk), so the browser gets the form back.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def upload_destination(*, name: str, version: str, filename: str) -> Path:
    root = (Path(settings.DATA_ROOT) / UPLOAD_DIRECTORY).resolve()
    try:
        safe_name = get_valid_filename(Path(filename).name)
    except SuspiciousFileOperation:
        raise ValidationError(f"{filename!r} is not a usable file name") from None
    destination = (root / name / version / safe_name).resolve()
    if not destination.is_relative_to(root):
        raise ValidationError("the upload would be stored outside DATA_ROOT/uploads")
    return destination


def _store(upload: UploadedFile, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        with destination.open("xb") as out:  # never overwrite a file a version may use
            for chunk in upload.chunks():
                out.write(chunk)
    except FileExistsError:
        relative = destination.relative_to(Path(settings.DATA_ROOT).resolve())
        raise ValidationError(
            f"{relative} already exists under DATA_ROOT; "
            "register it by path, or choose another version"
        ) from None


def _remove(destination: Path) -> None:
    destination.unlink(missing_ok=True)
    uploads = (Path(settings.DATA_ROOT) / UPLOAD_DIRECTORY).resolve()
    for directory in (destination.parent, destination.parent.parent):
        if directory != uploads:
            with contextlib.suppress(OSError):  # not empty: another version lives there
                directory.rmdir()


def dataset_upload_register(
    *,
    upload: UploadedFile,
    name: str,
    version: str,
    target: str,
    positive_label: str = "",
    description: str = "",
    user: Actor = None,
) -> DatasetVersion:
    """Store the upload and register it; on any failure remove what was stored."""
    destination = upload_destination(name=name, version=version, filename=upload.name or "")
    _store(upload, destination)
    try:
        return dataset_register(
            name=name,
            version=version,
            path=str(destination),
            target=target,
            positive_label=positive_label,
            description=description,
            user=user,
        )
    except BaseException:
        _remove(destination)
        raise
