"""Registry pages: models, a version with its history and gate reports, stage
requests and decisions, and the verified artifact download."""

from registry.views.pages import model_detail, registry_index, version_detail
from registry.views.stages import (
    artifact_download,
    experiment_register_again,
    stage_request_decide_view,
    stage_request_new,
    stage_request_status,
    stage_request_withdraw_view,
)

__all__ = [
    "artifact_download",
    "experiment_register_again",
    "model_detail",
    "registry_index",
    "stage_request_decide_view",
    "stage_request_new",
    "stage_request_status",
    "stage_request_withdraw_view",
    "version_detail",
]
