from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import cast

from django.contrib.auth.models import User
from django.core.files.storage import storages
from django.http import FileResponse
from django.test import Client

from registry.models import ModelVersion

URL = "/registry/models/fraud_detector/versions/1/artifact/"


def test_it_serves_the_verified_artifact_with_its_digest(
    client: Client, viewer: User, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    client.force_login(viewer)
    response = client.get(URL)
    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    data = b"".join(cast(Iterator[bytes], response.streaming_content))
    assert hashlib.sha256(data).hexdigest() == version.artifact_sha256
    assert int(response["Content-Length"]) == len(data)
    assert response["X-Artifact-SHA256"] == version.artifact_sha256
    assert 'filename="fraud_detector-v1.skops"' in response["Content-Disposition"]


def test_it_refuses_a_tampered_artifact(
    client: Client, viewer: User, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    storage, path = storages["artifacts"], version.experiment.artifact_path
    with storage.open(path, "rb") as original:
        data = original.read()
    with open(storage.path(path), "wb") as stored:  # noqa: PTH123 - storage's own path
        stored.write(data + b"tampered")
    client.force_login(viewer)
    response = client.get(URL)
    assert response.status_code == 409
    assert "does not match its recorded SHA-256" in response.content.decode()
    assert "X-Artifact-SHA256" not in response


def test_it_refuses_a_missing_artifact(
    client: Client, viewer: User, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    storages["artifacts"].delete(version.experiment.artifact_path)
    client.force_login(viewer)
    response = client.get(URL)
    assert response.status_code == 409
    assert "is missing from storage" in response.content.decode()


def test_it_answers_404_for_an_unknown_version(client: Client, viewer: User) -> None:
    client.force_login(viewer)
    assert client.get(URL).status_code == 404


def test_it_refuses_an_outsider(
    client: Client, outsider: User, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(outsider)
    assert client.get(URL).status_code == 403
