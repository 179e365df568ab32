"""What every part of the API shares: the error shape, the page envelope,
identifiers as they may appear in paths and queries, and response tables."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from django.db.models import TextChoices
from ninja import Field, Schema
from pydantic import ConfigDict

T = TypeVar("T")

# Primary keys are 64-bit; version numbers 32-bit. Larger numbers are invalid
# input (a 400), not a database overflow.
MAX_ID = 2**63 - 1
MAX_VERSION = 2**31 - 1
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


def choices_enum(name: str, choices: type[TextChoices]) -> type[enum.StrEnum]:
    """A model field's choices as an enum named for the schema: several models
    call theirs Status, and OpenAPI components need distinct names. Built from
    the choices, so a new status reaches the schema by itself."""
    members = {str(value): str(value) for value in choices.values}
    return cast(
        type[enum.StrEnum], enum.StrEnum(name, members)
    )  # the functional API builds a class


class InputSchema(Schema):
    """A request body: unknown keys are refused, so a misspelt one is an error."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Schema):
    code: str = Field(description="Stable, for programs to branch on.")
    message: str = Field(description="For people; may change between releases.")
    fields: dict[str, list[str]] | None = Field(
        None,
        description="Only when an input is at fault: input -> its problems, e.g. "
        '{"config": ["..."], "records.V3": ["..."]}.',
    )


class ErrorOut(Schema):
    error: ErrorDetail


class Page(Schema, Generic[T]):
    count: int = Field(description="How many there are in all, across pages.")
    limit: int
    offset: int
    results: list[T]


class PageQuery(Schema):
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(0, ge=0, le=MAX_ID)


def page_of(
    rows: Any,
    query: PageQuery,
    render: Callable[[Any], Any],
) -> dict[str, Any]:
    """One page of rows (a QuerySet, a list, or anything with count() and
    slicing, such as a metric-ordered experiment list) in the envelope."""
    total = len(rows) if isinstance(rows, list | tuple) else int(rows.count())
    stop = min(query.offset + query.limit, total)
    picked = rows[query.offset : stop] if query.offset < total else []
    return {
        "count": total,
        "limit": query.limit,
        "offset": query.offset,
        "results": [render(row) for row in picked],
    }


# Statuses every authenticated operation may answer besides its own.
AUTH_ERRORS = (400, 401, 403)


def responses(ok: Any, *errors: int, status: int = 200) -> dict[int, Any]:
    """An operation's documented responses: its result and the errors it can give."""
    table: dict[int, Any] = {status: ok}
    for code in sorted({*AUTH_ERRORS, *errors}):
        table[code] = ErrorOut
    return table
