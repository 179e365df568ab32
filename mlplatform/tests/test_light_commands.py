"""Commands that do not train start without scikit-learn and skops (over a
second of start-up each) and do not import them while they run, nor the
API's django-ninja and pydantic (they skip the URL checks, which import
every view): each runs as a shell runs it, in a fresh interpreter, system
checks included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import User

from datasets.models import DatasetVersion
from experiments.services import experiment_create, experiment_execute
from experiments.tests.rq_helpers import database_url
from mlplatform.origin import Origin
from mlplatform.testing import config_yaml, make_user
from registry.models import ModelVersion, Stage
from registry.services import model_version_register, stage_request_create

pytestmark = pytest.mark.django_db(transaction=True)
HEAVY_MODULES = ("sklearn", "skops")
# What only the API needs (and, through it, the views' dependencies).
API_MODULES = ("ninja", "pydantic")
# manage.py as a shell starts it; afterwards, whichever watched modules got imported.
RUN_MANAGE_PY = f"""
import json, runpy, sys
sys.argv = ["manage.py", *sys.argv[1:]]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    loaded = sorted(name for name in {HEAVY_MODULES + API_MODULES!r} if name in sys.modules)
    print("HEAVY MODULES " + json.dumps(loaded), file=sys.stderr)
"""
POLICY = {
    "primary_metric": "average_precision",
    "min_positives": 20,
    "bootstrap": {"resamples": 200, "confidence": 0.95, "seed": 3},
    "metrics": {"average_precision": {"threshold": 0.05, "max_drop": 0.05}},
}


def manage(*args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATA_ROOT": str(settings.DATA_ROOT),
        "ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
        "DATASET_CACHE_ROOT": str(settings.DATASET_CACHE_ROOT),
    }
    completed = subprocess.run(
        [sys.executable, "-c", RUN_MANAGE_PY, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    marker = [line for line in completed.stderr.splitlines() if line.startswith("HEAVY MODULES ")]
    assert marker, completed.stderr[-3000:]
    return completed, json.loads(marker[-1].removeprefix("HEAVY MODULES "))


@pytest.fixture
def version(registered_dataset: DatasetVersion) -> ModelVersion:
    """Version 1 of fraud_detector, trained and registered in this process."""
    text = config_yaml(dataset=registered_dataset, name="light")
    experiment = experiment_create(config_text=text)
    experiment_execute(experiment_id=experiment.pk)
    _, registered = model_version_register(experiment_id=experiment.pk)
    assert registered is not None
    return registered


@pytest.fixture
def archive_request(version: ModelVersion, experimenter: User) -> int:
    request = stage_request_create(
        model_version=version,
        to_stage=Stage.ARCHIVED,
        user=experimenter,
        reason="try it",
        origin=Origin.cli(),
    )
    return request.pk


def run_registry_status(version: ModelVersion, **_: object) -> tuple[str, ...]:
    return ("registry_status",)


def run_request_promotion(
    version: ModelVersion, experimenter: User, **_: object
) -> tuple[str, ...]:
    return (
        "request_promotion", "fraud_detector", "1", "--stage", "archived",
        "--user", experimenter.username, "--reason", "try it",
    )  # fmt: skip


def run_approve_promotion(archive_request: int, approver: User, **_: object) -> tuple[str, ...]:
    return (
        "approve_promotion", str(archive_request), "--user", approver.username, "--reason", "ok",
    )  # fmt: skip


def run_verify_datasets(registered_dataset: DatasetVersion, **_: object) -> tuple[str, ...]:
    return ("verify_datasets",)


def run_gate_policy_show(version: ModelVersion, **_: object) -> tuple[str, ...]:
    return ("gate_policy", "fraud_detector")


def run_gate_policy_set(version: ModelVersion, tmp_path: Path, **_: object) -> tuple[str, ...]:
    make_user("polly", permissions=("registry.change_gatepolicy",))
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    return (
        "gate_policy",
        "fraud_detector",
        "--set",
        str(policy),
        "--user",
        "polly",
        "--reason",
        "stricter",
    )


@pytest.mark.parametrize(
    "command",
    [
        run_registry_status,
        run_request_promotion,
        run_approve_promotion,
        run_verify_datasets,
        run_gate_policy_show,
        run_gate_policy_set,
    ],
    ids=lambda command: command.__name__.removeprefix("run_"),
)
def test_it_runs_without_importing_scikit_learn_skops_or_the_api(
    command: Callable[..., tuple[str, ...]], request: pytest.FixtureRequest
) -> None:
    names = command.__code__.co_varnames[: command.__code__.co_argcount]
    arguments = command(**{name: request.getfixturevalue(name) for name in names})

    completed, loaded = manage(*arguments)

    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    assert loaded == []


def test_it_imports_nothing_heavy_for_an_empty_installation(db: None) -> None:
    completed, loaded = manage("verify_datasets")

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "0 dataset versions verified." in completed.stdout
    assert loaded == []


def test_every_command_of_the_platform_but_the_demo_skips_the_url_checks() -> None:
    from django.core.management import get_commands, load_command_class

    from mlplatform.checks import CHECKS_WITHOUT_URLS

    ours = {
        name: app
        for name, app in get_commands().items()
        if app.split(".")[0] in {"api", "datasets", "experiments", "registry", "serving"}
    }
    checking_urls = sorted(
        name
        for name, app in ours.items()
        if load_command_class(app, name).requires_system_checks != CHECKS_WITHOUT_URLS
    )

    assert len(ours) >= 12
    assert checking_urls == ["demo"]
