"""Every write to the registry: gate runs, registration, stage requests and
their decisions. History rows are only ever inserted.

Layout: gate_runs.py runs and records the regression gate, registration.py
registers gated experiments as model versions, stage_requests.py holds stage
change requests and their decisions, artifacts.py hands out verified model
files, accounts.py the local demo accounts.
"""

from __future__ import annotations

from registry.services.accounts import role_user_ensure
from registry.services.artifacts import model_version_artifact_open
from registry.services.gate_runs import gate_evaluate, verified_model
from registry.services.registration import experiment_run_and_register, model_version_register
from registry.services.stage_requests import (
    REQUESTABLE_STAGES,
    PromotionConflict,
    model_version_get,
    stage_request_create,
    stage_request_decide,
)

__all__ = [
    "REQUESTABLE_STAGES",
    "PromotionConflict",
    "experiment_run_and_register",
    "gate_evaluate",
    "model_version_artifact_open",
    "model_version_get",
    "model_version_register",
    "role_user_ensure",
    "stage_request_create",
    "stage_request_decide",
    "verified_model",
]
