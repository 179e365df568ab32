"""The model versions a process serves. Each is loaded once, through the
registry's verified path (artifact digest checked, only scikit-learn and
numpy types trusted), and kept for later requests. Which version a stage
points at is looked up on every request (one indexed query), so a promotion
is served by the next request, without a restart.

The cache is per process (each gunicorn worker holds its own copies) and
thread-safe: requests read it under a lock; a version is loaded by one
thread while the others that want that version wait for it (a lock per
version: a cold load of one model never holds up requests for another).
A loaded model predicts on the serving thread budget (SERVING_THREADS), not
on the n_jobs it was trained with, and a model whose artifact is larger
than SERVING_MAX_MODEL_MB is not loaded at all."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from experiments.artifacts import ArtifactIntegrityError
from experiments.model_format import UnsafeArtifactError
from registry.models import ModelVersion, RegisteredModel
from registry.services import verified_model
from serving.errors import ModelNotFound, ModelTooLarge, ModelUnavailable


@dataclass(frozen=True)
class ServedModel:
    model_name: str
    version: int
    version_id: int
    artifact_sha256: str
    threshold: float
    feature_columns: tuple[str, ...]
    estimator: Any


# (version id, artifact digest) -> ServedModel, least recently used first.
_cache: OrderedDict[tuple[int, str], ServedModel] = OrderedDict()
_cache_lock = threading.Lock()
_load_locks: dict[tuple[int, str], threading.Lock] = {}


def served_model(*, model_name: str, version: int | None = None, stage: str = "") -> ServedModel:
    """The version `version` of the model, or the one now in `stage`, ready to score.
    ModelNotFound when there is none; ModelUnavailable when its artifact fails
    verification or cannot be loaded."""
    key = _current_key(model_name, version, stage)
    cached = _cached(key)
    if cached is not None:
        return cached
    with _load_lock(key):
        cached = _cached(key)  # loaded by another thread while this one waited
        if cached is not None:
            return cached
        loaded = _load(key[0])
        _remember(key, loaded)
        return loaded


def _load_lock(key: tuple[int, str]) -> threading.Lock:
    with _cache_lock:
        return _load_locks.setdefault(key, threading.Lock())


def served_models_clear() -> None:
    """Forget every loaded model (tests; a process never needs to)."""
    with _cache_lock:
        _cache.clear()


def _current_key(model_name: str, version: int | None, stage: str) -> tuple[int, str]:
    rows = ModelVersion.objects.filter(registered_model__name=model_name)
    # Production holds one version at most; several may be in staging: the newest serves.
    rows = rows.filter(stage=stage) if stage else rows.filter(version=version or 0)
    rows = rows.order_by("-version")
    found = rows.values_list("pk", "artifact_sha256").first()
    if found is None:
        raise ModelNotFound(_not_found(model_name, version, stage))
    return found


def _not_found(model_name: str, version: int | None, stage: str) -> str:
    if not RegisteredModel.objects.filter(name=model_name).exists():
        return f"there is no registered model {model_name!r}"
    if stage:
        return f"model {model_name!r} has no version in {stage}"
    return f"model {model_name!r} has no version {version}"


def _cached(key: tuple[int, str]) -> ServedModel | None:
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
        return found


def _remember(key: tuple[int, str], loaded: ServedModel) -> None:
    with _cache_lock:
        _cache[key] = loaded
        while len(_cache) > max(1, settings.SERVING_CACHED_MODELS):
            _cache.popitem(last=False)


def _load(version_id: int) -> ServedModel:
    version = ModelVersion.objects.select_related("registered_model", "experiment").get(
        pk=version_id
    )
    size = version.experiment.artifact_size or 0
    limit = settings.SERVING_MAX_MODEL_MB
    if limit and size > limit * 1024 * 1024:
        raise ModelTooLarge(
            f"{version} cannot be served here: its model is {size / 2**20:,.1f} MiB, larger than "
            f"this process loads ({limit:,} MiB, SERVING_MAX_MODEL_MB)"
        )
    try:
        estimator = verified_model(version)
    except (ArtifactIntegrityError, UnsafeArtifactError) as error:
        raise ModelUnavailable(f"{version} cannot serve: {error}") from None
    features = tuple(str(name) for name in version.experiment.feature_columns)
    trained_on = tuple(str(name) for name in getattr(estimator, "feature_names_in_", features))
    if trained_on != features:
        raise ModelUnavailable(
            f"{version} cannot serve: its model was trained on other columns than it records"
        )
    _serving_threads(estimator)
    return ServedModel(
        model_name=version.registered_model.name,
        version=version.version,
        version_id=version.pk,
        artifact_sha256=version.artifact_sha256,
        threshold=float(version.experiment.config.get("threshold", 0.5)),
        feature_columns=features,
        estimator=estimator,
    )


def _serving_threads(estimator: Any) -> None:
    """A forest keeps the n_jobs it was trained with (8 threads a predict
    inside a web worker): it predicts on the serving budget instead."""
    threads = max(1, settings.SERVING_THREADS)
    steps = getattr(estimator, "steps", None)
    for part in [estimator, *(step for _, step in steps or [])]:
        if "n_jobs" in getattr(part, "get_params", dict)():
            part.set_params(n_jobs=threads)
