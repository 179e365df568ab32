from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from experiments.models import Experiment, Metric, Status
from mlplatform.tests.factories import make_dataset_version, make_experiment


@pytest.fixture
def version(db: Any) -> Any:
    return make_dataset_version()


def names(response: Any) -> list[str]:
    return [experiment.name for experiment in response.context["page"].object_list]


def test_it_lists_experiments_newest_first(client: Client, viewer: Any, version: Any) -> None:
    make_experiment(version, name="older")
    make_experiment(version, name="newer")
    client.force_login(viewer)
    response = client.get("/experiments/")
    assert response.status_code == 200
    assert names(response) == ["newer", "older"]
    assert b"newer" in response.content


def test_it_filters_by_status_model_dataset_and_name(
    client: Client, viewer: Any, version: Any
) -> None:
    other = make_dataset_version(version="v2")
    make_experiment(version, name="lr_done", status=Status.COMPLETED)
    make_experiment(version, name="lr_failed", status=Status.FAILED)
    make_experiment(version, name="rf_done", model_type="random_forest")
    make_experiment(other, name="lr_other_data")
    client.force_login(viewer)
    assert names(client.get("/experiments/?status=failed")) == ["lr_failed"]
    assert names(client.get("/experiments/?model_type=random_forest")) == ["rf_done"]
    assert names(client.get(f"/experiments/?dataset_version={other.pk}")) == ["lr_other_data"]
    assert sorted(names(client.get("/experiments/?name=LR_"))) == [
        "lr_done",
        "lr_failed",
        "lr_other_data",
    ]


def test_it_sorts_by_any_recorded_metric_with_missing_values_last(
    client: Client, viewer: Any, version: Any
) -> None:
    make_experiment(version, name="low", metrics={"recall": 0.2})
    make_experiment(version, name="none", status=Status.FAILED)
    make_experiment(version, name="high", metrics={"recall": 0.9})
    client.force_login(viewer)
    descending = client.get("/experiments/?sort=recall&order=desc")
    ascending = client.get("/experiments/?sort=recall&order=asc")
    assert names(descending) == ["high", "low", "none"]
    assert names(ascending) == ["low", "high", "none"]
    assert b'<th class="num">recall</th>' in descending.content  # its own column


def test_it_sorts_by_a_column(client: Client, viewer: Any, version: Any) -> None:
    make_experiment(version, name="b")
    make_experiment(version, name="a")
    client.force_login(viewer)
    assert names(client.get("/experiments/?sort=name&order=asc")) == ["a", "b"]


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "sort=nonsense",
        "order=sideways",
        "dataset_version=abc",
        "dataset_version=99999999999999999999999",
        "model_type=x",
    ],
)
def test_it_answers_bad_filters_with_400_and_a_message(
    client: Client, viewer: Any, version: Any, query: str
) -> None:
    make_experiment(version)
    client.force_login(viewer)
    response = client.get(f"/experiments/?{query}")
    assert response.status_code == 400
    assert b"Some filters are not valid" in response.content
    assert b"Select a valid choice" in response.content


def test_it_refuses_a_null_character_in_the_name_filter(
    client: Client, viewer: Any, version: Any
) -> None:
    client.force_login(viewer)
    response = client.get("/experiments/?name=%00")
    assert response.status_code == 400
    assert b"Null characters are not allowed." in response.content


def test_it_paginates_and_ignores_a_bad_page_number(
    client: Client, viewer: Any, version: Any
) -> None:
    for number in range(51):
        make_experiment(version, name=f"e{number:02d}")
    client.force_login(viewer)
    second = client.get("/experiments/?page=2")
    assert names(second) == ["e00"]
    assert names(client.get("/experiments/?page=abc")) == names(client.get("/experiments/"))
    assert names(client.get("/experiments/?page=999")) == ["e00"]  # the last page
    assert b"page 2 of 2" in second.content


def test_it_offers_compare_checkboxes(client: Client, viewer: Any, version: Any) -> None:
    experiment = make_experiment(version)
    client.force_login(viewer)
    response = client.get("/experiments/")
    assert f'name="ids" value="{experiment.pk}" form="compare-form"'.encode() in response.content


def _many(version: Any, count: int) -> None:
    for number in range(count):
        make_experiment(version, name=f"e{number}", metrics={"average_precision": number / 100})


@pytest.mark.parametrize("query", ["", "?sort=average_precision", "?status=completed&name=e"])
def test_its_query_count_does_not_grow_with_the_rows(
    client: Client, viewer: Any, version: Any, query: str
) -> None:
    client.force_login(viewer)
    _many(version, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/experiments/{query}").status_code == 200
    _many(version, 27)
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"/experiments/{query}").status_code == 200
    assert len(many) == len(few)


def test_it_requires_login(client: Client) -> None:
    assert client.get("/experiments/").status_code == 302


def test_it_refuses_an_outsider(client: Client, outsider: Any) -> None:
    client.force_login(outsider)
    assert client.get("/experiments/").status_code == 403


@pytest.mark.slow
def test_it_stays_fast_with_ten_thousand_experiments(
    client: Client, viewer: Any, version: Any
) -> None:
    template = make_experiment(version, name="template")
    experiments = Experiment.objects.bulk_create(
        Experiment(
            name=f"bulk_{number}",
            config_text=template.config_text,
            config=template.config,
            config_sha256=template.config_sha256,
            dataset_version=version,
            model_type="logistic_regression" if number % 2 else "random_forest",
            status=Status.COMPLETED if number % 5 else Status.FAILED,
            created_by_name="pytest",
        )
        for number in range(10_000)
    )
    Metric.objects.bulk_create(
        Metric(experiment=experiment, name=name, value=(experiment.pk * 7919 % 1000) / 1000)
        for experiment in experiments
        for name in ("average_precision", "roc_auc", "f1", "recall")
    )
    client.force_login(viewer)
    for query in [
        "",
        "?sort=recall",
        "?sort=average_precision&order=asc&page=100",
        "?status=failed",
    ]:
        started = time.perf_counter()
        response = client.get(f"/experiments/{query}")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        print(f"{query or '(default)'}: {elapsed:.3f} s")
        assert elapsed < 2.0, f"{query}: {elapsed:.2f} s"
