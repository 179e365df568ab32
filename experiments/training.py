"""The training engine: splits, fits, scores and serialises models. No Django.

Stateless: a frame and an ExperimentConfig go in, a TrainingResult comes out.
The same frame and config always give the same split, model, scores and
metrics (timings aside). Models travel as skops bytes, never pickle.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from experiments.configs import MODEL_TYPES, ExperimentConfig, ModelSpec, SplitSpec
from experiments.fit_progress import ProgressReceiver, reporting_fit_progress

# The model artifact format lives in model_format (no scikit-learn); kept here
# for callers that know the engine by this name.
from experiments.model_format import UnsafeArtifactError as UnsafeArtifactError
from experiments.model_format import model_from_bytes as model_from_bytes
from experiments.model_format import model_to_bytes as model_to_bytes

FITTING = "fitting"
EVALUATING = "evaluating"
SCALED_MODEL_TYPES = frozenset({"logistic_regression"})
JOBLIB_MODEL_TYPES = frozenset({"random_forest"})
MAX_CURVE_POINTS = 300
MAX_LOSS_STEPS = 200
MAX_WARNINGS = 20
TIMING_METRICS = frozenset({"fit_time_seconds", "predict_time_seconds"})


class TrainingError(Exception):
    """The data or the configured model cannot be trained; the message says why."""


class FeatureMismatchError(ValueError):
    """A frame does not hold the columns a model was trained on."""


@dataclass(frozen=True, eq=False)
class Holdout:
    """The held-out rows (positions in the dataset, ascending), labels and
    scores, and the positions of the rows the model was trained on (None for
    runs recorded before training rows were kept: they trained on every row
    outside the holdout)."""

    row_ids: np.ndarray
    y_true: np.ndarray
    y_score: np.ndarray
    train_row_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "row_ids", np.asarray(self.row_ids, dtype=np.int64))
        object.__setattr__(self, "y_true", np.asarray(self.y_true, dtype=np.int8))
        object.__setattr__(self, "y_score", np.asarray(self.y_score, dtype=np.float64))
        shapes = {self.row_ids.shape, self.y_true.shape, self.y_score.shape}
        if len(shapes) != 1 or self.row_ids.ndim != 1:
            raise ValueError(f"holdout arrays must be 1-D and equally long, got {shapes}")
        if self.train_row_ids is not None:
            object.__setattr__(
                self, "train_row_ids", np.asarray(self.train_row_ids, dtype=np.int64)
            )

    def training_rows(self, row_count: int) -> np.ndarray:
        """Positions of the rows the model was trained on, ascending."""
        if self.train_row_ids is not None:
            return self.train_row_ids
        return np.setdiff1d(np.arange(row_count), self.row_ids, assume_unique=True)


@dataclass(frozen=True)
class MetricValue:
    name: str
    value: float
    step: int | None = None


@dataclass
class TrainingResult:
    model: Any
    feature_columns: list[str]
    metrics: list[MetricValue]
    curves: dict[str, Any]
    holdout: Holdout
    train_rows: int
    warnings: list[str] = field(default_factory=list)


def _ignore_progress(phase: str) -> None:
    return None


# ------------------------------------------------------------------------ Training


def train(
    frame: pd.DataFrame,
    *,
    config: ExperimentConfig,
    target: str,
    positive_label: str | None = None,
    progress: Callable[[str], None] = _ignore_progress,
    threads: int | None = None,
    fit_progress: ProgressReceiver | None = None,
) -> TrainingResult:
    """Split, fit and evaluate. Row ids are positions in `frame`. `positive_label`,
    recorded with the dataset version, names the target class counted as 1.
    `progress` hears each phase; `fit_progress`, if given, each iteration or
    tree of the fit where the estimator tells them (see fit_progress.py), with
    the same model and metrics as without it. `threads` becomes a random
    forest's `n_jobs` (the caller limits BLAS and OpenMP threads to the same
    budget)."""
    features = feature_columns(frame, target)
    labels = binary_labels(frame, target, positive_label=positive_label)
    train_ids, holdout_ids = split_rows(labels, config.split)
    model = build_model(config.model, seed=config.split.seed, threads=threads)
    progress(FITTING)
    fit_seconds, fit_warnings = _fit(
        model, frame.iloc[train_ids][features], labels[train_ids], fit_progress
    )
    progress(EVALUATING)
    holdout_features = frame.iloc[holdout_ids][features]
    started = perf_counter()
    scores, validation_losses = _score_holdout(
        model, holdout_features, features, labels[holdout_ids]
    )
    predict_seconds = perf_counter() - started
    holdout = Holdout(
        row_ids=holdout_ids,
        y_true=labels[holdout_ids],
        y_score=scores,
        train_row_ids=train_ids,
    )
    metrics = [
        *compute_metrics(holdout.y_true, holdout.y_score, config.threshold),
        MetricValue("train_rows", float(len(train_ids))),
        MetricValue("fit_time_seconds", fit_seconds),
        MetricValue("predict_time_seconds", predict_seconds),
        *_iteration_count(model),
        *validation_losses,
    ]
    return TrainingResult(
        model=model,
        feature_columns=features,
        metrics=metrics,
        curves=compute_curves(holdout.y_true, holdout.y_score),
        holdout=holdout,
        train_rows=len(train_ids),
        warnings=fit_warnings,
    )


def feature_columns(frame: pd.DataFrame, target: str) -> list[str]:
    """Every column but the target, in frame order; all must be numeric."""
    if target not in frame.columns:
        raise TrainingError(f"target column {target!r} is not in the data")
    features = [str(column) for column in frame.columns if column != target]
    if not features:
        raise TrainingError("the data has no feature columns besides the target")
    non_numeric = [name for name in features if not pd.api.types.is_numeric_dtype(frame[name])]
    if non_numeric:
        raise TrainingError(f"feature columns must be numeric: {', '.join(non_numeric)}")
    return features


def binary_labels(
    frame: pd.DataFrame, target: str, *, positive_label: str | None = None
) -> np.ndarray:
    """The target as int8 0/1; anything else is refused."""
    values = frame[target]
    if values.isna().any():
        raise TrainingError(f"target column {target!r} has missing values")
    if positive_label is not None:
        return labels_of_positive(values, target, positive_label)
    found = set(pd.unique(values).tolist())
    if not found <= {0, 1}:
        shown = ", ".join(sorted(map(repr, found))[:5])
        raise TrainingError(f"target column {target!r} must hold only 0 and 1, found {shown}")
    return values.to_numpy().astype(np.int8)


def labels_of_positive(values: pd.Series, target: str, positive_label: str) -> np.ndarray:
    """1 where the target is the positive label, 0 for the one other class.
    Classes are compared as text, as the dataset's class counts record them."""
    classes = {str(value) for value in pd.unique(values).tolist()}
    if positive_label not in classes or len(classes) != 2:
        shown = ", ".join(sorted(map(repr, classes))[:5])
        raise TrainingError(
            f"target column {target!r} must hold the positive label {positive_label!r} "
            f"and one other class, found {shown}"
        )
    return (values.astype(str) == positive_label).to_numpy().astype(np.int8)


def split_rows(labels: np.ndarray, split: SplitSpec) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, holdout) row positions, each ascending."""
    counts = np.bincount(labels, minlength=2)
    if counts.min() < 2:
        raise TrainingError(f"need at least 2 rows of each class, found {counts.tolist()}")
    try:
        train_ids, holdout_ids = train_test_split(
            np.arange(len(labels)),
            test_size=split.test_size,
            random_state=split.seed,
            stratify=labels,
        )
    except ValueError as error:
        raise TrainingError(f"split.test_size {split.test_size}: {error}") from None
    for name, ids in (("training set", train_ids), ("holdout", holdout_ids)):
        if len(np.unique(labels[ids])) < 2:
            raise TrainingError(f"the {name} lacks one class; change split.test_size")
    return np.sort(train_ids), np.sort(holdout_ids)


def build_model(spec: ModelSpec, *, seed: int, threads: int | None = None) -> Any:
    """The configured estimator, seeded unless the config sets random_state
    itself; a random forest gets n_jobs = threads (configs may not set it).
    LogisticRegression's n_jobs does nothing since scikit-learn 1.8 (and
    warns); gradient boosting uses OpenMP, limited by the caller."""
    estimator_class = MODEL_TYPES[spec.type]
    params = copy.deepcopy(dict(spec.params))
    if "random_state" in estimator_class().get_params():
        params.setdefault("random_state", seed)
    if threads is not None and spec.type in JOBLIB_MODEL_TYPES:
        params["n_jobs"] = threads
    estimator = estimator_class(**params)
    if spec.type in SCALED_MODEL_TYPES:
        return Pipeline([("scale", StandardScaler()), ("model", estimator)])
    return estimator


def _fit(
    model: Any,
    features: pd.DataFrame,
    labels: np.ndarray,
    fit_progress: ProgressReceiver | None = None,
) -> tuple[float, list[str]]:
    """Fit; return the seconds taken and the distinct warnings raised (non-convergence...)."""
    reporting = (
        reporting_fit_progress(model, fit_progress)
        if fit_progress is not None
        else contextlib.nullcontext()
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = perf_counter()
        try:
            with reporting:
                model.fit(features, labels)
        except ValueError as error:
            raise TrainingError(f"the model could not be fitted: {error}") from None
        seconds = perf_counter() - started
    messages = dict.fromkeys(f"{item.category.__name__}: {item.message}" for item in caught)
    return seconds, list(messages)[:MAX_WARNINGS]


# ----------------------------------------------------------------------- Scoring


def predict_scores(model: Any, frame: pd.DataFrame, feature_columns: list[str]) -> np.ndarray:
    """Probability of class 1 for every row of `frame`, as float64."""
    _check_features(model, frame, feature_columns)
    probabilities = model.predict_proba(frame[list(feature_columns)])
    positive = list(model.classes_).index(1)
    return np.ascontiguousarray(probabilities[:, positive], dtype=np.float64)


def _check_features(model: Any, frame: pd.DataFrame, feature_columns: Sequence[str]) -> None:
    trained_on = [str(name) for name in getattr(model, "feature_names_in_", feature_columns)]
    if list(feature_columns) != trained_on:
        raise FeatureMismatchError(
            "the feature columns given differ from those the model was trained on: "
            f"given {_column_list(feature_columns)}, trained on {_column_list(trained_on)}"
        )
    present = {str(column) for column in frame.columns}
    missing = [name for name in feature_columns if name not in present]
    if missing:
        extra = sorted(present - set(feature_columns))
        raise FeatureMismatchError(
            f"the data lacks {len(missing)} of the model's {len(feature_columns)} feature "
            f"columns: {_column_list(missing)}; columns the model does not know: "
            f"{_column_list(extra) or 'none'}"
        )


def _column_list(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# ----------------------------------------------------------------------- Metrics


def compute_metrics(y_true: np.ndarray, y_score: np.ndarray, threshold: float) -> list[MetricValue]:
    """Holdout metrics. A row is predicted positive when its score >= threshold."""
    y_true = np.asarray(y_true, dtype=np.int8)
    y_score = np.asarray(y_score, dtype=np.float64)
    if len(np.unique(y_true)) < 2:
        raise ValueError("metrics need both classes among the labels")
    predicted = (y_score >= threshold).astype(np.int8)
    tn, fp, fn, tp = confusion_matrix(y_true, predicted, labels=[0, 1]).ravel()
    values = {
        "accuracy": accuracy_score(y_true, predicted),
        "precision": precision_score(y_true, predicted, zero_division=0),
        "recall": recall_score(y_true, predicted, zero_division=0),
        "f1": f1_score(y_true, predicted, zero_division=0),
        "roc_auc": roc_auc_score(y_true, y_score),
        "average_precision": average_precision_score(y_true, y_score),
        "log_loss": log_loss(y_true, y_score, labels=[0, 1]),
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
        "holdout_rows": len(y_true),
        "holdout_positives": int(y_true.sum()),
    }
    return [MetricValue(name, float(value)) for name, value in values.items()]


def _iteration_count(model: Any) -> list[MetricValue]:
    estimator = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if not hasattr(estimator, "n_iter_"):
        return []
    return [MetricValue("n_iter", float(np.max(estimator.n_iter_)))]


def _score_holdout(
    model: Any, frame: pd.DataFrame, feature_columns: list[str], y_true: np.ndarray
) -> tuple[np.ndarray, list[MetricValue]]:
    """The holdout's scores and, for boosting, its log loss after iterations
    1..n (at most MAX_LOSS_STEPS of them), in one pass over the trees: the
    last stage of staged_predict_proba is predict_proba bit for bit (tested),
    so boosting is not scored twice (0.4 s of a full-size run)."""
    if not hasattr(model, "staged_predict_proba"):
        return predict_scores(model, frame, feature_columns), []
    _check_features(model, frame, feature_columns)
    positive = list(model.classes_).index(1)
    wanted = set(evenly_spaced_steps(int(model.n_iter_), MAX_LOSS_STEPS))
    losses = []
    last = None
    stages = model.staged_predict_proba(frame[list(feature_columns)])
    for step, probabilities in enumerate(stages, start=1):
        last = probabilities
        if step in wanted:
            loss = binary_log_loss(y_true, probabilities[:, positive])
            losses.append(MetricValue("validation_loss", loss, step))
    if last is None:
        raise TrainingError("the boosted model has no iterations to score with")
    return np.ascontiguousarray(last[:, positive], dtype=np.float64), losses


def binary_log_loss(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """scikit-learn's log_loss for 0/1 labels, computed the same way (clipped to
    [eps, 1 - eps]) without its input checks, which cost 7 ms a call: 1.4 s of
    a 200-iteration run on the fraud holdout."""
    eps = np.finfo(np.float64).eps
    positive = np.asarray(y_true) == 1
    y_score = np.asarray(y_score, dtype=np.float64)
    likelihood = np.where(positive, y_score, 1 - y_score)
    return float(np.mean(-np.log(np.clip(likelihood, eps, 1 - eps))))


def evenly_spaced_steps(count: int, limit: int) -> list[int]:
    """Up to `limit` steps from 1..count, always including the first and the last."""
    if count <= limit:
        return list(range(1, count + 1))
    steps: list[int] = np.unique(np.linspace(1, count, limit).round().astype(int)).tolist()
    return steps


# ------------------------------------------------------------------------ Curves


def compute_curves(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """PR and ROC curves, at most MAX_CURVE_POINTS each, as JSON-safe floats.

    Arrays within a curve are equally long. The point where nothing is predicted
    positive gets a finite threshold just above every score (scikit-learn uses inf,
    or no threshold at all for the PR curve)."""
    above_all = _threshold_above(y_score)
    precision, recall, pr_thresholds = precision_recall_curve(y_true, y_score)
    fpr, tpr, roc_thresholds = roc_curve(y_true, y_score)
    pr_thresholds = np.append(pr_thresholds, above_all)
    roc_thresholds = np.where(np.isfinite(roc_thresholds), roc_thresholds, above_all)
    pr_kept = downsample_curve(recall, precision, MAX_CURVE_POINTS)
    roc_kept = downsample_curve(fpr, tpr, MAX_CURVE_POINTS)
    return {
        "pr": {
            "precision": _json_floats(precision[pr_kept]),
            "recall": _json_floats(recall[pr_kept]),
            "threshold": _json_floats(pr_thresholds[pr_kept]),
        },
        "roc": {
            "fpr": _json_floats(fpr[roc_kept]),
            "tpr": _json_floats(tpr[roc_kept]),
            "threshold": _json_floats(roc_thresholds[roc_kept]),
        },
    }


def _threshold_above(y_score: np.ndarray) -> float:
    highest = float(np.max(y_score))
    return 1.0 if highest < 1.0 else float(np.nextafter(highest, np.inf))


def downsample_curve(x: np.ndarray, y: np.ndarray, limit: int) -> np.ndarray:
    """Indices of at most `limit` points spread evenly along the curve's length,
    so that steep and flat stretches keep their shape; endpoints always kept."""
    if len(x) <= limit:
        return np.arange(len(x))
    along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    targets = np.linspace(0.0, along[-1], limit - 1)
    picked = np.searchsorted(along, targets, side="left")
    return np.unique(np.concatenate([[0], picked, [len(x) - 1]]))


def _json_floats(values: np.ndarray) -> list[float]:
    if not np.all(np.isfinite(values)):
        raise ValueError("curve values must be finite")
    return [float(value) for value in values]


# -------------------------------------------------------------------- Holdout


def holdout_to_bytes(holdout: Holdout) -> bytes:
    """Compressed .npz; scores stay float64 so metrics recompute exactly. The
    training rows are kept as a bit mask over the positions (35 KiB for the
    full fraud data set)."""
    fits_int32 = len(holdout.row_ids) == 0 or holdout.row_ids.max() < 2**31
    arrays = {
        "row_ids": holdout.row_ids.astype(np.int32 if fits_int32 else np.int64),
        "y_true": holdout.y_true,
        "y_score": holdout.y_score,
    }
    if holdout.train_row_ids is not None:
        length = int(max(holdout.row_ids.max(initial=-1), holdout.train_row_ids.max(initial=-1)))
        mask = np.zeros(length + 1, dtype=bool)
        mask[holdout.train_row_ids] = True
        arrays["train_mask"] = np.packbits(mask)
        arrays["train_mask_length"] = np.array([len(mask)], dtype=np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)  # numbers only, never objects
    return buffer.getvalue()


def holdout_from_bytes(data: bytes) -> Holdout:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in ("row_ids", "y_true", "y_score")}
            train_row_ids = None
            if "train_mask" in archive:
                length = int(archive["train_mask_length"][0])
                mask = np.unpackbits(archive["train_mask"], count=length).astype(bool)
                train_row_ids = np.flatnonzero(mask)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"not a holdout archive: {error}") from None
    return Holdout(**arrays, train_row_ids=train_row_ids)
