from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from experiments.models import Experiment, Registration
from experiments.services import experiment_create, experiment_execute
from registry.models import ModelVersion, StageTransition


@pytest.fixture
def completed(make_config: Callable[..., str]) -> Callable[..., Experiment]:
    def make(**overrides: Any) -> Experiment:
        experiment = experiment_create(config_text=make_config(**overrides))
        experiment_execute(experiment_id=experiment.pk)
        return Experiment.objects.get(pk=experiment.pk)

    return make


@pytest.fixture(autouse=True)
def erin(experimenter: User) -> User:
    return experimenter


def run(*args: str, **options: Any) -> tuple[int, str]:
    """As erin, an experimenter (--user: the local convenience)."""
    out = StringIO()
    options.setdefault("user", "erin")
    try:
        call_command("register_experiment", *args, stdout=out, stderr=StringIO(), **options)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_it_registers_after_the_production_artifact_is_restored(
    production_version: ModelVersion, completed: Callable[..., Experiment]
) -> None:
    experiment = completed(name="candidate")
    path = Path(settings.ARTIFACT_ROOT) / production_version.experiment.artifact_path
    good = path.read_bytes()
    path.write_bytes(b"not a model")

    code, _ = run(str(experiment.pk))

    assert code == 1
    assert Experiment.objects.get(pk=experiment.pk).registration == Registration.ERROR
    path.write_bytes(good)
    code, text = run(str(experiment.pk), json=True)
    payload = json.loads(text)
    assert code == 0
    assert payload["registration"]["state"] == "registered"
    assert payload["model_version"]["version"] == 2
    assert payload["gate_report"]["passed"] is True
    entry = StageTransition.objects.get(model_version__version=2)
    assert entry.channel == "cli"
    assert entry.os_user


def test_it_exits_three_when_the_gate_fails(completed: Callable[..., Experiment]) -> None:
    from registry.tests.conftest import UNDERFIT

    experiment = completed(**UNDERFIT)

    code, text = run(str(experiment.pk))

    assert code == 3
    assert "Gate failed" in text
    assert "misses the floor" in text


def test_it_refuses_an_experiment_registered_already(completed: Callable[..., Experiment]) -> None:
    experiment = completed()
    run(str(experiment.pk))

    with pytest.raises(CommandError, match="already registered as fraud_detector v1"):
        run(str(experiment.pk))


def test_it_names_an_unknown_experiment(db: None) -> None:
    with pytest.raises(CommandError, match="experiment #999 does not exist"):
        run("999")


def test_it_refuses_someone_who_is_not_an_experimenter(
    completed: Callable[..., Experiment], viewer: User
) -> None:
    experiment = completed(name="candidate")

    with pytest.raises(CommandError, match="only experimenters may gate and register"):
        run(str(experiment.pk), user="vera")

    assert Experiment.objects.get(pk=experiment.pk).registration == Registration.PENDING
