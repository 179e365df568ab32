"""The gate computes outside any transaction: while the longest gate a policy
allows runs (20,000 resamples on a 20,000-row holdout), another process
writes at once, on SQLite too (whose writers otherwise queue for its one lock)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from datasets.models import DatasetVersion
from datasets.services import dataset_register
from datasets.synthetic import write_fraud_csv
from experiments.models import Experiment
from experiments.services import experiment_create, experiment_execute
from experiments.tests.rq_helpers import MANAGE_PY, wait_for, worker_env
from mlplatform.testing import config_yaml
from registry.models import GatePolicy, ModelVersion, StageRequest
from registry.services import model_version_register
from registry.tests.conftest import LAX_POLICY, promote

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LONGEST_GATE = {**LAX_POLICY, "bootstrap": {"resamples": 20_000, "confidence": 0.95, "seed": 0}}


def train_and_register(dataset: DatasetVersion, name: str) -> ModelVersion:
    text = config_yaml(dataset=dataset, name=name, extra={"split": {"test_size": 0.5, "seed": 1}})
    experiment = experiment_create(config_text=text)
    experiment_execute(experiment_id=experiment.pk)
    _, version = model_version_register(experiment_id=experiment.pk)
    assert version is not None
    return version


def test_a_write_completes_at_once_while_the_longest_gate_runs(
    data_root: Path, set_policy: Callable[..., GatePolicy], experimenter: User, approver: User
) -> None:
    csv = write_fraud_csv(data_root / "big" / "v1.csv", rows=40_000, frauds=1_200, seed=3)
    dataset = dataset_register(
        name="big", version="v1", path=csv, target="Class", user_name="pytest"
    )
    set_policy(LONGEST_GATE)
    promote(train_and_register(dataset, "champion"), experimenter, approver)
    train_and_register(dataset, "challenger")
    command = subprocess.Popen(
        [
            sys.executable, str(MANAGE_PY), "request_promotion", "fraud_detector", "2",
            "--stage", "production", "--user", experimenter.username, "--reason", "faster",
        ],
        env=worker_env("redis://127.0.0.1:1/0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        gating = wait_for(
            lambda: StageRequest.objects.filter(status=StageRequest.Status.GATING).first(),
            timeout=120,
            interval=0.05,
            what="the request to start gating",
        )
        started = time.perf_counter()
        Group.objects.filter(name="viewer").update(name="viewer")  # a write, like a heartbeat
        experiment_create(config_text=config_yaml(dataset=dataset, name="submitted"))
        write_seconds = time.perf_counter() - started
        gating.refresh_from_db()
        still_gating = gating.status == StageRequest.Status.GATING
        output, _ = command.communicate(timeout=300)
    finally:
        command.kill()
    assert command.returncode == 0, output.decode()
    assert still_gating, "the gate ended before the write: make it longer"
    assert write_seconds < 1.0
    assert Experiment.objects.filter(name="submitted").exists()
    gating.refresh_from_db()
    assert gating.status == StageRequest.Status.PENDING
