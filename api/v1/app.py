"""The JSON API, version 1, built with django-ninja: typed input and output
contracts (pydantic), the OpenAPI 3 schema generated from them, Swagger UI
served from ninja's bundled static files.

Every operation authenticates (api.v1.auth), names the permissions it needs,
and answers errors in one shape (api.v1.errors)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI, Swagger
from ninja import errors as ninja_errors
from ninja.openapi.docs import _csrf_needed
from ninja.openapi.views import openapi_view
from ninja.operation import Operation

from api.v1 import datasets, experiments, me, policies, registry, serving, stage_requests
from api.v1.auth import requires
from api.v1.errors import handle_exception
from api.v1.parser import JsonParser

DESCRIPTION = """\
The mlplatform API: datasets, experiments, the model registry and
predictions with registered models.

**Authentication**: `Authorization: Bearer <token>` with a personal API
token (create one on your profile page, or `manage.py api_token create USER
--name NAME`). In a browser the login session works too; unsafe methods then
need the `X-CSRFToken` header. Permissions are the web's roles: viewers read,
experimenters submit and cancel, approvers decide.

**Errors** are always `{"error": {"code", "message", "fields"}}`; branch on
`code` (e.g. `invalid`, `not_authenticated`, `invalid_token`,
`permission_denied`, `not_found`, `invalid_records`, `not_active`,
`model_unavailable`, `payload_too_large`).

**Lists** are pages: `?limit=` (at most 200) and `?offset=`, answered as
`{"count", "limit", "offset", "results"}`.
"""


class LocalSwagger(Swagger):
    """Swagger UI from django-ninja's own template and static files, which
    settings.py adds to the template and static folders. django-ninja falls
    back to a CDN page unless it is an installed app, which would import it
    (and pydantic) in every command and worker at start-up."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": _csrf_needed(api),  # as django-ninja's own page
        }
        return render(request, self.template, context)


def _docs_page_needs_login(view: Any) -> Any:
    """The docs page is a page like the others: it needs a login. The schema
    stays public: it holds no data, and clients read it before they have a token."""
    return login_required(view) if getattr(view, "func", None) is openapi_view else view


class PlatformApi(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # Operation ids are the endpoint function names: stable and readable.
        return operation.view_func.__name__


api = PlatformApi(
    title="mlplatform API",
    version="1",
    description=DESCRIPTION,
    openapi_url="/schema/",
    docs_url="/docs",
    # validatorUrl: Swagger UI would otherwise fetch a badge from swagger.io.
    docs=LocalSwagger(settings={"validatorUrl": None, "persistAuthorization": False}),
    docs_decorator=_docs_page_needs_login,
    urls_namespace="api_v1",
    auth=requires(),
    parser=JsonParser(),
)
# One handler for every exception an operation raises (ninja's own defaults
# are registered per class, so each is replaced explicitly).
for exception_class in (
    Exception,
    Http404,
    ninja_errors.HttpError,
    ninja_errors.ValidationError,
    ninja_errors.AuthenticationError,
):
    # ninja's stub types the handled exception as an instance or a class; it passes instances.
    api.add_exception_handler(exception_class, handle_exception)  # type: ignore[arg-type]

for module in (me, datasets, experiments, registry, policies, stage_requests, serving):
    api.add_router("/", module.router)
