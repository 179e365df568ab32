"""Stage change requests, read. (Creating and deciding them arrives with the
registry's new request services: each will be a thin operation here that
parses, calls one service and renders with stage_request_json.)"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import Http404, HttpRequest
from ninja import Field, Path, Query, Router

from api.v1.auth import requires
from api.v1.registry import StageRequestOut, StageRequestStatus, stage_request_json
from api.v1.schemas import MAX_ID, NAME_PATTERN, Page, PageQuery, page_of, responses
from registry.models import StageRequest
from registry.selectors import stage_request_get, stage_requests_list

router = Router(tags=["stage requests"])

READ = ("registry.view_modelversion", "registry.view_stagerequest")
RequestId = Annotated[int, Path(ge=1, le=MAX_ID)]


class StageRequestFilters(PageQuery):
    status: StageRequestStatus | None = None
    model: str | None = Field(None, pattern=NAME_PATTERN, description="A model name.")


class StageRequestDetailOut(StageRequestOut):
    gate_report: dict[str, Any] | None = Field(description="The gate run's full report.")
    gate_baseline_version: int | None


@router.get("/stage-requests/", response=responses(Page[StageRequestOut]), auth=requires(*READ))
def stage_request_list(request: HttpRequest, filters: Query[StageRequestFilters]) -> dict[str, Any]:
    """Stage requests, newest first; ?status=pending for those awaiting a decision."""
    rows = stage_requests_list(status=filters.status or "", model_name=filters.model or "")
    return page_of(rows, filters, stage_request_json)


@router.get(
    "/stage-requests/{request_id}/",
    response=responses(StageRequestDetailOut, 404),
    auth=requires(*READ),
)
def stage_request_detail(request: HttpRequest, request_id: RequestId) -> dict[str, Any]:
    try:
        found = stage_request_get(request_id=request_id)
    except StageRequest.DoesNotExist:
        raise Http404(f"there is no stage request #{request_id}") from None
    gate = found.gate
    return {
        **stage_request_json(found),
        "gate_report": gate.report if gate is not None else None,
        "gate_baseline_version": (
            gate.baseline_version.version if gate is not None and gate.baseline_version else None
        ),
    }
