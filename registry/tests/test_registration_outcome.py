"""Registration is a recorded step of the experiment: every attempt ends in an
outcome (registered, gate failed, error), never in nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from experiments.models import Experiment, Phase, Registration
from experiments.services import experiment_create, experiment_execute
from mlplatform.tests.factories import dead_owner, elsewhere_owner, live_owner
from registry.models import GateEvaluation, ModelVersion, Stage
from registry.services import model_version_register, registration_claim
from registry.services import registration as registration_module
from registry.services.gate_runs import gate_compute
from registry.tests.conftest import UNDERFIT


@pytest.fixture
def completed(make_config: Callable[..., str]) -> Callable[..., Experiment]:
    """Trained and COMPLETED, not yet registered: the state a crash leaves behind."""

    def make(**overrides: Any) -> Experiment:
        experiment = experiment_create(config_text=make_config(**overrides))
        experiment_execute(experiment_id=experiment.pk)
        experiment.refresh_from_db()
        return experiment

    return make


def artifact_file(version: ModelVersion) -> Path:
    return Path(settings.ARTIFACT_ROOT) / version.experiment.artifact_path


def test_it_waits_to_register_once_completed(completed: Callable[..., Experiment]) -> None:
    experiment = completed()

    assert experiment.registration == Registration.PENDING
    assert experiment.phase == Phase.REGISTERING
    assert experiment.is_live  # the page keeps polling


def test_it_records_registered_and_clears_the_phase(completed: Callable[..., Experiment]) -> None:
    experiment = completed()

    evaluation, version = model_version_register(experiment_id=experiment.pk)

    experiment.refresh_from_db()
    assert version is not None
    assert experiment.registration == Registration.REGISTERED
    assert evaluation is not None
    assert experiment.registration_message == evaluation.report["summary"]
    assert experiment.phase == ""
    assert not experiment.is_live


def test_it_records_a_failed_gate(completed: Callable[..., Experiment]) -> None:
    experiment = completed(**UNDERFIT)

    _evaluation, version = model_version_register(experiment_id=experiment.pk)

    experiment.refresh_from_db()
    assert version is None
    assert experiment.registration == Registration.GATE_FAILED
    assert experiment.registration_message.startswith("Failed:")


def test_it_records_an_unusable_production_artifact_as_an_error_to_retry(
    production_version: ModelVersion, completed: Callable[..., Experiment]
) -> None:
    experiment = completed(name="candidate")
    path = artifact_file(production_version)
    good = path.read_bytes()
    path.write_bytes(good + b"tampered")

    evaluation, version = model_version_register(experiment_id=experiment.pk)

    experiment.refresh_from_db()
    assert version is None
    assert experiment.registration == Registration.ERROR
    assert "production fraud_detector v1" in experiment.registration_message
    assert "does not match its recorded SHA-256" in experiment.registration_message
    assert evaluation is not None
    assert evaluation.report["error"] is True
    # Restored, the same experiment registers on a retry.
    path.write_bytes(good)
    _, version = model_version_register(experiment_id=experiment.pk)
    experiment.refresh_from_db()
    assert version is not None
    assert version.stage == Stage.STAGING
    assert experiment.registration == Registration.REGISTERED


def test_it_records_an_unexpected_error_and_raises_it(
    completed: Callable[..., Experiment], monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = completed()

    def explode(**kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(registration_module, "gate_compute", explode)
    with pytest.raises(RuntimeError):
        model_version_register(experiment_id=experiment.pk)

    experiment.refresh_from_db()
    assert experiment.registration == Registration.ERROR
    assert experiment.registration_message == "RuntimeError: database went away"
    assert experiment.phase == ""


def test_it_refuses_a_second_registration_while_one_runs(
    completed: Callable[..., Experiment],
) -> None:
    experiment = completed()
    assert registration_claim(experiment_id=experiment.pk, owner=elsewhere_owner())

    with pytest.raises(ValidationError, match="being gated and registered right now"):
        model_version_register(experiment_id=experiment.pk)

    assert not GateEvaluation.objects.exists()


def test_it_keeps_a_silent_registration_whose_holder_may_live(
    completed: Callable[..., Experiment],
) -> None:
    """Silent past EXPERIMENT_STALE_SECONDS (a database outage, say), held
    by a process on another host, within its lease: not taken."""
    experiment = completed()
    assert registration_claim(experiment_id=experiment.pk, owner=elsewhere_owner())
    silent = timezone.now() - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS + 5)
    Experiment.objects.filter(pk=experiment.pk).update(registration_heartbeat_at=silent)

    with pytest.raises(ValidationError, match="right now"):
        model_version_register(experiment_id=experiment.pk)
    assert not registration_claim(experiment_id=experiment.pk, owner=live_owner())


def test_it_takes_over_a_registration_whose_holder_died(
    completed: Callable[..., Experiment],
) -> None:
    experiment = completed()
    assert registration_claim(experiment_id=experiment.pk, owner=dead_owner())
    long_ago = timezone.now() - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS + 5)
    Experiment.objects.filter(pk=experiment.pk).update(registration_heartbeat_at=long_ago)

    _, version = model_version_register(experiment_id=experiment.pk)

    assert version is not None


def test_it_gives_a_clear_error_when_two_registrations_race(
    completed: Callable[..., Experiment], monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = completed()
    real_compute = gate_compute  # what registration calls, until patched

    def compute_then_lose_the_race(**kwargs: Any) -> Any:
        run = real_compute(**kwargs)
        # Another process registers the same experiment meanwhile.
        ModelVersion.objects.create(
            registered_model=run.registered_model,
            version=99,
            experiment=experiment,
            artifact_sha256=experiment.artifact_sha256,
            stage=Stage.STAGING,
        )
        return run

    monkeypatch.setattr(registration_module, "gate_compute", compute_then_lose_the_race)
    with pytest.raises(ValidationError, match="was registered as fraud_detector v99 at the same"):
        model_version_register(experiment_id=experiment.pk)

    assert ModelVersion.objects.count() == 1
