"""/api/v1/models/: models, versions, gate reports, history, requests,
scoring runs and the verified artifact."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import storages

from mlplatform.origin import Origin
from registry.models import ModelVersion, Stage
from registry.services import stage_request_create
from serving.services import scoring_run_create

MODEL = "/api/v1/models/fraud_detector"


@pytest.fixture
def api(api_as: Callable[..., Any], viewer: User) -> Any:
    return api_as(viewer)


def test_it_lists_models_with_their_live_versions(
    api: Any, production_version: ModelVersion, registered: Callable[..., ModelVersion]
) -> None:
    registered(name="second")

    body = api.get("/api/v1/models/").json()

    assert body["count"] == 1
    assert body["results"][0] == {
        "name": "fraud_detector",
        "created_at": body["results"][0]["created_at"],
        "version_count": 2,
        "production_version": 1,
        "staging_versions": [2],
        "latest_version": 2,
    }
    assert api.get(f"{MODEL}/").json()["production_version"] == 1


def test_it_lists_versions_newest_first_with_key_metrics(
    api: Any, production_version: ModelVersion, registered: Callable[..., ModelVersion]
) -> None:
    registered(name="second")

    body = api.get(f"{MODEL}/versions/").json()

    assert [(v["version"], v["stage"]) for v in body["results"]] == [
        (2, "staging"),
        (1, "production"),
    ]
    first = body["results"][1]
    assert first["artifact_sha256"] == production_version.artifact_sha256
    assert first["registration_gate_passed"] is True
    assert 0 < first["metrics"]["average_precision"] <= 1


def test_it_shows_a_version_with_its_threshold_and_features(
    api: Any, production_version: ModelVersion
) -> None:
    body = api.get(f"{MODEL}/versions/1/").json()

    assert (body["stage"], body["threshold"], body["dataset"]) == (
        "production",
        0.5,
        "small_fraud:v1",
    )
    assert body["feature_columns"] == production_version.experiment.feature_columns
    assert "recall" in body["metrics"]
    assert body["experiment_id"] == production_version.experiment_id


def test_it_shows_gate_reports_history_and_requests(
    api: Any, production_version: ModelVersion, experimenter: User
) -> None:
    stage_request_create(
        origin=Origin.cli(),
        model_version=production_version, to_stage=Stage.ARCHIVED, user=experimenter,
        reason="retire",
    )  # fmt: skip

    reports = api.get(f"{MODEL}/versions/1/gate-reports/").json()
    history = api.get(f"{MODEL}/versions/1/history/").json()
    requests = api.get(f"{MODEL}/versions/1/stage-requests/").json()

    assert [(r["purpose"], r["passed"]) for r in reports] == [
        ("promotion", True),
        ("registration", True),
    ]
    assert "summary" in reports[0]["report"]
    assert [(h["from_stage"], h["to_stage"], h["decision"]) for h in history] == [
        ("staging", "production", "approved"),
        ("none", "staging", "automatic"),
    ]
    assert (history[0]["requested_by"], history[0]["decided_by"]) == ("erin", "arthur")
    assert history[1]["decided_by"] == "regression gate"
    assert [(r["to_stage"], r["status"]) for r in requests] == [
        ("archived", "pending"),
        ("production", "approved"),
    ]


def test_it_lists_the_versions_scoring_runs(
    api: Any, production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path
) -> None:
    run = scoring_run_create(
        model_name="fraud_detector", stage=Stage.PRODUCTION, input_path=small_fraud_csv,
        output_path=tmp_path / "out.csv", origin=Origin.cli(), user_name="cli:ops",
    )  # fmt: skip

    (listed,) = api.get(f"{MODEL}/versions/1/scoring-runs/").json()

    assert listed["id"] == run.pk
    assert (listed["rows"], listed["positives"], listed["user"]) == (4000, run.positives, "cli:ops")
    assert listed["input_sha256"] == run.input_sha256
    assert "output_path" not in listed


def test_it_downloads_the_verified_artifact_with_its_digest(
    api: Any, production_version: ModelVersion
) -> None:
    response = api.get(f"{MODEL}/versions/1/artifact/")

    data = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Artifact-SHA256"] == production_version.artifact_sha256
    assert hashlib.sha256(data).hexdigest() == production_version.artifact_sha256
    assert 'filename="fraud_detector-v1.skops"' in response["Content-Disposition"]


def test_it_refuses_to_serve_a_tampered_artifact(
    api: Any, production_version: ModelVersion
) -> None:
    path = storages["artifacts"].path(production_version.experiment.artifact_path)
    with open(path, "ab") as stored:  # noqa: PTH123 - the storage's own path
        stored.write(b"x")

    response = api.get(f"{MODEL}/versions/1/artifact/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "artifact_integrity"
    assert "X-Artifact-SHA256" not in response


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/models/nope/", "there is no registered model 'nope'"),
        ("/api/v1/models/nope/versions/", "there is no registered model 'nope'"),
        (f"{MODEL}/versions/7/", "model 'fraud_detector' has no version 7"),
        (f"{MODEL}/versions/7/history/", "model 'fraud_detector' has no version 7"),
        (f"{MODEL}/versions/7/artifact/", "model 'fraud_detector' has no version 7"),
    ],
)
def test_it_answers_404_for_what_is_not_there(
    api: Any, production_version: ModelVersion, path: str, message: str
) -> None:
    response = api.get(path)

    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": message}
