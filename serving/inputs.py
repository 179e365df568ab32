"""What a client sends, turned into the frame a model scores, or an error
naming the columns and rows at fault. No Django.

Two sources: JSON records (a list of objects keyed by feature name; every
row must carry exactly the model's features) and a CSV table (it must hold
every feature column; other columns ride along untouched).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from serving.errors import InputError

# Rows named per problem, and problems reported, before "and N more".
ROWS_SHOWN = 10
PROBLEMS_SHOWN = 20
NAME_SHOWN = 60
# Unknown keys named before "and N more unknown keys".
UNKNOWN_SHOWN = 5
# Keys a record may carry beyond the model's features before it is refused
# unread: a typo or two is named; thousands are an attack on the parser.
EXTRA_KEYS_ALLOWED = 20
COLONS_PER_KEY_ALLOWED = 4
RowLabel = Callable[[Sequence[int]], str]


def body_check(body: bytes, feature_count: int, *, max_records: int) -> None:
    """Refuse, before it is parsed, a body that holds more records than a
    request may, or far more keys than its records could carry (the model's
    features and EXTRA_KEYS_ALLOWED each; records_frame then checks each
    record exactly). Counting bytes costs milliseconds where parsing
    1,000,000 keys costs half a second."""
    objects = body.count(b"{")
    records = max(objects - 1, 1)  # the outer object holds the records
    if records > max_records:
        message = f"at most {max_records:,} rows per request, got {records:,}"
        raise InputError(f"records: {message}", {"records": [message]})
    per_record = feature_count + EXTRA_KEYS_ALLOWED
    # Every key is followed by a colon (whatever the spaces around it); a
    # colon inside a string value ("12:30:00") counts too, hence the room.
    keys = body.count(b":")
    if keys > records * per_record * COLONS_PER_KEY_ALLOWED + 1:
        message = (
            f"at most {per_record:,} keys per record (the model's {feature_count:,} features "
            f"and {EXTRA_KEYS_ALLOWED} more); this body holds about {keys:,} keys in "
            f"{records:,} record{'s' if records != 1 else ''}"
        )
        raise InputError(f"records: {message}", {"records": [message]})


def record_rows(rows: Sequence[int]) -> str:
    """Positions in the request's `records` list, counted from 0."""
    return _listed("row" if len(rows) == 1 else "rows", rows)


def file_lines(rows: Sequence[int]) -> str:
    """Line numbers of a CSV file: line 1 is the header, data row 0 is line 2."""
    return _listed("line" if len(rows) == 1 else "lines", [row + 2 for row in rows])


def _listed(noun: str, numbers: Sequence[int]) -> str:
    shown = ", ".join(str(number) for number in numbers[:ROWS_SHOWN])
    more = f" and {len(numbers) - ROWS_SHOWN} more" if len(numbers) > ROWS_SHOWN else ""
    return f"{noun} {shown}{more}"


# ------------------------------------------------------------------ records


def records_frame(
    records: object, feature_columns: Sequence[str], *, max_rows: int
) -> pd.DataFrame:
    """The records as a frame with the model's feature columns, in its order.
    Every problem is reported at once: missing and unknown keys, and values
    that are not finite numbers."""
    rows = _record_list(records, max_rows)
    missing, unknown = _key_problems(rows, feature_columns)
    frame = pd.DataFrame(rows, columns=list(feature_columns))
    problems = {
        column: [f"missing in {record_rows(missing[column])}"]
        for column in feature_columns
        if column in missing
    }
    # A missing value is already reported; pandas filled it with NaN.
    skip = {column: set(rows_missing) for column, rows_missing in missing.items()}
    for column, messages in value_problems(frame, feature_columns, record_rows, skip).items():
        problems.setdefault(column, []).extend(messages)
    names = sorted(unknown)
    for column in names[:UNKNOWN_SHOWN]:
        problems[column] = [f"not a feature of the model, in {record_rows(unknown[column])}"]
    if len(names) > UNKNOWN_SHOWN:
        problems[f"and {len(names) - UNKNOWN_SHOWN:,} more unknown keys"] = [
            "not features of the model"
        ]
    if problems:
        raise _input_error("records", problems)
    return frame


def _record_list(records: object, max_rows: int) -> list[dict[str, object]]:
    if not isinstance(records, list):
        raise InputError(
            "records must be a list of objects, one per transaction",
            {"records": ["must be a list of objects"]},
        )
    if not records:
        raise InputError("records is empty: send at least one row", {"records": ["is empty"]})
    if len(records) > max_rows:
        message = f"at most {max_rows:,} rows per request, got {len(records):,}"
        raise InputError(f"records: {message}", {"records": [message]})
    not_objects = [row for row, record in enumerate(records) if type(record) is not dict]
    if not_objects:
        message = f"not an object in {record_rows(not_objects)}"
        raise InputError(f"records: {message}", {"records": [message]})
    return records


def _key_problems(
    records: list[dict[str, object]], feature_columns: Sequence[str]
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """(feature -> rows lacking it, unknown key -> rows carrying it). A cheap
    comparison of key views per row; the set differences run only for rows
    that differ."""
    wanted = dict.fromkeys(feature_columns).keys()
    most = len(wanted) + EXTRA_KEYS_ALLOWED
    missing: dict[str, list[int]] = {}
    unknown: dict[str, list[int]] = {}
    for row, record in enumerate(records):
        if len(record) > most:
            message = (
                f"{len(record):,} keys in {record_rows([row])}: at most {most:,} "
                f"(the model's {len(wanted):,} features and {EXTRA_KEYS_ALLOWED} more)"
            )
            raise InputError(f"records: {message}", {"records": [message]})
        if record.keys() != wanted:
            for column in wanted - record.keys():
                missing.setdefault(column, []).append(row)
            for column in record.keys() - wanted:
                unknown.setdefault(column, []).append(row)
    return missing, unknown


# -------------------------------------------------------------------- tables

SCORE_COLUMNS = ("fraud_probability", "decision")


def table_check(frame: pd.DataFrame, feature_columns: Sequence[str]) -> None:
    """A CSV table holds every feature column with finite numbers, and no
    column that scoring would overwrite."""
    present = {str(column) for column in frame.columns}
    missing = [column for column in feature_columns if column not in present]
    if missing:
        raise _input_error("columns", {column: ["missing"] for column in missing}, named=False)
    clashes = [column for column in SCORE_COLUMNS if column in present]
    if clashes:
        clashing = {column: ["already present; scoring adds it"] for column in clashes}
        raise _input_error("columns", clashing, named=False)
    problems = value_problems(frame, feature_columns, file_lines)
    if problems:
        raise _input_error("columns", problems, named=False)


# ------------------------------------------------------------------- values


def value_problems(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    label: RowLabel,
    skip: dict[str, set[int]] | None = None,
) -> dict[str, list[str]]:
    """Column -> what is wrong with its values, naming the rows: values that
    are not numbers (text, booleans, null, objects) or not finite (NaN,
    infinity, an empty CSV cell). Rows in skip[column] are not looked at."""
    skip = skip or {}
    problems: dict[str, list[str]] = {}
    for column in feature_columns:
        values = frame[column]
        skipped = skip.get(column, set())
        if _is_number_dtype(values.dtype):
            bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=np.float64))).tolist()
            bad = [row for row in bad if row not in skipped] if skipped else bad
            if bad:
                problems[column] = [
                    f"not a finite number (null, NaN, infinity or empty) in {label(bad)}"
                ]
        else:
            problems.update(_object_problems(column, values.tolist(), label, skipped))
    return problems


def _is_number_dtype(dtype: Any) -> bool:
    # Booleans are numbers to numpy, not to a fraud model.
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _object_problems(
    column: str, values: list[object], label: RowLabel, skipped: set[int]
) -> dict[str, list[str]]:
    not_numbers: list[int] = []
    not_finite: list[int] = []
    for row, value in enumerate(values):
        if row in skipped:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            not_numbers.append(row)
        elif not _finite(value):
            not_finite.append(row)
    messages = []
    if not_numbers:
        example = _shown(values[not_numbers[0]])
        messages.append(f"not a number in {label(not_numbers)} (e.g. {example})")
    if not_finite:
        messages.append(
            f"not a finite number (null, NaN, infinity or empty) in {label(not_finite)}"
        )
    return {column: messages} if messages else {}


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _shown(value: object) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= NAME_SHOWN else text[:NAME_SHOWN] + "…"


# A value this large in a row the model could not score is named as the cause.
HUGE = 1e100


def overflow_error(
    frame: pd.DataFrame, feature_columns: Sequence[str], rows: list[int] | None, label: RowLabel
) -> InputError:
    """The rows a model could not score although every value was finite,
    blamed on their huge values: the columns holding values of at least
    HUGE, or else the column with the largest."""
    rows = list(range(len(frame))) if rows is None else rows
    values = np.abs(frame.iloc[rows][list(feature_columns)].to_numpy(dtype=np.float64))
    largest = values.max(axis=0)
    culprits = [i for i, top in enumerate(largest) if top >= HUGE] or [int(largest.argmax())]
    problems = {}
    for index in culprits:
        at = [rows[i] for i in np.flatnonzero(values[:, index] >= min(HUGE, largest[index]))]
        problems[feature_columns[index]] = [
            f"too large to score (up to {largest[index]:.3g}): the model overflows on it, "
            f"in {label(at)}"
        ]
    what = "records" if label is record_rows else "columns"
    return _input_error(what, problems, named=label is record_rows)


def _input_error(what: str, problems: dict[str, list[str]], *, named: bool = True) -> InputError:
    """One error for all problems: fields keyed "<what>.<column>"; the message
    (prefixed with what, if named) lists the first few."""
    items = list(problems.items())
    fields = {f"{what}.{_name(column)}": messages for column, messages in items[:PROBLEMS_SHOWN]}
    summary = "; ".join(
        f"{_name(column)}: {', '.join(messages)}" for column, messages in items[:ROWS_SHOWN]
    )
    more = f"; and {len(items) - ROWS_SHOWN} more columns" if len(items) > ROWS_SHOWN else ""
    noun = "column" if len(items) == 1 else "columns"
    prefix = f"{what}: " if named else ""
    return InputError(f"{prefix}{len(items)} {noun} cannot be scored: {summary}{more}", fields)


def _name(column: str) -> str:
    return column if len(column) <= NAME_SHOWN else column[:NAME_SHOWN] + "…"
