from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mlplatform.tests.factories import make_dataset_version, make_experiment
from notes.services import annotation_set
from registry.models import ModelVersion, RegisteredModel, Stage


@pytest.fixture
def model(db: None) -> RegisteredModel:
    dataset_version = make_dataset_version()
    model = RegisteredModel.objects.create(name="fraud_detector")
    for number, stage in ((1, Stage.ARCHIVED), (2, Stage.PRODUCTION), (3, Stage.STAGING)):
        experiment = make_experiment(dataset_version, metrics={"average_precision": number / 10})
        ModelVersion.objects.create(
            registered_model=model,
            version=number,
            experiment=experiment,
            artifact_sha256="0" * 64,
            stage=stage,
        )
    return model


def test_it_lists_every_version_with_stage_and_key_metrics(
    client: Client, viewer: User, model: RegisteredModel
) -> None:
    client.force_login(viewer)
    response = client.get("/registry/models/fraud_detector/")
    assert response.status_code == 200
    versions = response.context["model"].listed_versions
    assert [(v.version, v.stage) for v in versions] == [
        (3, Stage.STAGING),
        (2, Stage.PRODUCTION),
        (1, Stage.ARCHIVED),
    ]
    assert b"0.2000" in response.content  # v2's average precision


def test_it_answers_404_for_an_unknown_model(client: Client, viewer: User) -> None:
    client.force_login(viewer)
    assert client.get("/registry/models/nothing/").status_code == 404


def test_it_refuses_an_outsider(client: Client, outsider: User, model: RegisteredModel) -> None:
    client.force_login(outsider)
    assert client.get("/registry/models/fraud_detector/").status_code == 403


def test_it_filters_the_versions_by_tag(
    client: Client, viewer: User, experimenter: User, model: RegisteredModel
) -> None:
    annotation_set(
        target=model.versions.get(version=2), tags="serving q3", note="", user=experimenter
    )
    client.force_login(viewer)
    response = client.get("/registry/models/fraud_detector/?tag=Q3")
    assert [v.version for v in response.context["model"].listed_versions] == [2]
    assert b'href="/registry/models/fraud_detector/?tag=serving">serving</a>' in response.content
    everything = client.get("/registry/models/fraud_detector/")
    assert len(everything.context["model"].listed_versions) == 3


def test_it_says_there_is_no_model_of_that_name(client: Client, viewer: User) -> None:
    client.force_login(viewer)
    response = client.get("/registry/models/nope/")
    assert response.status_code == 404
    assert b"no model named &#x27;nope&#x27;" in response.content
