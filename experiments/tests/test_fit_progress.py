from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from experiments import training
from experiments.fit_progress import (
    ITERATION,
    TREE,
    FitProgress,
    parse_progress_line,
    reporting_fit_progress,
)
from experiments.tests.test_training import config_for

TIMINGS = training.TIMING_METRICS


def results_with_and_without_progress(
    frame: pd.DataFrame, model_type: str, params: dict[str, Any]
) -> tuple[training.TrainingResult, training.TrainingResult, list[FitProgress]]:
    config = config_for(model_type, params)
    events: list[FitProgress] = []
    plain = training.train(frame, config=config, target="Class")
    reported = training.train(frame, config=config, target="Class", fit_progress=events.append)
    return plain, reported, events


def features_and_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns="Class"), frame["Class"]


@pytest.mark.parametrize(
    ("model_type", "params"),
    [
        ("hist_gradient_boosting", {"max_iter": 15, "early_stopping": True}),
        ("hist_gradient_boosting", {"max_iter": 20, "early_stopping": False}),
        ("random_forest", {"n_estimators": 15}),
    ],
)
def test_it_gives_the_same_model_and_metrics_with_progress_reporting(
    small_fraud_frame: pd.DataFrame, model_type: str, params: dict[str, Any]
) -> None:
    plain, reported, events = results_with_and_without_progress(
        small_fraud_frame, model_type, params
    )

    assert events
    expected = [(m.name, m.step, m.value) for m in plain.metrics if m.name not in TIMINGS]
    actual = [(m.name, m.step, m.value) for m in reported.metrics if m.name not in TIMINGS]
    assert [row[:2] for row in actual] == [row[:2] for row in expected]
    np.testing.assert_allclose(
        [row[2] for row in actual], [row[2] for row in expected], rtol=0, atol=1e-12
    )
    assert np.array_equal(reported.holdout.y_score, plain.holdout.y_score)
    features = small_fraud_frame.drop(columns="Class")
    assert np.array_equal(reported.model.predict(features), plain.model.predict(features))
    assert reported.model.get_params() == plain.model.get_params()


def test_it_reports_each_boosting_iteration_of_the_total(small_fraud_frame: pd.DataFrame) -> None:
    _, _, events = results_with_and_without_progress(
        small_fraud_frame, "hist_gradient_boosting", {"max_iter": 12, "early_stopping": False}
    )

    assert [event.done for event in events] == list(range(1, 13))
    assert {(event.unit, event.total, event.at_most) for event in events} == {
        (ITERATION, 12, False)
    }
    assert all(event.validation_value is None for event in events)


def test_it_reports_the_validation_loss_and_an_upper_bound_with_early_stopping(
    small_fraud_frame: pd.DataFrame,
) -> None:
    _, result, events = results_with_and_without_progress(
        small_fraud_frame,
        "hist_gradient_boosting",
        {"max_iter": 200, "early_stopping": True, "n_iter_no_change": 2},
    )

    n_iter = result.model.n_iter_
    assert n_iter < 200  # stopped early: 200 was only a bound
    assert [event.done for event in events] == list(range(1, n_iter + 1))
    assert all(event.total == 200 and event.at_most for event in events)
    assert {event.validation_name for event in events} == {"loss"}
    losses = np.array([event.validation_value for event in events], dtype=float)
    # The printed loss is the model's own validation score, to 5 decimals.
    np.testing.assert_allclose(losses, -result.model.validation_score_[1:], atol=5e-6)


def test_it_counts_the_trees_built_in_worker_threads(small_fraud_frame: pd.DataFrame) -> None:
    features, labels = features_and_labels(small_fraud_frame)
    forest = RandomForestClassifier(n_estimators=24, n_jobs=2, random_state=0)
    events: list[FitProgress] = []

    with reporting_fit_progress(forest, events.append):
        forest.fit(features, labels)

    assert [event.done for event in events] == list(range(1, 25))
    assert {(event.unit, event.total) for event in events} == {(TREE, 24)}
    plain = RandomForestClassifier(n_estimators=24, n_jobs=2, random_state=0).fit(features, labels)
    assert np.array_equal(forest.predict_proba(features), plain.predict_proba(features))


def test_it_puts_back_verbose_and_the_tree_builder(small_fraud_frame: pd.DataFrame) -> None:
    import sklearn.ensemble._forest as forest_module

    builder = forest_module._parallel_build_trees
    features, labels = features_and_labels(small_fraud_frame)
    boosting = HistGradientBoostingClassifier(max_iter=3, verbose=0)

    with reporting_fit_progress(boosting, lambda progress: None):
        boosting.fit(features, labels)
    with (
        pytest.raises(RuntimeError, match="stop"),
        reporting_fit_progress(RandomForestClassifier(n_estimators=2), lambda progress: None),
    ):
        raise RuntimeError("stop")

    assert boosting.get_params()["verbose"] == 0
    assert forest_module._parallel_build_trees is builder


def test_it_passes_other_output_through_and_drops_the_estimators_chatter(
    small_fraud_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    features, labels = features_and_labels(small_fraud_frame)
    boosting = HistGradientBoostingClassifier(max_iter=3)

    with reporting_fit_progress(boosting, lambda progress: print("heard", progress.done)):
        boosting.fit(features, labels)
        print("a line of our own")
        sys.stdout.write("no newline")

    assert capsys.readouterr().out == "heard 1\nheard 2\nheard 3\na line of our own\nno newline"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_it_leaves_logistic_regression_alone(small_fraud_frame: pd.DataFrame) -> None:
    features, labels = features_and_labels(small_fraud_frame)
    model = LogisticRegression(max_iter=200)
    events: list[FitProgress] = []

    with reporting_fit_progress(model, events.append):
        model.fit(features, labels)

    assert events == []
    assert model.get_params()["verbose"] == 0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "[12/200] 1 tree, 31 leaves, max depth = 8, train loss: 0.01234, "
            "val loss: 0.01456, in 0.010s",
            FitProgress(ITERATION, 12, 200, True, "loss", 0.01456),
        ),
        (
            "[3/50] 1 tree, 31 leaves, max depth = 8, train score: 0.91000, "
            "val score: 0.88000, in 0.010s",
            FitProgress(ITERATION, 3, 50, True, "score", 0.88),
        ),
        (
            "[7/9] 1 tree, 4 leaves, max depth = 3, train loss: 0.01234, in 0.010s",
            FitProgress(ITERATION, 7, 9, True),
        ),
        ("[1/30] 1 tree, 31 leaves, max depth = 9, in 0.002s", FitProgress(ITERATION, 1, 30)),
        ("Fit 30 trees in 0.179 s, (145 total leaves)", None),
        ("building tree 3 of 100", None),
        ("[1/30] something else", None),
    ],
)
def test_it_reads_scikit_learns_iteration_lines(line: str, expected: FitProgress | None) -> None:
    assert parse_progress_line(line) == expected
