"""Experiment configs: the one place where YAML becomes a typed, frozen object.

No Django here. Everything a config can get wrong is reported as a ConfigError
whose entries name the key path ("model.params.C") and what to change. Whether
the dataset exists is the caller's business (it needs the database).

Layout: schema.py holds the dataclasses, yaml_loader.py loads YAML safely,
readers.py reads typed values from one section, estimators.py checks model
hyperparameters, gate.py parses a config's gate requests and gate policies,
limits.py holds what the platform allows a new config (ConfigLimits, filled
from settings by the caller), parse.py turns the document into an
ExperimentConfig, and errors.py holds ConfigError.
"""

from __future__ import annotations

from experiments.configs.errors import DOCUMENT, ConfigError
from experiments.configs.estimators import MODEL_TYPES
from experiments.configs.gate import (
    MAX_SEED,
    RULE_KEYS,
    PolicyBounds,
    load_gate_policy,
    parse_gate_policy,
)
from experiments.configs.limits import (
    DEFAULT_MAX_TIMEOUT_SECONDS,
    DEFAULT_PARAM_LIMITS,
    ConfigLimits,
    param_limit_setting,
)
from experiments.configs.parse import (
    MAX_TIMEOUT_SECONDS,
    TOP_LEVEL_KEYS,
    load_config_file,
    parse_config,
)
from experiments.configs.readers import NAME_PATTERN, NON_NEGATIVE, OPEN_UNIT, UNIT, suggestion
from experiments.configs.schema import (
    DEFAULT_MAX_DROP,
    GATE_METRICS,
    RULE_LIMITS,
    DatasetRef,
    ExperimentConfig,
    GateRequest,
    GateSpec,
    MetricRule,
    ModelSpec,
    RegistrySpec,
    RunSpec,
    SplitSpec,
    default_rule,
)
from experiments.configs.yaml_loader import MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH
from experiments.metrics import METRIC_DIRECTIONS

__all__ = [
    "DEFAULT_MAX_DROP",
    "DEFAULT_MAX_TIMEOUT_SECONDS",
    "DEFAULT_PARAM_LIMITS",
    "DOCUMENT",
    "GATE_METRICS",
    "MAX_DOCUMENT_BYTES",
    "MAX_NESTING_DEPTH",
    "MAX_SEED",
    "MAX_TIMEOUT_SECONDS",
    "METRIC_DIRECTIONS",
    "MODEL_TYPES",
    "NAME_PATTERN",
    "NON_NEGATIVE",
    "OPEN_UNIT",
    "RULE_KEYS",
    "RULE_LIMITS",
    "TOP_LEVEL_KEYS",
    "UNIT",
    "ConfigError",
    "ConfigLimits",
    "DatasetRef",
    "ExperimentConfig",
    "GateRequest",
    "GateSpec",
    "MetricRule",
    "ModelSpec",
    "PolicyBounds",
    "RegistrySpec",
    "RunSpec",
    "SplitSpec",
    "default_rule",
    "load_config_file",
    "load_gate_policy",
    "param_limit_setting",
    "parse_config",
    "parse_gate_policy",
    "suggestion",
]
