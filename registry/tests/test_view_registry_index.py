from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from mlplatform.tests.factories import make_dataset_version, make_experiment
from registry.models import ModelVersion, RegisteredModel, Stage, StageRequest


def test_it_lists_models_versions_and_pending_requests(
    client: Client, viewer: User, experimenter: User, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    StageRequest.objects.create(
        model_version=version,
        from_stage=Stage.STAGING,
        to_stage=Stage.ARCHIVED,
        reason="superseded",
        requested_by=experimenter,
    )
    client.force_login(viewer)
    response = client.get("/registry/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'href="/registry/models/fraud_detector/"' in content
    assert 'href="/registry/models/fraud_detector/versions/1/"' in content
    assert "Staging" in content
    assert "superseded" in content  # the pending request


def test_its_query_count_does_not_grow_with_the_versions(client: Client, viewer: User) -> None:
    dataset_version = make_dataset_version()
    model = RegisteredModel.objects.create(name="m")

    def add_versions(start: int, count: int) -> None:
        for number in range(start, start + count):
            experiment = make_experiment(dataset_version, metrics={"roc_auc": 0.5})
            ModelVersion.objects.create(
                registered_model=model, version=number, experiment=experiment, artifact_sha256="0"
            )

    client.force_login(viewer)
    add_versions(1, 2)
    with CaptureQueriesContext(connection) as few:
        client.get("/registry/")
    add_versions(3, 20)
    with CaptureQueriesContext(connection) as many:
        client.get("/registry/")
    assert len(many) == len(few)


def test_it_lists_production_staging_and_the_newest_five_others(
    client: Client, viewer: User
) -> None:
    dataset_version = make_dataset_version()
    model = RegisteredModel.objects.create(name="m")
    stages = {1: Stage.PRODUCTION, 2: Stage.STAGING, 3: Stage.ARCHIVED}
    for number in range(1, 11):
        ModelVersion.objects.create(
            registered_model=model,
            version=number,
            experiment=make_experiment(dataset_version, metrics={"roc_auc": 0.5}),
            artifact_sha256="0",
            stage=stages.get(number, Stage.NONE),
        )
    client.force_login(viewer)

    content = client.get("/registry/").content.decode()

    listed = re.findall(r'href="/registry/models/m/versions/(\d+)/"', content)
    assert listed == ["10", "9", "8", "7", "6", "2", "1"]
    assert "all 10 versions" in content
    assert "(3 more)" in content
    assert 'href="/registry/models/m/"' in content


def test_it_refuses_an_outsider(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    assert client.get("/registry/").status_code == 403


def test_it_requires_login(client: Client) -> None:
    assert client.get("/registry/").status_code == 302
