from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.v1.app import api as api_v1
from mlplatform import views

# SimpleAdminConfig (settings): the admin modules load with the URLs.
admin.autodiscover()

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", include("api.urls")),
    path("api/v1/", api_v1.urls),
    path("experiments/", include("experiments.urls")),
    path("datasets/", include("datasets.urls")),
    path("registry/", include("registry.urls")),
    path("admin/", admin.site.urls),
    path("django-rq/", include("experiments.queue_dashboard_urls")),
]

# A database outage raised by a middleware (the session, the user) is a 503.
handler500 = "mlplatform.outage_responses.server_error"
