from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from datasets.models import DatasetVersion
from experiments.models import Experiment, Metric, Status
from experiments.services import experiment_create, experiment_execute
from mlplatform.tests.factories import (
    make_dataset_version,
    make_experiment,
    make_gate_evaluation,
    make_model_version,
)
from registry.models import GateEvaluation, RegisteredModel


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
def version(db: None) -> DatasetVersion:
    return make_dataset_version()


def compare(client: Client, *experiments: Experiment, **query: Any) -> Any:
    return client.get("/experiments/compare/", {"ids": [e.pk for e in experiments], **query})


def cells(response: Any, metric: str) -> list[Any]:
    for group in response.context["metric_groups"]:
        for row in group.rows:
            if row.name == metric:
                return list(row.cells)
    raise AssertionError(f"no row {metric}")


def test_it_shows_metrics_first_then_curves_then_config_differences(
    client: Client, viewer: User, trained_pair: list[Experiment]
) -> None:
    first, second = trained_pair
    client.force_login(viewer)
    response = compare(client, first, second)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index('id="metrics-heading"') < page.index('id="curves-heading"')
    assert page.index('id="curves-heading"') < page.index('id="config-heading"')
    rows = {row.name: row for row in response.context["config_rows"]}
    # Differences only by default: the model type is the same, so it is not listed.
    assert "model.type" not in rows
    assert [cell.text for cell in rows["model.params.class_weight"].cells] == ["balanced", "none"]
    assert "null" not in page
    charts = response.context["charts"]
    assert [chart.title for chart in charts] == ["Precision-recall", "ROC"]
    assert all(chart.wide and len(chart.lines) == 2 for chart in charts)


def test_it_puts_the_average_precision_and_roc_auc_in_each_legend_entry(
    client: Client, viewer: User, trained_pair: list[Experiment]
) -> None:
    first, second = trained_pair
    client.force_login(viewer)
    response = compare(client, first, second)
    pr, roc = response.context["charts"]
    first_ap = Metric.objects.get(experiment=first, name="average_precision", step=None).value
    second_auc = Metric.objects.get(experiment=second, name="roc_auc", step=None).value
    assert pr.lines[0].legend == f"#{first.pk} balanced · AP {first_ap:.4f}"
    assert roc.lines[1].legend == f"#{second.pk} unweighted · ROC-AUC {second_auc:.4f}"
    page = response.content.decode()
    assert f"AP {first_ap:.4f}" in page
    # Hover values: every hover point names its threshold, precision and recall.
    titles = re.findall(r'<circle class="point"[^>]*><title>([^<]*)</title>', page)
    assert titles
    assert all("threshold" in title for title in titles)
    assert any("precision" in title and "recall" in title for title in titles)


def test_it_overlays_the_validation_loss_of_boosted_runs(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    runs = [
        make_experiment(version, name=f"hgb{n}", model_type="hist_gradient_boosting")
        for n in range(2)
    ]
    for run, scale in zip(runs, (1.0, 2.0), strict=True):
        Metric.objects.bulk_create(
            Metric(experiment=run, name="validation_loss", step=step, value=scale / step)
            for step in range(1, 6)
        )
    client.force_login(viewer)
    response = compare(client, *runs)
    (chart,) = response.context["charts"]
    assert chart.title == "validation_loss per iteration"
    assert [line.legend for line in chart.lines] == [
        f"#{runs[0].pk} hgb0 · 0.2000 at iteration 5",
        f"#{runs[1].pk} hgb1 · 0.4000 at iteration 5",
    ]


def test_it_shows_every_config_key_when_asked(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    first = make_experiment(version, name="a", params={"C": 1.0})
    second = make_experiment(version, name="b", params={"C": 2.0, "tol": 0.1})
    client.force_login(viewer)
    only = compare(client, first, second)
    assert [row.name for row in only.context["config_rows"]] == [
        "experiment_name",
        "model.params.C",
        "model.params.tol",
    ]
    assert [(c.text, c.absent) for c in only.context["config_rows"][2].cells] == [
        ("", True),
        ("0.1", False),
    ]
    assert b"not set" in only.content
    assert b"Show all 9 keys" in only.content
    every = compare(client, first, second, config="all")
    assert len(every.context["config_rows"]) == 9
    assert b"Show only the 3 differing keys" in every.content


def test_it_heads_each_column_with_name_id_model_status_stage_and_gate(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    registered = make_experiment(version, name="registered_run")
    make_model_version(registered, version=3, stage="staging", gate_passed=True)
    refused = make_experiment(version, name="refused_run", model_type="random_forest")
    GateEvaluation.objects.create(
        registered_model=RegisteredModel.objects.get(name="fraud_detector"),
        candidate=refused,
        purpose=GateEvaluation.Purpose.REGISTRATION,
        passed=False,
        report={"passed": False, "metrics": []},
    )
    client.force_login(viewer)
    response = compare(client, registered, refused)
    heads = re.findall(r'<th scope="col" class="run-head.*?</th>', response.content.decode(), re.S)
    assert len(heads) == 2
    first_head = ["registered_run", f"#{registered.pk}", "logistic_regression", "Completed"]
    for text in [*first_head, "v3 Staging", "gate passed"]:
        assert text in heads[0]
    for text in ["refused_run", f"#{refused.pk}", "random_forest", "gate failed"]:
        assert text in heads[1]
    assert "v3" not in heads[1]


def test_it_takes_the_first_run_as_baseline_and_signs_the_deltas(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    first = make_experiment(version, metrics={"average_precision": 0.80, "log_loss": 0.30})
    second = make_experiment(version, metrics={"average_precision": 0.85, "log_loss": 0.20})
    client.force_login(viewer)
    response = compare(client, first, second)
    assert response.context["baseline"].experiment == first
    baseline_cell, other = cells(response, "average_precision")
    assert baseline_cell.delta == ""
    assert (other.delta, other.relative, other.trend) == ("+0.0500", "+6.25%", "better")
    _, loss = cells(response, "log_loss")
    # Lower is better, and a delta is "how much better": positive, as in the gate.
    assert (loss.delta, loss.trend) == ("+0.1000", "better")
    assert other.interval == ""  # no gate compared this pair


def test_it_defaults_the_baseline_to_the_production_version(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    candidate = make_experiment(version, name="candidate", metrics={"average_precision": 0.85})
    production = make_experiment(version, name="prod", metrics={"average_precision": 0.80})
    make_model_version(production, version=1, stage="production")
    client.force_login(viewer)
    response = compare(client, candidate, production)
    assert response.context["baseline"].experiment == production
    other, _ = cells(response, "average_precision")
    assert other.delta == "+0.0500"
    assert b"(the production version)" in response.content


def test_it_lets_the_user_choose_the_baseline(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    first = make_experiment(version, metrics={"average_precision": 0.80})
    second = make_experiment(version, metrics={"average_precision": 0.85})
    client.force_login(viewer)
    page = compare(client, first, second).content.decode()
    assert f"baseline={second.pk}" in page  # the "use as baseline" link
    response = compare(client, first, second, baseline=second.pk)
    assert response.context["baseline"].experiment == second
    assert cells(response, "average_precision")[0].delta == "-0.0500"


def test_it_refuses_a_baseline_that_is_not_compared(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    first, second, third = (make_experiment(version) for _ in range(3))
    client.force_login(viewer)
    response = compare(client, first, second, baseline=third.pk)
    assert response.status_code == 400
    assert b"The baseline must be one of the compared experiments" in response.content


def test_it_shows_the_gate_interval_of_a_stored_evaluation_of_the_pair(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    production = make_experiment(version, metrics={"average_precision": 0.80, "log_loss": 0.3})
    candidate = make_experiment(version, metrics={"average_precision": 0.85, "log_loss": 0.2})
    unrelated = make_experiment(version, metrics={"average_precision": 0.70})
    production_version = make_model_version(production, stage="production")
    make_gate_evaluation(
        candidate,
        production_version,
        metrics=[
            {
                "metric": "average_precision",
                "greater_is_better": True,
                "ci_low": 0.01,
                "ci_high": 0.09,
            },
            # The gate orients deltas so that positive is better: lower log loss here.
            {"metric": "log_loss", "greater_is_better": False, "ci_low": 0.05, "ci_high": 0.15},
        ],
    )
    client.force_login(viewer)
    response = compare(client, production, candidate, unrelated)
    _, ap, unrelated_ap = cells(response, "average_precision")
    assert ap.interval == "95% CI [+0.0100, +0.0900]"
    # The gate's own orientation and signs (positive: better), not the raw difference.
    assert cells(response, "log_loss")[1].interval == "95% CI [+0.0500, +0.1500]"
    assert unrelated_ap.interval == ""
    # With the candidate as baseline the same gate gives production's interval, reversed.
    reverse = compare(client, production, candidate, baseline=candidate.pk)
    assert cells(reverse, "average_precision")[0].interval == "95% CI [-0.0900, -0.0100]"


def test_it_calls_best_only_quality_metrics_and_formats_counts_and_timings(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    useful = {
        "roc_auc": 0.9,
        "log_loss": 0.30,
        "fp": 3304.0,
        "tn": 56000.0,
        "fit_time_seconds": 2.8,
    }
    underfit = {
        "roc_auc": 0.5,
        "log_loss": 0.20,
        "fp": 0.0,
        "tn": 56962.0,
        "fit_time_seconds": 0.02,
    }
    first = make_experiment(version, metrics=useful)
    second = make_experiment(version, metrics=underfit)
    client.force_login(viewer)
    response = compare(client, first, second)
    best = {
        row.name: [cell.best for cell in row.cells]
        for group in response.context["metric_groups"]
        for row in group.rows
    }
    assert best["roc_auc"] == [True, False]
    assert best["log_loss"] == [False, True]
    assert best["fp"] == best["tn"] == best["fit_time_seconds"] == [False, False]
    assert [group.title for group in response.context["metric_groups"]] == [
        "Quality",
        "Counts",
        "Timings",
    ]
    assert [cell.text for cell in cells(response, "fp")] == ["3,304", "0"]
    assert [cell.text for cell in cells(response, "tn")] == ["56,000", "56,962"]
    assert cells(response, "tn")[1].delta == "+962"
    assert cells(response, "tn")[1].trend == ""
    assert [cell.text for cell in cells(response, "fit_time_seconds")] == ["2.8 s", "20 ms"]
    assert response.content.decode().count('class="num best"') == 2


def test_it_plots_metrics_against_the_one_numeric_parameter_that_differs(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    runs = [
        make_experiment(
            version,
            name=f"lr{rate}",
            model_type="hist_gradient_boosting",
            params={"learning_rate": rate},
            metrics={"average_precision": 0.7 + rate / 10, "roc_auc": 0.9},
        )
        for rate in (0.01, 0.1, 1.0)
    ]
    client.force_login(viewer)
    response = compare(client, *runs)
    sweep = response.context["sweep"]
    assert sweep["parameter"] == "model.params.learning_rate"
    titles = [chart.title for chart in sweep["charts"]]
    assert titles == [
        "average_precision by model.params.learning_rate",
        "roc_auc by model.params.learning_rate",
    ]
    chart = sweep["charts"][0]
    assert chart.x_label.endswith("(log scale)")  # 0.01 .. 1 spans two decades
    assert [point.color for point in chart.points] == [c.color for c in response.context["columns"]]
    assert b'id="sweep"' in response.content


def test_it_draws_no_sweep_when_two_parameters_differ(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    first = make_experiment(version, params={"C": 1.0, "tol": 0.1}, metrics={"f1": 0.5})
    second = make_experiment(version, params={"C": 2.0, "tol": 0.2}, metrics={"f1": 0.6})
    client.force_login(viewer)
    response = compare(client, first, second)
    assert response.context["sweep"] is None
    assert b'id="sweep"' not in response.content


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", b"This field is required."),
        ("?ids={a}", b"Select between 2 and 10 experiments to compare (got 1)."),
        ("?ids={a}&ids={a}", b"(got 1)"),
        ("?ids={a}&ids=abc", b"Select a valid choice. abc is not one of the available choices."),
        ("?ids={a}&ids=99999999999999999999999", b"Select a valid choice."),
        ("?ids={a}&ids={a}1&config=some", b"Select a valid choice. some is not one"),
    ],
)
def test_it_refuses_a_bad_selection_with_a_message(
    client: Client, viewer: User, version: DatasetVersion, query: str, message: bytes
) -> None:
    experiment = make_experiment(version)
    client.force_login(viewer)
    response = client.get("/experiments/compare/" + query.format(a=experiment.pk))
    assert response.status_code == 400
    assert message in response.content


def test_it_refuses_more_than_ten(client: Client, viewer: User, version: DatasetVersion) -> None:
    ids = [make_experiment(version, name=f"e{n}").pk for n in range(11)]
    client.force_login(viewer)
    response = client.get("/experiments/compare/", {"ids": ids})
    assert response.status_code == 400
    assert b"(got 11)" in response.content


def test_it_answers_404_when_an_experiment_is_unknown(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(version)
    client.force_login(viewer)
    assert client.get(f"/experiments/compare/?ids={experiment.pk}&ids=424242").status_code == 404


def test_its_query_count_does_not_grow_with_the_experiments(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    runs = [make_experiment(version, name=f"e{n}", metrics={"f1": n / 10}) for n in range(10)]
    for number, run in enumerate(runs[:4]):
        make_model_version(
            run, version=number + 1, stage="production" if number == 0 else "staging"
        )
        Metric.objects.create(experiment=run, name="validation_loss", step=1, value=0.5)
    make_gate_evaluation(runs[1], runs[0].model_version, metrics=[])
    ids = [run.pk for run in runs]
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as two:
        assert client.get("/experiments/compare/", {"ids": ids[:2]}).status_code == 200
    with CaptureQueriesContext(connection) as ten:
        assert client.get("/experiments/compare/", {"ids": ids}).status_code == 200
    assert len(ten) == len(two)


def test_it_refuses_an_outsider(client: Client, outsider: User, version: DatasetVersion) -> None:
    ids = [make_experiment(version).pk, make_experiment(version).pk]
    client.force_login(outsider)
    assert client.get("/experiments/compare/", {"ids": ids}).status_code == 403
