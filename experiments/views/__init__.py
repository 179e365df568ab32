"""Experiment pages: list, detail (with its live status partial), launch and compare."""

from experiments.views.compare import experiment_compare
from experiments.views.detail import (
    experiment_artifact_download,
    experiment_cancel_view,
    experiment_detail,
    experiment_rerun,
    experiment_status,
)
from experiments.views.launch import experiment_launch
from experiments.views.listing import experiment_list_columns_view, experiment_list_view

__all__ = [
    "experiment_artifact_download",
    "experiment_cancel_view",
    "experiment_compare",
    "experiment_detail",
    "experiment_launch",
    "experiment_list_columns_view",
    "experiment_list_view",
    "experiment_rerun",
    "experiment_status",
]
