"""Schemathesis, the property-based API fuzzer, against a live server: every
operation of the schema, every check (`--checks all`), a bounded number of
examples. No 5xx, every response valid against the schema, every status
documented, invalid input refused, authentication never ignored.

The data behind it is real: a trained model in production, another in
staging with a pending request, a registered data set, a running experiment.
Schemathesis finds most identifiers itself (from the responses it gets);
the predict operations get the model's name and cancel the running
experiment's id pinned, so that they reach more than a 404. The rest of the
settings, and why, are in schemathesis.toml beside this file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User

from api.services import api_token_create
from experiments.models import Status
from mlplatform.origin import Origin
from mlplatform.tests.factories import make_experiment
from registry.models import ModelVersion, Stage
from registry.services import stage_request_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 20
TIMEOUT_SECONDS = 1200


def run_config(directory: Path, *, running_experiment_id: int, request_id: int) -> Path:
    """schemathesis.toml with the identifiers of this run's objects pinned."""
    pins = f"""
[[operations]]
include-operation-id-regex = "^predict_"
parameters = {{ "path.name" = "fraud_detector" }}

[[operations]]
include-operation-id = "experiment_cancel_endpoint"
parameters = {{ "path.experiment_id" = {running_experiment_id} }}

[[operations]]
include-operation-id-regex = "^stage_request_(approve|reject|withdraw)_endpoint$"
parameters = {{ "path.request_id" = {request_id} }}
"""
    config = directory / "schemathesis.toml"
    config.write_text(CONFIG.read_text() + pins)
    return config


def test_it_passes_every_schemathesis_check_against_a_live_server(
    live_server: Any,
    production_version: ModelVersion,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    superviewer: User,
    tmp_path: Path,
) -> None:
    second = registered(name="second")
    pending = stage_request_create(
        origin=Origin.cli(),
        model_version=second,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="fuzzed",
    )
    running = make_experiment(
        production_version.experiment.dataset_version, name="running", status=Status.RUNNING
    )
    token = api_token_create(user=superviewer, name="schemathesis").secret
    config = run_config(tmp_path, running_experiment_id=running.pk, request_id=pending.pk)

    completed = subprocess.run(
        [
            str(SCHEMATHESIS), "--config-file", str(config), "--no-color",
            "run", f"{live_server.url}/api/v1/schema/",
            "--checks", "all",
            "--header", f"Authorization: Bearer {token}",
            "--max-examples", str(MAX_EXAMPLES),
            "--seed", "1",
            "--workers", "1",
            "--generation-database", "none",
            "--request-timeout", "120",
        ],
        cwd=tmp_path,  # its caches and reports stay out of the checkout
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stdout[-15000:] + completed.stderr[-3000:]
    schema = httpx.get(f"{live_server.url}/api/v1/schema/", timeout=30).json()
    operations = sum(len(methods) for methods in schema["paths"].values())
    assert f"{operations} selected / {operations} total" in completed.stdout  # every one
    assert "Failures:" not in completed.stdout
