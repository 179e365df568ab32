from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from experiments.models import Experiment, Status
from experiments.services import experiment_create, experiment_execute
from mlplatform.tests.factories import make_dataset_version, make_experiment


@pytest.fixture
def trained_pair(make_config: Callable[..., str]) -> list[Experiment]:
    pair = []
    for name, weight in (("balanced", "balanced"), ("unweighted", None)):
        params = {"class_weight": weight, "max_iter": 500}
        experiment = experiment_create(config_text=make_config(name=name, params=params))
        experiment_execute(experiment_id=experiment.pk)
        experiment.refresh_from_db()
        assert experiment.status == Status.COMPLETED, experiment.error_message
        pair.append(experiment)
    return pair


@pytest.fixture
def version(db: Any) -> Any:
    return make_dataset_version()


def test_it_shows_config_differences_metrics_and_overlaid_curves(
    client: Client, viewer: Any, trained_pair: list[Experiment]
) -> None:
    first, second = trained_pair
    client.force_login(viewer)
    response = client.get(f"/experiments/compare/?ids={first.pk}&ids={second.pk}")
    assert response.status_code == 200
    rows = {row.name: row for row in response.context["config_rows"]}
    assert rows["model.params.class_weight"].differs
    assert [cell.text for cell in rows["model.params.class_weight"].cells] == ["balanced", "null"]
    assert not rows["model.type"].differs
    charts = response.context["charts"]
    assert [chart.title for chart in charts] == ["Precision-recall", "ROC"]
    assert all(len(chart.lines) == 2 for chart in charts)
    assert response.content.decode().count('class="series"') == 4


def test_it_shows_only_differences_when_asked(client: Client, viewer: Any, version: Any) -> None:
    first = make_experiment(version, name="a", params={"C": 1.0})
    second = make_experiment(version, name="b", params={"C": 2.0})
    client.force_login(viewer)
    response = client.get(
        f"/experiments/compare/?ids={first.pk}&ids={second.pk}&only_differences=1"
    )
    names = [row.name for row in response.context["config_rows"]]
    assert names == ["experiment_name", "model.params.C"]
    assert b"Show all" in response.content


def test_it_highlights_the_best_value_of_each_metric(
    client: Client, viewer: Any, version: Any
) -> None:
    first = make_experiment(version, metrics={"roc_auc": 0.9, "log_loss": 0.30, "train_rows": 5})
    second = make_experiment(version, metrics={"roc_auc": 0.8, "log_loss": 0.20, "train_rows": 7})
    client.force_login(viewer)
    response = client.get(f"/experiments/compare/?ids={first.pk}&ids={second.pk}")
    rows = {row.name: [cell.best for cell in row.cells] for row in response.context["metric_rows"]}
    assert rows["roc_auc"] == [True, False]  # higher is better
    assert rows["log_loss"] == [False, True]  # lower is better
    assert rows["train_rows"] == [False, False]  # neither
    assert b'class="num best"' in response.content


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", b"This field is required."),
        ("?ids={a}", b"Select between 2 and 10 experiments to compare (got 1)."),
        ("?ids={a}&ids={a}", b"(got 1)"),
        ("?ids={a}&ids=abc", b"Select a valid choice. abc is not one of the available choices."),
        ("?ids={a}&ids=99999999999999999999999", b"Select a valid choice."),
    ],
)
def test_it_refuses_a_bad_selection_with_a_message(
    client: Client, viewer: Any, version: Any, query: str, message: bytes
) -> None:
    experiment = make_experiment(version)
    client.force_login(viewer)
    response = client.get("/experiments/compare/" + query.format(a=experiment.pk))
    assert response.status_code == 400
    assert message in response.content


def test_it_refuses_more_than_ten(client: Client, viewer: Any, version: Any) -> None:
    ids = [make_experiment(version, name=f"e{n}").pk for n in range(11)]
    client.force_login(viewer)
    response = client.get("/experiments/compare/", {"ids": ids})
    assert response.status_code == 400
    assert b"(got 11)" in response.content


def test_it_answers_404_when_an_experiment_is_unknown(
    client: Client, viewer: Any, version: Any
) -> None:
    experiment = make_experiment(version)
    client.force_login(viewer)
    assert client.get(f"/experiments/compare/?ids={experiment.pk}&ids=424242").status_code == 404


def test_its_query_count_does_not_grow_with_the_experiments(
    client: Client, viewer: Any, version: Any
) -> None:
    ids = [make_experiment(version, name=f"e{n}", metrics={"f1": n / 10}).pk for n in range(10)]
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as two:
        assert client.get("/experiments/compare/", {"ids": ids[:2]}).status_code == 200
    with CaptureQueriesContext(connection) as ten:
        assert client.get("/experiments/compare/", {"ids": ids}).status_code == 200
    assert len(ten) == len(two)


def test_it_refuses_an_outsider(client: Client, outsider: Any, version: Any) -> None:
    ids = [make_experiment(version).pk, make_experiment(version).pk]
    client.force_login(outsider)
    assert client.get("/experiments/compare/", {"ids": ids}).status_code == 403
