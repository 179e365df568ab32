"""The profile of a parsed dataset, and the rules a frame must meet to be
registered as a binary-classification dataset. No Django."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

LISTED_NAMES = 8
SIZE_UNITS = ("bytes", "KB", "MB", "GB", "TB")


class ProfileError(ValueError):
    """The frame cannot be registered; the text completes "<path> ..." and says what to do."""


ColumnStats = dict[str, float | int | None]


@dataclass(frozen=True)
class FrameProfile:
    row_count: int
    columns: list[dict[str, str]]
    class_counts: dict[str, int]
    column_stats: dict[str, ColumnStats] = field(default_factory=dict)


def frame_profile(frame: pd.DataFrame, *, target: str) -> FrameProfile:
    _require_rows_and_columns(frame)
    _require_target(frame, target)
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


def human_size(size_bytes: int) -> str:
    exponent = min(int(math.log10(max(size_bytes, 1)) // 3), len(SIZE_UNITS) - 1)
    if exponent == 0:
        return f"{size_bytes} bytes"
    return f"{size_bytes / 1000**exponent:.1f} {SIZE_UNITS[exponent]}"


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
