"""The README's walk-through, step by step, over real HTTP (httpx against a
live server) with a real `rqworker` running the experiment and the gate:
submit the baseline, poll until it is COMPLETED and registered, request
production, wait for the worker's gate, approve with an approver's token,
predict one transaction, score a CSV."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from api.services import api_token_create
from mlplatform.testing import config_yaml

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def poll(client: httpx.Client, path: str, done: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = client.get(path).json()
        if done(body):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{path} never got there: {body}")


def test_it_goes_from_config_to_a_scored_file_through_the_api(
    live_server: Any,
    start_worker: Callable[..., Any],
    registered_dataset: Any,
    small_fraud_csv: Path,
    experimenter: User,
    approver: User,
    tmp_path: Path,
) -> None:
    start_worker()
    erin = httpx.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={
            "Authorization": f"Bearer {api_token_create(user=experimenter, name='ci').secret}"
        },
        timeout=60,
    )
    arthur = httpx.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={"Authorization": f"Bearer {api_token_create(user=approver, name='ci').secret}"},
        timeout=60,
    )

    submitted = erin.post("/experiments/", json={"config": config_yaml(dataset=registered_dataset)})
    assert submitted.status_code == 201
    experiment = poll(
        erin,
        f"/experiments/{submitted.json()['id']}/",
        lambda body: (
            body["status"] == "completed" and body["registration"]["state"] == "registered"
        ),
    )
    version = experiment["model_version"]["version"]

    requested = erin.post(
        "/stage-requests/",
        json={"model": "fraud_detector", "version": version, "to_stage": "production",
              "reason": "from CI"},
    )  # fmt: skip
    assert requested.json()["status"] == "gating"
    gated = poll(
        erin, f"/stage-requests/{requested.json()['id']}/", lambda b: b["status"] != "gating"
    )
    assert (gated["status"], gated["gate_passed"]) == ("pending", True)

    approved = arthur.post(
        f"/stage-requests/{gated['id']}/approve/", json={"reason": "gate passed, reviewed"}
    )
    assert approved.json()["status"] == "approved"
    history = erin.get(f"/models/fraud_detector/versions/{version}/history/").json()
    assert history[0]["channel"] == "api"

    row = pd.read_csv(small_fraud_csv).drop(columns=["Class"]).head(1).to_dict(orient="records")
    predicted = erin.post("/models/fraud_detector/stages/production/predict", json={"records": row})
    assert predicted.status_code == 200
    answer = predicted.json()
    assert answer["version"] == version
    assert 0.0 <= answer["predictions"][0]["fraud_probability"] <= 1.0

    out = StringIO()
    call_command(
        "score", "fraud_detector", stage="production", input=str(small_fraud_csv),
        output=str(tmp_path / "scored.csv"), json=True, stdout=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["rows"] == 4000
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert {"fraud_probability", "decision"} <= set(scored.columns)
    erin.close()
    arthur.close()
