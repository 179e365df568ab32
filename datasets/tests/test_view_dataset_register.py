from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from datasets.models import DatasetVersion
from datasets.tests.conftest import TINY_CSV

URL = "/datasets/register/"


def form(**overrides: Any) -> dict[str, Any]:
    data = {"name": "tiny", "version": "v1", "target": "Class", "description": "", "path": ""}
    data.update(overrides)
    return data


def upload(content: str | bytes = TINY_CSV, name: str = "tiny.csv") -> SimpleUploadedFile:
    raw = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, raw, content_type="text/csv")


def test_it_shows_the_form_with_files_under_data_root(
    client: Client, experimenter: User, small_fraud_csv: Path
) -> None:
    client.force_login(experimenter)
    response = client.get(URL)
    assert response.status_code == 200
    assert b'<option value="small_fraud/v1/small_fraud.csv">' in response.content


def test_it_registers_a_file_under_data_root(
    client: Client, experimenter: User, small_fraud_csv: Path
) -> None:
    client.force_login(experimenter)
    response = client.post(URL, form(name="small_fraud", path="small_fraud/v1/small_fraud.csv"))
    version = DatasetVersion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/datasets/small_fraud/v1/"
    assert version.path == "small_fraud/v1/small_fraud.csv"
    assert version.row_count == 4000
    assert version.registered_by == experimenter


def test_it_registers_an_upload_stored_under_data_root(
    client: Client, experimenter: User, data_root: Path
) -> None:
    client.force_login(experimenter)
    response = client.post(URL, {**form(), "upload": upload()})
    version = DatasetVersion.objects.get()
    assert response.status_code == 302
    assert version.path == "uploads/tiny/v1/tiny.csv"
    assert (data_root / "uploads" / "tiny" / "v1" / "tiny.csv").read_text() == TINY_CSV
    assert version.class_counts == {"0": 2, "1": 2}


def test_it_removes_an_upload_that_fails_validation(
    client: Client, experimenter: User, data_root: Path
) -> None:
    client.force_login(experimenter)
    response = client.post(URL, {**form(target="Missing"), "upload": upload()})
    assert response.status_code == 400
    assert "Missing" in response.content.decode()
    assert not DatasetVersion.objects.exists()
    assert not (data_root / "uploads" / "tiny").exists()


def test_it_refuses_an_upload_over_the_size_limit_without_storing_it(
    client: Client, experimenter: User, data_root: Path, settings: Settings
) -> None:
    settings.DATASET_UPLOAD_MAX_BYTES = 1000
    client.force_login(experimenter)
    big = TINY_CSV + "1.5,2,0\n" * 400
    response = client.post(URL, {**form(), "upload": upload(big)})
    assert response.status_code == 400
    assert "larger than the upload limit of 1000" in response.content.decode()
    assert not DatasetVersion.objects.exists()
    assert not (data_root / "uploads").exists()


def test_it_never_overwrites_an_existing_file(
    client: Client, experimenter: User, data_root: Path
) -> None:
    existing = data_root / "uploads" / "tiny" / "v1" / "tiny.csv"
    existing.parent.mkdir(parents=True)
    existing.write_text("keep me")
    client.force_login(experimenter)
    response = client.post(URL, {**form(), "upload": upload()})
    assert response.status_code == 400
    assert "already exists under DATA_ROOT" in response.content.decode()
    assert existing.read_text() == "keep me"


def test_it_refuses_a_version_that_is_already_registered(
    client: Client, experimenter: User, registered_dataset: DatasetVersion, data_root: Path
) -> None:
    client.force_login(experimenter)
    response = client.post(URL, {**form(name="small_fraud"), "upload": upload()})
    assert response.status_code == 400
    assert "already registered" in response.content.decode()
    assert DatasetVersion.objects.count() == 1
    assert not (data_root / "uploads" / "small_fraud").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (form(), "Give either a file under DATA_ROOT or an upload, not both."),
        (form(name=".."), "A name cannot be only dots."),
        (form(version="v 1", path="x.csv"), "Use only letters, digits"),
        (form(path="../outside.csv"), "is outside DATA_ROOT"),
        (form(path="nothing.csv"), "File not found"),
    ],
)
def test_it_refuses_bad_input_with_a_message_and_writes_nothing(
    client: Client, experimenter: User, data_root: Path, data: dict[str, str], message: str
) -> None:
    client.force_login(experimenter)
    response = client.post(URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DatasetVersion.objects.exists()
    assert list(data_root.iterdir()) == []


def test_it_refuses_both_a_path_and_an_upload(
    client: Client, experimenter: User, small_fraud_csv: Path
) -> None:
    client.force_login(experimenter)
    response = client.post(URL, {**form(path="small_fraud/v1/small_fraud.csv"), "upload": upload()})
    assert response.status_code == 400
    assert "not both" in response.content.decode()


def test_it_checks_csrf(experimenter: User, data_root: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(experimenter)
    response = client.post(URL, {**form(), "upload": upload()})
    assert response.status_code == 403
    assert not DatasetVersion.objects.exists()
    assert not (data_root / "uploads").exists()


@pytest.mark.parametrize("role", ["viewer", "approver", "outsider"])
def test_it_refuses_users_who_may_not_register(
    request: pytest.FixtureRequest, client: Client, db: None, data_root: Path, role: str
) -> None:
    client.force_login(request.getfixturevalue(role))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {**form(), "upload": upload()}).status_code == 403
    assert not DatasetVersion.objects.exists()
    assert not (data_root / "uploads").exists()


def test_it_requires_login(client: Client, data_root: Path) -> None:
    assert client.post(URL, {**form(), "upload": upload()}).status_code == 302
    assert not (data_root / "uploads").exists()


def test_it_labels_the_upload_limit_in_binary_units(
    client: Client, experimenter: User, data_root: Path
) -> None:
    client.force_login(experimenter)
    response = client.get(URL)
    assert "At most 200.0 MiB" in response.content.decode()  # 200 MiB, not "200.0 MB"


def test_it_refuses_a_compressed_upload_and_keeps_nothing(
    client: Client, experimenter: User, data_root: Path
) -> None:
    client.force_login(experimenter)
    bomb = gzip.compress(b"x,y,Class\n" + b"1,2,0\n1,2,1\n" * 200_000)
    response = client.post(URL, {**form(), "upload": upload(bomb, name="tiny.csv.gz")})
    assert response.status_code == 400
    assert "tiny.csv.gz is a gzip-compressed file" in response.content.decode()
    assert not DatasetVersion.objects.exists()
    assert not (data_root / "uploads" / "tiny").exists()


def test_it_refuses_a_text_target_without_a_positive_label_and_keeps_nothing(
    client: Client, experimenter: User, data_root: Path
) -> None:
    client.force_login(experimenter)
    text_target = "x,y,Class\n1,2,fraud\n3,4,ok\n5,6,ok\n"
    response = client.post(URL, {**form(), "upload": upload(text_target)})
    assert response.status_code == 400
    assert "training needs 0 and 1: give the positive label" in response.content.decode()
    assert not DatasetVersion.objects.exists()
    assert not (data_root / "uploads" / "tiny").exists()


def test_it_records_the_positive_label_given_in_the_form(
    client: Client, experimenter: User, data_root: Path
) -> None:
    client.force_login(experimenter)
    text_target = "x,y,Class\n1,2,fraud\n3,4,ok\n5,6,ok\n"
    response = client.post(
        URL, {**form(positive_label="fraud"), "upload": upload(text_target)}, follow=True
    )
    version = DatasetVersion.objects.get()
    assert version.positive_label == "fraud"
    assert 'id="positive-label"><code>fraud</code> is trained as 1' in response.content.decode()


def test_it_names_no_absolute_path_in_its_messages(
    client: Client, experimenter: User, data_root: Path, tmp_path: Path
) -> None:
    (tmp_path / "secret.csv").write_text(TINY_CSV)
    (data_root / "link.csv").symlink_to(tmp_path / "secret.csv")
    client.force_login(experimenter)
    response = client.post(URL, form(path="link.csv"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "link.csv (through a symbolic link) is outside DATA_ROOT" in page
    assert str(tmp_path) not in page
    assert not DatasetVersion.objects.exists()
