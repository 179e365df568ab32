"""The API's one error boundary. Every error leaves as

    {"error": {"code": "<stable code>", "message": "<for people>", "fields": {...}}}

(`fields` only when an input is at fault)

with a 4xx status for anything the client can fix (a 500 only for a bug,
logged with its traceback). `fields` maps an input ("config", "limit",
"records.V3") to its messages. Clients branch on `code`, never on the
message. Exceptions raised inside an endpoint reach `api_error_from` through
the NinjaAPI's exception handler; responses made outside one (an unknown
URL, a method the path does not allow, a body Django refused) are reshaped
by api.middleware with `error_response`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.http import Http404, HttpRequest, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from ninja import errors as ninja_errors

from experiments.artifacts import ArtifactIntegrityError
from mlplatform.outage_responses import RETRY_AFTER_SECONDS
from mlplatform.outages import database_unavailable_message, is_database_outage
from registry.services.stage_requests import ApprovalRefused, PromotionConflict
from serving.errors import InputError, ModelNotFound, ModelTooLarge, ModelUnavailable

logger = logging.getLogger(__name__)

# The code of an error that has no more specific one, by status.
CODES_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
BEARER_CHALLENGE = 'Bearer realm="mlplatform"'
_HOW_TO = "send Authorization: Bearer <token> (create one on your profile page)"


class ApiError(Exception):
    """An error the API answers with as it is: status, stable code, message, fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


def error_response(
    status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> JsonResponse:
    # `fields` only where an input is at fault: its absence says none is.
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    body = {"error": error}
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = BEARER_CHALLENGE
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def api_error_from(exc: Exception) -> ApiError:
    """The one mapping from what endpoints and services raise to what clients see."""
    match exc:
        case ApiError():
            return exc
        case ninja_errors.ValidationError():
            return _invalid_input(exc.errors)
        case ninja_errors.AuthenticationError():
            return ApiError(401, "not_authenticated", "authentication required: " + _HOW_TO)
        case ninja_errors.HttpError():
            return _http_error(exc)
        case RequestDataTooBig():
            return ApiError(413, "payload_too_large", _too_large_message())
        case PermissionDenied():
            return ApiError(403, "permission_denied", str(exc) or "permission denied")
        case Http404() | ObjectDoesNotExist() | ModelNotFound():
            return ApiError(404, "not_found", str(exc) or "not found")
        case InputError():
            return ApiError(400, "invalid_records", exc.message, exc.fields)
        case ModelUnavailable():
            return ApiError(409, "model_unavailable", str(exc))
        case ModelTooLarge():
            return ApiError(503, "model_too_large", str(exc))
        case ArtifactIntegrityError():
            return ApiError(409, "artifact_integrity", str(exc))
        case PromotionConflict():
            return ApiError(409, "conflict", "; ".join(exc.messages))
        case ApprovalRefused():
            return ApiError(409, "approval_refused", "; ".join(exc.messages))
        case ValidationError():
            return _service_error(exc)
        case MultiPartParserError():
            return ApiError(400, "malformed_multipart", f"the multipart body is malformed: {exc}")
        case UnreadablePostError() | SuspiciousOperation():
            return ApiError(400, "bad_request", "the request could not be read")
        case _ if is_database_outage(exc):
            logger.warning("API: %s", database_unavailable_message(exc))
            return ApiError(
                503, "unavailable", f"{database_unavailable_message(exc)}; try again shortly"
            )
    logger.exception("API error", exc_info=exc)
    return ApiError(500, "internal_error", "an unexpected error; it has been logged")


def handle_exception(request: HttpRequest, exc: Exception) -> JsonResponse:
    """The NinjaAPI's handler for every exception an operation raises."""
    error = api_error_from(exc)
    return error_response(error.status, error.code, error.message, error.fields)


def _http_error(exc: ninja_errors.HttpError) -> ApiError:
    # The body parser's own errors (unreadable JSON, wrong media type) reach
    # here wrapped in ninja's HttpError(400); unwrap them.
    cause = exc.__cause__
    if isinstance(cause, ApiError | RequestDataTooBig):
        return api_error_from(cause)
    status = exc.status_code
    return ApiError(status, CODES_BY_STATUS.get(status, "bad_request"), str(exc))


def _too_large_message() -> str:
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"the request body is larger than {limit:,} bytes (REQUEST_MAX_BODY_BYTES)"


def _service_error(error: ValidationError) -> ApiError:
    if hasattr(error, "error_dict"):
        fields = {name: list(messages) for name, messages in error.message_dict.items()}
        fields.pop("__all__", None)
    else:
        fields = {}
    code = getattr(error, "code", None)
    stable = str(code).lower() if isinstance(code, str) and code else "invalid"
    return ApiError(400, stable, "; ".join(error.messages), fields)


def form_error(form: Any, *, renamed: dict[str, str] | None = None) -> ApiError:
    """A bound Django form's errors (the web's own validation, reused) as a 400."""
    renamed = renamed or {}
    fields = {
        renamed.get(name, name): [str(message) for message in errors]
        for name, errors in form.errors.items()
        if name != "__all__"
    }
    messages = [
        str(message) if name == "__all__" else f"{renamed.get(name, name)}: {message}"
        for name, errors in form.errors.items()
        for message in errors
    ]
    return ApiError(400, "invalid", "; ".join(messages), fields)


# ninja reports where each problem was: ("body", "payload", "config"),
# ("query", "limit"), ("path", "experiment_id"), ("form", "name").
_LOCATIONS = {"body", "query", "path", "form", "file", "header", "cookie"}
_BODY_PARAMETERS = {"payload"}


def _invalid_input(problems: list[dict[str, Any]]) -> ApiError:
    fields: dict[str, list[str]] = {}
    for problem in problems:
        fields.setdefault(_field_name(problem.get("loc", ())), []).append(str(problem["msg"]))
    summary = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in fields.items())
    return ApiError(400, "invalid", f"invalid input: {summary}", fields)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = list(location)
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    if parts and parts[0] in _BODY_PARAMETERS:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "body"
