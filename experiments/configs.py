"""Experiment configs: the one place where YAML becomes a typed, frozen object.

No Django here. Everything a config can get wrong is reported as a ConfigError
whose entries name the key path ("model.params.C") and what to change. Whether
the dataset exists is the caller's business (it needs the database).
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from experiments.metrics import METRIC_DIRECTIONS

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_NESTING_DEPTH = 20
DOCUMENT = "document"  # the "key path" of errors that concern the whole file

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
MAX_SEED = 2**32 - 1  # numpy's RandomState accepts seeds in [0, 2**32 - 1]
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600

MODEL_TYPES: dict[str, type] = {
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}

GATE_METRICS: frozenset[str] = frozenset(METRIC_DIRECTIONS)
DEFAULT_MAX_DROP = 0.02


class ConfigError(Exception):
    """One or more problems in a config; each is (key path, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.errors))


@dataclass(frozen=True)
class DatasetRef:
    name: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class ModelSpec:
    type: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def estimator_class(self) -> type:
        return MODEL_TYPES[self.type]


@dataclass(frozen=True)
class SplitSpec:
    test_size: float = 0.2
    seed: int = 42


@dataclass(frozen=True)
class RegistrySpec:
    model_name: str | None = None


@dataclass(frozen=True)
class MetricRule:
    """threshold: absolute floor (ceiling when lower is better); max_drop: how much
    worse than the champion, in the metric's units; max_relative_drop: the same as a
    fraction of the champion's value."""

    metric: str
    greater_is_better: bool = True
    threshold: float | None = None
    max_drop: float | None = None
    max_relative_drop: float | None = None


def default_rule(metric: str) -> MetricRule:
    return MetricRule(
        metric=metric,
        greater_is_better=METRIC_DIRECTIONS[metric],
        max_drop=DEFAULT_MAX_DROP,
    )


@dataclass(frozen=True)
class GateSpec:
    primary_metric: str = "average_precision"
    rules: tuple[MetricRule, ...] = (default_rule("average_precision"),)
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    min_positives: int = 20

    def rule_for(self, metric: str) -> MetricRule | None:
        return next((rule for rule in self.rules if rule.metric == metric), None)


@dataclass(frozen=True)
class RunSpec:
    timeout_seconds: int = 3600


@dataclass(frozen=True)
class ExperimentConfig:
    experiment_name: str
    dataset: DatasetRef
    model: ModelSpec
    split: SplitSpec = SplitSpec()
    threshold: float = 0.5
    registry: RegistrySpec = RegistrySpec()
    gate: GateSpec = GateSpec()
    run: RunSpec = RunSpec()

    def to_dict(self) -> dict[str, Any]:
        """The parsed form with every default filled in; parse_config accepts it back."""
        return {
            "experiment_name": self.experiment_name,
            "dataset": {"name": self.dataset.name, "version": self.dataset.version},
            "model": {"type": self.model.type, "params": copy.deepcopy(dict(self.model.params))},
            "split": {"test_size": self.split.test_size, "seed": self.split.seed},
            "threshold": self.threshold,
            "registry": {"model_name": self.registry.model_name},
            "gate": _gate_to_dict(self.gate),
            "run": {"timeout_seconds": self.run.timeout_seconds},
        }


def _gate_to_dict(gate: GateSpec) -> dict[str, Any]:
    return {
        "primary_metric": gate.primary_metric,
        "min_positives": gate.min_positives,
        "bootstrap": {
            "resamples": gate.resamples,
            "confidence": gate.confidence,
            "seed": gate.seed,
        },
        "metrics": {
            rule.metric: {
                "greater_is_better": rule.greater_is_better,
                "threshold": rule.threshold,
                "max_drop": rule.max_drop,
                "max_relative_drop": rule.max_relative_drop,
            }
            for rule in gate.rules
        },
    }


# --------------------------------------------------------------------------- YAML


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that refuses what an experiment config never needs: anchors and
    aliases (the "billion laughs" expansion), deep nesting and duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
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


def _load_yaml(text: str) -> Any:
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


# ----------------------------------------------------------------------- Readers

_MISSING: Any = object()


@dataclass(frozen=True)
class _Interval:
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


UNIT = _Interval(0, 1)
OPEN_UNIT = _Interval(0, 1, low_open=True, high_open=True)
NON_NEGATIVE = _Interval(low=0)


def suggestion(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(choice) for choice in close) + "?)"


class _Section:
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

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        """The value, the default if the key is absent or null, or _MISSING (and an
        error) when a required key is absent."""
        value = self.data.get(key)
        if value is None and default is _MISSING:
            self.fail(key, "is required")
        return default if value is None else value

    def section(self, key: str, *, required: bool = False) -> _Section:
        value = self.raw(key, _MISSING if required else {})
        if value is _MISSING:
            return _Section({}, self.key_path(key), [])
        if not isinstance(value, Mapping):
            self.fail(key, f"must be a mapping of keys to values, got {_type_name(value)}")
            return _Section({}, self.key_path(key), [])
        return _Section(value, self.key_path(key), self.errors)

    def text(self, key: str, *, default: Any = _MISSING, max_length: int = 100) -> Any:
        value = self.raw(key, default)
        if value is _MISSING or value is default:
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

    def integer(self, key: str, *, default: int, allowed: _Interval) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            return self._wrong_type(key, "a whole number", value, default)
        return self._in_range(key, value, allowed, default)

    def number(self, key: str, *, default: Any, allowed: _Interval) -> Any:
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

    def _in_range(self, key: str, value: Any, allowed: _Interval, default: Any) -> Any:
        if value not in allowed:
            self.fail(key, f"must be {allowed}, got {value}")
            return default
        return value

    def _wrong_type(self, key: str, expected: str, value: Any, default: Any) -> Any:
        self.fail(key, f"must be {expected}, got {_type_name(value)} {value!r}")
        return default


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return names.get(type(value), type(value).__name__)


# ------------------------------------------------------------------------ Parsing

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
    document = _load_yaml(text)
    if document is None:
        raise ConfigError([(DOCUMENT, "is empty")])
    if not isinstance(document, Mapping):
        raise ConfigError([(DOCUMENT, f"must be a mapping of keys, got {_type_name(document)}")])
    errors: list[tuple[str, str]] = []
    config = _parse_document(_Section(document, "", errors))
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


def _parse_document(root: _Section) -> ExperimentConfig:
    root.reject_unknown_keys(TOP_LEVEL_KEYS)
    return ExperimentConfig(
        experiment_name=root.text("experiment_name"),
        dataset=_parse_dataset(root.section("dataset", required=True)),
        model=_parse_model(root.section("model", required=True)),
        split=_parse_split(root.section("split")),
        threshold=root.number("threshold", default=0.5, allowed=UNIT),
        registry=_parse_registry(root.section("registry")),
        gate=_parse_gate(root.section("gate")),
        run=_parse_run(root.section("run")),
    )


def _parse_dataset(section: _Section) -> DatasetRef:
    section.reject_unknown_keys(("name", "version"))
    return DatasetRef(
        name=section.text("name"),
        version=section.text("version", max_length=50),
    )


def _parse_split(section: _Section) -> SplitSpec:
    section.reject_unknown_keys(("test_size", "seed"))
    return SplitSpec(
        test_size=section.number("test_size", default=0.2, allowed=OPEN_UNIT),
        seed=section.integer("seed", default=42, allowed=_Interval(0, MAX_SEED)),
    )


def _parse_registry(section: _Section) -> RegistrySpec:
    section.reject_unknown_keys(("model_name",))
    return RegistrySpec(model_name=section.text("model_name", default=None))


def _parse_run(section: _Section) -> RunSpec:
    section.reject_unknown_keys(("timeout_seconds",))
    allowed = _Interval(1, MAX_TIMEOUT_SECONDS)
    return RunSpec(
        timeout_seconds=section.integer("timeout_seconds", default=3600, allowed=allowed)
    )


# -------------------------------------------------------------------------- Model


def _parse_model(section: _Section) -> ModelSpec:
    section.reject_unknown_keys(("type", "params"))
    model_type = section.raw("type")
    params = section.section("params")
    if model_type is _MISSING:
        return ModelSpec(type="", params=MappingProxyType({}))
    if not isinstance(model_type, str) or model_type not in MODEL_TYPES:
        known = ", ".join(MODEL_TYPES)
        hint = suggestion(str(model_type), MODEL_TYPES)
        section.fail("type", f"unknown model type {model_type!r}{hint}; known types: {known}")
        return ModelSpec(type=str(model_type), params=MappingProxyType({}))
    _check_hyperparameters(params, MODEL_TYPES[model_type])
    return ModelSpec(type=model_type, params=MappingProxyType(copy.deepcopy(dict(params.data))))


def _check_hyperparameters(params: _Section, estimator_class: type) -> None:
    known = sorted(estimator_class().get_params())
    for name, value in params.data.items():
        if not isinstance(name, str) or name not in known:
            hint = suggestion(str(name), known) or f"; valid: {', '.join(known)}"
            params.fail(str(name), f"unknown hyperparameter for {estimator_class.__name__}{hint}")
        else:
            _check_hyperparameter(params, estimator_class, name, value)


def _check_hyperparameter(params: _Section, estimator_class: type, name: str, value: Any) -> None:
    if isinstance(value, bool) and not _accepts_booleans(estimator_class, name):
        params.fail(name, f"must not be a boolean (true/false), got {value}")
        return
    # scikit-learn's own constraints, one parameter at a time so every bad one is reported.
    try:
        estimator_class(**{name: value})._validate_params()
    except InvalidParameterError as error:
        params.fail(name, str(error))


def _accepts_booleans(estimator_class: type, name: str) -> bool:
    """bool is an int to Python and to scikit-learn's Interval checks; only parameters
    declared as booleans (or verbosity) should take true/false."""
    constraints = getattr(estimator_class, "_parameter_constraints", {}).get(name, ["boolean"])
    return any(constraint in ("boolean", "verbose", bool) for constraint in constraints)


# --------------------------------------------------------------------------- Gate

RULE_KEYS = ("greater_is_better", "threshold", "max_drop", "max_relative_drop")


def _parse_gate(section: _Section) -> GateSpec:
    section.reject_unknown_keys(("primary_metric", "min_positives", "bootstrap", "metrics"))
    defaults = GateSpec()
    primary = _parse_primary_metric(section, defaults.primary_metric)
    bootstrap = section.section("bootstrap")
    bootstrap.reject_unknown_keys(("resamples", "confidence", "seed"))
    return GateSpec(
        primary_metric=primary,
        rules=_parse_rules(section, primary),
        resamples=bootstrap.integer(
            "resamples", default=defaults.resamples, allowed=_Interval(100, 100_000)
        ),
        confidence=bootstrap.number("confidence", default=defaults.confidence, allowed=OPEN_UNIT),
        seed=bootstrap.integer("seed", default=defaults.seed, allowed=_Interval(0, MAX_SEED)),
        min_positives=section.integer(
            "min_positives", default=defaults.min_positives, allowed=_Interval(1, 1_000_000)
        ),
    )


def _parse_primary_metric(section: _Section, default: str) -> str:
    primary = section.raw("primary_metric", default)
    if not isinstance(primary, str) or primary not in GATE_METRICS:
        hint = suggestion(str(primary), GATE_METRICS)
        known = ", ".join(sorted(GATE_METRICS))
        section.fail("primary_metric", f"unknown metric {primary!r}{hint}; known: {known}")
        return default
    return primary


def _parse_rules(gate: _Section, primary: str) -> tuple[MetricRule, ...]:
    metrics = gate.section("metrics")
    metrics.reject_unknown_keys(sorted(GATE_METRICS))
    rules = [
        _parse_rule(metrics.section(name), name) for name in metrics.data if name in GATE_METRICS
    ]
    if not any(rule.metric == primary for rule in rules):
        rules.insert(0, default_rule(primary))
    return tuple(rules)


def _parse_rule(section: _Section, metric: str) -> MetricRule:
    section.reject_unknown_keys(RULE_KEYS)
    direction = METRIC_DIRECTIONS[metric]
    greater_is_better = section.flag("greater_is_better", default=direction)
    if greater_is_better != direction:
        section.fail("greater_is_better", f"{metric} is {_direction_word(direction)}")
    threshold_range = UNIT if metric != "log_loss" else NON_NEGATIVE
    rule = MetricRule(
        metric=metric,
        greater_is_better=direction,
        threshold=section.number("threshold", default=None, allowed=threshold_range),
        max_drop=section.number("max_drop", default=None, allowed=NON_NEGATIVE),
        max_relative_drop=section.number("max_relative_drop", default=None, allowed=UNIT),
    )
    _require_one_limit(section, rule)
    return rule


def _direction_word(greater_is_better: bool) -> str:
    return "higher-is-better" if greater_is_better else "lower-is-better"


def _require_one_limit(section: _Section, rule: MetricRule) -> None:
    limits: tuple[float | None, ...] = (rule.threshold, rule.max_drop, rule.max_relative_drop)
    already_reported = any(path.startswith(section.path + ".") for path, _ in section.errors)
    if all(limit is None for limit in limits) and not already_reported:
        section.errors.append(
            (section.path, "set at least one of threshold, max_drop, max_relative_drop")
        )
