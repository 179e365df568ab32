"""Scoring with registered models: a few rows from a request, or a whole
CSV file from the command line (recorded as a scoring run)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from datasets import files
from datasets.services import data_file_path
from mlplatform.origin import Origin
from serving.errors import InputError
from serving.inputs import (
    SCORE_COLUMNS,
    RowLabel,
    body_check,
    file_lines,
    overflow_error,
    record_rows,
    records_frame,
    table_check,
)
from serving.loading import ServedModel, served_model
from serving.models import ScoringRun

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class Scores:
    """Per row: the probability of fraud and the decision at the version's threshold."""

    model: ServedModel
    probabilities: np.ndarray
    decisions: np.ndarray


def _score(model: ServedModel, frame: pd.DataFrame, label: RowLabel = record_rows) -> Scores:
    """Score the frame. Finite values can still be too large for a model (a
    scaler or a weighted sum overflows on 1e308): the rows it cannot score
    are an InputError naming the columns, not a crash."""
    from experiments import training  # scikit-learn, loaded with the model already

    features = list(model.feature_columns)
    try:
        with np.errstate(all="ignore"):
            probabilities = training.predict_scores(model.estimator, frame, features)
    except ValueError as error:  # scikit-learn's check of an overflowed intermediate
        raise overflow_error(frame, features, None, label) from error
    unscored = np.flatnonzero(~np.isfinite(probabilities))
    if unscored.size:
        raise overflow_error(frame, features, unscored.tolist(), label)
    # The rule the training metrics used: positive when score >= threshold.
    decisions = (probabilities >= model.threshold).astype(np.int8)
    return Scores(model=model, probabilities=probabilities, decisions=decisions)


def model_predict(
    *, model_name: str, records: object, version: int | None = None, stage: str = ""
) -> Scores:
    """Score JSON records (objects keyed by feature name) with a version, or
    with the one now in `stage`. InputError names the columns and rows that
    cannot be scored; ModelNotFound / ModelUnavailable when nothing can."""
    model = served_model(model_name=model_name, version=version, stage=stage)
    frame = records_frame(records, model.feature_columns, max_rows=settings.SERVING_MAX_RECORDS)
    return _score(model, frame)


def model_predict_body(
    *,
    model_name: str,
    body: bytes,
    parse: Callable[[bytes], object],
    version: int | None = None,
    stage: str = "",
) -> Scores:
    """Score the records of a raw request body: its size is checked against
    the model's features before `parse` (the API's JSON reader, which returns
    the records) spends time on it."""
    model = served_model(model_name=model_name, version=version, stage=stage)
    body_check(body, len(model.feature_columns), max_records=settings.SERVING_MAX_RECORDS)
    records = parse(body)
    frame = records_frame(records, model.feature_columns, max_rows=settings.SERVING_MAX_RECORDS)
    return _score(model, frame)


# ------------------------------------------------------------------ batch


def scoring_run_create(
    *,
    model_name: str,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    origin: Origin,
    version: int | None = None,
    stage: str = "",
    user: User | None = None,
    user_name: str = "",
    overwrite: bool = False,
) -> ScoringRun:
    """Score a CSV file under DATA_ROOT and write its rows with
    `fraud_probability` and `decision` columns to output_path (atomically:
    a failed run leaves no output behind), then record the run. Nothing is
    recorded for a run that fails; no transaction is open while it scores."""
    model = served_model(model_name=model_name, version=version, stage=stage)
    source = data_file_path(input_path)
    destination = _output_file(output_path, source, overwrite=overwrite)
    started_at, started = timezone.now(), time.perf_counter()
    digest, frame = _read_input(source)
    try:
        table_check(frame, model.feature_columns)
    except InputError as error:
        raise ValidationError(f"{source.name}: {error.message}") from None
    try:
        scores = _score(model, frame, file_lines)
    except InputError as error:
        raise ValidationError(f"{source.name}: {error.message}") from None
    _write_output(frame, scores, destination)
    try:
        return ScoringRun.objects.create(
            model_version_id=model.version_id,
            artifact_sha256=model.artifact_sha256,
            threshold=model.threshold,
            requested_stage=stage,
            input_path=source.relative_to(Path(settings.DATA_ROOT).resolve()).as_posix(),
            input_sha256=digest,
            output_path=str(destination),
            rows=len(frame),
            positives=int(scores.decisions.sum()),
            user=user,
            user_name=user.get_username() if user is not None else user_name or "cli",
            channel=str(origin.channel),
            os_user=origin.os_user,
            host=origin.host,
            started_at=started_at,
            duration_seconds=time.perf_counter() - started,
        )
    except BaseException:
        destination.unlink(missing_ok=True)  # unrecorded output is not left behind
        raise


def _output_file(output_path: str | os.PathLike[str], source: Path, *, overwrite: bool) -> Path:
    destination = Path(output_path).expanduser().absolute()
    if destination.resolve() == source:
        raise ValidationError("the output would overwrite the input; choose another --output")
    _refuse_platform_file(destination.resolve())
    if destination.is_dir():
        raise ValidationError(f"{destination} is a directory; give a file name for the output")
    if not destination.parent.is_dir():
        raise ValidationError(f"{destination.parent} does not exist; create it first")
    if destination.exists() and not overwrite:
        raise ValidationError(f"{destination} already exists (--force replaces it)")
    return destination


def _refuse_platform_file(destination: Path) -> None:
    """Scoring writes where it is told, but never over what the platform
    keeps: the artifact store, the var folder (caches, the SQLite database),
    the database file, a registered data set's file. --force or not."""
    from datasets.models import DatasetVersion

    database = settings.DATABASES["default"]
    places = {
        "the artifact store": Path(settings.ARTIFACT_ROOT),
        "the var folder": Path(settings.VAR_DIR),
        "the data set cache": Path(settings.DATASET_CACHE_ROOT),
    }
    for what, place in places.items():
        if destination.is_relative_to(place.resolve()):
            raise ValidationError(
                f"the output would be written inside {what}; choose another --output"
            )
    if database["ENGINE"].endswith("sqlite3") and destination == Path(database["NAME"]).resolve():
        raise ValidationError("the output would overwrite the database; choose another --output")
    data_root = Path(settings.DATA_ROOT).resolve()
    if destination.is_relative_to(data_root):
        relative = destination.relative_to(data_root).as_posix()
        registered = DatasetVersion.objects.filter(path=relative).select_related("dataset").first()
        if registered is not None:
            raise ValidationError(
                f"the output would overwrite the file of data set {registered.label}; "
                "choose another --output"
            )


def _read_input(source: Path) -> tuple[str, pd.DataFrame]:
    """The file's SHA-256 and frame, hashed on a thread while pandas parses
    it, by the CSV reader dataset registration uses."""
    try:
        return files.hash_and_read_csv(source)
    except files.CsvError as error:
        raise ValidationError(f"{source.name} {error}") from None
    except OSError as error:
        raise ValidationError(f"cannot read {source.name}: {error.strerror}") from None


def _write_output(frame: pd.DataFrame, scores: Scores, destination: Path) -> None:
    probability, decision = SCORE_COLUMNS
    frame[probability] = scores.probabilities  # in place: the input frame is ours alone
    frame[decision] = scores.decisions
    try:
        with files.atomic_path(destination) as temporary:
            frame.to_csv(temporary, index=False)
    except OSError as error:
        raise ValidationError(f"cannot write {destination}: {error.strerror}") from None
