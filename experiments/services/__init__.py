"""Every write to an experiment. Status changes are claims: conditional
updates whose row count says whether this caller won the transition.

Layout: lifecycle.py records experiments and holds the status claims,
execution.py trains a claimed experiment, submission.py queues and cancels
jobs, reconcile.py makes the database and the queue agree, preferences.py
keeps each user's choice of list columns.
"""

from __future__ import annotations

from experiments.services.execution import (
    ExperimentStateError,
    ProgressCallback,
    experiment_execute,
    failure_message,
)
from experiments.services.lifecycle import (
    config_parse_or_invalid,
    dataset_version_for_config,
    experiment_complete,
    experiment_create,
    experiment_fail,
    experiment_fail_dead_holder,
    experiment_fail_running,
    experiment_heartbeat,
    experiment_set_phase,
    experiment_set_progress,
    experiment_start,
)
from experiments.services.preferences import (
    experiment_list_columns_reset,
    experiment_list_columns_set,
)
from experiments.services.reconcile import Reconciliation, experiment_reconcile
from experiments.services.submission import (
    Submission,
    experiment_cancel,
    experiment_enqueue,
    experiment_submit,
)

__all__ = [
    "ExperimentStateError",
    "ProgressCallback",
    "Reconciliation",
    "Submission",
    "config_parse_or_invalid",
    "dataset_version_for_config",
    "experiment_cancel",
    "experiment_complete",
    "experiment_create",
    "experiment_enqueue",
    "experiment_execute",
    "experiment_fail",
    "experiment_fail_dead_holder",
    "experiment_fail_running",
    "experiment_heartbeat",
    "experiment_list_columns_reset",
    "experiment_list_columns_set",
    "experiment_reconcile",
    "experiment_set_phase",
    "experiment_set_progress",
    "experiment_start",
    "experiment_submit",
    "failure_message",
]
