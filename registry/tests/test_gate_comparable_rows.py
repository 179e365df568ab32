"""The gate compares on rows neither model trained on, and refuses to compare
models trained on different data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from sklearn.metrics import average_precision_score, roc_auc_score

from datasets.models import DatasetVersion
from datasets.services import dataset_register
from datasets.synthetic import make_fraud_frame, write_fraud_csv
from experiments import training
from experiments.models import Experiment
from mlplatform.origin import Origin
from mlplatform.testing import config_yaml, make_user
from registry.models import ModelVersion, Stage, StageTransition
from registry.services import (
    model_version_register,
    stage_request_create,
    stage_request_decide,
)
from registry.services.gate_runs import verified_model
from registry.tests.conftest import promote

MEDIUM_ROWS, MEDIUM_FRAUDS = 8000, 400
HALF = {"test_size": 0.5, "seed": 1}


def register_csv(path: Path, name: str, version: str) -> DatasetVersion:
    return dataset_register(
        name=name, version=version, path=path, target="Class", user_name="pytest"
    )


@pytest.fixture
def medium(data_root: Path, db: None) -> DatasetVersion:
    """8,000 rows, 5% fraud: enough positives left after excluding half the holdout."""
    path = write_fraud_csv(
        data_root / "medium" / "v1.csv", rows=MEDIUM_ROWS, frauds=MEDIUM_FRAUDS, seed=1
    )
    return register_csv(path, "medium_fraud", "v1")


@pytest.fixture
def train_on(db: None) -> Callable[..., Experiment]:
    from experiments.services import experiment_create, experiment_execute

    def train(dataset: DatasetVersion, split: dict[str, Any], name: str = "run") -> Experiment:
        text = config_yaml(dataset=dataset, name=name, extra={"split": split})
        experiment = experiment_create(config_text=text)
        experiment_execute(experiment_id=experiment.pk)
        experiment.refresh_from_db()
        assert experiment.status == "completed", experiment.error_message
        return experiment

    return train


@pytest.fixture
def in_production(experimenter: User, approver: User) -> Callable[[Experiment], ModelVersion]:
    def make(experiment: Experiment) -> ModelVersion:
        evaluation, version = model_version_register(experiment_id=experiment.pk)
        assert evaluation is not None
        assert version is not None, evaluation.report["reasons"]
        return promote(version, experimenter, approver)

    return make


def recorded(experiment: Experiment) -> training.Holdout:
    assert experiment.holdout is not None
    return training.holdout_from_bytes(bytes(experiment.holdout))


def csv_frame(version: DatasetVersion) -> pd.DataFrame:
    return pd.read_csv(Path(settings.DATA_ROOT) / version.path)


def overlap_by_values(candidate_rows: pd.DataFrame, production_rows: pd.DataFrame) -> np.ndarray:
    """Which candidate rows have exactly the feature values of a production
    training row: a pandas merge on every feature, independent of the gate's hashing."""
    features = [column for column in candidate_rows.columns if column != "Class"]
    seen = production_rows[features].drop_duplicates().assign(_seen=True)
    merged = candidate_rows[features].merge(seen, on=features, how="left")
    return merged["_seen"].eq(True).to_numpy()


def primary(report: dict[str, Any]) -> dict[str, Any]:
    return next(entry for entry in report["metrics"] if entry["metric"] == "average_precision")


def test_it_excludes_exactly_the_rows_production_trained_on_with_another_split_seed(
    medium: DatasetVersion,
    train_on: Callable[..., Experiment],
    in_production: Callable[[Experiment], ModelVersion],
) -> None:
    production = in_production(train_on(medium, HALF, name="seed_1"))
    candidate = train_on(medium, {"test_size": 0.5, "seed": 2}, name="seed_2")

    evaluation, _ = model_version_register(experiment_id=candidate.pk)

    frame = csv_frame(medium)
    theirs, ours = recorded(production.experiment), recorded(candidate)
    seen = overlap_by_values(
        frame.iloc[ours.row_ids].reset_index(drop=True),
        frame.iloc[theirs.training_rows(len(frame))],
    )
    assert evaluation is not None
    report = evaluation.report
    assert 0 < seen.sum() < len(seen)
    assert report["excluded_rows"] == int(seen.sum())
    assert report["holdout_rows"] == len(seen) - int(seen.sum())
    assert report["candidate_holdout_rows"] == len(seen)
    assert "less the" in report["comparison"]
    assert report["candidate_data"]["split"] == {"test_size": 0.5, "seed": 2}
    assert report["production_data"]["split"] == {"test_size": 0.5, "seed": 1}
    # Both models scored on exactly the remaining rows, as scikit-learn computes it.
    kept = ~seen
    y_true = ours.y_true[kept]
    production_scores = training.predict_scores(
        verified_model(production),
        frame.iloc[ours.row_ids[kept]],
        list(production.experiment.feature_columns),
    )
    entry = primary(report)
    assert entry["candidate"] == pytest.approx(
        average_precision_score(y_true, ours.y_score[kept]), abs=1e-12
    )
    assert entry["production"] == pytest.approx(
        average_precision_score(y_true, production_scores), abs=1e-12
    )
    auc = next(item for item in report["metrics"] if item["metric"] == "roc_auc")
    assert auc["production"] == pytest.approx(roc_auc_score(y_true, production_scores), abs=1e-12)


def test_it_excludes_nothing_for_the_same_data_and_split(
    medium: DatasetVersion,
    train_on: Callable[..., Experiment],
    in_production: Callable[[Experiment], ModelVersion],
) -> None:
    in_production(train_on(medium, HALF, name="first"))
    candidate = train_on(medium, HALF, name="again")

    evaluation, version = model_version_register(experiment_id=candidate.pk)

    assert evaluation is not None
    assert evaluation.report["excluded_rows"] == 0
    assert evaluation.report["holdout_rows"] == len(recorded(candidate).row_ids)
    assert evaluation.report["comparison"].startswith("paired")
    assert primary(evaluation.report)["delta"] == pytest.approx(0.0, abs=1e-12)
    assert version is not None


def test_it_excludes_only_trained_rows_from_a_newer_version_that_appends_rows(
    medium: DatasetVersion,
    data_root: Path,
    train_on: Callable[..., Experiment],
    in_production: Callable[[Experiment], ModelVersion],
) -> None:
    old = csv_frame(medium)
    appended = make_fraud_frame(rows=4000, frauds=200, seed=99)
    newer_path = data_root / "medium" / "v2.csv"
    pd.concat([old, appended], ignore_index=True).to_csv(newer_path, index=False)
    newer = register_csv(newer_path, "medium_fraud", "v2")
    production = in_production(train_on(medium, HALF, name="on_v1"))
    candidate = train_on(newer, HALF, name="on_v2")

    evaluation, _ = model_version_register(experiment_id=candidate.pk)

    frame = csv_frame(newer)
    ours = recorded(candidate)
    candidate_rows = frame.iloc[ours.row_ids].reset_index(drop=True)
    seen = overlap_by_values(
        candidate_rows, old.iloc[recorded(production.experiment).training_rows(len(old))]
    )
    from_appended = ours.row_ids >= len(old)
    assert from_appended.any()
    assert not (seen & from_appended).any()  # rows production never saw are kept
    assert evaluation is not None
    assert evaluation.report["excluded_rows"] == int(seen.sum()) > 0
    assert evaluation.report["candidate_data"]["dataset"] == "medium_fraud:v2"
    assert evaluation.report["production_data"]["dataset"] == "medium_fraud:v1"


def test_it_fails_closed_when_too_few_positives_remain(
    registered_dataset: DatasetVersion,
    train_on: Callable[..., Experiment],
    in_production: Callable[[Experiment], ModelVersion],
) -> None:
    in_production(train_on(registered_dataset, {"test_size": 0.3, "seed": 7}, name="a"))
    candidate = train_on(registered_dataset, {"test_size": 0.3, "seed": 8}, name="b")

    evaluation, version = model_version_register(experiment_id=candidate.pk)

    assert version is None
    assert evaluation is not None
    assert not evaluation.passed
    reason = evaluation.report["reasons"][0]
    assert "less the" in reason
    assert "rows production trained on" in reason
    assert "fewer than the 20 needed" in reason
    assert "production's data set version and split" in reason


@pytest.fixture
def other_columns(data_root: Path, db: None) -> DatasetVersion:
    frame = make_fraud_frame(rows=4000, frauds=120, seed=5).drop(columns=["Time"])
    path = data_root / "medium" / "v3.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return register_csv(path, "medium_fraud", "v3")


@pytest.mark.parametrize("dataset_fixture", ["registered_dataset", "other_columns"])
def test_it_does_not_compare_different_data_and_fails_a_promotion_closed(
    medium: DatasetVersion,
    train_on: Callable[..., Experiment],
    in_production: Callable[[Experiment], ModelVersion],
    experimenter: User,
    approver: User,
    dataset_fixture: str,
    request: pytest.FixtureRequest,
) -> None:
    production = in_production(train_on(medium, HALF, name="prod"))
    other = request.getfixturevalue(dataset_fixture)
    candidate = train_on(other, {"test_size": 0.3, "seed": 7}, name="elsewhere")

    registration, version = model_version_register(experiment_id=candidate.pk)

    # Registration judges it on the policy's floors alone, and says why.
    assert registration is not None
    assert registration.report["comparable"] is False
    assert registration.report["comparison"].startswith("not comparable")
    why = registration.report["not_comparable"]
    if other.dataset.name != "medium_fraud":
        assert "a different data set" in why
    else:
        assert "different feature columns" in why
        assert "Time" in why
    assert version is not None
    assert version.stage == Stage.STAGING
    # Promotion fails closed...
    stage_request = stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="try",
    )
    assert stage_request.gate is not None
    assert not stage_request.gate.passed
    assert stage_request.gate.report["reasons"][0].startswith("not comparable with production")
    assert stage_request.gate.report["metrics"] == []
    # ...and passes only by an override with a justification, which is recorded.
    overrider = make_user("olga", "approver", permissions=("registry.override_gate",))
    stage_request_decide(
        origin=Origin.cli(),
        request_id=stage_request.pk,
        user=overrider,
        approve=True,
        reason="new data set",
        override_justification="we move to the new data set; reviewed offline",
    )
    version.refresh_from_db()
    production.refresh_from_db()
    assert version.stage == Stage.PRODUCTION
    assert production.stage == Stage.ARCHIVED
    entry = StageTransition.objects.get(model_version=version, to_stage=Stage.PRODUCTION)
    assert entry.override
    assert "reviewed offline" in entry.reason
