"""The checks that turn client rows into a frame the model can score: no
Django, no model; every problem names its column and rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from serving.errors import InputError
from serving.inputs import records_frame, table_check

FEATURES = ["Time", "V1", "Amount"]


def row(**values: object) -> dict[str, object]:
    return {"Time": 1.0, "V1": -0.5, "Amount": 12, **values}


def refused(records: object, max_rows: int = 100) -> InputError:
    with pytest.raises(InputError) as caught:
        records_frame(records, FEATURES, max_rows=max_rows)
    return caught.value


def test_it_builds_the_frame_in_the_models_column_order() -> None:
    records = [{"Amount": 3, "V1": 2.0, "Time": 1.0}, row()]

    frame = records_frame(records, FEATURES, max_rows=10)

    assert list(frame.columns) == FEATURES
    assert frame.iloc[0].tolist() == [1.0, 2.0, 3.0]
    assert len(frame) == 2


def test_it_names_missing_and_unknown_columns_with_their_rows() -> None:
    bad = row(extra=1)
    del bad["V1"]

    error = refused([row(), bad, bad])

    assert error.fields == {
        "records.V1": ["missing in rows 1, 2"],
        "records.extra": ["not a feature of the model, in rows 1, 2"],
    }
    assert "V1: missing in rows 1, 2" in error.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", 'not a number in row 1 (e.g. "12.5")'),
        (True, "not a number in row 1 (e.g. true)"),
        ([1], "not a number in row 1 (e.g. [1])"),
        ({"a": 1}, 'not a number in row 1 (e.g. {"a": 1})'),
    ],
)
def test_it_refuses_values_that_are_not_numbers(value: object, expected: str) -> None:
    error = refused([row(), row(V1=value)])

    assert error.fields == {"records.V1": [expected]}


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf, 10**400])
def test_it_refuses_values_that_are_not_finite(value: object) -> None:
    error = refused([row(), row(), row(Amount=value)])

    assert error.fields == {
        "records.Amount": ["not a finite number (null, NaN, infinity or empty) in row 2"]
    }


def test_it_refuses_a_column_of_booleans() -> None:
    error = refused([row(V1=True), row(V1=False)])

    assert error.fields == {"records.V1": ["not a number in rows 0, 1 (e.g. true)"]}


def test_it_reports_every_problem_at_once() -> None:
    bad = row(Time=math.nan, V1="x", unknown=3)
    del bad["Amount"]

    error = refused([bad])

    assert set(error.fields) == {
        "records.Time",
        "records.V1",
        "records.Amount",
        "records.unknown",
    }
    assert error.message.startswith("records: 4 columns cannot be scored")


def test_it_lists_at_most_ten_rows_per_problem() -> None:
    error = refused([row(V1="x") for _ in range(25)])

    assert error.fields["records.V1"] == [
        'not a number in rows 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 15 more (e.g. "x")'
    ]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"Time": 1}, "records must be a list of objects, one per transaction"),
        ([], "records is empty: send at least one row"),
        ([row(), 3, "x"], "records: not an object in rows 1, 2"),
    ],
)
def test_it_refuses_records_that_are_not_a_list_of_objects(records: object, message: str) -> None:
    assert refused(records).message == message


def test_it_refuses_more_rows_than_allowed() -> None:
    error = refused([row()] * 4, max_rows=3)

    assert error.message == "records: at most 3 rows per request, got 4"


def test_it_accepts_a_table_with_extra_columns_and_integers() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "Time": [1, 2], "V1": [0.5, 1.5], "Amount": [3, 4]})

    table_check(frame, FEATURES)


def test_it_names_the_file_lines_of_a_tables_bad_values() -> None:
    frame = pd.DataFrame(
        {"Time": [1.0, np.nan, 3.0], "V1": ["0.5", "oops", "1"], "Amount": [1.0, 2.0, 3.0]}
    )

    with pytest.raises(InputError) as caught:
        table_check(frame, FEATURES)

    assert caught.value.fields == {
        "columns.Time": ["not a finite number (null, NaN, infinity or empty) in line 3"],
        "columns.V1": ['not a number in lines 2, 3, 4 (e.g. "0.5")'],
    }


def test_it_names_a_tables_missing_feature_columns() -> None:
    frame = pd.DataFrame({"Time": [1.0]})

    with pytest.raises(InputError) as caught:
        table_check(frame, FEATURES)

    assert caught.value.fields == {"columns.V1": ["missing"], "columns.Amount": ["missing"]}


def test_it_refuses_a_table_that_already_has_a_score_column() -> None:
    frame = pd.DataFrame({"Time": [1.0], "V1": [1.0], "Amount": [1.0], "decision": [1]})

    with pytest.raises(InputError) as caught:
        table_check(frame, FEATURES)

    assert caught.value.fields == {"columns.decision": ["already present; scoring adds it"]}
