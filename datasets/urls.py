from __future__ import annotations

from django.urls import path

from datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_index, name="index"),
    path("register/", views.dataset_register_view, name="register"),
    path("<str:name>/<str:version>/", views.dataset_version_detail, name="version"),
]
