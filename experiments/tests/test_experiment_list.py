from __future__ import annotations

from typing import Any

import pytest
from django.core.paginator import Paginator
from django.db.models import QuerySet

from experiments.models import Experiment, Metric, Status
from experiments.selectors import MetricOrderedExperiments, experiment_list, scalar_metric_names
from mlplatform.tests.factories import make_dataset_version, make_experiment

# (name, recall or None); ties on 0.5 are ordered by id like any other sort.
ROWS = [("a", 0.5), ("b", None), ("c", 0.9), ("d", 0.5), ("e", None), ("f", 0.1), ("g", 0.5)]


@pytest.fixture
def experiments(db: None) -> list[Experiment]:
    version = make_dataset_version()
    return [
        make_experiment(
            version,
            name=name,
            status=Status.COMPLETED if recall is not None else Status.FAILED,
            metrics={"recall": recall} if recall is not None else {},
        )
        for name, recall in ROWS
    ]


def expected(experiments: list[Experiment], *, descending: bool, status: str = "") -> list[str]:
    recalls = dict(ROWS)
    rows = [e for e in experiments if not status or e.status == status]
    with_metric = [e for e in rows if recalls[e.name] is not None]
    without = [e for e in rows if recalls[e.name] is None]
    with_metric.sort(key=lambda e: (recalls[e.name], e.pk), reverse=descending)
    without.sort(key=lambda e: e.pk, reverse=descending)
    return [e.name for e in with_metric + without]


def every_page(rows: QuerySet[Experiment] | MetricOrderedExperiments, per_page: int) -> list[str]:
    paginator = Paginator(rows, per_page)
    return [e.name for n in paginator.page_range for e in paginator.page(n).object_list]


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("per_page", [1, 2, 3, 50])
def test_it_pages_through_a_metric_sort_with_missing_values_last(
    experiments: list[Experiment], descending: bool, per_page: int
) -> None:
    rows = experiment_list(sort="recall", descending=descending)

    assert every_page(rows, per_page) == expected(experiments, descending=descending)


def test_it_reads_a_metric_sort_by_position_and_in_order(experiments: list[Experiment]) -> None:
    rows = experiment_list(sort="recall")
    names = expected(experiments, descending=True)

    assert isinstance(rows, MetricOrderedExperiments)
    assert [row.name for row in rows] == names
    assert (rows[0].name, rows[len(names) - 1].name) == (names[0], names[-1])
    with pytest.raises(IndexError):
        rows[len(names)]


def test_it_applies_the_filters_to_a_metric_sort(experiments: list[Experiment]) -> None:
    rows = experiment_list(sort="recall", status=Status.FAILED)

    assert every_page(rows, 1) == expected(experiments, descending=True, status=Status.FAILED)
    assert rows.count() == 2


def test_it_annotates_the_sort_and_key_metrics(experiments: list[Experiment]) -> None:
    # Any: the row carries the annotations the selector adds, which Experiment does not list.
    first: Any = experiment_list(sort="recall")[0:1][0]

    assert (first.name, first.sort_metric, first.metric_average_precision) == ("c", 0.9, None)


def test_it_names_each_scalar_metric_once(experiments: list[Experiment]) -> None:
    Metric.objects.create(experiment=experiments[0], name="validation_loss", value=0.3, step=1)
    Metric.objects.create(experiment=experiments[1], name="accuracy", value=0.9)

    assert scalar_metric_names() == ["accuracy", "recall"]
