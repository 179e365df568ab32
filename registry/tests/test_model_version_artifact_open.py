from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from django.core.files.storage import storages

from experiments.artifacts import ArtifactIntegrityError
from experiments.models import Experiment
from registry.models import ModelVersion
from registry.services import model_version_artifact_open


def test_it_opens_the_bytes_that_match_the_registered_digest(
    registered: Callable[..., ModelVersion],
) -> None:
    version = registered()

    with model_version_artifact_open(model_version=version) as artifact:
        data = artifact.read()

    assert hashlib.sha256(data).hexdigest() == version.artifact_sha256


def test_it_refuses_bytes_changed_since_registration(
    registered: Callable[..., ModelVersion],
) -> None:
    version = registered()
    path = storages["artifacts"].path(version.experiment.artifact_path)
    with open(path, "ab") as stored:  # noqa: PTH123 - the storage's own path
        stored.write(b"x")

    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded SHA-256"):
        model_version_artifact_open(model_version=version)


def test_it_refuses_an_experiment_whose_digest_differs_from_the_registered_one(
    registered: Callable[..., ModelVersion],
) -> None:
    version = registered()
    Experiment.objects.filter(pk=version.experiment_id).update(artifact_sha256="0" * 64)
    version = ModelVersion.objects.select_related("experiment").get(pk=version.pk)

    with pytest.raises(ArtifactIntegrityError, match="differs from the registered one"):
        model_version_artifact_open(model_version=version)
