"""The one error boundary: every error under /api/ is
{"error": {"code", "message"}} (and "fields" when an input is at fault)
with a 4xx for bad input, whatever produced it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from experiments.models import Experiment

SUBMIT = "/api/v1/experiments/"


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    # `fields` only where an input is at fault, then never empty.
    assert set(body["error"]) in ({"code", "message"}, {"code", "message", "fields"})
    assert body["error"].get("fields", {"x": 1})
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def api(api_as: Callable[..., Any], superviewer: User) -> Any:
    return api_as(superviewer)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "the body is not valid JSON: Expecting property name"),
        (b"\xff\xfe{}", "the body is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "the body is not valid JSON: maximum recursion depth"),
    ],
)
def test_it_answers_400_for_a_body_that_is_not_json(api: Any, body: Any, message: str) -> None:
    error = error_of(api.post(SUBMIT, body), 400)

    assert error["code"] == "malformed_json"
    assert error["message"].startswith(message)
    assert not Experiment.objects.exists()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_it_answers_415_for_a_body_that_is_not_declared_json(api: Any, content_type: str) -> None:
    error = error_of(api.post(SUBMIT, '{"config": "x"}', content_type=content_type), 415)

    assert error["code"] == "unsupported_media_type"
    assert content_type in error["message"]


def test_it_answers_413_for_a_body_past_the_limit(api: Any, settings: Settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    error = error_of(api.post(SUBMIT, {"config": "x" * 2000}), 413)

    assert error["code"] == "payload_too_large"
    assert "1,000 bytes (REQUEST_MAX_BODY_BYTES)" in error["message"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"config": ["Field required"]}),
        ({"config": 3}, {"config": ["Input should be a valid string"]}),
        ({"config": ""}, {"config": ["String should have at least 1 character"]}),
        ({"config": "x", "priority": 1}, {"priority": ["Extra inputs are not permitted"]}),
        ([], {"body": ["Input should be a valid dictionary or object to extract fields from"]}),
    ],
)
def test_it_names_each_invalid_input(api: Any, body: Any, fields: dict[str, list[str]]) -> None:
    error = error_of(api.post(SUBMIT, body), 400)

    assert error["code"] == "invalid"
    assert error["fields"] == fields


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/experiments/abc/", "experiment_id"),
        ("/api/v1/experiments/0/", "experiment_id"),
        (f"/api/v1/experiments/{2**63}/", "experiment_id"),
        ("/api/v1/models/fraud_detector/versions/99999999999/", "version"),
        ("/api/v1/models/has%20space/", "name"),
        ("/api/v1/models/nul%00/", "name"),
        ("/api/v1/experiments/?limit=201", "limit"),
        ("/api/v1/experiments/?offset=-1", "offset"),
        ("/api/v1/experiments/?status=bogus", "status"),
        ("/api/v1/experiments/?name=a%00b", "name"),
        ("/api/v1/experiments/?dataset_version=99999999999999999999", "dataset_version"),
        ("/api/v1/stage-requests/?model=a/b", "model"),
    ],
)
def test_it_refuses_out_of_range_identifiers_and_filters(api: Any, path: str, field: str) -> None:
    error = error_of(api.get(path), 400)

    assert list(error["fields"]) == [field]


def test_it_answers_unknown_endpoints_with_a_json_404(api: Any) -> None:
    error = error_of(api.get("/api/v1/no-such-thing/"), 404)

    assert error["code"] == "not_found"
    assert "/api/v1/docs" in error["message"]


def test_it_answers_a_method_the_path_does_not_allow_with_a_json_405(api: Any) -> None:
    response = api.client.delete("/api/v1/experiments/", headers=api.headers)

    error = error_of(response, 405)
    assert error["code"] == "method_not_allowed"
    assert error["message"] == "DELETE is not allowed here; allowed: GET, POST"
    assert response["Allow"] == "GET, POST"


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def test_its_reshaped_errors_carry_the_security_headers(api: Any) -> None:
    """404 and 405 are reshaped into the API's JSON; they still leave with
    the headers every other response has."""
    for response in (
        api.get("/api/v1/no-such-thing/"),
        api.client.delete("/api/v1/experiments/", headers=api.headers),
        api.get("/api/v1/me/"),
    ):
        for header, value in SECURITY_HEADERS.items():
            assert response[header] == value, (response.status_code, header)


def test_it_answers_a_crash_with_a_json_500_and_logs_it(
    api: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("api.v1.experiments.experiment_list", broken)

    with caplog.at_level(logging.ERROR):
        error = error_of(api.get("/api/v1/experiments/"), 500)

    assert error == {
        "code": "internal_error",
        "message": "an unexpected error; it has been logged",
    }
    assert "a bug" not in str(error)
    assert any("a bug" in str(record.exc_info) for record in caplog.records)


def test_it_reports_the_server_time(api: Any) -> None:
    timing = api.get("/api/v1/me/")["Server-Timing"]

    assert timing.startswith("app;dur=")
    assert float(timing.removeprefix("app;dur=")) > 0


def test_it_leaves_the_web_pages_errors_alone(client: Client, viewer: User) -> None:
    client.force_login(viewer)

    response = client.get("/experiments/99999/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Server-Timing" not in response
