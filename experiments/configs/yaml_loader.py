"""Safe YAML loading: size and nesting limits, no anchors, aliases or duplicate
keys, and YAML errors as ConfigErrors with line and column."""

from __future__ import annotations

import re
from typing import Any

import yaml

from experiments.configs.errors import DOCUMENT, ConfigError

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_NESTING_DEPTH = 20


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that refuses what an experiment config never needs: anchors and
    aliases (the "billion laughs" expansion), deep nesting and duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # types-PyYAML leaves Parser.peek_event unannotated.
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed", event.start_mark
            )
        is_collection = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        self._depth += is_collection
        if self._depth > MAX_NESTING_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_NESTING_DEPTH} levels deep", event.start_mark
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= is_collection

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                continue  # SafeConstructor reports unhashable keys itself
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads "1e-5" as a string; configs are written by people who mean a number.
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    if len(text.encode("utf-8", errors="replace")) > MAX_DOCUMENT_BYTES:
        raise ConfigError([(DOCUMENT, f"larger than {MAX_DOCUMENT_BYTES // 1024} KiB")])
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        raise ConfigError([(DOCUMENT, _describe_yaml_error(error))]) from None
    except yaml.YAMLError as error:
        raise ConfigError([(DOCUMENT, f"invalid YAML: {error}")]) from None


def _describe_yaml_error(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = error.problem or error.context or "invalid YAML"
    return f"YAML error{where}: {problem}"
