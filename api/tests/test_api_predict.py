"""Predictions through the API: the production (or a given) version scores
JSON records; bad rows are a 400 naming their columns and rows; a promotion
is served by the next request."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.core.files.storage import storages
from pytest_django.fixtures import Settings

from experiments import training
from registry.models import ModelVersion
from registry.services import verified_model
from registry.tests.conftest import promote

PRODUCTION = "/api/v1/models/fraud_detector/stages/production/predict"


@pytest.fixture
def api(api_as: Callable[..., Any], viewer: User) -> Any:
    return api_as(viewer)


@pytest.fixture
def records(small_fraud_csv: Path, production_version: ModelVersion) -> list[dict[str, Any]]:
    frame = pd.read_csv(small_fraud_csv).head(200)
    rows = frame[production_version.experiment.feature_columns].to_dict(orient="records")
    return [{str(name): value for name, value in row.items()} for row in rows]


def error_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    error: dict[str, Any] = response.json()["error"]
    return error


def test_it_answers_each_row_with_the_production_models_probability_and_decision(
    api: Any, production_version: ModelVersion, records: list[dict[str, Any]]
) -> None:
    response = api.post(PRODUCTION, {"records": records})

    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["version"], body["threshold"]) == ("fraud_detector", 1, 0.5)
    assert body["artifact_sha256"] == production_version.artifact_sha256
    expected = training.predict_scores(
        verified_model(production_version),
        pd.DataFrame(records),
        production_version.experiment.feature_columns,
    )
    probabilities = [row["fraud_probability"] for row in body["predictions"]]
    np.testing.assert_array_equal(probabilities, expected)
    assert [row["decision"] for row in body["predictions"]] == [int(p >= 0.5) for p in expected]
    assert {row["decision"] for row in body["predictions"]} == {0, 1}


def test_it_answers_with_a_given_version_or_the_staging_one(
    api: Any, registered: Callable[..., ModelVersion], records: list[dict[str, Any]]
) -> None:
    registered(name="second", threshold=0.9)

    by_version = api.post("/api/v1/models/fraud_detector/versions/1/predict", {"records": records})
    staging = api.post("/api/v1/models/fraud_detector/stages/staging/predict", {"records": records})

    assert (by_version.json()["version"], by_version.json()["threshold"]) == (1, 0.5)
    assert (staging.json()["version"], staging.json()["threshold"]) == (2, 0.9)


def test_it_serves_a_promotion_from_the_next_request_without_a_restart(
    api: Any,
    registered: Callable[..., ModelVersion],
    records: list[dict[str, Any]],
    experimenter: User,
    approver: User,
) -> None:
    before = api.post(PRODUCTION, {"records": records[:1]}).json()
    second = registered(name="second")
    promote(second, experimenter, approver)

    after = api.post(PRODUCTION, {"records": records[:1]}).json()

    assert (before["version"], after["version"]) == (1, 2)
    assert after["artifact_sha256"] == second.artifact_sha256


def test_it_names_missing_extra_and_non_numeric_columns_with_their_rows(
    api: Any, records: list[dict[str, Any]]
) -> None:
    rows = [dict(row) for row in records[:4]]
    del rows[1]["V3"]
    rows[2]["merchant"] = "shop"
    rows[3]["Amount"] = "12.50"

    error = error_of(api.post(PRODUCTION, {"records": rows}))

    assert error["code"] == "invalid_records"
    assert error["fields"] == {
        "records.V3": ["missing in row 1"],
        "records.Amount": ['not a number in row 3 (e.g. "12.50")'],
        "records.merchant": ["not a feature of the model, in row 2"],
    }


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "null"])
def test_it_refuses_values_that_are_not_finite(
    api: Any, records: list[dict[str, Any]], literal: str
) -> None:
    body = json.dumps({"records": records[:3]})
    body = body.replace(f'"V5": {records[2]["V5"]!r}', f'"V5": {literal}')

    error = error_of(api.post(PRODUCTION, body))

    assert error["fields"] == {
        "records.V5": ["not a finite number (null, NaN, infinity or empty) in row 2"]
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"records": []}, "records is empty: send at least one row"),
        ({"records": {"V1": 1}}, "records must be a list of objects, one per transaction"),
        ({"records": [1, 2]}, "records: not an object in rows 0, 1"),
        ({"rows": []}, 'the body must be an object with one key, "records"'),
        ([], 'the body must be an object with one key, "records"'),
    ],
)
def test_it_refuses_a_body_of_the_wrong_shape(
    api: Any, production_version: ModelVersion, body: Any, message: str
) -> None:
    assert error_of(api.post(PRODUCTION, body))["message"] == message


def test_it_refuses_more_rows_than_allowed(
    api: Any, records: list[dict[str, Any]], settings: Settings
) -> None:
    settings.SERVING_MAX_RECORDS = 100

    error = error_of(api.post(PRODUCTION, {"records": records}))

    assert error["message"] == "records: at most 100 rows per request, got 200"


def test_it_refuses_a_body_that_is_not_json(api: Any, production_version: ModelVersion) -> None:
    assert api.post(PRODUCTION, "records=1", content_type="text/csv").status_code == 415
    assert error_of(api.post(PRODUCTION, "{"))["code"] == "malformed_json"


def test_it_answers_404_without_a_production_version(
    api: Any, registered: Callable[..., ModelVersion]
) -> None:
    registered()

    response = api.post(PRODUCTION, {"records": [{}]})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        "model 'fraud_detector' has no version in production"
    )


def test_it_answers_409_when_the_artifact_fails_verification(
    api: Any, production_version: ModelVersion, records: list[dict[str, Any]]
) -> None:
    path = storages["artifacts"].path(production_version.experiment.artifact_path)
    with open(path, "ab") as stored:  # noqa: PTH123 - the storage's own path
        stored.write(b"x")

    response = api.post(PRODUCTION, {"records": records[:1]})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "model_unavailable"


def test_it_refuses_finite_values_too_large_for_the_model_naming_the_column(
    api: Any, records: list[dict[str, Any]]
) -> None:
    """1e308 is finite, but a scaler or a weighted sum overflows on it."""
    rows = [dict(row) for row in records[:3]]
    rows[1] = dict.fromkeys(rows[1], 1e308)

    error = error_of(api.post(PRODUCTION, {"records": rows}))

    assert error["code"] == "invalid_records"
    assert error["message"].startswith("records: ")
    assert any(
        "too large to score (up to 1e+308)" in messages[0] for messages in error["fields"].values()
    )
    assert all(key.startswith("records.") for key in error["fields"])
    assert all("in row 1" in messages[0] for messages in error["fields"].values())


def test_it_refuses_a_record_with_thousands_of_unknown_keys_unread(
    api: Any, records: list[dict[str, Any]], production_version: ModelVersion
) -> None:
    """The probe: 1,250,000 unknown keys, 14.4 MiB of compact JSON, under the
    16 MiB body limit; it took 70 s to refuse. Now it is refused unread."""
    import orjson

    flood = {**records[0], **dict.fromkeys((f"k{i}" for i in range(1_250_000)), 1)}
    body = orjson.dumps({"records": [flood]}).decode()

    error = error_of(api.post(PRODUCTION, body))

    assert error["message"].startswith("records: at most 50 keys per record (the model's 30")
    assert "this body holds about 1,250,031 keys in 1 record" in error["message"]


def test_it_names_a_few_unknown_keys_and_counts_the_rest(
    api: Any, records: list[dict[str, Any]]
) -> None:
    noisy = {**records[0], **{f"extra_{i:02d}": 1 for i in range(12)}}

    error = error_of(api.post(PRODUCTION, {"records": [noisy]}))

    assert sorted(error["fields"]) == [
        "records.and 7 more unknown keys",
        *(f"records.extra_{i:02d}" for i in range(5)),
    ]


def test_the_size_of_a_body_is_checked_before_it_is_parsed(
    production_version: ModelVersion,
) -> None:
    from serving.errors import InputError
    from serving.services import model_predict_body

    flood = dict.fromkeys((f"k{i}" for i in range(100_000)), 1)
    body = json.dumps({"records": [flood]}).encode()
    parsed: list[bytes] = []

    with pytest.raises(InputError, match="at most 50 keys per record"):
        model_predict_body(
            model_name="fraud_detector", stage="production", body=body, parse=parsed.append
        )
    assert parsed == []


def test_it_answers_503_for_a_model_too_large_to_serve(
    api: Any, records: list[dict[str, Any]], production_version: ModelVersion, settings: Settings
) -> None:
    from experiments.models import Experiment

    settings.SERVING_MAX_MODEL_MB = 1
    Experiment.objects.filter(pk=production_version.experiment_id).update(
        artifact_size=2 * 1024 * 1024
    )

    response = api.post(PRODUCTION, {"records": records[:1]})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_too_large"
    assert "SERVING_MAX_MODEL_MB" in response.json()["error"]["message"]
