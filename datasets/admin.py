"""Registered datasets are immutable records: the admin shows them, never edits them.

Datasets are registered with `manage.py register_dataset` (or the upload page).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from datasets.models import Dataset, DatasetVersion
from mlplatform.admin_base import ViewOnlyMixin
from mlplatform.numbers import size

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _VersionCount(TypedDict):
    version_count: int


@admin.display(description="size", ordering="size_bytes")
def size_display(version: DatasetVersion) -> str:
    return size(version.size_bytes)


@admin.display(description="class counts")
def class_counts_display(version: DatasetVersion) -> str:
    # Here, not at the top: every command loads the admin, and profiling imports pandas.
    from datasets.profiling import class_counts_text

    return class_counts_text(version.class_counts)


@admin.display(description="sha256")
def short_sha256(version: DatasetVersion) -> str:
    return f"{version.sha256[:12]}…"


@admin.display(description="columns")
def columns_display(version: DatasetVersion) -> str:
    return ", ".join(f"{column['name']} ({column['dtype']})" for column in version.columns)


# Django shows a callable listed in `fields` when it is read-only too;
# django-stubs types `fields` as names only, hence the ignores below.


class DatasetVersionInline(ViewOnlyMixin, admin.TabularInline[DatasetVersion, Dataset]):
    model = DatasetVersion
    fields = readonly_fields = (  # type: ignore[assignment]
        "version",
        "row_count",
        size_display,
        class_counts_display,
        "registered_at",
    )
    show_change_link = True
    extra = 0


@admin.register(Dataset)
class DatasetAdmin(ViewOnlyMixin, admin.ModelAdmin[Dataset]):
    list_display = ["name", "version_count", "created_at"]
    search_fields = ["name"]
    inlines = [DatasetVersionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        return super().get_queryset(request).annotate(version_count=Count("versions"))

    @admin.display(description="versions", ordering="version_count")
    def version_count(self, dataset: WithAnnotations[Dataset, _VersionCount]) -> int:
        return dataset.version_count


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ViewOnlyMixin, admin.ModelAdmin[DatasetVersion]):
    list_display = [
        "dataset",
        "version",
        "row_count",
        size_display,
        class_counts_display,
        short_sha256,
        "registered_by_name",
        "registered_at",
    ]
    list_select_related = ["dataset"]
    list_filter = ["dataset"]
    search_fields = ["dataset__name", "version", "sha256"]
    fields = readonly_fields = (  # type: ignore[assignment]
        "dataset",
        "version",
        "description",
        "path",
        "sha256",
        size_display,
        "row_count",
        "target",
        "positive_label",
        class_counts_display,
        columns_display,
        "registered_by",
        "registered_by_name",
        "registered_at",
    )
