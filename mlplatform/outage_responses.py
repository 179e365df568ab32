"""A database outage answered as one, on every page and API endpoint:
HTTP 503 with Retry-After, the API's error shape (code `unavailable`) under
/api/, a plain page elsewhere. Never a 500, never a traceback.

The middleware catches what a view raises; `server_error` (handler500)
catches what a middleware raised (the session or the user being loaded)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from mlplatform.outages import database_unavailable_message, is_database_outage

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
API_PREFIX = "/api/"


def unavailable_response(request: HttpRequest, error: BaseException) -> HttpResponse:
    message = database_unavailable_message(error)
    logger.warning("%s %s: %s", request.method, request.path, message)
    response: HttpResponse
    if request.path_info.startswith(API_PREFIX):
        response = _api_error(503, "unavailable", f"{message}; try again shortly")
    else:
        # A page of its own: the site's layout would ask the database for the user.
        html = loader.render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_outage(exception):
            return unavailable_response(request, exception)
        return None


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage raised outside a view is a 503 too."""
    error = sys.exc_info()[1]
    if error is not None and is_database_outage(error):
        return unavailable_response(request, error)
    if request.path_info.startswith(API_PREFIX):
        body = {
            "error": {
                "code": "internal_error",
                "message": "an unexpected error; it has been logged",
            }
        }
        return JsonResponse(body, status=500)
    return HttpResponse(loader.render_to_string("500.html"), status=500)


def _api_error(status: int, code: str, message: str) -> JsonResponse:
    """The API's error shape (api.v1.errors), written here so that a page
    outside the API never imports it."""
    body = {"error": {"code": code, "message": message}}
    return JsonResponse(body, status=status)
