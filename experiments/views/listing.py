from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from experiments.forms import MAX_COMPARE, ExperimentFilterForm
from experiments.selectors import (
    FIELD_SORTS,
    KEY_METRICS,
    experiment_list,
    scalar_metric_names,
)

PAGE_SIZE = 50


@login_required
@permission_required("experiments.view_experiment", raise_exception=True)
@require_GET
def experiment_list_view(request: HttpRequest) -> HttpResponse:
    form = ExperimentFilterForm(request.GET, metric_names=scalar_metric_names())
    if not form.is_valid():
        context = {"form": form, "page": None, "key_metrics": KEY_METRICS}
        return render(request, "experiments/list.html", context, status=400)
    filters = form.filters()
    page = Paginator(experiment_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "key_metrics": KEY_METRICS,
        "sort_metric": _extra_metric_column(filters["sort"]),
        "max_compare": MAX_COMPARE,
    }
    return render(request, "experiments/list.html", context)


def _extra_metric_column(sort: str) -> str | None:
    """A metric sorted by that is not already a column gets one."""
    return None if sort in FIELD_SORTS or sort in KEY_METRICS else sort
