"""The plain baseline of train_bench.py: the script a data scientist would
write without the platform. Reads the CSV with pandas, makes the same
stratified split, fits the same scikit-learn pipeline and computes the same
holdout metrics and curves as experiments/training.py; saves nothing, and
does not compute the per-iteration holdout loss the platform records for
gradient boosting. Imports nothing from the project; prints the metrics as
one JSON object.

    .venv/bin/python bench/plain_train.py CSV --config configs/fraud_baseline.yaml
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn import metrics
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

# A user's script imports the one estimator it fits; so does this one.
MODELS = {
    "logistic_regression": ("sklearn.linear_model", "LogisticRegression"),
    "random_forest": ("sklearn.ensemble", "RandomForestClassifier"),
    "hist_gradient_boosting": ("sklearn.ensemble", "HistGradientBoostingClassifier"),
}


def build_model(config: dict[str, Any]) -> Any:
    model_type = config["model"]["type"]
    params = dict(config["model"].get("params") or {})
    params.setdefault("random_state", config.get("split", {}).get("seed", 42))
    module_name, class_name = MODELS[model_type]
    estimator = getattr(importlib.import_module(module_name), class_name)(**params)
    if model_type == "logistic_regression":
        return Pipeline([("scale", StandardScaler()), ("model", estimator)])
    return estimator


def evaluate(
    model: Any, features: pd.DataFrame, y_true: np.ndarray, threshold: float
) -> dict[str, Any]:
    y_score = model.predict_proba(features)[:, 1]
    predicted = (y_score >= threshold).astype(np.int8)
    tn, fp, fn, tp = metrics.confusion_matrix(y_true, predicted, labels=[0, 1]).ravel()
    results = {
        "accuracy": metrics.accuracy_score(y_true, predicted),
        "precision": metrics.precision_score(y_true, predicted, zero_division=0),
        "recall": metrics.recall_score(y_true, predicted, zero_division=0),
        "f1": metrics.f1_score(y_true, predicted, zero_division=0),
        "roc_auc": metrics.roc_auc_score(y_true, y_score),
        "average_precision": metrics.average_precision_score(y_true, y_score),
        "log_loss": metrics.log_loss(y_true, y_score, labels=[0, 1]),
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
    }
    metrics.precision_recall_curve(y_true, y_score)
    metrics.roc_curve(y_true, y_score)
    return {name: float(value) for name, value in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--target", default="Class")
    options = parser.parse_args()
    config = yaml.safe_load(options.config.read_text())
    frame = pd.read_csv(options.csv)
    features = [column for column in frame.columns if column != options.target]
    labels = frame[options.target].to_numpy().astype(np.int8)
    split = config.get("split") or {}
    train_rows, holdout_rows = train_test_split(
        np.arange(len(frame)),
        test_size=split.get("test_size", 0.2),
        random_state=split.get("seed", 42),
        stratify=labels,
    )
    train_rows, holdout_rows = np.sort(train_rows), np.sort(holdout_rows)
    model = build_model(config)
    model.fit(frame.iloc[train_rows][features], labels[train_rows])
    holdout = frame.iloc[holdout_rows][features]
    results = evaluate(model, holdout, labels[holdout_rows], config.get("threshold", 0.5))
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
