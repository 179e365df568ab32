from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
import yaml
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from experiments import training
from experiments.configs import ExperimentConfig, load_config_file, parse_config
from experiments.training import (
    FeatureMismatchError,
    Holdout,
    TrainingError,
    TrainingResult,
    UnsafeArtifactError,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "logistic_regression": {"class_weight": "balanced", "max_iter": 1000},
    "random_forest": {"n_estimators": 20},
    "hist_gradient_boosting": {"max_iter": 30, "early_stopping": False, "l2_regularization": 1.0},
}
MODEL_TYPES = list(SMALL_PARAMS)

HOLDOUT_METRICS = {
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "tn",
    "fp",
    "fn",
    "tp",
    "holdout_rows",
    "holdout_positives",
}
EVERY_RUN_METRICS = HOLDOUT_METRICS | {"fit_time_seconds", "predict_time_seconds", "train_rows"}


def config_for(
    model_type: str, params: dict[str, Any] | None = None, **extra: Any
) -> ExperimentConfig:
    document = {
        "experiment_name": f"test_{model_type}",
        "dataset": {"name": "credit_card_fraud", "version": "v1"},
        "model": {
            "type": model_type,
            "params": SMALL_PARAMS[model_type] if params is None else params,
        },
        **extra,
    }
    return parse_config(yaml.safe_dump(document))


def plain_metrics(result: TrainingResult) -> dict[str, float]:
    return {metric.name: metric.value for metric in result.metrics if metric.step is None}


def stepped_metrics(result: TrainingResult, name: str) -> list[tuple[int | None, float]]:
    return [(metric.step, metric.value) for metric in result.metrics if metric.name == name]


@pytest.fixture(scope="module")
def trained(small_fraud_frame: pd.DataFrame) -> dict[str, TrainingResult]:
    """One training run per model type, shared by the read-only tests below."""
    return {
        model_type: training.train(small_fraud_frame, config=config_for(model_type), target="Class")
        for model_type in MODEL_TYPES
    }


# ------------------------------------------------------------------- metrics


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_it_returns_every_metric_for_each_model_type(
    model_type: str, trained: dict[str, TrainingResult]
) -> None:
    metrics = plain_metrics(trained[model_type])

    assert set(metrics) >= EVERY_RUN_METRICS
    assert all(isinstance(value, float) and np.isfinite(value) for value in metrics.values())
    assert metrics["train_rows"] == 3200
    assert metrics["holdout_rows"] == 800
    assert metrics["holdout_positives"] == 24
    assert metrics["tn"] + metrics["fp"] + metrics["fn"] + metrics["tp"] == 800
    assert 0.5 < metrics["roc_auc"] <= 1


def test_it_logs_the_iterations_of_logistic_regression(trained: dict[str, TrainingResult]) -> None:
    result = trained["logistic_regression"]

    assert plain_metrics(result)["n_iter"] >= 1
    assert stepped_metrics(result, "validation_loss") == []


def test_it_logs_validation_loss_per_boosting_iteration(trained: dict[str, TrainingResult]) -> None:
    result = trained["hist_gradient_boosting"]

    losses = stepped_metrics(result, "validation_loss")

    assert [step for step, _ in losses] == list(range(1, 31))
    assert plain_metrics(result)["n_iter"] == 30
    assert losses[-1][1] == pytest.approx(plain_metrics(result)["log_loss"], rel=1e-12)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_it_scores_boosting_as_predict_proba_does_bit_for_bit(
    small_fraud_frame: pd.DataFrame, early_stopping: bool
) -> None:
    params = {"max_iter": 40, "early_stopping": early_stopping, "l2_regularization": 1.0}
    result = training.train(
        small_fraud_frame, config=config_for("hist_gradient_boosting", params), target="Class"
    )
    holdout = small_fraud_frame.iloc[result.holdout.row_ids][result.feature_columns]

    expected = result.model.predict_proba(holdout)[:, 1]

    assert np.array_equal(result.holdout.y_score, expected)


def test_it_logs_no_iterations_for_random_forest(trained: dict[str, TrainingResult]) -> None:
    assert "n_iter" not in plain_metrics(trained["random_forest"])


def test_it_computes_the_log_loss_as_scikit_learn_does() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 5000)
    y_score = rng.random(5000)
    y_score[:6] = [0.0, 1.0, 1e-300, 1 - 1e-17, 0.5, 1.0]

    expected = log_loss(y_true, y_score, labels=[0, 1])

    assert training.binary_log_loss(y_true, y_score) == pytest.approx(expected, rel=1e-12)


def test_it_caps_the_number_of_validation_loss_steps(
    small_fraud_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "MAX_LOSS_STEPS", 10)
    params = {"max_iter": 37, "early_stopping": False, "max_depth": 2}
    result = training.train(
        small_fraud_frame, config=config_for("hist_gradient_boosting", params), target="Class"
    )

    steps = [step for step, _ in stepped_metrics(result, "validation_loss")]

    assert steps == [1, 5, 9, 13, 17, 21, 25, 29, 33, 37]


def test_it_spreads_the_logged_steps_evenly_over_all_iterations() -> None:
    steps = training.evenly_spaced_steps(1000, 200)

    assert len(steps) == 200
    assert (steps[0], steps[-1]) == (1, 1000)
    assert set(np.diff(steps)) <= {5, 6}


def test_it_computes_threshold_metrics_at_the_given_threshold() -> None:
    y_true = np.array([0, 0, 0, 1, 1])
    y_score = np.array([0.1, 0.3, 0.6, 0.3, 0.9])

    at_half = {
        metric.name: metric.value for metric in training.compute_metrics(y_true, y_score, 0.5)
    }
    at_low = {
        metric.name: metric.value for metric in training.compute_metrics(y_true, y_score, 0.3)
    }

    assert (at_half["tp"], at_half["fp"], at_half["fn"], at_half["tn"]) == (1, 1, 1, 2)
    assert at_half["precision"] == 0.5
    assert at_low["recall"] == 1.0
    assert at_low["fp"] == 2


def test_it_reports_zero_precision_when_nothing_is_predicted_positive() -> None:
    metrics = training.compute_metrics(np.array([0, 1]), np.array([0.1, 0.2]), 0.9)

    assert {metric.name: metric.value for metric in metrics}["precision"] == 0.0


def test_it_refuses_metrics_for_a_single_class() -> None:
    with pytest.raises(ValueError, match="both classes"):
        training.compute_metrics(np.array([0, 0]), np.array([0.1, 0.2]), 0.5)


def test_it_records_fit_warnings(small_fraud_frame: pd.DataFrame) -> None:
    config = config_for("logistic_regression", {"max_iter": 1})

    result = training.train(small_fraud_frame, config=config, target="Class")

    assert any(warning.startswith("ConvergenceWarning") for warning in result.warnings)


def test_it_reports_the_phases_in_order(small_fraud_frame: pd.DataFrame) -> None:
    phases: list[str] = []

    training.train(
        small_fraud_frame,
        config=config_for("logistic_regression"),
        target="Class",
        progress=phases.append,
    )

    assert phases == ["fitting", "evaluating"]


# -------------------------------------------------------------- split, model


def test_it_holds_out_a_stratified_sorted_share_of_the_rows(
    small_fraud_frame: pd.DataFrame, trained: dict[str, TrainingResult]
) -> None:
    result = trained["logistic_regression"]
    holdout = result.holdout

    assert len(holdout.row_ids) == 800
    assert np.all(np.diff(holdout.row_ids) > 0)
    assert holdout.row_ids.dtype == np.int64
    assert holdout.y_true.dtype == np.int8
    assert holdout.y_score.dtype == np.float64
    assert np.array_equal(holdout.y_true, small_fraud_frame["Class"].to_numpy()[holdout.row_ids])
    assert holdout.y_true.sum() == 24
    assert result.train_rows + len(holdout.row_ids) == len(small_fraud_frame)


def test_it_uses_every_column_but_the_target_in_frame_order(
    small_fraud_frame: pd.DataFrame, trained: dict[str, TrainingResult]
) -> None:
    expected = [column for column in small_fraud_frame.columns if column != "Class"]

    assert trained["random_forest"].feature_columns == expected


def test_it_changes_the_holdout_with_the_split_seed(
    small_fraud_frame: pd.DataFrame, trained: dict[str, TrainingResult]
) -> None:
    config = config_for("logistic_regression", split={"seed": 7, "test_size": 0.3})

    result = training.train(small_fraud_frame, config=config, target="Class")

    assert len(result.holdout.row_ids) == 1200
    assert not np.array_equal(
        result.holdout.row_ids[:800], trained["logistic_regression"].holdout.row_ids
    )


def test_it_seeds_random_state_from_the_split_unless_the_config_sets_it() -> None:
    seeded = training.build_model(config_for("random_forest").model, seed=7)
    chosen = training.build_model(config_for("random_forest", {"random_state": 3}).model, seed=7)

    assert seeded.random_state == 7
    assert chosen.random_state == 3


def test_it_scales_features_for_logistic_regression_only(
    trained: dict[str, TrainingResult],
) -> None:
    assert isinstance(trained["logistic_regression"].model, Pipeline)
    assert [name for name, _ in trained["logistic_regression"].model.steps] == ["scale", "model"]
    assert not isinstance(trained["random_forest"].model, Pipeline)
    assert not isinstance(trained["hist_gradient_boosting"].model, Pipeline)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_it_gives_identical_results_for_the_same_config_and_data(
    model_type: str, small_fraud_frame: pd.DataFrame, trained: dict[str, TrainingResult]
) -> None:
    first = trained[model_type]

    second = training.train(small_fraud_frame, config=config_for(model_type), target="Class")

    def comparable(result: TrainingResult) -> list[tuple[str, float, int | None]]:
        return [
            (metric.name, metric.value, metric.step)
            for metric in result.metrics
            if metric.name not in training.TIMING_METRICS
        ]

    assert comparable(second) == comparable(first)
    assert np.array_equal(second.holdout.row_ids, first.holdout.row_ids)
    assert np.array_equal(second.holdout.y_score, first.holdout.y_score)
    assert second.curves == first.curves


def test_it_makes_the_shipped_underfit_config_clearly_worse_than_the_baseline(
    small_fraud_frame: pd.DataFrame,
) -> None:
    def average_precision(name: str) -> float:
        _, config = load_config_file(CONFIG_DIR / f"{name}.yaml")
        result = training.train(small_fraud_frame, config=config, target="Class")
        return plain_metrics(result)["average_precision"]

    assert average_precision("fraud_underfit") < average_precision("fraud_baseline") - 0.1


# -------------------------------------------------------------------- curves


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_it_returns_json_safe_curves_of_at_most_300_points(
    model_type: str, trained: dict[str, TrainingResult]
) -> None:
    curves = trained[model_type].curves

    json.dumps(curves, allow_nan=False)
    for curve in (curves["pr"], curves["roc"]):
        lengths = {len(values) for values in curve.values()}
        assert len(lengths) == 1
        assert 2 <= lengths.pop() <= training.MAX_CURVE_POINTS
        assert all(type(value) is float for values in curve.values() for value in values)


def test_it_keeps_the_endpoints_of_the_curves(trained: dict[str, TrainingResult]) -> None:
    roc = trained["hist_gradient_boosting"].curves["roc"]
    pr = trained["hist_gradient_boosting"].curves["pr"]

    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert pr["recall"][0] == 1.0
    assert (pr["recall"][-1], pr["precision"][-1]) == (0.0, 1.0)


def test_it_replaces_the_infinite_threshold_by_one_above_every_score() -> None:
    curves = training.compute_curves(np.array([0, 1, 0, 1]), np.array([0.2, 0.8, 0.4, 0.6]))

    assert curves["roc"]["threshold"][0] == 1.0
    assert curves["pr"]["threshold"][-1] == 1.0


def test_it_downsamples_long_curves_along_their_length() -> None:
    x = np.linspace(0, 1, 10_000)
    y = np.sqrt(x)

    kept = training.downsample_curve(x, y, 300)

    assert len(kept) <= 300
    assert (kept[0], kept[-1]) == (0, 9_999)
    # The steep start of sqrt gets more points than an even split by index would give.
    assert np.sum(x[kept] < 0.01) > 3


# ------------------------------------------------------------------- scoring


def test_it_reproduces_the_holdout_scores_from_the_holdout_rows(
    small_fraud_frame: pd.DataFrame, trained: dict[str, TrainingResult]
) -> None:
    for result in trained.values():
        rows = small_fraud_frame.iloc[result.holdout.row_ids].reset_index(drop=True)

        scores = training.predict_scores(result.model, rows, result.feature_columns)

        assert np.array_equal(scores, result.holdout.y_score)


def test_it_names_the_missing_columns_when_the_data_lacks_features(
    small_fraud_frame: pd.DataFrame, trained: dict[str, TrainingResult]
) -> None:
    result = trained["logistic_regression"]
    frame = small_fraud_frame.drop(columns=["V3", "Amount"]).assign(Extra=1.0)

    with pytest.raises(FeatureMismatchError) as caught:
        training.predict_scores(result.model, frame, result.feature_columns)

    assert "lacks 2 of the model's 30 feature columns: V3, Amount" in str(caught.value)
    assert "columns the model does not know: Class, Extra" in str(caught.value)


def test_it_refuses_feature_columns_other_than_the_trained_ones(
    small_fraud_frame: pd.DataFrame, trained: dict[str, TrainingResult]
) -> None:
    result = trained["random_forest"]
    reordered = [*result.feature_columns[1:], result.feature_columns[0]]

    with pytest.raises(FeatureMismatchError, match="differ from those the model was trained on"):
        training.predict_scores(result.model, small_fraud_frame, reordered)


# ---------------------------------------------------------------- bad input


def test_it_refuses_a_missing_target(small_fraud_frame: pd.DataFrame) -> None:
    with pytest.raises(TrainingError, match="target column 'Fraud' is not in the data"):
        training.train(small_fraud_frame, config=config_for("random_forest"), target="Fraud")


def test_it_refuses_a_target_that_is_not_binary(small_fraud_frame: pd.DataFrame) -> None:
    frame = small_fraud_frame.assign(Class=small_fraud_frame["Class"].replace(1, 2))

    with pytest.raises(TrainingError, match="must hold only 0 and 1"):
        training.train(frame, config=config_for("random_forest"), target="Class")


def test_it_counts_the_positive_label_as_1_and_the_other_class_as_0(
    small_fraud_frame: pd.DataFrame,
) -> None:
    named = small_fraud_frame.assign(Class=small_fraud_frame["Class"].map({0: "ok", 1: "fraud"}))

    labels = training.binary_labels(named, "Class", positive_label="fraud")

    assert labels.dtype == np.int8
    np.testing.assert_array_equal(labels, small_fraud_frame["Class"].to_numpy())


def test_it_trains_a_text_target_as_the_same_0_1_target(small_fraud_frame: pd.DataFrame) -> None:
    named = small_fraud_frame.assign(Class=small_fraud_frame["Class"].map({0: "ok", 1: "fraud"}))
    config = config_for("random_forest")

    by_name = training.train(named, config=config, target="Class", positive_label="fraud")
    by_number = training.train(small_fraud_frame, config=config, target="Class")

    np.testing.assert_array_equal(by_name.holdout.y_true, by_number.holdout.y_true)
    np.testing.assert_array_equal(by_name.holdout.y_score, by_number.holdout.y_score)


def test_it_refuses_a_positive_label_the_target_does_not_hold(
    small_fraud_frame: pd.DataFrame,
) -> None:
    with pytest.raises(TrainingError, match="must hold the positive label 'fraud'"):
        training.binary_labels(small_fraud_frame, "Class", positive_label="fraud")


def test_it_refuses_missing_target_values(small_fraud_frame: pd.DataFrame) -> None:
    frame = small_fraud_frame.assign(Class=small_fraud_frame["Class"].astype(float))
    frame.loc[0, "Class"] = np.nan

    with pytest.raises(TrainingError, match="missing values"):
        training.train(frame, config=config_for("random_forest"), target="Class")


def test_it_refuses_non_numeric_features(small_fraud_frame: pd.DataFrame) -> None:
    frame = small_fraud_frame.assign(Country="NL")

    with pytest.raises(TrainingError, match="must be numeric: Country"):
        training.train(frame, config=config_for("random_forest"), target="Class")


def test_it_refuses_data_with_too_few_positives() -> None:
    frame = pd.DataFrame({"a": np.arange(50.0), "Class": [1] + [0] * 49})

    with pytest.raises(TrainingError, match="at least 2 rows of each class"):
        training.train(frame, config=config_for("random_forest"), target="Class")


def test_it_refuses_a_split_that_leaves_the_holdout_without_positives() -> None:
    frame = pd.DataFrame({"a": np.arange(100.0), "Class": [1, 1] + [0] * 98})
    config = config_for("random_forest", split={"test_size": 0.1})

    with pytest.raises(TrainingError, match="holdout lacks one class"):
        training.train(frame, config=config, target="Class")


def test_it_reports_parameter_combinations_scikit_learn_refuses_while_fitting(
    small_fraud_frame: pd.DataFrame,
) -> None:
    config = config_for("logistic_regression", {"penalty": "l1", "solver": "lbfgs"})

    with pytest.raises(TrainingError, match="could not be fitted: Solver lbfgs supports only"):
        training.train(small_fraud_frame, config=config, target="Class")


# ----------------------------------------------------------------- artifacts


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_it_round_trips_a_model_through_bytes_with_identical_scores(
    model_type: str, small_fraud_frame: pd.DataFrame, trained: dict[str, TrainingResult]
) -> None:
    result = trained[model_type]

    loaded = training.model_from_bytes(training.model_to_bytes(result.model))

    rows = small_fraud_frame.iloc[result.holdout.row_ids]
    scores = training.predict_scores(loaded, rows, result.feature_columns)
    assert np.array_equal(scores, result.holdout.y_score)


class Sneaky:
    def __init__(self) -> None:
        self.payload = "anything"


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        ({"model": Sneaky()}, "experiments.tests.test_training.Sneaky"),
        (FunctionTransformer(func=eval), "builtins.eval"),
        (FunctionTransformer(func=np.load), "numpy.load"),
    ],
)
def test_it_refuses_artifacts_with_untrusted_types(payload: Any, refused: str) -> None:
    data = skops.io.dumps(payload)

    with pytest.raises(UnsafeArtifactError, match=f"refused: {refused}"):
        training.model_from_bytes(data)


def test_it_refuses_bytes_that_are_not_a_skops_artifact() -> None:
    with pytest.raises(UnsafeArtifactError, match="not a readable skops model artifact"):
        training.model_from_bytes(b"\x80\x04 definitely a pickle")


def test_it_round_trips_the_holdout_through_bytes_exactly(
    trained: dict[str, TrainingResult],
) -> None:
    holdout = trained["hist_gradient_boosting"].holdout

    restored = training.holdout_from_bytes(training.holdout_to_bytes(holdout))

    assert np.array_equal(restored.row_ids, holdout.row_ids)
    assert np.array_equal(restored.y_true, holdout.y_true)
    assert np.array_equal(restored.y_score, holdout.y_score)
    assert (restored.row_ids.dtype, restored.y_true.dtype, restored.y_score.dtype) == (
        np.dtype(np.int64),
        np.dtype(np.int8),
        np.dtype(np.float64),
    )


def test_it_stores_holdout_row_ids_as_int32() -> None:
    holdout = Holdout(
        row_ids=np.array([0, 5, 9]), y_true=np.array([0, 1, 0]), y_score=np.array([0.1, 0.9, 0.2])
    )

    with np.load(io.BytesIO(training.holdout_to_bytes(holdout))) as archive:
        assert archive["row_ids"].dtype == np.int32


def test_it_refuses_bytes_that_are_not_a_holdout() -> None:
    with pytest.raises(ValueError, match="not a holdout archive"):
        training.holdout_from_bytes(b"nonsense")


def test_it_refuses_holdout_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="equally long"):
        Holdout(row_ids=np.array([0, 1]), y_true=np.array([0]), y_score=np.array([0.5, 0.5]))


def test_it_imports_no_django() -> None:
    code = (
        "import sys, experiments.training, experiments.configs; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)"
    )

    subprocess.run([sys.executable, "-c", code], check=True, cwd=CONFIG_DIR.parent)


@pytest.mark.slow
def test_it_trains_the_shipped_baseline_and_underfit_configs_on_full_size_data() -> None:
    from datasets.synthetic import make_fraud_frame

    frame = make_fraud_frame(seed=0)
    scores = {}
    for name in ("fraud_baseline", "fraud_underfit"):
        _, config = load_config_file(CONFIG_DIR / f"{name}.yaml")
        result = training.train(frame, config=config, target="Class")
        scores[name] = plain_metrics(result)["average_precision"]
        assert plain_metrics(result)["holdout_rows"] == 56_962

    assert scores["fraud_underfit"] < scores["fraud_baseline"] - 0.05
