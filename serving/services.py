"""Scoring with registered models: a few rows from a request, or a whole
CSV file from the command line (recorded as a scoring run)."""

from __future__ import annotations

import os
import time
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
from serving.inputs import SCORE_COLUMNS, records_frame, table_check
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


def _score(model: ServedModel, frame: pd.DataFrame) -> Scores:
    from experiments import training  # scikit-learn, loaded with the model already

    probabilities = training.predict_scores(model.estimator, frame, list(model.feature_columns))
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
    scores = _score(model, frame)
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
    if destination.is_dir():
        raise ValidationError(f"{destination} is a directory; give a file name for the output")
    if not destination.parent.is_dir():
        raise ValidationError(f"{destination.parent} does not exist; create it first")
    if destination.exists() and not overwrite:
        raise ValidationError(f"{destination} already exists (--force replaces it)")
    return destination


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
