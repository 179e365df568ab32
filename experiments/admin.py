from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from experiments.metrics import format_metric
from experiments.models import Experiment, Metric
from mlplatform.admin_base import ReadOnlyAdmin, ReadOnlyInline


class MetricInline(ReadOnlyInline[Metric, Experiment]):
    model = Metric
    fields = readonly_fields = ("name", "shown_value")
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Metric]:
        return super().get_queryset(request).filter(step__isnull=True)

    @admin.display(description="value")
    def shown_value(self, metric: Metric) -> str:
        """As the pages show it: counts "3,304", timings "2.8 s", scores "0.9622"."""
        return format_metric(metric.name, metric.value)


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyAdmin[Experiment]):
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
