"""Serving a model version's artifact: only bytes that match the registered digest."""

from __future__ import annotations

from typing import IO

from experiments.artifacts import ArtifactIntegrityError, artifact_open
from registry.models import ModelVersion


def model_version_artifact_open(*, model_version: ModelVersion) -> IO[bytes]:
    """A private copy of the version's model file, checked against the digest
    recorded at registration; ArtifactIntegrityError if the experiment's
    digest differs or the stored bytes changed or are gone. The web page and
    the API both download through here. The caller closes it."""
    experiment = model_version.experiment
    if experiment.artifact_sha256 != model_version.artifact_sha256:
        raise ArtifactIntegrityError(
            f"{model_version}: the experiment's artifact digest differs from the registered one"
        )
    return artifact_open(path=experiment.artifact_path, sha256=model_version.artifact_sha256)
