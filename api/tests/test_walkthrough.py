"""The README's walk-through is bin/walkthrough: it runs here as a user runs
it, against a live server (real HTTP) with a real `rqworker` training the
run and gating the request, and it fails loudly. Before, the README's curl
lines went on after a refusal (`VERSION=null`, a 400, approve printed
`null`) and exited 0."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.conf import settings
from django.contrib.auth.models import User

from api.services import api_token_create
from datasets.models import DatasetVersion
from experiments.tests.rq_helpers import worker_env
from mlplatform.redis_server import RedisServer
from registry.models import ModelVersion, Stage, StageRequest
from registry.tests.conftest import UNDERFIT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCRIPT = Path(settings.BASE_DIR) / "bin" / "walkthrough"


@pytest.fixture
def walkthrough(
    live_server: Any,
    start_worker: Callable[..., Any],
    redis_server: RedisServer,
    registered_dataset: DatasetVersion,
    small_fraud_csv: Path,
    make_config: Callable[..., str],
    experimenter: User,
    approver: User,
    tmp_path: Path,
) -> Callable[..., subprocess.CompletedProcess[str]]:
    start_worker()

    def run(*, token: str | None = None, **config: Any) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "walkthrough.yaml"
        path.write_text(make_config(name="walkthrough", **config))
        env = {
            **worker_env(redis_server.url),
            "API": f"{live_server.url}/api/v1",
            "EXPERIMENTER_TOKEN": token or api_token_create(user=experimenter, name="w").secret,
            "APPROVER_TOKEN": api_token_create(user=approver, name="w").secret,
            "CONFIG": str(path),
            "DATA_FILE": str(small_fraud_csv),
            "SCORED_FILE": str(tmp_path / "scored.csv"),
            "WALKTHROUGH_TIMEOUT": "180",
        }
        return subprocess.run(
            [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600, check=False
        )

    return run


def test_it_trains_registers_promotes_predicts_and_scores(
    walkthrough: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    done = walkthrough()

    assert done.returncode == 0, done.stdout + done.stderr
    production = ModelVersion.objects.get(stage=Stage.PRODUCTION)
    assert f"fraud_detector v{production.version} is in production" in done.stdout
    request = StageRequest.objects.select_related("decided_by").get()
    assert (request.status, request.channel) == ("approved", "api")
    assert request.decided_by is not None
    assert request.decided_by.get_username() == "arthur"
    assert f"predicted with fraud_detector v{production.version}" in done.stdout
    assert len(pd.read_csv(tmp_path / "scored.csv")) == 4000


def test_after_production_moved_on_it_explains_the_refusal_and_still_predicts(
    walkthrough: Callable[..., subprocess.CompletedProcess[str]],
    production_version: ModelVersion,
) -> None:
    """Production is better than what the config trains: the gate refuses to
    register it, the script says so, requests nothing, and predicts and
    scores with the production version it kept."""
    done = walkthrough(**UNDERFIT)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "the regression gate refused to register it" in done.stdout
    assert not StageRequest.objects.exclude(model_version=production_version).exists()
    assert f"predicted with fraud_detector v{production_version.version}" in done.stdout


def test_an_error_stops_it_with_a_message_and_exit_1(
    walkthrough: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = walkthrough(token="mlp_not-a-token")

    assert done.returncode == 1
    assert "error: GET /me/ answered HTTP 401" in done.stderr
    assert "==> submitted" not in done.stdout


def test_it_refuses_to_start_without_jq(tmp_path: Path) -> None:
    """Each tool it needs is named, not a `command not found` halfway."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("bash", "dirname", "curl"):
        (bare / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    done = subprocess.run(
        [str(SCRIPT)], env={**os.environ, "PATH": str(bare)}, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "error: jq is not installed" in done.stderr
