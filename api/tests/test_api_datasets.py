"""/api/v1/datasets/: read versions; experimenters register one by upload,
checked as the web register page checks it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import MULTIPART_CONTENT
from pytest_django.fixtures import Settings

from datasets.models import DatasetVersion
from datasets.tests.conftest import TINY_CSV

URL = "/api/v1/datasets/"


@pytest.fixture
def api(api_as: Callable[..., Any], experimenter: User) -> Any:
    return api_as(experimenter)


def upload_form(content: str | bytes = TINY_CSV, **overrides: Any) -> dict[str, Any]:
    raw = content.encode() if isinstance(content, str) else content
    form = {"name": "tiny", "version": "v1", "target": "Class", "description": "from CI"}
    return {**form, "file": SimpleUploadedFile("tiny.csv", raw, "text/csv"), **overrides}


def test_it_lists_datasets_with_their_versions(api: Any, registered_dataset: Any) -> None:
    body = api.get(URL).json()

    assert body["count"] == 1
    (dataset,) = body["results"]
    assert dataset["name"] == "small_fraud"
    (version,) = dataset["versions"]
    assert version["label"] == "small_fraud:v1"
    assert (version["rows"], version["target"]) == (4000, "Class")
    assert version["class_counts"] == {"0": 3880, "1": 120}
    assert version["sha256"] == registered_dataset.sha256
    assert version["experiment_count"] == 0


def test_it_shows_a_versions_columns(api: Any, registered_dataset: Any) -> None:
    body = api.get(f"{URL}small_fraud/versions/v1/").json()

    assert body["columns"][0] == {"name": "Time", "dtype": "float64"}
    assert len(body["columns"]) == 31
    assert "path" not in body


def test_it_answers_404_for_an_unknown_version(api: Any, registered_dataset: Any) -> None:
    response = api.get(f"{URL}small_fraud/versions/v9/")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "there is no dataset version small_fraud:v9"


def test_it_registers_an_upload(api: Any, data_root: Path) -> None:
    response = api.post(URL, upload_form(), content_type=MULTIPART_CONTENT)

    assert response.status_code == 201, response.content
    version = DatasetVersion.objects.get()
    assert response.json()["label"] == "tiny:v1"
    assert response.json()["class_counts"] == {"0": 2, "1": 2}
    assert version.path == "uploads/tiny/v1/tiny.csv"
    assert version.registered_by is not None
    assert version.registered_by.username == "erin"
    assert version.description == "from CI"


def test_it_refuses_what_the_register_page_refuses_and_keeps_no_file(
    api: Any, data_root: Path
) -> None:
    response = api.post(URL, upload_form(target="Amount"), content_type=MULTIPART_CONTENT)

    assert response.status_code == 400
    assert "Amount" in response.json()["error"]["message"]
    assert not DatasetVersion.objects.exists()
    assert not list((data_root / "uploads").rglob("*.csv"))


def test_it_refuses_a_bad_name_with_the_forms_message(api: Any, data_root: Path) -> None:
    response = api.post(URL, upload_form(name=".."), content_type=MULTIPART_CONTENT)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["name"]


def test_it_refuses_a_duplicate_version(api: Any, data_root: Path) -> None:
    api.post(URL, upload_form(), content_type=MULTIPART_CONTENT)

    response = api.post(URL, upload_form(), content_type=MULTIPART_CONTENT)

    assert response.status_code == 400
    assert "already exists under DATA_ROOT" in response.json()["error"]["message"]
    assert DatasetVersion.objects.count() == 1


def test_it_refuses_a_request_without_a_file(api: Any, data_root: Path) -> None:
    form = upload_form()
    del form["file"]

    response = api.post(URL, form, content_type=MULTIPART_CONTENT)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["file"]


def test_it_answers_413_for_an_upload_past_the_limit(
    api: Any, data_root: Path, settings: Settings
) -> None:
    settings.DATASET_UPLOAD_MAX_BYTES = 20

    response = api.post(URL, upload_form(), content_type=MULTIPART_CONTENT)

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "upload_too_large"
    assert "20 bytes (DATASET_UPLOAD_MAX_BYTES)" in error["message"]
    assert not DatasetVersion.objects.exists()
    assert not (data_root / "uploads").exists()


def test_it_answers_400_for_a_multipart_body_without_a_boundary(api: Any, data_root: Path) -> None:
    response = api.post(URL, b"--x\r\n", content_type="multipart/form-data")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_multipart"
