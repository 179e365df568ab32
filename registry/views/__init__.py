"""Registry pages: models, a version with its history and gate reports, stage
requests and decisions, and the verified artifact download."""

from registry.views.pages import model_detail, registry_index, version_detail
from registry.views.stages import artifact_download, stage_request_decide_view, stage_request_new

__all__ = [
    "artifact_download",
    "model_detail",
    "registry_index",
    "stage_request_decide_view",
    "stage_request_new",
    "version_detail",
]
