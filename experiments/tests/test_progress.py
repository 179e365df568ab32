from __future__ import annotations

import pytest

from experiments.fit_progress import FitProgress
from experiments.progress import describe, progress_detail, seconds_left


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"done": 120, "total": 200, "seconds_left": 40.2}, "iteration 120 / 200, about 40 s left"),
        (
            {"done": 1500, "total": 3000, "at_most": True, "detail": "val loss 0.0041"},
            "iteration 1,500 / at most 3,000, val loss 0.0041",
        ),
        ({"done": 199, "total": 200, "seconds_left": 0.3}, "iteration 199 / 200, finishing"),
        ({"done": 200, "total": 200, "seconds_left": 0.0}, "iteration 200 / 200"),
    ],
)
def test_it_says_how_far_the_fit_has_come(fields: dict[str, object], text: str) -> None:
    assert describe(unit="iteration", **fields) == text  # type: ignore[arg-type]


def test_it_reckons_the_time_left_from_the_pace_so_far() -> None:
    assert seconds_left(done=40, total=100, fit_seconds=20.0) == 30.0
    assert seconds_left(done=0, total=100, fit_seconds=20.0) is None


def test_it_gives_no_time_left_before_a_twentieth_of_the_fit() -> None:
    assert seconds_left(done=1, total=200, fit_seconds=1.3) is None
    assert seconds_left(done=9, total=200, fit_seconds=1.5) is None
    assert seconds_left(done=10, total=200, fit_seconds=1.5) == 28.5
    assert seconds_left(done=1, total=2, fit_seconds=1.0) is None


def test_it_names_the_validation_score_of_the_last_iteration() -> None:
    assert progress_detail(FitProgress("iteration", 3, 10, True, "loss", 0.004123)) == (
        "val loss 0.0041"
    )
    assert progress_detail(FitProgress("tree", 3, 10)) == ""
