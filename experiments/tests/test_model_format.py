from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from experiments import model_format, training
from experiments.configs import ModelSpec
from experiments.model_format import UnsafeArtifactError

ROOT = Path(__file__).resolve().parents[2]
# Each model type the platform builds, as the shipped configs and the defaults
# (early stopping, which HGB switches on by itself above 10,000 rows) make it.
PLATFORM_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "logistic_regression": ("logistic_regression", {"class_weight": "balanced"}),
    "random_forest": ("random_forest", {"n_estimators": 5, "max_depth": 4}),
    "hist_gradient_boosting": ("hist_gradient_boosting", {"max_iter": 10}),
    "hist_gradient_boosting with early stopping": (
        "hist_gradient_boosting",
        {"max_iter": 30, "early_stopping": True, "validation_fraction": 0.2},
    ),
}


def fitted(model_type: str, params: dict[str, Any], frame: pd.DataFrame) -> Any:
    model = training.build_model(
        ModelSpec(type=model_type, params=MappingProxyType(params)), seed=7
    )
    features = training.feature_columns(frame, "Class")
    model.fit(frame[features], frame["Class"].to_numpy())
    return model


@pytest.mark.parametrize("name", PLATFORM_MODELS)
def test_it_round_trips_every_model_type_the_platform_builds(
    name: str, small_fraud_frame: pd.DataFrame
) -> None:
    model = fitted(*PLATFORM_MODELS[name], small_fraud_frame)
    data = model_format.model_to_bytes(model)

    loaded = model_format.model_from_bytes(data)

    assert model_format.artifact_types(data) <= model_format.ALLOWED_TYPES
    features = small_fraud_frame[training.feature_columns(small_fraud_frame, "Class")]
    assert np.array_equal(loaded.predict_proba(features), model.predict_proba(features))


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        (GaussianNB().fit(np.eye(4), [0, 1, 0, 1]), "sklearn.naive_bayes.GaussianNB"),
        (ExtraTreesClassifier(n_estimators=2).fit(np.eye(4), [0, 1, 0, 1]), "ExtraTreesClass"),
        (
            Pipeline([("scale", StandardScaler()), ("model", FunctionTransformer(np.load))]),
            "numpy.load",
        ),
        ({"model": np.add}, "numpy.add"),
    ],
)
def test_it_refuses_types_outside_the_allowlist(payload: Any, refused: str) -> None:
    """scikit-learn estimators and numpy ufuncs that skops itself trusts by
    default are refused too: the platform never saves them."""
    data = skops.io.dumps(payload)

    with pytest.raises(UnsafeArtifactError, match=f"refused: .*{refused}"):
        model_format.model_from_bytes(data)


def test_it_refuses_bytes_that_are_not_a_skops_artifact() -> None:
    with pytest.raises(UnsafeArtifactError, match="not a readable skops model artifact"):
        model_format.model_from_bytes(b"PK\x03\x04 not really a zip")


LOAD_IN_A_FRESH_PROCESS = """
import json, sys
import numpy as np
from experiments import model_format
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
model.fit(np.arange(40.0).reshape(20, 2), [0, 1] * 10)
model_format.model_from_bytes(model_format.model_to_bytes(model))
import skops.io._trusted_types as defaults
print(json.dumps({
    "neural_network": "sklearn.neural_network" in sys.modules,
    "names": sorted(name for name in vars(defaults) if name.isupper()),
    "bit_generators": defaults.NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES,
    "dtypes": defaults.NUMPY_DTYPE_TYPE_NAMES,
    "estimators": defaults.SKLEARN_ESTIMATOR_TYPE_NAMES,
}))
"""


def test_it_does_not_import_every_estimator_to_load_a_model() -> None:
    """In a fresh process skops gets the narrow default lists: the same names,
    the same plain data types as skops's own, and no estimator."""
    fresh = _run_python(LOAD_IN_A_FRESH_PROCESS)
    import skops.io._trusted_types as skops_defaults  # skops's own, in this process

    assert fresh["neural_network"] is False
    assert fresh["estimators"] == []
    assert fresh["names"] == sorted(
        name for name in vars(skops_defaults) if name.isupper() and not name.startswith("_")
    )
    assert fresh["bit_generators"] == skops_defaults.NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES
    assert fresh["dtypes"] == skops_defaults.NUMPY_DTYPE_TYPE_NAMES


def _run_python(code: str) -> Any:
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)
