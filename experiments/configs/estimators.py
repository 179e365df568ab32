"""The model types a config may name, and checks of their hyperparameters
against scikit-learn's own constraints."""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from experiments.configs.readers import Section, suggestion

MODEL_TYPES: dict[str, type] = {
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}


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
