from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from datasets.forms import DatasetRegisterForm
from datasets.models import DatasetVersion
from datasets.selectors import dataset_version_page, datasets_with_usage
from datasets.services import dataset_register
from datasets.uploads import SizeLimitedUploadHandler, dataset_upload_register
from experiments.selectors import KEY_METRICS, experiment_list
from mlplatform import numbers

DATA_SUFFIXES = (".csv", ".parquet")
MAX_SUGGESTIONS = 200
EXPERIMENTS_PAGE_SIZE = 25


@login_required
@permission_required("datasets.view_datasetversion", raise_exception=True)
@require_GET
def dataset_index(request: HttpRequest) -> HttpResponse:
    return render(request, "datasets/index.html", {"datasets": datasets_with_usage()})


@dataclass(frozen=True)
class ColumnRow:
    position: int
    name: str
    dtype: str
    is_target: bool
    minimum: str
    maximum: str
    mean: str
    missing: str


def column_rows(version: DatasetVersion) -> list[ColumnRow]:
    """Every column in file order with the statistics recorded at registration."""
    rows = []
    for position, column in enumerate(version.columns, start=1):
        stats = (version.column_stats or {}).get(column["name"]) or {}
        rows.append(
            ColumnRow(
                position=position,
                name=column["name"],
                dtype=column["dtype"],
                is_target=column["name"] == version.target,
                minimum=numbers.quantity(stats.get("min")),
                maximum=numbers.quantity(stats.get("max")),
                mean=numbers.quantity(stats.get("mean")),
                missing=numbers.count(stats.get("missing")),
            )
        )
    return rows


@login_required
@permission_required("datasets.view_datasetversion", raise_exception=True)
@require_GET
def dataset_version_detail(request: HttpRequest, name: str, version: str) -> HttpResponse:
    try:
        dataset_version = dataset_version_page(name=name, version=version)
    except DatasetVersion.DoesNotExist:
        raise Http404(f"no dataset version {name}:{version}") from None
    experiments = Paginator(
        experiment_list(dataset_version_id=dataset_version.pk), EXPERIMENTS_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    context = {
        "version": dataset_version,
        "columns": column_rows(dataset_version),
        "page": experiments,
        "key_metrics": KEY_METRICS,
    }
    return render(request, "datasets/version.html", context)


def data_files() -> list[str]:
    """Data files under DATA_ROOT (relative paths), offered as suggestions."""
    root = Path(settings.DATA_ROOT)
    found: list[str] = []
    for directory, _, files in os.walk(root):
        for filename in sorted(files):
            if filename.endswith(DATA_SUFFIXES):
                found.append(str((Path(directory) / filename).relative_to(root)))
                if len(found) >= MAX_SUGGESTIONS:
                    return sorted(found)
    return sorted(found)


# CSRF is checked by csrf_protect on _register, after the upload size limit
# is in place: the CSRF middleware would otherwise read the upload first.
@csrf_exempt
@login_required
@permission_required("datasets.add_datasetversion", raise_exception=True)
@require_http_methods(["GET", "POST"])
def dataset_register_view(request: HttpRequest) -> HttpResponse:
    limiter = SizeLimitedUploadHandler(request, settings.DATASET_UPLOAD_MAX_BYTES)
    request.upload_handlers = [limiter, *request.upload_handlers]
    return _register(request, limiter)


@csrf_protect
def _register(request: HttpRequest, limiter: SizeLimitedUploadHandler) -> HttpResponse:
    if request.method == "GET":
        return _register_page(request, DatasetRegisterForm())
    form = DatasetRegisterForm(request.POST, request.FILES, upload_too_large=limiter.exceeded)
    if form.is_valid():
        try:
            registered = _register_from_form(request, form)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Registered {registered.label}.")
            return redirect(
                "datasets:version", name=registered.dataset.name, version=registered.version
            )
    return _register_page(request, form, status=400)


def _register_from_form(request: HttpRequest, form: DatasetRegisterForm) -> DatasetVersion:
    data = form.cleaned_data
    common = {
        "name": data["name"],
        "version": data["version"],
        "target": data["target"],
        "positive_label": data["positive_label"].strip(),
        "description": data["description"],
        "user": request.user,
    }
    if data["upload"] is not None:
        return dataset_upload_register(upload=data["upload"], **common)
    # Relative to DATA_ROOT, as for the command; the service refuses anything outside it.
    return dataset_register(path=data["path"].strip(), **common)


def _register_page(
    request: HttpRequest, form: DatasetRegisterForm, status: int = 200
) -> HttpResponse:
    context = {"form": form, "data_files": data_files()}
    return render(request, "datasets/register.html", context, status=status)
