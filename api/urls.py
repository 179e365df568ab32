from __future__ import annotations

from django.urls import path

from api import views

app_name = "profile"
urlpatterns = [
    path("", views.profile, name="index"),
    path("tokens/", views.api_token_new, name="token_new"),
    path("tokens/<int:token_id>/revoke/", views.api_token_revoke_view, name="token_revoke"),
]
