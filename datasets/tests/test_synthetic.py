from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from datasets.synthetic import TWO_DAYS_SECONDS, column_names, make_fraud_frame, write_fraud_csv

FEATURES = [f"V{number}" for number in range(1, 29)]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_fraud_frame(rows=20_000, frauds=300, seed=1)


def holdout_average_precisions(frame: pd.DataFrame, models: dict[str, Any]) -> dict[str, float]:
    features, labels = frame.drop(columns="Class"), frame["Class"]
    train_x, test_x, train_y, test_y = train_test_split(
        features, labels, test_size=0.2, stratify=labels, random_state=0
    )
    return {
        name: average_precision_score(
            test_y, model.fit(train_x, train_y).predict_proba(test_x)[:, 1]
        )
        for name, model in models.items()
    }


def balanced_logistic_regression() -> object:
    return make_pipeline(
        StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000)
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_it_has_the_columns_and_types_of_the_kaggle_file(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == column_names()
    assert [str(dtype) for dtype in frame.dtypes] == ["float64"] * 30 + ["int64"]


def test_it_has_exactly_the_requested_frauds(frame: pd.DataFrame) -> None:
    assert len(frame) == 20_000
    assert frame["Class"].value_counts().to_dict() == {0: 19_700, 1: 300}


def test_it_spreads_time_over_two_days_with_quiet_nights(frame: pd.DataFrame) -> None:
    times = frame["Time"]
    assert times.is_monotonic_increasing
    assert times.min() >= 0
    assert times.max() <= TWO_DAYS_SECONDS
    hour = (times / 3600) % 24
    assert hour.between(2, 5).sum() * 3 < hour.between(12, 15).sum()


def test_it_has_positive_skewed_amounts_in_cents(frame: pd.DataFrame) -> None:
    amounts = frame["Amount"]
    assert amounts.min() >= 0
    assert np.allclose(amounts, amounts.round(2))
    assert amounts.mean() > 1.5 * amounts.median()


def test_it_orders_components_by_decreasing_variance(frame: pd.DataFrame) -> None:
    legit = frame.loc[frame["Class"] == 0, FEATURES]
    spreads = legit.std().to_numpy()
    assert spreads[0] > spreads[9] > spreads[19] > spreads[27]
    assert np.corrcoef(np.arange(28), spreads)[0, 1] < -0.9
    assert np.abs(legit.mean().to_numpy()).max() < 0.1


def test_it_writes_the_same_bytes_for_the_same_seed(tmp_path: Path) -> None:
    first = write_fraud_csv(tmp_path / "a.csv", rows=2000, frauds=40, seed=7)
    second = write_fraud_csv(tmp_path / "b.csv", rows=2000, frauds=40, seed=7)
    other_seed = write_fraud_csv(tmp_path / "c.csv", rows=2000, frauds=40, seed=8)

    assert sha256(first) == sha256(second)
    assert sha256(first) != sha256(other_seed)


def test_it_reads_back_as_written(tmp_path: Path) -> None:
    path = write_fraud_csv(tmp_path / "fraud.csv", rows=1000, frauds=30, seed=2)

    pd.testing.assert_frame_equal(pd.read_csv(path), make_fraud_frame(rows=1000, frauds=30, seed=2))
    assert sorted(item.name for item in tmp_path.iterdir()) == ["fraud.csv"]


def test_it_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="need 0 < frauds < rows"):
        make_fraud_frame(rows=10, frauds=0)


def test_it_lets_a_forest_beat_a_linear_model_on_small_data() -> None:
    small = make_fraud_frame(rows=4000, frauds=120, seed=0)
    forest = RandomForestClassifier(n_estimators=50, max_depth=12, random_state=0)

    scores = holdout_average_precisions(
        small, {"linear": balanced_logistic_regression(), "forest": forest}
    )

    assert 0.4 < scores["linear"] < 0.9
    assert scores["forest"] > scores["linear"]


@pytest.mark.slow
def test_it_needs_a_nonlinear_model_to_find_most_frauds(frame: pd.DataFrame) -> None:
    boosting = HistGradientBoostingClassifier(
        max_iter=200, l2_regularization=1.0, early_stopping=False, random_state=0
    )
    forest = RandomForestClassifier(n_estimators=100, max_depth=12, max_samples=0.3, random_state=0)

    scores = holdout_average_precisions(
        frame, {"linear": balanced_logistic_regression(), "boosting": boosting, "forest": forest}
    )

    assert 0.45 < scores["linear"] < 0.85, scores
    assert scores["boosting"] >= scores["linear"] + 0.10, scores
    assert scores["forest"] >= scores["linear"] + 0.05, scores
