"""A registered model's gate policy: read by anyone who reads the registry,
changed only by holders of registry.change_gatepolicy, through the service
the admin and `manage.py gate_policy --set` use (the channel `api` on the
record)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import Http404, HttpRequest
from ninja import Field, Path, Router, Schema
from ninja.responses import Status

from api.v1.auth import caller, requires
from api.v1.schemas import NAME_PATTERN, InputSchema, responses
from mlplatform.origin import Origin
from registry.models import RegisteredModel
from registry.selectors import gate_policy_as_dict, gate_policy_history
from registry.services import gate_policy_set

router = Router(tags=["gate policies"])

ModelName = Annotated[str, Path(pattern=NAME_PATTERN)]
READ = ("registry.view_modelversion", "registry.view_gatepolicy")


class GatePolicyOut(Schema):
    model: str
    version: int
    policy: dict[str, Any] = Field(description="The whole policy (configs/README.md).")
    reason: str
    set_by: str
    channel: str
    os_user: str
    host: str
    created_at: datetime


class GatePolicyHistoryOut(Schema):
    current: GatePolicyOut
    history: list[GatePolicyOut] = Field(description="Every version, newest first.")


class GatePolicyIn(InputSchema):
    policy: str = Field(
        min_length=1,
        max_length=64 * 1024,
        description="The whole policy as YAML or JSON text, as in configs/gate_policy.yaml.",
    )
    reason: str = Field(min_length=1, max_length=5000, pattern=r"^[^\x00]*\S[^\x00]*$")


def _history(name: str) -> dict[str, Any]:
    try:
        history = gate_policy_history(model_name=name)
    except RegisteredModel.DoesNotExist:
        raise Http404(f"there is no model named {name!r}") from None
    if not history:
        raise Http404(f"{name} has no gate policy yet; it gets the default when first gated")
    entries = [gate_policy_as_dict(policy) for policy in history]
    return {"current": entries[0], "history": entries}


@router.get(
    "/models/{name}/gate-policy/",
    response=responses(GatePolicyHistoryOut, 404),
    auth=requires(*READ),
)
def gate_policy_get_endpoint(request: HttpRequest, name: ModelName) -> dict[str, Any]:
    """The policy in force and every earlier version."""
    return _history(name)


@router.post(
    "/models/{name}/gate-policy/",
    response=responses(GatePolicyHistoryOut, 404, status=201),
    auth=requires("registry.change_gatepolicy"),
)
def gate_policy_set_endpoint(
    request: HttpRequest, name: ModelName, payload: GatePolicyIn
) -> Status[dict[str, Any]]:
    """Record a new version of the model's gate policy; pending production
    requests gated under the previous one are superseded."""
    _history(name)
    gate_policy_set(
        model_name=name,
        text=payload.policy,
        user=caller(request),
        reason=payload.reason,
        origin=Origin.api(),
    )
    return Status(201, _history(name))
