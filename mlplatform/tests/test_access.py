"""Every page, every role: anonymous users are sent to the login page, a user
without a role gets 403, and each role sees exactly the pages it may use."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from experiments.models import Experiment, Status
from mlplatform.tests.factories import make_dataset_version, make_experiment
from registry.models import ModelVersion, RegisteredModel, Stage

READERS = ("viewer", "experimenter", "approver")
EXPERIMENTERS = ("experimenter",)

PAGES = [
    ("/", READERS),
    ("/experiments/", READERS),
    ("/experiments/?status=running&sort=average_precision&order=asc", READERS),
    ("/experiments/{first}/", READERS),
    ("/experiments/{second}/status/", READERS),
    ("/experiments/compare/?ids={first}&ids={second}", READERS),
    ("/experiments/new/", EXPERIMENTERS),
    ("/datasets/", READERS),
    ("/datasets/fraud/v1/", READERS),
    ("/datasets/register/", EXPERIMENTERS),
    ("/registry/", READERS),
    ("/registry/models/fraud_detector/", READERS),
    ("/registry/models/fraud_detector/versions/1/", READERS),
]
POSTS = [
    "/experiments/new/",
    "/experiments/{second}/cancel/",
    "/experiments/{first}/rerun/",
    "/datasets/register/",
    "/registry/models/fraud_detector/versions/1/request/",
    "/registry/requests/1/decide/",
]
ROLES = ("viewer", "experimenter", "approver", "outsider")


@pytest.fixture
def objects(db: None, settings: Settings) -> dict[str, int]:
    # The dashboard asks Redis for the queue; nothing listens on port 1.
    settings.RQ_QUEUES = {
        "training": {**settings.RQ_QUEUES["training"], "URL": "redis://127.0.0.1:1/0"}
    }
    version = make_dataset_version()
    first = make_experiment(version, name="first", metrics={"average_precision": 0.5})
    second = make_experiment(version, name="second", status=Status.RUNNING)
    model = RegisteredModel.objects.create(name="fraud_detector")
    ModelVersion.objects.create(
        registered_model=model, version=1, experiment=first, artifact_sha256="0" * 64,
        stage=Stage.STAGING,
    )  # fmt: skip
    return {"first": first.pk, "second": second.pk}


@pytest.mark.parametrize(("url", "allowed"), PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_it_gives_each_role_the_pages_it_may_see(
    request: pytest.FixtureRequest,
    client: Client,
    objects: dict[str, int],
    url: str,
    allowed: tuple[str, ...],
    role: str,
) -> None:
    client.force_login(request.getfixturevalue(role))
    response = client.get(url.format(**objects))
    expected = {200, 286} if role in allowed else {403}
    assert response.status_code in expected, (role, url, response.status_code)


@pytest.mark.parametrize(("url", "allowed"), PAGES)
def test_it_sends_anonymous_users_to_the_login_page(
    client: Client, objects: dict[str, int], url: str, allowed: tuple[str, ...]
) -> None:
    path = url.format(**objects)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", POSTS)
def test_it_refuses_every_action_to_an_outsider(
    client: Client, objects: dict[str, int], outsider: User, url: str
) -> None:
    client.force_login(outsider)
    assert client.post(url.format(**objects)).status_code == 403


@pytest.mark.parametrize("url", POSTS)
def test_it_sends_anonymous_posts_to_the_login_page(
    client: Client, objects: dict[str, int], url: str
) -> None:
    response = client.post(url.format(**objects))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "url",
    [
        "/experiments/{second}/cancel/",
        "/experiments/{first}/rerun/",
        "/registry/models/fraud_detector/versions/1/request/",
        "/registry/requests/1/decide/",
    ],
)
def test_it_changes_nothing_on_get(
    client: Client, objects: dict[str, int], experimenter: User, url: str
) -> None:
    client.force_login(experimenter)
    before = (Status.RUNNING, 2)
    response = client.get(url.format(**objects))
    assert response.status_code in {403, 405}
    assert (
        Experiment.objects.get(pk=objects["second"]).status,
        Experiment.objects.count(),
    ) == before


def test_it_enforces_csrf_on_forms(objects: dict[str, int], experimenter: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(experimenter)
    response = client.post(f"/experiments/{objects['second']}/cancel/")
    assert response.status_code == 403
    assert Experiment.objects.get(pk=objects["second"]).status == Status.RUNNING


@pytest.mark.parametrize(
    "url",
    [
        "/experiments/999999/",
        "/experiments/99999999999999999999999/",
        "/experiments/999999/status/",
        "/datasets/fraud/v9/",
        "/datasets/nothing/v1/",
        "/registry/models/nothing/",
        "/registry/models/fraud_detector/versions/9/",
        "/registry/models/fraud_detector/versions/9/artifact/",
        "/experiments/compare/?ids={first}&ids=999999",
    ],
)
def test_it_answers_404_for_unknown_objects(
    client: Client, objects: dict[str, int], viewer: User, url: str
) -> None:
    client.force_login(viewer)
    assert client.get(url.format(**objects)).status_code == 404
