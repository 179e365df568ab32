from __future__ import annotations

from django.urls import path

from notes.views import model_version_annotation
from registry import views

app_name = "registry"
urlpatterns = [
    path("", views.registry_index, name="index"),
    path("models/<str:model_name>/", views.model_detail, name="model"),
    path("models/<str:model_name>/versions/<int:version>/", views.version_detail, name="version"),
    path(
        "models/<str:model_name>/versions/<int:version>/request/",
        views.stage_request_new,
        name="request",
    ),
    path(
        "models/<str:model_name>/versions/<int:version>/artifact/",
        views.artifact_download,
        name="artifact",
    ),
    path(
        "models/<str:model_name>/versions/<int:version>/notes/",
        model_version_annotation,
        name="notes",
    ),
    path("requests/<int:request_id>/decide/", views.stage_request_decide_view, name="decide"),
    path("requests/<int:request_id>/withdraw/", views.stage_request_withdraw_view, name="withdraw"),
    path("requests/<int:request_id>/status/", views.stage_request_status, name="request_status"),
    path(
        "experiments/<int:experiment_id>/register/",
        views.experiment_register_again,
        name="register_again",
    ),
]
