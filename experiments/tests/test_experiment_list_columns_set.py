from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError

from experiments.models import ListColumns
from experiments.selectors import KEY_METRICS, experiment_list_columns
from experiments.services import experiment_list_columns_reset, experiment_list_columns_set

KNOWN = ["average_precision", "f1", "recall", "tp"]


def test_it_remembers_the_columns_in_order_without_duplicates(viewer: User) -> None:
    chosen = experiment_list_columns_set(
        user=viewer, metrics=["tp", "recall", "tp"], known_metrics=KNOWN
    )
    assert chosen == ["tp", "recall"]
    assert experiment_list_columns(user=viewer) == ("tp", "recall")
    experiment_list_columns_set(user=viewer, metrics=["f1"], known_metrics=KNOWN)
    assert ListColumns.objects.get(user=viewer).metrics == ["f1"]


def test_it_keeps_an_empty_choice_and_resets_to_the_defaults(viewer: User) -> None:
    experiment_list_columns_set(user=viewer, metrics=[], known_metrics=KNOWN)
    assert experiment_list_columns(user=viewer) == ()
    experiment_list_columns_reset(user=viewer)
    assert experiment_list_columns(user=viewer) == KEY_METRICS


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        (["f1", "bogus"], "no experiment recorded a metric named 'bogus'"),
        (KNOWN * 3 + [f"x{n}" for n in range(9)], "no experiment recorded a metric named 'x0'"),
    ],
)
def test_it_refuses_unknown_metrics_and_writes_nothing(
    viewer: User, metrics: list[str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        experiment_list_columns_set(user=viewer, metrics=metrics, known_metrics=KNOWN)
    assert not ListColumns.objects.exists()


def test_it_refuses_more_than_eight_columns(viewer: User) -> None:
    many = [f"m{n}" for n in range(9)]
    with pytest.raises(ValidationError, match=r"at most 8 metric columns \(got 9\)"):
        experiment_list_columns_set(user=viewer, metrics=many, known_metrics=many)
    assert not ListColumns.objects.exists()


def test_it_keeps_no_choice_for_an_anonymous_user(db: None) -> None:
    with pytest.raises(ValidationError, match="log in"):
        experiment_list_columns_set(user=AnonymousUser(), metrics=["f1"], known_metrics=KNOWN)
    assert experiment_list_columns(user=AnonymousUser()) == KEY_METRICS
