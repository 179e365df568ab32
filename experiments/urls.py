from __future__ import annotations

from django.urls import path

from experiments import views
from notes.views import experiment_annotation

app_name = "experiments"
urlpatterns = [
    path("", views.experiment_list_view, name="list"),
    path("new/", views.experiment_launch, name="launch"),
    path("compare/", views.experiment_compare, name="compare"),
    path("columns/", views.experiment_list_columns_view, name="columns"),
    path("<int:experiment_id>/", views.experiment_detail, name="detail"),
    path("<int:experiment_id>/status/", views.experiment_status, name="status"),
    path("<int:experiment_id>/cancel/", views.experiment_cancel_view, name="cancel"),
    path("<int:experiment_id>/rerun/", views.experiment_rerun, name="rerun"),
    path("<int:experiment_id>/notes/", experiment_annotation, name="notes"),
    path("<int:experiment_id>/model/", views.experiment_artifact_download, name="artifact"),
]
