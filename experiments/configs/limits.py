"""ConfigLimits: what the platform lets a new config ask for. No Django here:
the caller fills it from settings (experiments.limits.config_limits) and
passes it to parse_config; the defaults below are the settings' defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_MAX_TIMEOUT_SECONDS = 4 * 3600
TIMEOUT_SETTING = "TRAINING_MAX_TIMEOUT_SECONDS"

# The size parameters of each model type: trees, iterations, depth, leaves.
# None (scikit-learn's "no limit" for depth and leaves) stays allowed: such a
# tree stops when its leaves are pure, so it is bounded by the data, and the
# run by the timeout and the memory limit.
DEFAULT_PARAM_LIMITS: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "logistic_regression": MappingProxyType({"max_iter": 10_000}),
        "random_forest": MappingProxyType(
            {"n_estimators": 5_000, "max_depth": 100, "max_leaf_nodes": 100_000}
        ),
        "hist_gradient_boosting": MappingProxyType(
            {"max_iter": 10_000, "max_depth": 100, "max_leaf_nodes": 4_096}
        ),
    }
)

# The platform sets the thread count of every fit; a config may not.
PLATFORM_PARAMS = ("n_jobs",)


def param_limit_setting(model_type: str, param: str) -> str:
    """The setting (environment variable) that holds one bound."""
    return f"TRAINING_LIMIT_{model_type}_{param}".upper()


@dataclass(frozen=True)
class ConfigLimits:
    max_timeout_seconds: int = DEFAULT_MAX_TIMEOUT_SECONDS
    param_limits: Mapping[str, Mapping[str, int]] = field(
        default_factory=lambda: DEFAULT_PARAM_LIMITS
    )

    def param_limit(self, model_type: str, param: str) -> int | None:
        return self.param_limits.get(model_type, {}).get(param)
