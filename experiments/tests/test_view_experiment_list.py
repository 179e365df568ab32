from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from datasets.models import DatasetVersion
from experiments.models import Experiment, Metric, Status
from mlplatform.tests.factories import make_dataset_version, make_experiment
from notes.services import annotation_set


@pytest.fixture
def version(db: None) -> DatasetVersion:
    return make_dataset_version()


def names(response: Any) -> list[str]:
    return [experiment.name for experiment in response.context["page"].object_list]


def test_it_lists_experiments_newest_first(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    make_experiment(version, name="older")
    make_experiment(version, name="newer")
    client.force_login(viewer)
    response = client.get("/experiments/")
    assert response.status_code == 200
    assert names(response) == ["newer", "older"]
    assert b"newer" in response.content


def test_it_filters_by_status_model_dataset_and_name(
    client: Client, viewer: User, version: DatasetVersion
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
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    make_experiment(version, name="low", metrics={"recall": 0.2})
    make_experiment(version, name="none", status=Status.FAILED)
    make_experiment(version, name="high", metrics={"recall": 0.9})
    client.force_login(viewer)
    descending = client.get("/experiments/?sort=recall&order=desc")
    ascending = client.get("/experiments/?sort=recall&order=asc")
    assert names(descending) == ["high", "low", "none"]
    assert names(ascending) == ["low", "high", "none"]
    assert b'data-sort="recall"' in descending.content  # its own column


def test_it_sorts_by_a_column(client: Client, viewer: User, version: DatasetVersion) -> None:
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
    client: Client, viewer: User, version: DatasetVersion, query: str
) -> None:
    make_experiment(version)
    client.force_login(viewer)
    response = client.get(f"/experiments/?{query}")
    assert response.status_code == 400
    assert b"Some filters are not valid" in response.content
    assert b"Select a valid choice" in response.content


def test_it_refuses_a_null_character_in_the_name_filter(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    client.force_login(viewer)
    response = client.get("/experiments/?name=%00")
    assert response.status_code == 400
    assert b"Null characters are not allowed." in response.content


def test_it_paginates_and_ignores_a_bad_page_number(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    for number in range(51):
        make_experiment(version, name=f"e{number:02d}")
    client.force_login(viewer)
    second = client.get("/experiments/?page=2")
    assert names(second) == ["e00"]
    assert names(client.get("/experiments/?page=abc")) == names(client.get("/experiments/"))
    assert names(client.get("/experiments/?page=999")) == ["e00"]  # the last page
    assert b"page 2 of 2" in second.content


def test_it_offers_compare_checkboxes(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    experiment = make_experiment(version)
    client.force_login(viewer)
    response = client.get("/experiments/")
    assert f'name="ids" value="{experiment.pk}" form="compare-form"'.encode() in response.content


def _many(version: DatasetVersion, count: int) -> None:
    for number in range(count):
        make_experiment(version, name=f"e{number}", metrics={"average_precision": number / 100})


@pytest.mark.parametrize(
    "query",
    ["", "?sort=average_precision", "?status=completed&name=e", "?sort=duration", "?tag=x"],
)
def test_its_query_count_does_not_grow_with_the_rows(
    client: Client, viewer: User, version: DatasetVersion, query: str
) -> None:
    client.force_login(viewer)
    _many(version, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/experiments/{query}").status_code == 200
    _many(version, 27)
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"/experiments/{query}").status_code == 200
    assert len(many) == len(few)


def headers(response: Any) -> dict[str, Any]:
    return {header.key: header for header in response.context["headers"]}


def test_it_sorts_when_a_column_header_is_clicked_and_reverses_on_a_second_click(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    make_experiment(version, name="b", metrics={"average_precision": 0.2})
    make_experiment(version, name="a", metrics={"average_precision": 0.9})
    client.force_login(viewer)
    first = client.get("/experiments/?status=completed&page=1")
    name = headers(first)["name"]
    assert name.url == "?status=completed&sort=name&order=asc"  # filters kept, page dropped
    assert name.state == "none"
    by_name = client.get("/experiments/" + name.url)
    assert names(by_name) == ["a", "b"]
    assert headers(by_name)["name"].state == "ascending"
    assert headers(by_name)["name"].url.endswith("sort=name&order=desc")
    assert b'aria-sort="ascending" data-sort="name"' in by_name.content
    ap = headers(first)["average_precision"]
    assert ap.url.endswith("sort=average_precision&order=desc")  # the best first
    assert names(client.get("/experiments/" + ap.url)) == ["a", "b"]


def test_it_shows_and_sorts_by_duration_and_submitter(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    started = timezone.now() - timedelta(hours=1)
    make_experiment(
        version,
        name="slow",
        created_by_name="zoe",
        started_at=started,
        finished_at=started + timedelta(seconds=125),
    )
    make_experiment(
        version,
        name="quick",
        created_by_name="adam",
        started_at=started,
        finished_at=started + timedelta(seconds=2.8),
    )
    make_experiment(version, name="waiting", status=Status.CREATED, created_by_name="bea")
    client.force_login(viewer)
    response = client.get("/experiments/?sort=duration&order=desc")
    assert names(response) == ["slow", "quick", "waiting"]  # not finished: last
    assert names(client.get("/experiments/?sort=duration&order=asc")) == [
        "quick",
        "slow",
        "waiting",
    ]
    content = response.content.decode()
    assert '<td class="num">2 min 5 s</td>' in content
    assert '<td class="num">2.8 s</td>' in content
    assert '<span class="muted">queued</span>' in content
    assert names(client.get("/experiments/?sort=submitted_by&order=asc")) == [
        "quick",
        "waiting",
        "slow",
    ]
    assert "<td>zoe</td>" in content


def test_it_shows_the_metric_columns_the_user_chose(
    client: Client, viewer: User, experimenter: User, version: DatasetVersion
) -> None:
    make_experiment(version, metrics={"recall": 0.5, "tp": 1204.0, "average_precision": 0.7})
    client.force_login(viewer)
    response = client.post(
        "/experiments/columns/",
        {"metrics": ["tp", "recall"], "next": "/experiments/?status=completed"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/experiments/?status=completed"
    page = client.get("/experiments/")
    assert page.context["key_metrics"] == ("tp", "recall")
    assert [h.key for h in page.context["headers"]][-2:] == ["tp", "recall"]
    assert b'<td class="num">1,204</td>' in page.content
    assert b'data-sort="average_precision"' not in page.content
    # Remembered for this user only.
    client.force_login(experimenter)
    assert client.get("/experiments/").context["key_metrics"] == (
        "average_precision",
        "roc_auc",
        "f1",
    )
    client.force_login(viewer)
    client.post("/experiments/columns/", {"reset": "1", "next": "/experiments/"})
    assert client.get("/experiments/").context["key_metrics"][0] == "average_precision"


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        (["recall", "no_such_metric"], b"no experiment recorded a metric named &#x27;no_such"),
        ([f"m{n}" for n in range(9)], b"choose at most 8 metric columns (got 9)"),
    ],
)
def test_it_refuses_columns_it_cannot_show_and_keeps_the_old_choice(
    client: Client, viewer: User, version: DatasetVersion, metrics: list[str], message: bytes
) -> None:
    make_experiment(version, metrics={"recall": 0.5, **{f"m{n}": 0.1 for n in range(9)}})
    client.force_login(viewer)
    response = client.post("/experiments/columns/", {"metrics": metrics})
    assert response.status_code == 400
    assert message in response.content
    assert client.get("/experiments/").context["key_metrics"][0] == "average_precision"


def test_it_does_not_follow_a_next_address_on_another_site(
    client: Client, viewer: User, version: DatasetVersion
) -> None:
    client.force_login(viewer)
    response = client.post("/experiments/columns/", {"next": "https://evil.example/"})
    assert response["Location"] == "/experiments/"


def test_it_refuses_an_outsider_choosing_columns(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    assert client.post("/experiments/columns/", {"metrics": []}).status_code == 403


def test_it_filters_by_tag_and_shows_each_rows_tags(
    client: Client, viewer: User, experimenter: User, version: DatasetVersion
) -> None:
    tagged = make_experiment(version, name="tagged", metrics={"recall": 0.4})
    make_experiment(version, name="plain", metrics={"recall": 0.6})
    annotation_set(target=tagged, tags="baseline lr-sweep", note="", user=experimenter)
    client.force_login(viewer)
    response = client.get("/experiments/?tag=LR-Sweep")
    assert names(response) == ["tagged"]
    assert b'<a class="tag" href="/experiments/?tag=baseline">baseline</a>' in response.content
    assert b'<option value="lr-sweep">' in response.content  # offered in the filter
    assert names(client.get("/experiments/?tag=lr-sweep&sort=recall")) == ["tagged"]
    bad = client.get("/experiments/?tag=%3Cscript%3E")
    assert bad.status_code == 400
    assert b"A tag holds only letters" in bad.content


def test_it_requires_login(client: Client) -> None:
    assert client.get("/experiments/").status_code == 302


def test_it_refuses_an_outsider(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    assert client.get("/experiments/").status_code == 403


@pytest.mark.slow
def test_it_stays_fast_with_ten_thousand_experiments(
    client: Client, viewer: User, version: DatasetVersion
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
    # The first request of a process imports every view (and through them the
    # training stack): a start-up cost, not one of the list's size.
    client.get("/datasets/")
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
