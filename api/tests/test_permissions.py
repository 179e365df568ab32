"""Every operation, every persona: anonymous callers and revoked tokens get
401, a user without the permission 403 (before their input is looked at),
and each role reaches exactly the operations the web gives it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from api.services import api_token_create, api_token_revoke
from mlplatform.tests.factories import make_dataset_version, make_experiment
from registry.models import ModelVersion, RegisteredModel, Stage, StageRequest

READERS = ("viewer", "experimenter", "approver")
EXPERIMENTERS = ("experimenter",)
APPROVERS = ("approver",)
NOBODY: tuple[str, ...] = ()  # by role: only a holder of the permission itself
EVERYONE = (*READERS, "outsider")
PERSONAS = ("viewer", "experimenter", "approver", "outsider")
VERSION = "/api/v1/models/fraud_detector/versions/1"

# (method, path, who may); bodies are left empty on purpose: a permitted
# caller then gets a 4xx about the input, a refused one the 403.
OPERATIONS = [
    ("get", "/api/v1/me/", EVERYONE),
    ("get", "/api/v1/datasets/", READERS),
    ("get", "/api/v1/datasets/fraud/versions/v1/", READERS),
    ("post", "/api/v1/datasets/", EXPERIMENTERS),
    ("get", "/api/v1/experiments/", READERS),
    ("post", "/api/v1/experiments/", EXPERIMENTERS),
    ("get", "/api/v1/experiments/{first}/", READERS),
    ("post", "/api/v1/experiments/{second}/cancel/", EXPERIMENTERS),
    ("post", "/api/v1/experiments/{first}/rerun/", EXPERIMENTERS),
    ("get", "/api/v1/experiments/{first}/artifact/", READERS),
    ("get", "/api/v1/models/", READERS),
    ("get", "/api/v1/models/fraud_detector/", READERS),
    ("get", "/api/v1/models/fraud_detector/versions/", READERS),
    ("get", f"{VERSION}/", READERS),
    ("get", f"{VERSION}/gate-reports/", READERS),
    ("get", f"{VERSION}/history/", READERS),
    ("get", f"{VERSION}/stage-requests/", READERS),
    ("get", f"{VERSION}/scoring-runs/", READERS),
    ("get", f"{VERSION}/artifact/", READERS),
    ("get", "/api/v1/stage-requests/", READERS),
    ("get", "/api/v1/stage-requests/{request}/", READERS),
    ("post", "/api/v1/stage-requests/", EXPERIMENTERS),
    ("post", "/api/v1/stage-requests/{request}/approve/", APPROVERS),
    ("post", "/api/v1/stage-requests/{request}/reject/", APPROVERS),
    ("post", "/api/v1/stage-requests/{request}/withdraw/", EXPERIMENTERS),
    ("post", "/api/v1/experiments/{first}/register/", EXPERIMENTERS),
    ("get", "/api/v1/models/fraud_detector/gate-policy/", READERS),
    ("post", "/api/v1/models/fraud_detector/gate-policy/", NOBODY),
    ("post", "/api/v1/models/fraud_detector/stages/production/predict", READERS),
    ("post", f"{VERSION}/predict", READERS),
]


@pytest.fixture
def objects(db: Any, experimenter: Any) -> dict[str, int]:
    dataset_version = make_dataset_version()
    first = make_experiment(dataset_version, name="first", metrics={"average_precision": 0.5})
    second = make_experiment(dataset_version, name="second", status="running")
    model = RegisteredModel.objects.create(name="fraud_detector")
    version = ModelVersion.objects.create(
        registered_model=model, version=1, experiment=first, artifact_sha256="0" * 64,
        stage=Stage.PRODUCTION,
    )  # fmt: skip
    request = StageRequest.objects.create(
        model_version=version, from_stage=Stage.PRODUCTION, to_stage=Stage.ARCHIVED,
        reason="old", requested_by=experimenter,
    )  # fmt: skip
    return {"first": first.pk, "second": second.pk, "request": request.pk}


def call(client: Client, method: str, path: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "get":
        return client.get(path, headers=headers)
    return client.post(path, "{}", content_type="application/json", headers=headers)


@pytest.mark.parametrize(("method", "path", "allowed"), OPERATIONS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_it_gives_each_role_the_operations_it_may_use(
    request: pytest.FixtureRequest,
    client: Client,
    objects: dict[str, int],
    method: str,
    path: str,
    allowed: tuple[str, ...],
    persona: str,
) -> None:
    token = api_token_create(user=request.getfixturevalue(persona), name="t").secret

    response = call(client, method, path.format(**objects), token)

    if persona in allowed:
        assert response.status_code not in (401, 403), (persona, path, response.content)
    else:
        assert response.status_code == 403, (persona, path, response.status_code)
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path", "allowed"), OPERATIONS)
def test_it_answers_401_to_anonymous_callers_and_revoked_tokens(
    client: Client, objects: dict[str, int], experimenter: Any, method: str, path: str,
    allowed: tuple[str, ...],
) -> None:  # fmt: skip
    issued = api_token_create(user=experimenter, name="t")
    api_token_revoke(token_id=issued.token.pk)

    for token, code in ((None, "not_authenticated"), (issued.secret, "invalid_token")):
        response = call(client, method, path.format(**objects), token)
        assert response.status_code == 401, (path, token, response.status_code)
        assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(("method", "path", "allowed"), OPERATIONS)
def test_it_lets_a_logged_in_browser_session_read_but_write_only_with_csrf(
    objects: dict[str, int], experimenter: Any, method: str, path: str, allowed: tuple[str, ...]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(experimenter)

    response = call(client, method, path.format(**objects), None)

    if method == "post":
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
    else:
        assert response.status_code not in (401, 403), (path, response.content)


def test_it_covers_every_operation_in_the_schema(client: Client, db: Any) -> None:
    schema = client.get("/api/v1/schema/").json()
    documented = {
        (method, path) for path, operations in schema["paths"].items() for method in operations
    }
    covered = {(method, _templated(path)) for method, path, _ in OPERATIONS}

    assert {(method, _templated(path)) for method, path in documented} == covered


def _templated(path: str) -> str:
    """Concrete and templated paths compared by their shape."""
    import re

    return re.sub(r"\{[^}]+\}|(?<=/)(fraud_detector|fraud|v1|production|\d+)(?=/|$)", "*", path)
