"""Every response under /api/ leaves in the API's error shape, whatever made
it: operations already answer that way; this reshapes the rest (an unknown
URL, a method the path does not allow, a body Django refused, a crash
outside an operation). It also reports the server's time in Server-Timing.

The error shape is imported when a response is reshaped, not with this
module: Django's admin check imports every middleware class, and the API's
errors import django-ninja and pydantic (~0.1 s) that a command which skips
the URL checks (run_experiment, register_dataset, ...) never needs."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

API_PREFIX = "/api/"
MESSAGES = {
    400: "the request could not be read",
    404: "there is no such API endpoint; the list is at /api/v1/docs",
    413: "the request body is too large",
    500: "an unexpected error; it has been logged",
}


class ApiResponseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            response = _reshaped(request, response)
        milliseconds = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f"app;dur={milliseconds:.2f}"
        return response


def _is_json(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _reshaped(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    from api.v1.errors import CODES_BY_STATUS, error_response

    status = response.status_code
    code = CODES_BY_STATUS.get(status, "bad_request" if status < 500 else "internal_error")
    message = MESSAGES.get(status, f"the request failed with HTTP {status}")
    allowed = ", ".join(sorted(method.strip() for method in response.get("Allow", "").split(",")))
    if status == 405:
        message = f"{request.method} is not allowed here; allowed: {allowed or 'none'}"
    reshaped = error_response(status, code, message)
    if "Allow" in response:
        reshaped["Allow"] = allowed  # sorted: ninja lists them in set order
    return reshaped
