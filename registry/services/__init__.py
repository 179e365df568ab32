"""Every write to the registry: gate runs, registration, stage requests and
their decisions. History rows are only ever inserted.

Layout: gate_runs.py runs and records the regression gate, registration.py
registers gated experiments as model versions, policies.py holds the
models' gate policies, locks.py the per-model lock, stage_requests.py holds stage
change requests and their decisions, artifacts.py hands out verified model
files, accounts.py the local demo accounts.
"""

from __future__ import annotations

from registry.services.accounts import role_user_ensure
from registry.services.artifacts import model_version_artifact_open
from registry.services.gate_runs import gate_compute, gate_record, verified_model
from registry.services.policies import (
    gate_policy_current,
    gate_policy_set,
    gate_request_check,
    registered_model_ensure,
)
from registry.services.registration import (
    experiment_run_and_register,
    model_version_register,
    registration_by_hand,
    registration_claim,
    registration_record_error,
    registration_retry,
)
from registry.services.stage_requests import (
    REQUESTABLE_STAGES,
    ApprovalRefused,
    PromotionConflict,
    model_version_get,
    requests_supersede_stale,
    stage_request_create,
    stage_request_decide,
    stage_request_gate,
    stage_request_gate_failed,
    stage_request_withdraw,
)

__all__ = [
    "REQUESTABLE_STAGES",
    "ApprovalRefused",
    "PromotionConflict",
    "experiment_run_and_register",
    "gate_compute",
    "gate_policy_current",
    "gate_policy_set",
    "gate_record",
    "gate_request_check",
    "model_version_artifact_open",
    "model_version_get",
    "model_version_register",
    "registered_model_ensure",
    "registration_by_hand",
    "registration_claim",
    "registration_record_error",
    "registration_retry",
    "requests_supersede_stale",
    "role_user_ensure",
    "stage_request_create",
    "stage_request_decide",
    "stage_request_gate",
    "stage_request_gate_failed",
    "stage_request_withdraw",
    "verified_model",
]
