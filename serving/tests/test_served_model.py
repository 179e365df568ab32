"""Loading models for serving: once per process, digest verified, and the
production version looked up on every call so that a promotion is served at
once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import storages
from django.db import connections
from pytest_django.fixtures import DjangoAssertNumQueries, Settings

from registry.models import ModelVersion, Stage
from registry.tests.conftest import promote
from serving import loading
from serving.errors import ModelNotFound, ModelUnavailable
from serving.loading import served_model


def test_it_loads_the_production_version_with_its_threshold_and_features(
    production_version: ModelVersion,
) -> None:
    model = served_model(model_name="fraud_detector", stage=Stage.PRODUCTION)

    assert (model.model_name, model.version) == ("fraud_detector", 1)
    assert model.artifact_sha256 == production_version.artifact_sha256
    assert model.threshold == 0.5
    assert model.feature_columns == tuple(production_version.experiment.feature_columns)
    assert hasattr(model.estimator, "predict_proba")


def test_it_loads_once_and_then_costs_one_query(
    production_version: ModelVersion, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    first = served_model(model_name="fraud_detector", stage=Stage.PRODUCTION)

    with django_assert_num_queries(1):
        again = served_model(model_name="fraud_detector", stage=Stage.PRODUCTION)

    assert again is first


def test_it_serves_a_new_production_version_on_the_next_call(
    production_version: ModelVersion,
    registered: Callable[..., ModelVersion],
    experimenter: Any,
    approver: Any,
) -> None:
    before = served_model(model_name="fraud_detector", stage=Stage.PRODUCTION)
    second = registered(name="second", threshold=0.3)
    promote(second, experimenter, approver)

    after = served_model(model_name="fraud_detector", stage=Stage.PRODUCTION)

    assert (before.version, after.version) == (1, 2)
    assert after.threshold == 0.3
    assert after.artifact_sha256 == second.artifact_sha256


def test_it_serves_a_version_whatever_its_stage(
    production_version: ModelVersion, registered: Callable[..., ModelVersion]
) -> None:
    registered(name="second")

    assert served_model(model_name="fraud_detector", version=2).version == 2
    assert served_model(model_name="fraud_detector", stage=Stage.STAGING).version == 2


@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        ({"model_name": "nope", "version": 1}, "there is no registered model 'nope'"),
        ({"model_name": "fraud_detector", "version": 7}, "model 'fraud_detector' has no version 7"),
        (
            {"model_name": "fraud_detector", "stage": Stage.STAGING},
            "model 'fraud_detector' has no version in staging",
        ),
    ],
)
def test_it_says_what_is_not_there(
    production_version: ModelVersion, lookup: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelNotFound, match=f"^{message}$"):
        served_model(**lookup)


def test_it_refuses_an_artifact_that_no_longer_matches_its_digest(
    production_version: ModelVersion,
) -> None:
    path = storages["artifacts"].path(production_version.experiment.artifact_path)
    with open(path, "ab") as stored:  # noqa: PTH123 - the storage's own path
        stored.write(b"tampered")

    with pytest.raises(ModelUnavailable, match="does not match its recorded SHA-256"):
        served_model(model_name="fraud_detector", stage=Stage.PRODUCTION)


def test_it_keeps_at_most_the_configured_number_of_models(
    production_version: ModelVersion,
    registered: Callable[..., ModelVersion],
    settings: Settings,
) -> None:
    settings.SERVING_CACHED_MODELS = 1
    registered(name="second")
    first = served_model(model_name="fraud_detector", version=1)

    served_model(model_name="fraud_detector", version=2)

    assert served_model(model_name="fraud_detector", version=1) is not first
    assert len(loading._cache) == 1


@pytest.mark.django_db(transaction=True)
def test_it_loads_a_version_once_when_requests_arrive_together(
    production_version: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = []
    real_load = loading._load

    def slow_load(version_id: int) -> loading.ServedModel:
        loads.append(version_id)
        time.sleep(0.3)  # long enough for every thread to be waiting
        return real_load(version_id)

    monkeypatch.setattr(loading, "_load", slow_load)
    served: list[loading.ServedModel] = []

    def serve() -> None:
        try:
            served.append(served_model(model_name="fraud_detector", stage=Stage.PRODUCTION))
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert loads == [production_version.pk]
    assert len(served) == 4
    assert all(model is served[0] for model in served)


def test_a_forest_predicts_on_the_serving_budget_not_its_training_n_jobs(
    registered: Callable[..., ModelVersion], settings: Settings
) -> None:
    version = registered(model_type="random_forest", params={"n_estimators": 5})
    settings.SERVING_THREADS = 3

    model = served_model(model_name="fraud_detector", version=version.version)

    forest = model.estimator.steps[-1][1] if hasattr(model.estimator, "steps") else model.estimator
    assert forest.n_jobs == 3


def test_each_version_has_its_own_load_lock() -> None:
    assert loading._load_lock((1, "a")) is loading._load_lock((1, "a"))
    assert loading._load_lock((1, "a")) is not loading._load_lock((2, "b"))


def test_a_model_larger_than_allowed_is_not_loaded(
    production_version: ModelVersion, settings: Settings
) -> None:
    from experiments.models import Experiment
    from serving.errors import ModelTooLarge

    settings.SERVING_MAX_MODEL_MB = 1
    Experiment.objects.filter(pk=production_version.experiment_id).update(
        artifact_size=3 * 1024 * 1024
    )

    with pytest.raises(
        ModelTooLarge, match=r"3\.0 MiB, larger than .* \(1 MiB, SERVING_MAX_MODEL_MB\)"
    ):
        served_model(model_name="fraud_detector", stage=Stage.PRODUCTION)
