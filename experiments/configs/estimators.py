"""The model types a config may name, and checks of their hyperparameters
against scikit-learn's own constraints."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from experiments.configs.readers import Section, suggestion


class EstimatorClasses(Mapping[str, type]):
    """Model type -> estimator class, importing a class (and scikit-learn) only
    when it is looked up: listing or checking the names costs nothing, so that
    commands and pages that never fit a model never import scikit-learn."""

    def __init__(self, paths: Mapping[str, str]) -> None:
        self._paths = dict(paths)

    def __getitem__(self, model_type: str) -> type:
        module_name, _, class_name = self._paths[model_type].rpartition(".")
        estimator_class: type = getattr(importlib.import_module(module_name), class_name)
        return estimator_class

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, model_type: object) -> bool:
        return model_type in self._paths


MODEL_TYPES = EstimatorClasses(
    {
        "logistic_regression": "sklearn.linear_model.LogisticRegression",
        "random_forest": "sklearn.ensemble.RandomForestClassifier",
        "hist_gradient_boosting": "sklearn.ensemble.HistGradientBoostingClassifier",
    }
)


def check_hyperparameters(params: Section, estimator_class: type) -> None:
    known = sorted(estimator_class().get_params())
    for name, value in params.data.items():
        if not isinstance(name, str) or name not in known:
            hint = suggestion(str(name), known) or f"; valid: {', '.join(known)}"
            params.fail(str(name), f"unknown hyperparameter for {estimator_class.__name__}{hint}")
        else:
            _check_hyperparameter(params, estimator_class, name, value)


def _check_hyperparameter(params: Section, estimator_class: type, name: str, value: Any) -> None:
    if isinstance(value, bool) and not _accepts_booleans(estimator_class, name):
        params.fail(name, f"must not be a boolean (true/false), got {value}")
        return
    from sklearn.utils._param_validation import InvalidParameterError

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
