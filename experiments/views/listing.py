from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from experiments.forms import MAX_COMPARE, ExperimentFilterForm
from experiments.metrics import METRIC_DIRECTIONS
from experiments.selectors import (
    FIELD_SORTS,
    experiment_list,
    experiment_list_columns,
    scalar_metric_names,
)
from experiments.services import experiment_list_columns_reset, experiment_list_columns_set
from experiments.services.preferences import MAX_METRIC_COLUMNS
from notes.selectors import tag_names

PAGE_SIZE = 50
# Columns whose first click sorts A to Z; every other column starts with the largest.
ASCENDING_FIRST = frozenset({"name", "status", "model", "dataset", "submitted_by"})
COLUMN_LABELS = {
    "name": "Name",
    "status": "Status",
    "dataset": "Dataset",
    "model": "Model",
    "submitted_by": "Submitted by",
    "created": "Created",
    "duration": "Duration",
}


@dataclass(frozen=True)
class Header:
    key: str
    label: str
    url: str
    state: str  # aria-sort: "ascending", "descending" or "none"
    numeric: bool = False


def _first_order_descending(key: str) -> bool:
    if key in ASCENDING_FIRST:
        return False
    return METRIC_DIRECTIONS.get(key, True)  # log_loss: the lowest first


def sort_headers(
    request: HttpRequest, *, sort: str, descending: bool, metrics: tuple[str, ...]
) -> list[Header]:
    """Clickable column headers: a click sorts by the column, a second click
    reverses; other filters are kept and the page goes back to the first."""
    headers = []
    for key in [*COLUMN_LABELS, *metrics]:
        active = key == sort
        order_descending = not descending if active else _first_order_descending(key)
        query = request.GET.copy()
        query["sort"], query["order"] = key, "desc" if order_descending else "asc"
        query.pop("page", None)
        state = ("descending" if descending else "ascending") if active else "none"
        numeric = key not in COLUMN_LABELS or key == "duration"
        headers.append(
            Header(key, COLUMN_LABELS.get(key, key), f"?{query.urlencode()}", state, numeric)
        )
    return headers


@login_required
@permission_required("experiments.view_experiment", raise_exception=True)
@require_GET
def experiment_list_view(request: HttpRequest) -> HttpResponse:
    known_metrics = scalar_metric_names()
    form = ExperimentFilterForm(request.GET, metric_names=known_metrics)
    metrics = experiment_list_columns(user=request.user)
    context: dict[str, object] = {
        "form": form,
        "page": None,
        "key_metrics": metrics,
        # The chosen columns first, in the user's order; a box ticked now comes
        # after them. Only metrics some experiment recorded can be chosen (a
        # default column none has recorded yet is not offered).
        "picker_metrics": [
            *(name for name in metrics if name in known_metrics),
            *(name for name in known_metrics if name not in metrics),
        ],
        "known_metrics": known_metrics,
        "tag_names": tag_names(),
        "max_metric_columns": MAX_METRIC_COLUMNS,
    }
    if not form.is_valid():
        return render(request, "experiments/list.html", context, status=400)
    filters = form.filters()
    sort_metric = _extra_metric_column(filters["sort"], metrics)
    shown = (*metrics, sort_metric) if sort_metric else metrics
    rows = experiment_list(**filters, metrics=metrics)
    context |= {
        "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "headers": sort_headers(
            request, sort=filters["sort"], descending=filters["descending"], metrics=shown
        ),
        "sort_metric": sort_metric,
        "max_compare": MAX_COMPARE,
        "tag": filters["tag"],
    }
    return render(request, "experiments/list.html", context)


def _in_chosen_order(ticked: list[str], order: str) -> list[str]:
    """The ticked metrics in the order the page's script recorded (the order
    they were ticked), then any it did not (no script: the picker's order)."""
    ordered = [name for name in order.split(",") if name in ticked]
    return [*dict.fromkeys(ordered), *(name for name in ticked if name not in ordered)]


def _extra_metric_column(sort: str, metrics: tuple[str, ...]) -> str | None:
    """A metric sorted by that is not already a column gets one."""
    return None if sort in FIELD_SORTS or sort in metrics else sort


@login_required
@permission_required("experiments.view_experiment", raise_exception=True)
@require_POST
def experiment_list_columns_view(request: HttpRequest) -> HttpResponse:
    """Keep the user's choice of metric columns, then go back to the list."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("experiments:list")
    if "reset" in request.POST:
        experiment_list_columns_reset(user=request.user)
        return redirect(back)
    try:
        experiment_list_columns_set(
            user=request.user,
            metrics=_in_chosen_order(
                request.POST.getlist("metrics"), request.POST.get("order", "")
            ),
            known_metrics=scalar_metric_names(),
        )
    except ValidationError as error:
        context = {"errors": error.messages, "back": back}
        return render(request, "experiments/columns_error.html", context, status=400)
    messages.success(request, "Columns saved; they are kept for your next visits.")
    return redirect(back)
