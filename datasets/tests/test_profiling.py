from __future__ import annotations

import math

import pandas as pd

from datasets.profiling import column_statistics, frame_profile


def test_it_records_min_max_mean_and_missing_for_every_column() -> None:
    frame = pd.DataFrame(
        {
            "Amount": [1.5, 2.5, math.nan, 4.0],
            "Label": ["a", "b", None, "a"],
            "Flag": [True, False, True, True],
            "Class": [0, 1, 0, 1],
        }
    )
    stats = column_statistics(frame)
    assert list(stats) == ["Amount", "Label", "Flag", "Class"]
    assert stats["Amount"] == {"min": 1.5, "max": 4.0, "mean": 8.0 / 3, "missing": 1}
    assert stats["Label"] == {"min": None, "max": None, "mean": None, "missing": 1}
    assert stats["Flag"] == {"min": None, "max": None, "mean": None, "missing": 0}
    assert stats["Class"] == {"min": 0.0, "max": 1.0, "mean": 0.5, "missing": 0}


def test_it_leaves_out_values_that_are_not_finite() -> None:
    frame = pd.DataFrame({"x": [math.inf, 1.0], "y": [math.nan, math.nan], "Class": [0, 1]})
    stats = column_statistics(frame)
    assert stats["x"]["max"] is None
    assert stats["x"]["min"] == 1.0
    assert stats["y"] == {"min": None, "max": None, "mean": None, "missing": 2}


def test_it_is_part_of_the_profile() -> None:
    frame = pd.DataFrame({"V1": [0.5, -0.5], "Class": [0, 1]})
    profile = frame_profile(frame, target="Class")
    assert profile.column_stats["V1"] == {"min": -0.5, "max": 0.5, "mean": 0.0, "missing": 0}
