from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from pytest_django.fixtures import Settings

from experiments.models import Experiment, Status
from experiments.services import experiment_create


def test_it_records_a_created_experiment_with_the_config_as_submitted(
    make_config: Callable[..., str], experimenter: User
) -> None:
    text = make_config(name="first_try")

    experiment = experiment_create(config_text=text, user=experimenter, source="web")

    experiment.refresh_from_db()
    assert experiment.status == Status.CREATED
    assert experiment.name == "first_try"
    assert experiment.config_text == text
    assert experiment.config_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert experiment.config["model"]["type"] == "logistic_regression"
    assert experiment.model_type == "logistic_regression"
    assert experiment.dataset_version.version == "v1"
    assert experiment.created_by == experimenter
    assert experiment.created_by_name == "erin"
    assert experiment.target == "Class"
    assert experiment.started_at is None


def test_it_refuses_an_unregistered_dataset_and_writes_nothing(
    make_config: Callable[..., str],
) -> None:
    text = make_config().replace("small_fraud", "no_such_data")

    with pytest.raises(ValidationError) as caught:
        experiment_create(config_text=text)

    assert "dataset: no_such_data:v1 is not registered" in caught.value.messages[0]
    assert not Experiment.objects.exists()


def test_it_refuses_an_invalid_config_naming_the_key_path(make_config: Callable[..., str]) -> None:
    text = make_config(params={"C": -1.0})

    with pytest.raises(ValidationError) as caught:
        experiment_create(config_text=text)

    assert any(m.startswith("model.params.C:") for m in caught.value.messages)
    assert not Experiment.objects.exists()


def test_it_refuses_yaml_that_does_not_parse(db: None) -> None:
    with pytest.raises(ValidationError) as caught:
        experiment_create(config_text="experiment_name: [unclosed\n")

    assert "line" in " ".join(caught.value.messages)
    assert not Experiment.objects.exists()


def test_it_refuses_a_size_beyond_the_platform_limit_naming_the_setting(
    make_config: Callable[..., str], settings: Settings
) -> None:
    settings.TRAINING_PARAM_LIMITS = {"random_forest": {"n_estimators": 50}}
    text = make_config(model_type="random_forest", params={"n_estimators": 51})

    with pytest.raises(ValidationError) as caught:
        experiment_create(config_text=text)

    assert caught.value.messages == [
        "model.params.n_estimators: must be at most 50 for random_forest (the platform's limit, "
        "setting TRAINING_LIMIT_RANDOM_FOREST_N_ESTIMATORS), got 51"
    ]
    assert not Experiment.objects.exists()


def test_it_refuses_a_timeout_beyond_the_platform_limit(
    make_config: Callable[..., str], settings: Settings
) -> None:
    settings.TRAINING_MAX_TIMEOUT_SECONDS = 600
    text = make_config(extra={"run": {"timeout_seconds": 601}})

    with pytest.raises(ValidationError) as caught:
        experiment_create(config_text=text)

    assert "setting TRAINING_MAX_TIMEOUT_SECONDS" in caught.value.messages[0]
    assert not Experiment.objects.exists()


def test_it_refuses_a_config_that_sets_n_jobs(make_config: Callable[..., str]) -> None:
    text = make_config(model_type="random_forest", params={"n_estimators": 5, "n_jobs": 300})

    with pytest.raises(ValidationError) as caught:
        experiment_create(config_text=text)

    assert caught.value.messages[0].startswith("model.params.n_jobs: is set by the platform")
    assert not Experiment.objects.exists()
