"""Writes for datasets: registering a file, verifying it, and loading it for training."""

from __future__ import annotations

import enum
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from datasets import files, identity
from datasets.models import (
    Dataset,
    DatasetCacheDigest,
    DatasetFileCheck,
    DatasetRowIdentities,
    DatasetVersion,
)
from datasets.profiling import FrameProfile, ProfileError, column_specs, frame_profile
from datasets.selectors import dataset_file_check_get, dataset_version_exists
from mlplatform.users import acting_user

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from mlplatform.typing import Actor

logger = logging.getLogger(__name__)

AUTHORITATIVE = "the database record is authoritative — restore the file or register a new version"


class VerifyStatus(enum.StrEnum):
    OK = "OK"
    MISMATCH = "MISMATCH"
    MISSING = "MISSING"


@dataclass(frozen=True)
class VerifyResult:
    version: DatasetVersion
    status: VerifyStatus
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status is VerifyStatus.OK


def dataset_register(
    *,
    name: str,
    version: str,
    path: str | os.PathLike[str],
    target: str,
    positive_label: str = "",
    description: str = "",
    user: Actor = None,
    user_name: str | None = None,
) -> DatasetVersion:
    """Hash and profile a CSV under DATA_ROOT and record it as name:version.

    `path` is absolute or relative to DATA_ROOT. The file must be what training
    needs: numeric features and a target of 0 and 1, or of two classes of which
    `positive_label` names the one training counts as 1. The slow hash and parse
    run before the transaction, so no database write lock is held meanwhile.
    """
    _validate_label(name=name, version=version)
    registrant = acting_user(user)
    registered_by_name = _registered_by_name(user=registrant, user_name=user_name)
    if dataset_version_exists(name=name, version=version):
        raise ValidationError(_duplicate_message(name=name, version=version))
    file_path = _registrable_file(path)
    identity = files.file_identity(file_path)
    digest, frame = _hash_and_read(file_path)
    if files.file_identity(file_path) != identity:
        raise ValidationError(
            f"{_display(file_path)} changed while it was being read; "
            "register it again once it is complete"
        )
    profile = _profile(frame, target=target, positive_label=positive_label, file_path=file_path)
    row = DatasetVersion(
        version=version,
        path=file_path.relative_to(_data_root()).as_posix(),
        sha256=digest,
        size_bytes=identity.size_bytes,
        row_count=profile.row_count,
        columns=profile.columns,
        target=target,
        positive_label=positive_label,
        class_counts=profile.class_counts,
        column_stats=profile.column_stats,
        description=description,
        registered_by=registrant,
        registered_by_name=registered_by_name,
    )
    return _save_new_version(row, name=name, identity=identity)


def dataset_version_load(*, version: DatasetVersion) -> pd.DataFrame:
    """The one way training reads a dataset version.

    Refuses (ValidationError) when the file is missing or no longer matches its
    registered size and SHA-256. Re-hashes only when the file's size, mtime or
    inode changed since the last check. Reads the Arrow cache (keyed by
    digest) when present, else the CSV, which it then caches. The frame has the
    registered columns and dtypes and a RangeIndex 0..n-1: row positions are
    row identities for training.
    """
    cache_path = _cache_path(version)
    if cache_path.is_file():
        _check_file(version, full=False)
        frame = _read_cache(cache_path, version)
        if frame is not None:
            return _with_row_positions(frame)
    return _with_row_positions(_read_csv_and_cache(version, cache_path))


def dataset_cache_verify(*, version: DatasetVersion) -> str:
    """The state of this host's cache of the version: "none", "ok", or
    "mismatch" (its bytes are not those recorded when it was written from
    the verified file: it is removed, and rebuilt from the file on next use)."""
    cache_path = _cache_path(version)
    if not cache_path.is_file():
        return "none"
    recorded = _recorded_cache_digest(version)
    if recorded is not None and files.file_sha256(cache_path) == recorded:
        return "ok"
    cache_path.unlink(missing_ok=True)
    return "mismatch"


def dataset_version_verify(*, version: DatasetVersion, full: bool) -> VerifyResult:
    """Check the file against its registration; `full` re-hashes even if it looks unchanged."""
    try:
        _check_file(version, full=full)
    except ValidationError as error:
        return VerifyResult(
            version=version, status=VerifyStatus(error.code or ""), message=error.messages[0]
        )
    return VerifyResult(version=version, status=VerifyStatus.OK)


def dataset_version_row_identities(
    *, version: DatasetVersion, frame: pd.DataFrame | None = None
) -> np.ndarray:
    """The identity of every row of the version (datasets.identity), in file
    order. Computed on first use, from `frame` when the caller has just loaded
    the version, else from the verified file, and stored; later calls read it."""
    stored = DatasetRowIdentities.objects.filter(version=version).only("hashes").first()
    if stored is not None:
        return identity.identities_from_bytes(bytes(stored.hashes))
    if frame is None:
        frame = dataset_version_load(version=version)
    if len(frame) != version.row_count:
        raise ValueError(
            f"{version.label}: the frame has {len(frame)} rows, not {version.row_count}"
        )
    hashes = identity.row_identities(frame, version.target)
    data = identity.identities_to_bytes(hashes)
    try:
        with transaction.atomic():
            DatasetRowIdentities.objects.create(
                version=version,
                method=identity.METHOD,
                columns=identity.identity_columns(frame, version.target),
                hashes=data,
                sha256=hashlib.sha256(data).hexdigest(),
            )
    except IntegrityError:
        pass  # computed at the same moment by another process, from the same file
    return hashes


def dataset_file_check_record(
    *, version: DatasetVersion, identity: files.FileIdentity
) -> DatasetFileCheck:
    """Remember the identity of a file whose digest was just verified."""
    check, _ = DatasetFileCheck.objects.update_or_create(
        version=version,
        defaults={
            "size_bytes": identity.size_bytes,
            "mtime_ns": identity.mtime_ns,
            "inode": identity.inode,
            "verified_at": timezone.now(),
        },
    )
    return check


# Registration ---------------------------------------------------------------


def _validate_label(*, name: str, version: str) -> None:
    # Checked before the file is touched: names end up in paths and URLs.
    fields = [(Dataset._meta.get_field("name"), name)]
    fields.append((DatasetVersion._meta.get_field("version"), version))
    for field, value in fields:
        try:
            field.clean(value, None)
        except ValidationError as error:
            message = " ".join(error.messages)
            raise ValidationError(f"Dataset {field.name} {value!r}: {message}") from None


def _registered_by_name(*, user: User | None, user_name: str | None) -> str:
    if user is not None:
        return user.get_username()
    if user_name:
        return user_name
    raise ValidationError("Say who registers the dataset: give a user or a user name.")


def _duplicate_message(*, name: str, version: str) -> str:
    return (
        f"{name}:{version} is already registered, and versions never change; "
        "register the file under a new version name"
    )


def data_file_path(path: str | os.PathLike[str]) -> Path:
    """The real path of a regular, non-empty file under DATA_ROOT (absolute, or
    relative to DATA_ROOT; symlinks that leave it are refused), by the rule
    registration applies; ValidationError naming the problem otherwise."""
    return _registrable_file(path)


def _registrable_file(path: str | os.PathLike[str]) -> Path:
    candidate, resolved = _resolve(path)
    shown = _display(candidate, given=path)
    if not resolved.is_relative_to(_data_root()):
        raise ValidationError(
            f"{shown}{_through_a_link(candidate)} is outside DATA_ROOT; "
            "move or copy the file under DATA_ROOT and register it there"
        )
    if not resolved.exists():
        raise ValidationError(f"File not found: {shown}")
    if resolved.is_dir():
        raise ValidationError(f"{shown} is a directory; give the path of a CSV file")
    if not resolved.is_file():
        raise ValidationError(f"{shown} is not a regular file")
    if resolved.stat().st_size == 0:
        raise ValidationError(f"{shown} is empty (0 bytes)")
    return resolved


def _hash_and_read(file_path: Path) -> tuple[str, pd.DataFrame]:
    try:
        return files.hash_and_read_csv(file_path)
    except files.CsvError as error:
        raise ValidationError(f"{_display(file_path)} {error}") from None
    except OSError as error:
        raise ValidationError(f"Cannot read {_display(file_path)}: {error.strerror}") from None


def _profile(
    frame: pd.DataFrame, *, target: str, positive_label: str, file_path: Path
) -> FrameProfile:
    try:
        return frame_profile(frame, target=target, positive_label=positive_label)
    except ProfileError as error:
        raise ValidationError(f"{_display(file_path)} {error}") from None


def _save_new_version(
    row: DatasetVersion, *, name: str, identity: files.FileIdentity
) -> DatasetVersion:
    try:
        with transaction.atomic():
            row.dataset, _ = Dataset.objects.get_or_create(name=name)
            row.save(force_insert=True)
            dataset_file_check_record(version=row, identity=identity)
    except IntegrityError:
        # Someone registered the same name:version since our first check.
        if dataset_version_exists(name=name, version=row.version):
            raise ValidationError(_duplicate_message(name=name, version=row.version)) from None
        raise
    return row


# Verification and loading ---------------------------------------------------


def _check_file(version: DatasetVersion, *, full: bool) -> None:
    """Raise ValidationError (code MISSING or MISMATCH) unless the file is as registered."""
    path = _version_file(version)
    identity = _identity_of_registered(version, path)
    if not full and _identity_unchanged(version, identity):
        return
    _require_digest(version, path, files.file_sha256(path))
    _record_if_unchanged(version, path, identity)


def _version_file(version: DatasetVersion) -> Path:
    candidate, resolved = _resolve(version.path)
    if not resolved.is_relative_to(_data_root()):
        raise ValidationError(
            f"{version.label}: file {_display(candidate)} now leads outside DATA_ROOT "
            f"(through a symbolic link); {AUTHORITATIVE}",
            code=VerifyStatus.MISMATCH,
        )
    if not resolved.is_file():
        raise ValidationError(
            f"{version.label}: file {_display(candidate)} is missing; "
            "restore it or register a new version",
            code=VerifyStatus.MISSING,
        )
    return resolved


def _identity_of_registered(version: DatasetVersion, path: Path) -> files.FileIdentity:
    identity = files.file_identity(path)
    if identity.size_bytes != version.size_bytes:
        raise ValidationError(
            f"{version.label}: file {_display(path)} no longer matches its registered size "
            f"(registered {version.size_bytes:,} bytes, now {identity.size_bytes:,}); "
            f"{AUTHORITATIVE}",
            code=VerifyStatus.MISMATCH,
        )
    return identity


def _identity_unchanged(version: DatasetVersion, identity: files.FileIdentity) -> bool:
    check = dataset_file_check_get(version=version)
    if check is None:
        return False
    return identity == files.FileIdentity(
        size_bytes=check.size_bytes, mtime_ns=check.mtime_ns, inode=check.inode
    )


def _require_digest(version: DatasetVersion, path: Path, digest: str) -> None:
    if digest != version.sha256:
        raise ValidationError(
            f"{version.label}: file {_display(path)} no longer matches its registered "
            f"SHA-256 (registered {version.sha256[:12]}…, now {digest[:12]}…); "
            f"{AUTHORITATIVE}",
            code=VerifyStatus.MISMATCH,
        )


def _record_if_unchanged(version: DatasetVersion, path: Path, identity: files.FileIdentity) -> None:
    # A file rewritten while it was being hashed must not be marked as verified.
    if files.file_identity(path) == identity:
        dataset_file_check_record(version=version, identity=identity)


def _read_csv_and_cache(version: DatasetVersion, cache_path: Path) -> pd.DataFrame:
    path = _version_file(version)
    identity = _identity_of_registered(version, path)
    frame = _parse_registered(version, path)
    _record_if_unchanged(version, path, identity)
    try:
        files.write_cache_atomic(frame, cache_path)
        _record_cache_digest(version, cache_path)
    except OSError:
        logger.warning("Could not write dataset cache %s", cache_path, exc_info=True)
    return frame


def _record_cache_digest(version: DatasetVersion, cache_path: Path) -> None:
    """What the cache holds as written from the verified file (per writer)."""
    DatasetCacheDigest.objects.update_or_create(
        version=version,
        format=files.cache_format(),
        defaults={
            "sha256": files.file_sha256(cache_path),
            "size_bytes": cache_path.stat().st_size,
        },
    )


def _recorded_cache_digest(version: DatasetVersion) -> str | None:
    return (
        DatasetCacheDigest.objects.filter(version=version, format=files.cache_format())
        .values_list("sha256", flat=True)
        .first()
    )


def _parse_registered(version: DatasetVersion, path: Path) -> pd.DataFrame:
    try:
        digest, frame = files.hash_and_read_csv(path)
    except files.CsvError:
        digest, frame = files.file_sha256(path), None
    _require_digest(version, path, digest)
    if frame is None or not _has_registered_shape(frame, version):
        raise ValidationError(
            f"{version.label}: file {_display(path)} matches its SHA-256 but no longer "
            "parses to the registered columns, types and rows (was pandas upgraded?); "
            "register a new version",
            code=VerifyStatus.MISMATCH,
        )
    return frame


def _read_cache(cache_path: Path, version: DatasetVersion) -> pd.DataFrame | None:
    """The cached frame, or None when the cache is unreadable, its bytes are
    not those recorded when it was written (changed on disk, or written by
    another pyarrow), or it is not what was registered: then the caller
    rebuilds it from the verified file."""
    recorded = _recorded_cache_digest(version)
    if recorded is None:
        return None
    try:
        frame = files.read_cache_verified(cache_path, recorded)
    except (OSError, ValueError):
        logger.warning("Ignoring unreadable dataset cache %s", cache_path, exc_info=True)
        return None
    if frame is None:
        logger.warning(
            "Dataset cache %s does not match the digest recorded when it was written; "
            "rebuilding it from the verified file",
            cache_path,
        )
        return None
    return frame if _has_registered_shape(frame, version) else None


def _has_registered_shape(frame: pd.DataFrame, version: DatasetVersion) -> bool:
    return len(frame) == version.row_count and column_specs(frame) == version.columns


def _with_row_positions(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index = pd.RangeIndex(len(frame))
    return frame


def _cache_path(version: DatasetVersion) -> Path:
    return Path(settings.DATASET_CACHE_ROOT) / f"{version.sha256}.arrow"


# Paths ----------------------------------------------------------------------


def _data_root() -> Path:
    return Path(settings.DATA_ROOT).resolve()


def _resolve(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(the path as given, anchored at DATA_ROOT if relative; its real path)."""
    given = Path(path)
    candidate = given if given.is_absolute() else _data_root() / given
    try:
        return candidate, candidate.resolve()
    except (OSError, RuntimeError):  # a symlink loop: there is no file to read
        raise ValidationError(
            f"{_display(candidate, given=path)} cannot be resolved (symlink loop?)",
            code=VerifyStatus.MISSING,
        ) from None


def _through_a_link(candidate: Path) -> str:
    # Said without the link's target: where it leads is no business of the user's.
    return " (through a symbolic link)" if _under_data_root(candidate) else ""


def _display(path: Path, *, given: str | os.PathLike[str] | None = None) -> str:
    """Relative to DATA_ROOT, as users name files there: messages reach web
    users too, and never show the server's absolute paths. Never resolved, so
    a symbolic link's target is not shown either. A path outside DATA_ROOT is
    shown as the caller gave it (what the user typed), or by its name."""
    inside = _under_data_root(path)
    if inside is not None:
        return inside
    return str(given) if given is not None else path.name


def _under_data_root(path: Path) -> str | None:
    """The path relative to DATA_ROOT (as configured, or resolved) if it lies
    below it without following links, else None."""
    for root in (Path(settings.DATA_ROOT).absolute(), _data_root()):
        relative = os.path.relpath(path, root)
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
            return relative
    return None
