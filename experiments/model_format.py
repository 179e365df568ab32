"""Model artifacts: a fitted model as skops bytes and back, never pickle. No Django.

Loading refuses any type outside ALLOWED_TYPES, the types the platform's own
models are made of (found by saving each model type that
experiments.configs.estimators offers and listing every type in the file).
The check walks every node of the file itself, so it holds whatever skops
would trust by default.

skops is imported on the first save or load, not with this module: importing
`skops.io` builds skops's default trust lists (skops.io._trusted_types), which
imports every scikit-learn estimator module and looks up hundreds of ufuncs
in every loaded module, 1-2 s of start-up. This module installs narrow lists
in its place first (see _narrow_skops_defaults), so the import costs what the
loader itself needs.
"""

from __future__ import annotations

import io
import sys
import types
import zipfile
from typing import Any

ALLOWED_SKLEARN_TYPES = frozenset(
    {
        # logistic_regression: scaled in a Pipeline
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.linear_model._logistic.LogisticRegression",
        # random_forest
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._tree.Tree",
        # hist_gradient_boosting. skops does not trust TreePredictor by default
        # (a crafted nodes array can crash the process); the platform loads
        # only files whose SHA-256 matches the digest recorded at training.
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.Interval",
    }
)
ALLOWED_DATA_TYPES = frozenset(
    {
        *(f"builtins.{name}" for name in ("bool", "dict", "float", "int", "list", "str", "tuple")),
        "numpy.ndarray",
        "numpy.random._generator.Generator",
        *(
            f"numpy.{name}"
            for name in (
                "bool",
                "float16",
                "float32",
                "float64",
                "int8",
                "int16",
                "int32",
                "int64",
                "uint8",
                "uint16",
                "uint32",
                "uint64",
            )
        ),
    }
)
ALLOWED_TYPES = ALLOWED_SKLEARN_TYPES | ALLOWED_DATA_TYPES
TRUSTED_TYPES_MODULE = "skops.io._trusted_types"


class UnsafeArtifactError(Exception):
    """A model artifact is unreadable or would load types we do not trust."""


def model_to_bytes(model: Any) -> bytes:
    skops_io = _skops_io()
    data: bytes = skops_io.dumps(model, compression=zipfile.ZIP_DEFLATED)
    return data


def model_from_bytes(data: bytes) -> Any:
    """Load a skops artifact made only of ALLOWED_TYPES."""
    skops_io = _skops_io()
    present = artifact_types(data)
    refused = sorted(name for name in present if not is_trusted_type(name))
    if refused:
        raise UnsafeArtifactError(
            "the model artifact contains types the platform's models are not made of, "
            "refused: " + ", ".join(refused)
        )
    try:
        return skops_io.loads(data, trusted=sorted(present))
    except Exception as error:
        raise UnsafeArtifactError(f"not a loadable skops model artifact: {error}") from None


def is_trusted_type(dotted_name: str) -> bool:
    return dotted_name in ALLOWED_TYPES


def artifact_types(data: bytes) -> set[str]:
    """Every type (class or function) a skops file would load, by dotted name,
    whether or not skops trusts it by default."""
    _skops_io()
    from skops.io._audit import Node, get_tree
    from skops.io._utils import read_schema

    try:
        with zipfile.ZipFile(io.BytesIO(data), "r") as archive:
            schema, load_context = read_schema(archive)
            tree = get_tree(schema, load_context=load_context, trusted=None)
    except Exception as error:
        raise UnsafeArtifactError(f"not a readable skops model artifact: {error}") from None
    found: set[str] = set()
    _collect_types(tree, Node, found, seen=set())
    return found


def _collect_types(node: Any, node_class: type, found: set[str], *, seen: set[int]) -> None:
    """The node's type and its children's, as skops's own audit walks them
    (Node.get_unsafe_set); anything it could not judge refuses the file."""
    if id(node) in seen:
        return
    seen.add(id(node))
    found.add(f"{node.module_name}.{node.class_name}")
    for child in node.children.values():
        values = child if isinstance(child, list) else [child]
        if isinstance(child, dict):
            values = list(child.values())
        for value in values:
            if isinstance(value, node_class):
                _collect_types(value, node_class, found, seen=seen)
            elif isinstance(value, type):
                found.add(f"{value.__module__}.{value.__name__}")
            elif not isinstance(value, io.BytesIO | str) and value is not None:
                raise UnsafeArtifactError(
                    f"the model artifact holds a {type(value).__name__} skops cannot audit"
                )


def loader_import() -> None:
    """Import skops (and with it scikit-learn) now rather than on the first
    load: for a web worker about to serve models."""
    _skops_io()


def _skops_io() -> types.ModuleType:
    _narrow_skops_defaults()
    import skops.io

    module: types.ModuleType = skops.io
    return module


def _narrow_skops_defaults() -> None:
    """Give skops, before its first import, default trust lists that hold
    plain data types only (the ones skops itself lists, computed without
    searching every module): no estimator and no ufunc is trusted by default,
    and ALLOWED_TYPES is passed explicitly. A process that imported skops.io
    before keeps skops's own lists; artifact_types does not rely on them."""
    if TRUSTED_TYPES_MODULE in sys.modules:
        return
    import numpy as np

    module = types.ModuleType(TRUSTED_TYPES_MODULE, __doc__)
    primitives, containers = [int, float, str, bool], [list, set, map, tuple]
    names: dict[str, Any] = {
        "PRIMITIVES_TYPES": primitives,
        "PRIMITIVE_TYPE_NAMES": [f"builtins.{t.__name__}" for t in primitives],
        "CONTAINER_TYPES": containers,
        "CONTAINER_TYPE_NAMES": [f"builtins.{t.__name__}" for t in containers],
        "SKLEARN_ESTIMATOR_TYPE_NAMES": [],
        "SKLEARN_INTERNAL_TYPE_NAMES": [],
        "SCIPY_UFUNC_TYPE_NAMES": [],
        "NUMPY_UFUNC_TYPE_NAMES": [],
        "NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES": sorted(
            f"numpy.random.{name}"
            for name, value in vars(np.random).items()
            if isinstance(value, type)
            and issubclass(value, np.random.BitGenerator)
            and value is not np.random.BitGenerator
        ),
        "NUMPY_DTYPE_TYPE_NAMES": sorted(
            {
                name
                for dtype in np.sctypeDict.values()
                if (name := f"{dtype.__module__}.{dtype.__name__}").startswith("numpy")
            }
        ),
    }
    vars(module).update(names)
    sys.modules[TRUSTED_TYPES_MODULE] = module
