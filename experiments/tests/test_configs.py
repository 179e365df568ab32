from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from experiments.configs import (
    DEFAULT_PARAM_LIMITS,
    DOCUMENT,
    GATE_METRICS,
    MAX_DOCUMENT_BYTES,
    MODEL_TYPES,
    ConfigError,
    ConfigLimits,
    ExperimentConfig,
    load_config_file,
    parse_config,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

MINIMAL: dict[str, Any] = {
    "experiment_name": "small",
    "dataset": {"name": "credit_card_fraud", "version": "v1"},
    "model": {"type": "logistic_regression", "params": {"max_iter": 200}},
}


def document(**changes: Any) -> dict[str, Any]:
    """MINIMAL with dotted-path changes applied: document(**{"split.seed": 3})."""
    result = copy.deepcopy(MINIMAL)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = result
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return result


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def errors_of(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return dict(caught.value.errors)


def error_at(path: str, text: str) -> str:
    errors = errors_of(text)
    assert path in errors, errors
    return errors[path]


# ---------------------------------------------------------------- valid input


def test_it_parses_a_minimal_config_and_fills_in_defaults() -> None:
    config = parse_config(dump(MINIMAL))

    assert config.experiment_name == "small"
    assert config.dataset.label == "credit_card_fraud:v1"
    assert config.model.type == "logistic_regression"
    assert dict(config.model.params) == {"max_iter": 200}
    assert (config.split.test_size, config.split.seed) == (0.2, 42)
    assert config.threshold == 0.5
    assert config.registry.model_name is None
    assert config.gate.is_empty  # the model's gate policy decides
    assert config.run.timeout_seconds == 3600


EXPERIMENT_CONFIGS = sorted(set(CONFIG_DIR.glob("*.yaml")) - {CONFIG_DIR / "gate_policy.yaml"})


@pytest.mark.parametrize("path", EXPERIMENT_CONFIGS, ids=lambda path: path.name)
def test_it_parses_every_shipped_config(path: Path) -> None:
    text, config = load_config_file(path)

    assert text == path.read_text()
    assert config.experiment_name == path.stem
    assert config.registry.model_name == "fraud_detector"


def test_it_ships_the_four_fraud_configs() -> None:
    names = {path.stem for path in CONFIG_DIR.glob("*.yaml")}

    assert {"fraud_baseline", "fraud_random_forest", "fraud_hgb", "fraud_underfit"} <= names


def test_it_round_trips_the_canonical_dict() -> None:
    _, config = load_config_file(CONFIG_DIR / "fraud_hgb.yaml")

    canonical = config.to_dict()

    assert json.loads(json.dumps(canonical)) == canonical
    assert parse_config(dump(canonical)) == config
    assert canonical["gate"] == {"metrics": {"log_loss": {"max_relative_drop": 0.25}}}


def test_it_keeps_hyperparameters_read_only() -> None:
    config = parse_config(dump(MINIMAL))

    with pytest.raises(TypeError):
        config.model.params["max_iter"] = 5  # type: ignore[index]


def test_it_reads_exponents_without_a_decimal_point_as_numbers() -> None:
    config = parse_config(dump(MINIMAL).replace("max_iter: 200", "C: 1e-5"))

    assert config.model.params["C"] == 1e-5


def test_it_reads_a_whole_number_version_as_text() -> None:
    config = parse_config(dump(document(**{"dataset.version": 3})))

    assert config.dataset.version == "3"


def test_it_treats_null_as_absent() -> None:
    config = parse_config(dump(document(threshold=None, **{"registry.model_name": None})))

    assert config.threshold == 0.5
    assert config.registry.model_name is None


def test_it_accepts_booleans_for_boolean_hyperparameters() -> None:
    text = dump(
        document(model={"type": "hist_gradient_boosting", "params": {"early_stopping": False}})
    )

    assert parse_config(text).model.params["early_stopping"] is False


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("split.test_size", 0.5),
        ("threshold", 0),
        ("threshold", 1),
        ("gate.bootstrap.resamples", 1),
        ("gate.bootstrap.confidence", 0.999),
        ("gate.metrics.log_loss.threshold", 3.5),
        ("gate.metrics.roc_auc.max_relative_drop", 1),
        ("split.seed", 2**32 - 1),
    ],
)
def test_it_accepts_values_at_the_edges_of_their_ranges(path: str, value: Any) -> None:
    assert isinstance(parse_config(dump(document(**{path: value}))), ExperimentConfig)


def test_it_keeps_only_what_the_gate_section_asks() -> None:
    text = dump(
        document(gate={"primary_metric": "roc_auc", "metrics": {"log_loss": {"max_drop": 0.1}}})
    )

    request = parse_config(text).gate

    assert request.primary_metric == "roc_auc"
    assert [rule.metric for rule in request.rules] == ["log_loss"]
    assert (request.min_positives, request.resamples, request.confidence, request.seed) == (
        None,
        None,
        None,
        None,
    )


def test_it_takes_the_direction_of_a_rule_from_its_metric() -> None:
    text = dump(document(**{"gate.metrics.log_loss.threshold": 0.1}))

    assert parse_config(text).gate.rules[0].greater_is_better is False


def test_it_uses_scikit_learns_own_parameter_validation() -> None:
    for estimator_class in MODEL_TYPES.values():
        assert callable(estimator_class()._validate_params)


# ------------------------------------------------------------ document errors


def test_it_reports_yaml_syntax_errors_with_their_line() -> None:
    text = "experiment_name: small\ndataset: {name: x\nmodel: 3\n"

    message = error_at(DOCUMENT, text)

    assert "line 3" in message


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_it_refuses_an_empty_document(text: str) -> None:
    assert error_at(DOCUMENT, text) == "is empty"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just words\n", "42\n"])
def test_it_refuses_a_document_that_is_not_a_mapping(text: str) -> None:
    assert "must be a mapping" in error_at(DOCUMENT, text)


def test_it_refuses_a_document_larger_than_the_limit() -> None:
    text = dump(MINIMAL) + "#" * MAX_DOCUMENT_BYTES

    assert "256 KiB" in error_at(DOCUMENT, text)


def test_it_refuses_deep_nesting() -> None:
    text = dump(MINIMAL).replace("max_iter: 200", "class_weight: " + "[" * 25 + "]" * 25)

    assert "nested more than 20 levels" in error_at(DOCUMENT, text)


def test_it_refuses_aliases_so_billion_laughs_cannot_expand() -> None:
    bomb = "\n".join(
        ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]"
            for i in range(8)
        ]
    )

    assert "anchors and aliases" in error_at(DOCUMENT, bomb)


def test_it_refuses_an_alias_even_to_a_scalar() -> None:
    text = dump(MINIMAL) + "threshold: *t\n"
    text = text.replace("experiment_name: small", "experiment_name: &t small")

    assert "line 1" in error_at(DOCUMENT, text)


def test_it_refuses_duplicate_keys() -> None:
    text = dump(MINIMAL) + "experiment_name: again\n"

    assert "duplicate key 'experiment_name'" in error_at(DOCUMENT, text)


def test_it_refuses_python_object_tags() -> None:
    text = dump(MINIMAL) + "threshold: !!python/object/apply:os.system ['true']\n"

    assert "YAML error" in error_at(DOCUMENT, text)


def test_it_refuses_several_documents_in_one_file() -> None:
    assert "YAML error" in error_at(DOCUMENT, dump(MINIMAL) + "---\n" + dump(MINIMAL))


def test_it_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("experiment_name: caf\xe9\n".encode("latin-1"))

    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config_file(path)


# ---------------------------------------------------------------- key errors


@pytest.mark.parametrize(
    ("bad_path", "hint"),
    [
        ("experiment_nam", "experiment_name"),
        ("dataset.nmae", "name"),
        ("model.typ", "type"),
        ("split.test_sise", "test_size"),
        ("registry.model", "model_name"),
        ("gate.bootstrp", "bootstrap"),
        ("gate.bootstrap.resample", "resamples"),
        ("gate.metrics.roc_auc.max_dorp", "max_drop"),
        ("run.timeout", "timeout_seconds"),
    ],
)
def test_it_refuses_unknown_keys_and_suggests_the_close_one(bad_path: str, hint: str) -> None:
    changes: dict[str, Any] = {bad_path: 1}
    if bad_path.startswith("gate.metrics.roc_auc"):
        changes["gate.metrics.roc_auc.max_drop"] = 0.1

    message = error_at(bad_path, dump(document(**changes)))

    assert f"'{hint}'" in message


def test_it_lists_the_allowed_keys_when_nothing_is_close() -> None:
    message = error_at("zzz", dump(document(zzz=1)))

    assert "allowed: experiment_name, dataset, model" in message


@pytest.mark.parametrize(
    "missing", ["experiment_name", "dataset", "dataset.version", "model", "model.type"]
)
def test_it_requires_the_required_keys(missing: str) -> None:
    data = copy.deepcopy(MINIMAL)
    *parents, last = missing.split(".")
    node = data
    for key in parents:
        node = node[key]
    del node[last]

    assert error_at(missing, dump(data)) == "is required"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("split.test_size", True, "must be a number, got boolean True"),
        ("split.test_size", "0.2", "must be a number"),
        ("split.seed", 1.5, "must be a whole number"),
        ("threshold", False, "must be a number, got boolean"),
        ("experiment_name", ["a"], "must be a string"),
        ("dataset", "credit_card_fraud:v1", "must be a mapping"),
        ("model.params", [1, 2], "must be a mapping"),
        ("gate.bootstrap.resamples", True, "must be a whole number"),
        ("gate.metrics.log_loss.greater_is_better", "no way", "must be true or false"),
        ("run.timeout_seconds", 1.5, "must be a whole number"),
        ("registry.model_name", {"a": 1}, "must be a string"),
    ],
)
def test_it_refuses_values_of_the_wrong_type(path: str, value: Any, expected: str) -> None:
    changes: dict[str, Any] = {path: value}
    if path.startswith("gate.metrics"):
        changes["gate.metrics.log_loss.max_drop"] = 0.1

    assert expected in error_at(path, dump(document(**changes)))


@pytest.mark.parametrize("name", ["has space", "a/b", "", "x" * 101])
def test_it_refuses_names_that_do_not_fit_paths_and_urls(name: str) -> None:
    message = error_at("experiment_name", dump(document(experiment_name=name)))

    assert "letters, digits" in message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("split.test_size", 0, "must be in (0, 1), got 0"),
        ("split.test_size", 1, "must be in (0, 1)"),
        ("split.test_size", 1.5, "must be in (0, 1)"),
        ("split.seed", -1, "must be in [0, 4294967295], got -1"),
        ("threshold", -0.1, "must be in [0, 1]"),
        ("threshold", 1.1, "must be in [0, 1]"),
        ("threshold", float("nan"), "must be a finite number"),
        ("threshold", float("inf"), "must be a finite number"),
        ("gate.bootstrap.resamples", 0, "must be >= 1"),
        ("gate.bootstrap.confidence", 0, "must be in (0, 1)"),
        ("gate.bootstrap.confidence", 1, "must be in (0, 1)"),
        ("gate.bootstrap.seed", -3, "must be in [0,"),
        ("gate.min_positives", 0, "must be in [1,"),
        ("gate.metrics.roc_auc.max_drop", -0.1, "must be >= 0"),
        ("gate.metrics.roc_auc.max_relative_drop", 1.5, "must be in [0, 1]"),
        ("gate.metrics.roc_auc.threshold", 1.2, "must be in [0, 1]"),
        ("gate.metrics.log_loss.threshold", -1, "must be >= 0"),
        ("run.timeout_seconds", 0, "must be in [1, 604800]"),
        ("run.timeout_seconds", -5, "must be in [1, 604800]"),
    ],
)
def test_it_refuses_values_out_of_range(path: str, value: Any, expected: str) -> None:
    assert expected in error_at(path, dump(document(**{path: value})))


# --------------------------------------------------------------- model errors


def test_it_refuses_an_unknown_model_type_and_lists_the_known_ones() -> None:
    message = error_at("model.type", dump(document(**{"model.type": "random_forrest"})))

    assert "did you mean 'random_forest'" in message
    assert "logistic_regression, random_forest, hist_gradient_boosting" in message


def test_it_refuses_a_model_type_that_is_not_a_string() -> None:
    assert "unknown model type" in error_at("model.type", dump(document(**{"model.type": [1]})))


def test_it_refuses_an_unknown_hyperparameter_and_suggests_a_close_one() -> None:
    message = error_at("model.params.max_iters", dump(document(**{"model.params.max_iters": 5})))

    assert "unknown hyperparameter for LogisticRegression (did you mean 'max_iter'?)" in message


def test_it_lists_the_valid_hyperparameters_when_nothing_is_close() -> None:
    message = error_at("model.params.zzz", dump(document(**{"model.params.zzz": 5})))

    assert "valid: C, class_weight, dual" in message


def test_it_checks_hyperparameters_against_the_chosen_estimator() -> None:
    text = dump(document(model={"type": "random_forest", "params": {"max_iter": 10}}))

    assert "RandomForestClassifier" in error_at("model.params.max_iter", text)


@pytest.mark.parametrize(
    ("model_type", "name", "value", "expected"),
    [
        ("logistic_regression", "C", -1, "must be a float in the range (0.0, inf]"),
        ("logistic_regression", "class_weight", "balancd", "a str among {'balanced'}"),
        ("logistic_regression", "max_iter", 10.5, "must be an int"),
        ("random_forest", "n_estimators", 0, "must be an int in the range [1, inf)"),
        ("hist_gradient_boosting", "learning_rate", -0.1, "must be a float in the range"),
        ("hist_gradient_boosting", "early_stopping", "sometimes", "among {'auto'}"),
    ],
)
def test_it_refuses_invalid_hyperparameter_values(
    model_type: str, name: str, value: Any, expected: str
) -> None:
    text = dump(document(model={"type": model_type, "params": {name: value}}))

    assert expected in error_at(f"model.params.{name}", text)


@pytest.mark.parametrize("name", ["max_iter", "C", "random_state"])
def test_it_refuses_booleans_for_hyperparameters_that_are_not_booleans(name: str) -> None:
    message = error_at(f"model.params.{name}", dump(document(**{f"model.params.{name}": True})))

    assert message == "must not be a boolean (true/false), got True"


# ---------------------------------------------------------------- gate errors


def test_it_refuses_an_unknown_gate_metric() -> None:
    text = dump(document(**{"gate.metrics.roc_aux.max_drop": 0.1}))

    assert "did you mean 'roc_auc'" in error_at("gate.metrics.roc_aux", text)


def test_it_refuses_an_unknown_primary_metric_and_lists_the_gate_metrics() -> None:
    message = error_at("gate.primary_metric", dump(document(**{"gate.primary_metric": "auc"})))

    assert all(metric in message for metric in GATE_METRICS)


def test_it_refuses_a_rule_without_any_limit() -> None:
    text = dump(document(**{"gate.metrics.roc_auc": {"greater_is_better": True}}))

    assert "set at least one of threshold" in error_at("gate.metrics.roc_auc", text)


def test_it_refuses_a_direction_contrary_to_the_metric() -> None:
    text = dump(document(**{"gate.metrics.log_loss": {"greater_is_better": True, "max_drop": 0.1}}))

    assert error_at("gate.metrics.log_loss.greater_is_better", text) == (
        "log_loss is lower-is-better"
    )


# ------------------------------------------------------------------ reporting


def test_it_collects_several_errors_at_once() -> None:
    text = dump(
        document(
            threshold=2,
            split={"test_size": True, "sed": 1},
            run={"timeout_seconds": 0},
            **{"model.params.C": -1, "gate.bootstrap.resamples": 0},
        )
    )

    assert set(errors_of(text)) == {
        "threshold",
        "split.test_size",
        "split.sed",
        "run.timeout_seconds",
        "model.params.C",
        "gate.bootstrap.resamples",
    }


def test_it_formats_the_message_as_path_then_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(dump(document(threshold=2, run={"timeout_seconds": 0})))

    assert str(caught.value) == (
        "threshold: must be in [0, 1], got 2; run.timeout_seconds: must be in [1, 604800], got 0"
    )


# ------------------------------------------------------------ platform limits

LIMITS = ConfigLimits()
SIZE_BOUNDS = [
    (model_type, param, bound)
    for model_type, bounds in DEFAULT_PARAM_LIMITS.items()
    for param, bound in bounds.items()
]


def model_document(model_type: str, params: dict[str, Any], **changes: Any) -> str:
    return dump(document(model={"type": model_type, "params": params}, **changes))


def limited_error_at(path: str, text: str, limits: ConfigLimits = LIMITS) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, limits=limits)
    errors = dict(caught.value.errors)
    assert path in errors, errors
    return errors[path]


@pytest.mark.parametrize(("model_type", "param", "bound"), SIZE_BOUNDS)
def test_it_refuses_a_size_parameter_beyond_its_limit_naming_bound_and_setting(
    model_type: str, param: str, bound: int
) -> None:
    text = model_document(model_type, {param: bound + 1})

    message = limited_error_at(f"model.params.{param}", text)

    setting = f"TRAINING_LIMIT_{model_type.upper()}_{param.upper()}"
    assert message == (
        f"must be at most {bound} for {model_type} (the platform's limit, setting {setting}), "
        f"got {bound + 1}"
    )


@pytest.mark.parametrize(("model_type", "param", "bound"), SIZE_BOUNDS)
def test_it_accepts_a_size_parameter_at_its_limit(model_type: str, param: str, bound: int) -> None:
    config = parse_config(model_document(model_type, {param: bound}), limits=LIMITS)

    assert config.model.params[param] == bound


def test_it_refuses_the_sizes_of_the_hostile_probe() -> None:
    forest = model_document("random_forest", {"n_estimators": 10_000_000})
    logistic = model_document("logistic_regression", {"max_iter": 10**12})

    assert "must be at most 5000" in limited_error_at("model.params.n_estimators", forest)
    assert "must be at most 10000" in limited_error_at("model.params.max_iter", logistic)


def test_it_keeps_unlimited_depth_and_leaves_allowed() -> None:
    params = {"max_depth": None, "max_leaf_nodes": None}

    config = parse_config(model_document("random_forest", params), limits=LIMITS)

    assert dict(config.model.params) == params


def test_it_refuses_a_timeout_beyond_the_limit_naming_the_setting() -> None:
    text = dump(document(run={"timeout_seconds": 604800}))

    assert limited_error_at("run.timeout_seconds", text) == (
        "must be at most 14400 (the platform's limit, setting TRAINING_MAX_TIMEOUT_SECONDS), "
        "got 604800"
    )


def test_it_lowers_the_default_timeout_to_a_lower_limit() -> None:
    limits = ConfigLimits(max_timeout_seconds=600)

    assert parse_config(dump(MINIMAL), limits=limits).run.timeout_seconds == 600
    assert parse_config(dump(MINIMAL), limits=LIMITS).run.timeout_seconds == 3600


def test_it_uses_the_bounds_it_is_given() -> None:
    limits = ConfigLimits(param_limits={"random_forest": {"n_estimators": 10}})
    text = model_document("random_forest", {"n_estimators": 11, "max_depth": 1000})

    with pytest.raises(ConfigError) as caught:
        parse_config(text, limits=limits)

    assert [path for path, _ in caught.value.errors] == ["model.params.n_estimators"]


@pytest.mark.parametrize("model_type", ["random_forest", "logistic_regression"])
def test_it_refuses_n_jobs_because_the_platform_sets_the_threads(model_type: str) -> None:
    message = limited_error_at("model.params.n_jobs", model_document(model_type, {"n_jobs": 300}))

    assert message == (
        "is set by the platform, not by the config: every fit gets the platform's thread "
        "count; remove it"
    )


def test_it_reports_n_jobs_of_a_model_without_it_once_as_unknown() -> None:
    text = model_document("hist_gradient_boosting", {"n_jobs": 2})

    assert "unknown hyperparameter" in limited_error_at("model.params.n_jobs", text)


def test_it_reads_a_recorded_config_back_without_the_limits() -> None:
    params = {"n_estimators": 10_000_000, "n_jobs": 300}
    text = model_document("random_forest", params, run={"timeout_seconds": 604800})

    config = parse_config(text)

    assert dict(config.model.params) == params
    assert config.run.timeout_seconds == 604800


@pytest.mark.parametrize("path", EXPERIMENT_CONFIGS, ids=lambda path: path.name)
def test_it_accepts_the_shipped_configs_within_the_default_limits(path: Path) -> None:
    _, config = load_config_file(path, limits=LIMITS)

    assert config.run.timeout_seconds <= LIMITS.max_timeout_seconds
