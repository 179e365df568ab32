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
from experiments.configs.limits import (
    PLATFORM_PARAMS,
    TIMEOUT_SETTING,
    ConfigLimits,
    param_limit_setting,
)
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

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600  # the schema's own ceiling, when no limits are given
DEFAULT_TIMEOUT_SECONDS = 3600

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


def parse_config(text: str, *, limits: ConfigLimits | None = None) -> ExperimentConfig:
    """Parse and validate a YAML experiment config; raise ConfigError listing every problem.

    `limits` is the platform's policy for a config it is asked to record now:
    bounds on the timeout and the models' size parameters, and no `n_jobs`.
    Without it a config recorded earlier is read back as it was accepted,
    even if the limits have been lowered since.
    """
    document = load_yaml(text)
    if document is None:
        raise ConfigError([(DOCUMENT, "is empty")])
    if not isinstance(document, Mapping):
        raise ConfigError([(DOCUMENT, f"must be a mapping of keys, got {type_name(document)}")])
    errors: list[tuple[str, str]] = []
    config = _parse_document(Section(document, "", errors), limits)
    if errors:
        raise ConfigError(errors)
    return config


def load_config_file(
    path: str | Path, *, limits: ConfigLimits | None = None
) -> tuple[str, ExperimentConfig]:
    """Read a config file; return its text (to store verbatim) and the parsed config."""
    path = Path(path)
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise ConfigError([(DOCUMENT, f"larger than {MAX_DOCUMENT_BYTES // 1024} KiB")])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError([(DOCUMENT, f"is not UTF-8 text ({error.reason})")]) from None
    return text, parse_config(text, limits=limits)


def _parse_document(root: Section, limits: ConfigLimits | None) -> ExperimentConfig:
    root.reject_unknown_keys(TOP_LEVEL_KEYS)
    return ExperimentConfig(
        experiment_name=root.text("experiment_name"),
        dataset=_parse_dataset(root.section("dataset", required=True)),
        model=_parse_model(root.section("model", required=True), limits),
        split=_parse_split(root.section("split")),
        threshold=root.number("threshold", default=0.5, allowed=UNIT),
        registry=_parse_registry(root.section("registry")),
        gate=parse_gate_request(root.section("gate")),
        run=_parse_run(root.section("run"), limits),
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


def _parse_run(section: Section, limits: ConfigLimits | None) -> RunSpec:
    section.reject_unknown_keys(("timeout_seconds",))
    if limits is None:
        allowed = Interval(1, MAX_TIMEOUT_SECONDS)
        timeout = section.integer(
            "timeout_seconds", default=DEFAULT_TIMEOUT_SECONDS, allowed=allowed
        )
        return RunSpec(timeout_seconds=timeout)
    ceiling = limits.max_timeout_seconds
    default = min(DEFAULT_TIMEOUT_SECONDS, ceiling)
    timeout = section.integer("timeout_seconds", default=default, allowed=Interval(1, None))
    if timeout > ceiling:
        section.fail("timeout_seconds", _beyond_limit(ceiling, timeout, TIMEOUT_SETTING))
        timeout = default
    return RunSpec(timeout_seconds=timeout)


def _beyond_limit(bound: int, value: int, setting: str, scope: str = "") -> str:
    return f"must be at most {bound}{scope} (the platform's limit, setting {setting}), got {value}"


def _parse_model(section: Section, limits: ConfigLimits | None) -> ModelSpec:
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
    if limits is not None:
        _check_platform_limits(params, model_type, limits)
    return ModelSpec(type=model_type, params=MappingProxyType(copy.deepcopy(dict(params.data))))


def _check_platform_limits(params: Section, model_type: str, limits: ConfigLimits) -> None:
    """Bounds on the size parameters, and no thread count: checked after
    scikit-learn's own constraints, and only where those passed."""
    already_reported = {path for path, _ in params.errors}
    for name, value in params.data.items():
        if params.key_path(str(name)) in already_reported:
            continue
        if name in PLATFORM_PARAMS:
            params.fail(
                name,
                "is set by the platform, not by the config: every fit gets the platform's "
                "thread count; remove it",
            )
        bound = limits.param_limit(model_type, str(name))
        if bound is not None and _is_integer(value) and value > bound:
            setting = param_limit_setting(model_type, str(name))
            params.fail(name, _beyond_limit(bound, value, setting, f" for {model_type}"))


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
