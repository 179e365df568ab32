"""Request bodies: JSON only, and every way a body can be unreadable is a 4xx."""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.http import HttpRequest
from ninja.parser import Parser

from api.v1.errors import ApiError

JSON_TYPES = ("application/json",)


def json_body(request: HttpRequest) -> Any:
    """The request's JSON document; ApiError 415 for another media type, 400
    for text that is not JSON (or nests too deep to parse), 413 past the body
    limit (raised by Django as the body is read)."""
    return json_document(json_bytes(request))


def json_bytes(request: HttpRequest) -> bytes:
    """The raw body of a JSON request; 415 for another media type, 413 past the limit."""
    media_type = (request.content_type or "").lower()
    if media_type not in JSON_TYPES and not media_type.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the body as application/json, not {request.content_type or 'no media type'}",
        )
    return request.body  # RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE: a 413


def json_document(body: bytes) -> Any:
    """A JSON document; 400 for text that is not JSON."""
    try:
        # orjson parses a large predict body four times faster than json.
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # json also reads NaN, Infinity and numbers beyond a double, which
        # predict then names by column and row instead of "not JSON"
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None


class JsonParser(Parser):
    """django-ninja's parser, refusing bodies that are not JSON."""

    def parse_body(self, request: HttpRequest) -> Any:
        return json_body(request)
