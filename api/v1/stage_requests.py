"""Stage change requests: read, create, approve, reject and withdraw. Each
write parses its body, calls the one registry service the web page and the
commands call too (with the channel `api` on the record) and renders the
request. A request to production is gated on a worker: it answers with
status `gating`; poll GET /api/v1/stage-requests/{id}/ until it is `pending`."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from django.http import Http404, HttpRequest
from ninja import Field, Path, Query, Router
from ninja.responses import Status

from api.v1.auth import caller, requires
from api.v1.registry import StageRequestOut, StageRequestStatus
from api.v1.schemas import (
    MAX_ID,
    MAX_VERSION,
    NAME_PATTERN,
    InputSchema,
    Page,
    PageQuery,
    page_of,
    responses,
)
from mlplatform.origin import Origin
from registry.documents import stage_request_document, stage_request_item
from registry.models import StageRequest
from registry.selectors import stage_request_get, stage_requests_list
from registry.services import (
    REQUESTABLE_STAGES,
    model_version_get,
    stage_request_create,
    stage_request_decide,
    stage_request_withdraw,
)

router = Router(tags=["stage requests"])

READ = ("registry.view_modelversion", "registry.view_stagerequest")
RequestId = Annotated[int, Path(ge=1, le=MAX_ID)]


class StageRequestFilters(PageQuery):
    status: StageRequestStatus | None = None
    model: str | None = Field(None, pattern=NAME_PATTERN, description="A model name.")


if TYPE_CHECKING:  # built at run time from the requestable stages: a string to mypy
    RequestableStage: TypeAlias = str
else:
    RequestableStage = enum.StrEnum(
        "RequestableStage", {str(stage): str(stage) for stage in REQUESTABLE_STAGES}
    )
REASON = Field(min_length=1, max_length=5000, pattern=r"^[^\x00]*\S[^\x00]*$")


class StageRequestIn(InputSchema):
    model: str = Field(pattern=NAME_PATTERN)
    version: int = Field(ge=1, le=MAX_VERSION)
    to_stage: RequestableStage
    reason: str = REASON


class ReasonIn(InputSchema):
    reason: str = REASON


class ApprovalIn(ReasonIn):
    override_justification: str = Field(
        "",
        max_length=5000,
        pattern=r"^[^\x00]*$",
        description="Only to approve a request whose gate failed (needs registry.override_gate).",
    )


class StageRequestDetailOut(StageRequestOut):
    gate_report: dict[str, Any] | None = Field(description="The gate run's full report.")
    gate_baseline_version: int | None


@router.get("/stage-requests/", response=responses(Page[StageRequestOut]), auth=requires(*READ))
def stage_request_list(request: HttpRequest, filters: Query[StageRequestFilters]) -> dict[str, Any]:
    """Stage requests, newest first; ?status=pending for those awaiting a decision."""
    rows = stage_requests_list(status=filters.status or "", model_name=filters.model or "")
    return page_of(rows, filters, stage_request_item)


@router.get(
    "/stage-requests/{request_id}/",
    response=responses(StageRequestDetailOut, 404),
    auth=requires(*READ),
)
def stage_request_detail(request: HttpRequest, request_id: RequestId) -> dict[str, Any]:
    return _detail(request_id)


def _detail(request_id: int) -> dict[str, Any]:
    """The request with its gate run; 404 when there is no such request."""
    try:
        found = stage_request_get(request_id=request_id)
    except StageRequest.DoesNotExist:
        raise Http404(f"there is no stage request #{request_id}") from None
    return stage_request_document(found)


@router.post(
    "/stage-requests/",
    response=responses(StageRequestDetailOut, 404, status=201),
    auth=requires("registry.request_stage_change"),
)
def stage_request_create_endpoint(
    request: HttpRequest, payload: StageRequestIn
) -> Status[dict[str, Any]]:
    """Ask for a stage change. A request to production answers `gating` at
    once: a worker runs the regression gate, and the request becomes
    `pending` with its report."""
    version = model_version_get(model_name=payload.model, version=payload.version)
    created = stage_request_create(
        model_version=version,
        to_stage=str(payload.to_stage),
        user=caller(request),
        reason=payload.reason,
        origin=Origin.api(),
        gate_in_background=True,
    )
    return Status(201, _detail(created.pk))


@router.post(
    "/stage-requests/{request_id}/approve/",
    response=responses(StageRequestDetailOut, 404, 409),
    auth=requires("registry.approve_stage_change"),
)
def stage_request_approve_endpoint(
    request: HttpRequest, request_id: RequestId, payload: ApprovalIn
) -> dict[str, Any]:
    """Approve (and apply) a pending request; nobody approves their own. The
    candidate's artifact and the production version it was gated against are
    verified again first (409 approval_refused if either changed)."""
    _detail(request_id)
    stage_request_decide(
        request_id=request_id,
        user=caller(request),
        approve=True,
        reason=payload.reason,
        override_justification=payload.override_justification,
        origin=Origin.api(),
    )
    return _detail(request_id)


@router.post(
    "/stage-requests/{request_id}/reject/",
    response=responses(StageRequestDetailOut, 404, 409),
    auth=requires("registry.approve_stage_change"),
)
def stage_request_reject_endpoint(
    request: HttpRequest, request_id: RequestId, payload: ReasonIn
) -> dict[str, Any]:
    _detail(request_id)
    stage_request_decide(
        request_id=request_id,
        user=caller(request),
        approve=False,
        reason=payload.reason,
        origin=Origin.api(),
    )
    return _detail(request_id)


@router.post(
    "/stage-requests/{request_id}/withdraw/",
    response=responses(StageRequestDetailOut, 404, 409),
    auth=requires("registry.request_stage_change"),
)
def stage_request_withdraw_endpoint(
    request: HttpRequest, request_id: RequestId, payload: ReasonIn
) -> dict[str, Any]:
    """The requester takes back their own open request."""
    _detail(request_id)
    stage_request_withdraw(
        request_id=request_id, user=caller(request), reason=payload.reason, origin=Origin.api()
    )
    return _detail(request_id)
