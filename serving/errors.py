"""What can stop a model from answering. No Django, nothing heavy to import:
the API's error boundary maps these to HTTP statuses."""

from __future__ import annotations


class ModelNotFound(LookupError):
    """No such model or version, or no version in the stage asked for."""


class ModelUnavailable(Exception):
    """The version exists but cannot serve: its artifact no longer matches its
    digest, is missing, or cannot be loaded safely."""


class ModelTooLarge(Exception):
    """The version's artifact is larger than this process may load
    (SERVING_MAX_MODEL_MB)."""


class InputError(ValueError):
    """Rows the model cannot score. `fields` maps each offending input (e.g.
    "records.V3") to messages that name the rows."""

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
