"""ConfigError, the one exception the config parser raises."""

from __future__ import annotations

DOCUMENT = "document"  # the "key path" of errors that concern the whole file


class ConfigError(Exception):
    """One or more problems in a config; each is (key path, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.errors))
