from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pytest_django.fixtures import Settings

from experiments import training
from registry.models import ModelVersion, Stage
from registry.services import verified_model
from serving.errors import InputError, ModelNotFound
from serving.services import model_predict


def transactions(csv: Path, version: ModelVersion, rows: int) -> list[dict[str, Any]]:
    frame = pd.read_csv(csv).head(rows)
    records = frame[list(version.experiment.feature_columns)].to_dict(orient="records")
    return [{str(name): value for name, value in row.items()} for row in records]


def test_it_scores_records_as_the_model_does(
    production_version: ModelVersion, small_fraud_csv: Path
) -> None:
    records = transactions(small_fraud_csv, production_version, 50)

    scores = model_predict(model_name="fraud_detector", stage=Stage.PRODUCTION, records=records)

    features = list(production_version.experiment.feature_columns)
    expected = training.predict_scores(
        verified_model(production_version), pd.DataFrame(records), features
    )
    np.testing.assert_array_equal(scores.probabilities, expected)
    assert scores.model.version == 1


def test_it_decides_fraud_at_the_versions_threshold(
    registered: Callable[..., ModelVersion], small_fraud_csv: Path
) -> None:
    version = registered(threshold=0.3)
    records = transactions(small_fraud_csv, version, 400)

    scores = model_predict(model_name="fraud_detector", version=1, records=records)

    np.testing.assert_array_equal(scores.decisions, (scores.probabilities >= 0.3).astype(np.int8))
    assert 0 < scores.decisions.sum() < len(records)


def test_it_refuses_rows_it_cannot_score(production_version: ModelVersion) -> None:
    with pytest.raises(InputError, match="V1: missing in row 0"):
        model_predict(model_name="fraud_detector", stage=Stage.PRODUCTION, records=[{"Time": 1}])


def test_it_refuses_more_rows_than_serving_allows(
    production_version: ModelVersion, small_fraud_csv: Path, settings: Settings
) -> None:
    settings.SERVING_MAX_RECORDS = 2
    records = transactions(small_fraud_csv, production_version, 3)

    with pytest.raises(InputError, match="at most 2 rows per request, got 3"):
        model_predict(model_name="fraud_detector", stage=Stage.PRODUCTION, records=records)


def test_it_says_when_there_is_no_production_version(
    registered: Callable[..., ModelVersion],
) -> None:
    registered()

    with pytest.raises(ModelNotFound, match="has no version in production"):
        model_predict(model_name="fraud_detector", stage=Stage.PRODUCTION, records=[{}])
