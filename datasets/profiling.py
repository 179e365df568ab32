"""The profile of a parsed dataset, and the rules a frame must meet to be
registered as a binary-classification dataset. No Django."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

LISTED_NAMES = 8
BINARY_CLASSES = frozenset({0, 1})


class ProfileError(ValueError):
    """The frame cannot be registered; the text completes "<path> ..." and says what to do."""


ColumnStats = dict[str, float | int | None]


@dataclass(frozen=True)
class FrameProfile:
    row_count: int
    columns: list[dict[str, str]]
    class_counts: dict[str, int]
    column_stats: dict[str, ColumnStats] = field(default_factory=dict)


def frame_profile(frame: pd.DataFrame, *, target: str, positive_label: str = "") -> FrameProfile:
    """Profile a frame that training can use: numeric features, no gaps, and a
    target of 0 and 1, or of two classes of which positive_label names the one
    that training counts as 1."""
    _require_rows_and_columns(frame)
    _require_target(frame, target)
    _require_binary_labels(frame, target, positive_label)
    _require_numeric_features(frame, target)
    _require_complete(frame)
    return FrameProfile(
        row_count=len(frame),
        columns=column_specs(frame),
        class_counts=class_counts(frame[target]),
        column_stats=column_statistics(frame),
    )


def column_statistics(frame: pd.DataFrame) -> dict[str, ColumnStats]:
    """Column name -> min, max, mean (numeric columns; None otherwise or when
    no value is finite) and the number of missing cells. Vectorised: a
    fraction of a second on the full 284,807 x 31 file."""
    numeric = frame.select_dtypes(include="number", exclude="bool")
    lows, highs, means = numeric.min(), numeric.max(), numeric.mean()
    missing = frame.isna().sum()
    stats: dict[str, ColumnStats] = {}
    for name in frame.columns:
        is_numeric = name in numeric.columns
        stats[str(name)] = {
            "min": _finite(lows[name]) if is_numeric else None,
            "max": _finite(highs[name]) if is_numeric else None,
            "mean": _finite(means[name]) if is_numeric else None,
            "missing": int(missing[name]),
        }
    return stats


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # pd.NA: a nullable column with no value at all
        return None
    return number if math.isfinite(number) else None


def column_specs(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [{"name": str(name), "dtype": str(frame[name].dtype)} for name in frame.columns]


def class_counts(target: pd.Series) -> dict[str, int]:
    counts = {str(value): int(count) for value, count in target.value_counts().items()}
    return dict(sorted(counts.items()))


def class_counts_text(counts: dict[str, int]) -> str:
    """'0: 284,315, 1: 492', in class order whatever order the database kept."""
    return ", ".join(f"{label}: {count:,}" for label, count in sorted(counts.items()))


def _require_rows_and_columns(frame: pd.DataFrame) -> None:
    if len(frame) == 0:
        raise ProfileError("has a header row but no data rows")
    if len(frame.columns) < 2:
        raise ProfileError(
            f"has {len(frame.columns)} column; a dataset needs a target column and at "
            "least one feature column (is the separator a comma?)"
        )


def _require_target(frame: pd.DataFrame, target: str) -> None:
    if target not in frame.columns:
        raise ProfileError(
            f"has no column {target!r} to use as the target; its columns are "
            f"{_listing(frame.columns)}"
        )
    missing = frame[target].isna()
    if missing.any():
        raise ProfileError(
            f"has {int(missing.sum())} rows without a value in target column {target!r} "
            f"(first at data row {_first_row(missing)}); fill or drop them"
        )
    classes = frame[target].unique()
    if len(classes) != 2:
        raise ProfileError(
            f"has {len(classes)} classes in target column {target!r} "
            f"({_listing(sorted(str(value) for value in classes))}); "
            "it must hold exactly two, e.g. 0 and 1"
        )


def _require_binary_labels(frame: pd.DataFrame, target: str, positive_label: str) -> None:
    classes = class_counts(frame[target])
    if positive_label:
        if positive_label not in classes:
            raise ProfileError(
                f"has no class {positive_label!r} in target column {target!r} to use as the "
                f"positive label; its classes are {_listing(repr(name) for name in classes)}"
            )
        return
    if set(frame[target].unique().tolist()) != BINARY_CLASSES:
        shown = " and ".join(repr(name) for name in classes)
        rarer = min(classes, key=lambda name: classes[name])
        raise ProfileError(
            f"has the classes {shown} in target column {target!r}, and training needs 0 "
            f"and 1: give the positive label, the class that counts as 1 (e.g. {rarer!r}); "
            "the other one counts as 0"
        )


def _require_numeric_features(frame: pd.DataFrame, target: str) -> None:
    # What training demands of its features (experiments.training.feature_columns).
    text = [
        name
        for name in frame.columns
        if name != target and not pd.api.types.is_numeric_dtype(frame[name])
    ]
    if text:
        raise ProfileError(
            f"has feature columns that are not numeric: {_listing(text)}"
            f"{_first_non_number(frame[text[0]])}; every column but the target must hold "
            "numbers (no text, no formulas)"
        )


def _first_non_number(column: pd.Series) -> str:
    not_numbers = column.notna() & pd.to_numeric(column, errors="coerce").isna()
    if not not_numbers.any():
        return ""
    row = _first_row(not_numbers)
    return f" (e.g. {str(column.iloc[row - 1])[:40]!r} in {str(column.name)!r}, data row {row})"


def _require_complete(frame: pd.DataFrame) -> None:
    # pandas reads a row with too few fields as missing cells, so a ragged
    # file shows up here; the models trained on these frames need no gaps either.
    missing = frame.isna()
    rows = missing.any(axis=1)
    if rows.any():
        first = int(rows.to_numpy().argmax())
        columns = [str(name) for name in frame.columns[missing.iloc[first].to_numpy()]]
        raise ProfileError(
            f"has {int(rows.sum())} rows with empty cells (first at data row {first + 1}, "
            f"columns {_listing(columns)}); every row needs a value in every column — "
            "check for short rows, or fill or drop the gaps"
        )


def _first_row(mask: pd.Series) -> int:
    return int(mask.to_numpy().argmax()) + 1


def _listing(values: Iterable[object]) -> str:
    names = [str(value) for value in values]
    shown = ", ".join(names[:LISTED_NAMES])
    return shown if len(names) <= LISTED_NAMES else f"{shown}, … ({len(names)} in all)"
