"""Gate policies: every registered model's rules for its regression gate,
versioned, changed only by holders of registry.change_gatepolicy.

A model starts with the project default (settings.GATE_DEFAULT_POLICY_FILE,
configs/gate_policy.yaml) when it is created; each change is a new
GatePolicy row. Experiment configs may only restate or tighten the policy:
gate_request_check refuses a looser config when it is submitted, and the gate
refuses it again (fails closed) should the policy have changed since.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from mlplatform.origin import Origin
from mlplatform.typing import Actor
from registry.history_chain import history_append
from registry.models import GatePolicy, RegisteredModel
from registry.services.locks import locked_model

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from experiments.configs import ExperimentConfig, GateSpec, PolicyBounds

CHANGE_PERMISSION = "registry.change_gatepolicy"
DEFAULT_ACTOR = "project default"


def policy_bounds(*, positive_share: float | None = None) -> PolicyBounds:
    """The bounds no policy may leave, from settings; with the share of
    positives of a model's data, a floor at or below it checks nothing."""
    from experiments.configs import PolicyBounds

    try:
        return PolicyBounds(
            min_resamples=settings.GATE_POLICY_MIN_RESAMPLES,
            min_confidence=settings.GATE_POLICY_MIN_CONFIDENCE,
            min_positives=settings.GATE_POLICY_MIN_POSITIVES,
            max_drop=settings.GATE_POLICY_MAX_DROP,
            max_relative_drop=settings.GATE_POLICY_MAX_RELATIVE_DROP,
            positive_share=positive_share,
        )
    except ValueError as error:
        raise ImproperlyConfigured(f"GATE_POLICY_*: {error}") from None


def positive_share_of(registered_model: RegisteredModel) -> float | None:
    """The share of positives in the data set of the model's newest version
    (what a random model's average precision comes to), if it has one."""
    version = (
        registered_model.versions.select_related("experiment__dataset_version")
        .order_by("-version")
        .first()
    )
    if version is None:
        return None
    counts = version.experiment.dataset_version.class_counts or {}
    label = version.experiment.dataset_version.positive_label or "1"
    total = sum(int(count) for count in counts.values())
    return int(counts.get(label, 0)) / total if total else None


def policy_spec_parse(text: str, *, positive_share: float | None = None) -> GateSpec:
    """A policy document (YAML or JSON) as a GateSpec within the bounds, or a
    ValidationError naming every problem by its key path."""
    from experiments.configs import ConfigError, load_gate_policy

    try:
        return load_gate_policy(text, policy_bounds(positive_share=positive_share))
    except ConfigError as error:
        raise ValidationError([f"{path}: {message}" for path, message in error.errors]) from None


def gate_policy_spec(policy: GatePolicy) -> GateSpec:
    """The stored policy, checked again against today's bounds (settings may
    have raised them since it was set)."""
    from experiments.configs import ConfigError, parse_gate_policy

    try:
        return parse_gate_policy(policy.policy, policy_bounds())
    except ConfigError as error:
        problems = "; ".join(f"{path}: {message}" for path, message in error.errors)
        raise ValidationError(
            f"{policy} is outside today's policy bounds ({problems}); someone with "
            f"{CHANGE_PERMISSION} must set a new policy"
        ) from None


def default_policy() -> tuple[GateSpec, str]:
    """The project default policy and a description of where it came from."""
    path = Path(settings.GATE_DEFAULT_POLICY_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ImproperlyConfigured(f"GATE_DEFAULT_POLICY_FILE {path}: {error}") from None
    try:
        spec = policy_spec_parse(text)
    except ValidationError as error:
        raise ImproperlyConfigured(
            f"GATE_DEFAULT_POLICY_FILE {path}: " + "; ".join(error.messages)
        ) from None
    digest = hashlib.sha256(text.encode()).hexdigest()
    return spec, f"{_display(path)} (sha256 {digest[:12]})"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR)))
    except ValueError:
        return str(path)


def gate_policy_current(*, registered_model: RegisteredModel) -> GatePolicy:
    """The model's policy in force (its highest version); a model that has
    none yet gets the project default as version 1."""
    current = registered_model.gate_policies.order_by("-version").first()
    return current if current is not None else _default_policy_create(registered_model)


def _default_policy_create(registered_model: RegisteredModel) -> GatePolicy:
    spec, source = default_policy()
    try:
        with transaction.atomic():
            return history_append(
                GatePolicy,
                registered_model=registered_model,
                version=1,
                policy=spec.to_dict(),
                reason=f"the project default policy, from {source}",
                actor_label=DEFAULT_ACTOR,
                channel=Origin.worker().channel,
            )
    except IntegrityError:  # another process gave it the default at the same moment
        return registered_model.gate_policies.latest("version")


def registered_model_ensure(*, name: str) -> RegisteredModel:
    """The named model, created with the project default policy if it is new
    (both or neither: a broken default policy file creates no model)."""
    existing = RegisteredModel.objects.filter(name=name).first()
    if existing is not None and existing.gate_policies.exists():
        return existing
    with transaction.atomic():
        registered_model, _ = RegisteredModel.objects.get_or_create(name=name)
        gate_policy_current(registered_model=registered_model)
    return registered_model


def gate_policy_set(
    *,
    model_name: str,
    text: str,
    user: Actor,
    reason: str,
    origin: Origin,
) -> GatePolicy:
    """Record a new version of a model's gate policy. Pending production
    requests gated under the previous version are superseded."""
    author = _require_permission(user)
    if not reason.strip():
        raise ValidationError("a reason is required for every gate policy change")
    registered_model = _model_named(model_name)
    spec = policy_spec_parse(text, positive_share=positive_share_of(registered_model))
    with transaction.atomic():
        locked_model(registered_model.name)
        current = gate_policy_current(registered_model=registered_model)
        if current.policy == spec.to_dict():
            raise ValidationError(f"the policy is identical to {current}; nothing was changed")
        policy = history_append(
            GatePolicy,
            registered_model=registered_model,
            version=current.version + 1,
            policy=spec.to_dict(),
            reason=reason.strip(),
            created_by=author,
            channel=origin.channel,
            os_user=origin.os_user,
            host=origin.host,
        )
        from registry.services.stage_requests import requests_supersede_stale

        requests_supersede_stale(
            registered_model=registered_model,
            reason=f"the gate policy of {registered_model} changed to version {policy.version}",
            origin=origin,
        )
        return policy


def _require_permission(user: Actor) -> User:
    """The user, when active and holding the permission (an anonymous user never is)."""
    if (
        user is None
        or not user.is_authenticated
        or not user.is_active
        or not user.has_perm(CHANGE_PERMISSION)
    ):
        who = user.get_username() if user is not None else "an anonymous user"
        raise PermissionDenied(
            f"{who} may not change gate policies (needs the {CHANGE_PERMISSION} permission)"
        )
    return user


def _model_named(name: str) -> RegisteredModel:
    try:
        return RegisteredModel.objects.get(name=name)
    except RegisteredModel.DoesNotExist:
        raise ValidationError(f"no model named {name!r}") from None


def gate_request_check(*, config: ExperimentConfig) -> None:
    """Refuse a config whose gate section would loosen the policy of the model
    it registers into (the project default for a model that does not exist yet)."""
    model_name = config.registry.model_name
    if not model_name or config.gate.is_empty:
        return
    from registry.gate.policy import apply_request

    registered_model = RegisteredModel.objects.filter(name=model_name).first()
    if registered_model is not None:
        policy = gate_policy_current(registered_model=registered_model)
        spec = gate_policy_spec(policy)
        label = f"the gate policy of {model_name} (v{policy.version})"
    else:
        spec = default_policy()[0]
        label = f"the project default gate policy ({model_name} is new)"
    loosenings = apply_request(spec, config.gate).loosenings
    if loosenings:
        raise ValidationError(
            [f"{line}; {label} decides, a config may only tighten it" for line in loosenings]
        )


def policy_as_text(policy: dict[str, Any]) -> str:
    """A stored policy as the YAML an administrator edits."""
    import yaml

    return yaml.safe_dump(policy, sort_keys=False)
