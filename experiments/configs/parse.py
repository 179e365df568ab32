"""parse_config and load_config_file: the document, section by section, into
an ExperimentConfig."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from experiments.configs.errors import DOCUMENT, ConfigError
from experiments.configs.estimators import MODEL_TYPES, check_hyperparameters
from experiments.configs.gate import MAX_SEED, parse_gate_request
from experiments.configs.readers import (
    MISSING,
    OPEN_UNIT,
    UNIT,
    Interval,
    Section,
    suggestion,
    type_name,
)
from experiments.configs.schema import (
    DatasetRef,
    ExperimentConfig,
    ModelSpec,
    RegistrySpec,
    RunSpec,
    SplitSpec,
)
from experiments.configs.yaml_loader import MAX_DOCUMENT_BYTES, load_yaml

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600

TOP_LEVEL_KEYS = (
    "experiment_name",
    "dataset",
    "model",
    "split",
    "threshold",
    "registry",
    "gate",
    "run",
)


def parse_config(text: str) -> ExperimentConfig:
    """Parse and validate a YAML experiment config; raise ConfigError listing every problem."""
    document = load_yaml(text)
    if document is None:
        raise ConfigError([(DOCUMENT, "is empty")])
    if not isinstance(document, Mapping):
        raise ConfigError([(DOCUMENT, f"must be a mapping of keys, got {type_name(document)}")])
    errors: list[tuple[str, str]] = []
    config = _parse_document(Section(document, "", errors))
    if errors:
        raise ConfigError(errors)
    return config


def load_config_file(path: str | Path) -> tuple[str, ExperimentConfig]:
    """Read a config file; return its text (to store verbatim) and the parsed config."""
    path = Path(path)
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise ConfigError([(DOCUMENT, f"larger than {MAX_DOCUMENT_BYTES // 1024} KiB")])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError([(DOCUMENT, f"is not UTF-8 text ({error.reason})")]) from None
    return text, parse_config(text)


def _parse_document(root: Section) -> ExperimentConfig:
    root.reject_unknown_keys(TOP_LEVEL_KEYS)
    return ExperimentConfig(
        experiment_name=root.text("experiment_name"),
        dataset=_parse_dataset(root.section("dataset", required=True)),
        model=_parse_model(root.section("model", required=True)),
        split=_parse_split(root.section("split")),
        threshold=root.number("threshold", default=0.5, allowed=UNIT),
        registry=_parse_registry(root.section("registry")),
        gate=parse_gate_request(root.section("gate")),
        run=_parse_run(root.section("run")),
    )


def _parse_dataset(section: Section) -> DatasetRef:
    section.reject_unknown_keys(("name", "version"))
    return DatasetRef(
        name=section.text("name"),
        version=section.text("version", max_length=50),
    )


def _parse_split(section: Section) -> SplitSpec:
    section.reject_unknown_keys(("test_size", "seed"))
    return SplitSpec(
        test_size=section.number("test_size", default=0.2, allowed=OPEN_UNIT),
        seed=section.integer("seed", default=42, allowed=Interval(0, MAX_SEED)),
    )


def _parse_registry(section: Section) -> RegistrySpec:
    section.reject_unknown_keys(("model_name",))
    return RegistrySpec(model_name=section.text("model_name", default=None))


def _parse_run(section: Section) -> RunSpec:
    section.reject_unknown_keys(("timeout_seconds",))
    allowed = Interval(1, MAX_TIMEOUT_SECONDS)
    return RunSpec(
        timeout_seconds=section.integer("timeout_seconds", default=3600, allowed=allowed)
    )


def _parse_model(section: Section) -> ModelSpec:
    section.reject_unknown_keys(("type", "params"))
    model_type = section.raw("type")
    params = section.section("params")
    if model_type is MISSING:
        return ModelSpec(type="", params=MappingProxyType({}))
    if not isinstance(model_type, str) or model_type not in MODEL_TYPES:
        known = ", ".join(MODEL_TYPES)
        hint = suggestion(str(model_type), MODEL_TYPES)
        section.fail("type", f"unknown model type {model_type!r}{hint}; known types: {known}")
        return ModelSpec(type=str(model_type), params=MappingProxyType({}))
    check_hyperparameters(params, MODEL_TYPES[model_type])
    return ModelSpec(type=model_type, params=MappingProxyType(copy.deepcopy(dict(params.data))))
