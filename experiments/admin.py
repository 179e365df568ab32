from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from experiments.models import Experiment, Metric
from mlplatform.admin_base import ReadOnlyAdmin, ReadOnlyInline


class MetricInline(ReadOnlyInline):
    model = Metric
    fields = ["name", "value", "step"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Metric]:
        return super().get_queryset(request).filter(step__isnull=True)


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "name",
        "status",
        "phase",
        "model_type",
        "dataset_version",
        "created_by_name",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "model_type"]
    search_fields = ["name"]
    list_select_related = ["dataset_version__dataset"]
    exclude = ["holdout", "curves", "config"]
    inlines = [MetricInline]
