"""Section: typed reads of one mapping of the document, each problem recorded
under its key path; Interval: the allowed range of a number."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")

MISSING: Any = object()
_T = TypeVar("_T")
_Number = TypeVar("_Number", bound=float)


@dataclass(frozen=True)
class Interval:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = self.low is None or value > self.low or (not self.low_open and value == self.low)
        below = (
            self.high is None or value < self.high or (not self.high_open and value == self.high)
        )
        return above and below

    def __str__(self) -> str:
        low, high = _plain(self.low), _plain(self.high)
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {low}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {high}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{low}, {high}{right}"


def _plain(number: float | None) -> str:
    """4294967295 rather than 4.29497e+09; 0.5 rather than 0.5000."""
    if number is not None and float(number).is_integer():
        return str(int(number))
    return f"{number:g}" if number is not None else ""


UNIT = Interval(0, 1)
OPEN_UNIT = Interval(0, 1, low_open=True, high_open=True)
NON_NEGATIVE = Interval(low=0)


def suggestion(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(choice) for choice in close) + "?)"


class Section:
    """A mapping from the document, its key path, and the shared error list."""

    def __init__(self, data: Mapping[Any, Any], path: str, errors: list[tuple[str, str]]):
        self.data = data
        self.path = path
        self.errors = errors

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> None:
        self.errors.append((self.key_path(key), message))

    def reject_unknown_keys(self, allowed: Collection[str]) -> None:
        for key in self.data:
            if key not in allowed:
                hint = suggestion(str(key), allowed) or f"; allowed: {', '.join(allowed)}"
                self.fail(str(key), f"unknown key{hint}")

    def raw(self, key: str, default: Any = MISSING) -> Any:
        """The value, the default if the key is absent or null, or MISSING (and an
        error) when a required key is absent."""
        value = self.data.get(key)
        if value is None and default is MISSING:
            self.fail(key, "is required")
        return default if value is None else value

    def section(self, key: str, *, required: bool = False) -> Section:
        value = self.raw(key, MISSING if required else {})
        if value is MISSING:
            return Section({}, self.key_path(key), [])
        if not isinstance(value, Mapping):
            self.fail(key, f"must be a mapping of keys to values, got {type_name(value)}")
            return Section({}, self.key_path(key), [])
        return Section(value, self.key_path(key), self.errors)

    def text(self, key: str, *, default: Any = MISSING, max_length: int = 100) -> Any:
        value = self.raw(key, default)
        if value is MISSING or value is default:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # "version: 1" means the version called "1"
        if not isinstance(value, str):
            return self._wrong_type(key, "a string", value, default)
        if not NAME_PATTERN.fullmatch(value) or len(value) > max_length:
            self.fail(
                key,
                f"must be 1-{max_length} letters, digits, '_', '.' or '-' "
                f"(no spaces or slashes), got {value!r}",
            )
        return value

    def flag(self, key: str, *, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            return self._wrong_type(key, "true or false", value, default)
        return value

    def integer(self, key: str, *, default: int, allowed: Interval) -> int:
        value: object = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            return self._wrong_type(key, "a whole number", value, default)
        return self._in_range(key, value, allowed, default)

    def number(self, key: str, *, default: Any, allowed: Interval) -> Any:
        value = self.raw(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self._wrong_type(key, "a number", value, default)
        if not math.isfinite(value):
            self.fail(key, f"must be a finite number, got {value}")
            return default
        checked = self._in_range(key, value, allowed, default)
        return None if checked is None else float(checked)

    def _in_range(self, key: str, value: _Number, allowed: Interval, default: _Number) -> _Number:
        if value not in allowed:
            self.fail(key, f"must be {allowed}, got {value}")
            return default
        return value

    def _wrong_type(self, key: str, expected: str, value: object, default: _T) -> _T:
        self.fail(key, f"must be {expected}, got {type_name(value)} {value!r}")
        return default


def type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return names.get(type(value), type(value).__name__)
