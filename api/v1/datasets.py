"""Dataset versions: read them; experimenters register a new one by upload,
through the web register page's form and service (same checks, same limit)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Annotated, Any, cast

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, File, Form, Path, Query, Router, Schema
from ninja.decorators import decorate_view
from ninja.files import UploadedFile
from ninja.responses import Status

from api.v1.auth import caller, requires
from api.v1.errors import error_response, form_error
from api.v1.schemas import NAME_PATTERN, Page, PageQuery, page_of, responses
from datasets.forms import DatasetRegisterForm
from datasets.models import NAME_PATTERN as dataset_name_pattern
from datasets.models import Dataset, DatasetVersion
from datasets.selectors import dataset_version_page, datasets_with_usage
from datasets.uploads import SizeLimitedUploadHandler, dataset_upload_register
from mlplatform import numbers

router = Router(tags=["datasets"])

Name = Annotated[str, Path(pattern=NAME_PATTERN)]
DATASET_NAME = dataset_name_pattern


class ColumnOut(Schema):
    name: str
    dtype: str


class DatasetVersionItemOut(Schema):
    name: str
    version: str
    label: str = Field(description="name:version, as configs name it")
    sha256: str
    size_bytes: int
    rows: int
    target: str
    class_counts: dict[str, int]
    description: str
    registered_by: str
    registered_at: datetime
    experiment_count: int


class DatasetVersionOut(DatasetVersionItemOut):
    columns: list[ColumnOut]


class DatasetOut(Schema):
    name: str
    created_at: datetime
    versions: list[DatasetVersionItemOut]


class DatasetUploadIn(Schema):
    name: str = Field(
        pattern=DATASET_NAME, max_length=100, description="Dataset name; new or existing."
    )
    version: str = Field(
        pattern=DATASET_NAME, max_length=50, description="Version name; versions never change."
    )
    target: str = Field(min_length=1, max_length=200, description="The label column (two classes).")
    description: str = Field("", max_length=5000)


def _version(version: DatasetVersion, experiment_count: int) -> dict[str, Any]:
    return {
        "name": version.dataset.name,
        "version": version.version,
        "label": version.label,
        "sha256": version.sha256,
        "size_bytes": version.size_bytes,
        "rows": version.row_count,
        "target": version.target,
        "class_counts": version.class_counts,
        "description": version.description,
        "registered_by": version.registered_by_name,
        "registered_at": version.registered_at,
        "experiment_count": experiment_count,
        "columns": version.columns,
    }


def _dataset(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "created_at": dataset.created_at,
        "versions": [
            _version(row, getattr(row, "experiment_count", 0)) for row in dataset.versions.all()
        ],
    }


@router.get(
    "/datasets/",
    response=responses(Page[DatasetOut]),
    auth=requires("datasets.view_datasetversion"),
)
def dataset_list(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    """Every dataset with its versions, newest version first."""
    return page_of(datasets_with_usage().order_by("name"), page, _dataset)


@router.get(
    "/datasets/{name}/versions/{version}/",
    response=responses(DatasetVersionOut, 404),
    auth=requires("datasets.view_datasetversion"),
)
def dataset_version_detail(request: HttpRequest, name: Name, version: Name) -> dict[str, Any]:
    """A version's recorded profile: columns and dtypes, class balance, size, SHA-256."""
    try:
        found = dataset_version_page(name=name, version=version)
    except DatasetVersion.DoesNotExist:
        raise Http404(f"there is no dataset version {name}:{version}") from None
    return _version(found, found.experiments.count())


def _upload_limited(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Stop storing an upload past DATASET_UPLOAD_MAX_BYTES, as the web page
    does; the request then fails validation (no file), which is answered as
    the 413 it really is."""

    @wraps(run)
    def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limiter = SizeLimitedUploadHandler(request, settings.DATASET_UPLOAD_MAX_BYTES)
        # Before the body is read Django keeps the handlers in a plain list.
        handlers = cast(list[Any], request.upload_handlers)
        handlers.insert(0, limiter)
        response = run(request, *args, **kwargs)
        if limiter.exceeded and response.status_code == 400:
            return error_response(
                413,
                "upload_too_large",
                f"the file is larger than the upload limit of "
                f"{numbers.size(settings.DATASET_UPLOAD_MAX_BYTES)} (DATASET_UPLOAD_MAX_BYTES); "
                "copy it under DATA_ROOT and register it by path instead",
            )
        return response

    return limited


@router.post(
    "/datasets/",
    response=responses(DatasetVersionOut, 413, status=201),
    auth=requires("datasets.add_datasetversion"),
)
@decorate_view(_upload_limited)
def dataset_upload(
    request: HttpRequest, payload: Form[DatasetUploadIn], file: File[UploadedFile]
) -> Status[dict[str, Any]]:
    """Register an uploaded CSV as name:version (multipart/form-data), checked
    exactly as the web register page and `manage.py register_dataset` check
    it; a refused upload is deleted."""
    form = DatasetRegisterForm(
        {**payload.dict(), "path": ""},
        {"upload": file},
        upload_too_large=False,  # a cut-off upload never gets this far
    )
    if not form.is_valid():
        raise form_error(form, renamed={"upload": "file"})
    data = form.cleaned_data
    registered = dataset_upload_register(
        upload=data["upload"],
        name=data["name"],
        version=data["version"],
        target=data["target"],
        description=data["description"],
        user=caller(request),
    )
    return Status(201, _version(registered, 0))
