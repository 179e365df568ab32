"""The regression gate of an experiment against its model's production
version, under the model's gate policy.

gate_compute does the heavy part (loading the production model and the data,
scoring, bootstrapping) outside any database transaction and returns a
GateRun that names everything the outcome relied on; gate_record writes it in
the caller's short transaction after gate_run_stale_reason has checked that
none of it changed meanwhile.

The gate compares on rows neither model trained on: the candidate's holdout
minus every row the production model was trained on, by row identity
(datasets.identity), so that a different split seed or a newer version of
the same data set cannot let production be re-scored on rows it has seen.
Same data set version and split: nothing is excluded. A different data set,
target or set of feature columns: "not comparable", which fails a promotion
closed (only an override with a justification passes it); a registration is
then judged on the policy's absolute floors alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError

from datasets.services import dataset_version_load, dataset_version_row_identities
from experiments.artifacts import ArtifactIntegrityError, artifact_read
from experiments.models import Experiment, Status
from registry.history_chain import history_append
from registry.models import GateEvaluation, GatePolicy, ModelVersion, RegisteredModel, Stage
from registry.services.policies import gate_policy_current, gate_policy_spec

NOT_COMPARABLE = "not comparable"


def production_version(registered_model: RegisteredModel) -> ModelVersion | None:
    return (
        ModelVersion.objects.select_related("experiment__dataset_version__dataset")
        .filter(registered_model=registered_model, stage=Stage.PRODUCTION)
        .first()
    )


def verified_model(version: ModelVersion) -> Any:
    """The version's fitted model, refused if its bytes changed since training
    (ArtifactIntegrityError) or hold types the engine never produces
    (UnsafeArtifactError)."""
    from experiments.model_format import model_from_bytes

    experiment = version.experiment
    if experiment.artifact_sha256 != version.artifact_sha256:
        raise ArtifactIntegrityError(
            f"{version}: the experiment's artifact digest differs from the registered one"
        )
    data = artifact_read(path=experiment.artifact_path, sha256=version.artifact_sha256)
    return model_from_bytes(data)


@dataclass(frozen=True)
class GateRun:
    """A computed gate and what its outcome relied on."""

    candidate: Experiment
    registered_model: RegisteredModel
    purpose: str
    policy: GatePolicy
    production: ModelVersion | None
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])


def gate_compute(
    *, candidate: Experiment, registered_model: RegisteredModel, purpose: str
) -> GateRun:
    """Run the gate of a COMPLETED experiment against the model's current
    production version. Heavy; holds no transaction. Every problem (a
    loosening config, unloadable artifacts, missing data) is a failed report."""
    if candidate.status != Status.COMPLETED:
        raise ValidationError(
            f"experiment #{candidate.pk} is {candidate.status.upper()}; "
            "only a COMPLETED experiment can be gated"
        )
    policy = gate_policy_current(registered_model=registered_model)
    production = production_version(registered_model)
    report = _gate_report(candidate, production, policy, purpose)
    return GateRun(candidate, registered_model, purpose, policy, production, report)


def gate_run_stale_reason(run: GateRun) -> str | None:
    """Why the run no longer describes the present (production, policy or an
    artifact changed since it was computed), or None. Call it inside the
    transaction that records the run, after locking the model row."""
    production = production_version(run.registered_model)
    if _pk(production) != _pk(run.production):
        return f"the production version of {run.registered_model} changed while gating"
    if gate_policy_current(registered_model=run.registered_model).pk != run.policy.pk:
        return f"the gate policy of {run.registered_model} changed while gating"
    candidate_digest = (
        Experiment.objects.filter(pk=run.candidate.pk).values_list("artifact_sha256", flat=True)
    ).first()
    if candidate_digest != run.candidate.artifact_sha256:
        return f"the artifact of experiment #{run.candidate.pk} changed while gating"
    return None


def _pk(version: ModelVersion | None) -> int | None:
    return version.pk if version is not None else None


def gate_record(run: GateRun) -> GateEvaluation:
    return history_append(
        GateEvaluation,
        registered_model=run.registered_model,
        candidate=run.candidate,
        baseline_version=run.production,
        policy=run.policy,
        purpose=run.purpose,
        passed=run.passed,
        report=run.report,
    )


# ----------------------------------------------------------------- the report


@dataclass(frozen=True)
class _Data:
    """One side of the comparison: its data set version and split."""

    experiment: Experiment

    @property
    def version(self) -> Any:
        return self.experiment.dataset_version

    @property
    def split(self) -> dict[str, Any]:
        split = self.experiment.config.get("split", {})
        return {"test_size": split.get("test_size"), "seed": split.get("seed")}

    def describe(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment.pk,
            "dataset": self.version.label,
            "target": self.version.target,
            "split": self.split,
        }


def _gate_report(
    candidate: Experiment,
    production: ModelVersion | None,
    policy: GatePolicy,
    purpose: str,
) -> dict[str, Any]:
    context = _context(candidate, production, policy)
    try:
        return {**_judge(candidate, production, policy, purpose, context), **context}
    except _Refusal as refusal:
        return {**_failed_report(str(refusal), refusal.holdout_rows, refusal.error), **context}


class _Refusal(Exception):
    """The gate cannot judge. error=True: through no fault of the candidate (an
    unusable production artifact, a missing data file), so a registration
    records an error to retry rather than a failed gate."""

    def __init__(self, reason: str, holdout_rows: int | None = None, *, error: bool = False):
        super().__init__(reason)
        self.holdout_rows = holdout_rows
        self.error = error


def _context(
    candidate: Experiment, production: ModelVersion | None, policy: GatePolicy
) -> dict[str, Any]:
    return {
        "policy_model": policy.registered_model.name,
        "policy_version": policy.version,
        "candidate": {"experiment_id": candidate.pk, "name": candidate.name},
        "candidate_data": _Data(candidate).describe(),
        "production": (
            {"version": production.version, "experiment_id": production.experiment_id}
            if production is not None
            else None
        ),
        "production_data": _Data(production.experiment).describe() if production else None,
    }


def _judge(
    candidate: Experiment,
    production: ModelVersion | None,
    policy: GatePolicy,
    purpose: str,
    context: dict[str, Any],
) -> dict[str, Any]:
    from experiments import training
    from experiments.configs import ConfigError, parse_config
    from registry import gate
    from registry.gate.policy import apply_request

    try:
        config = parse_config(candidate.config_text)
        spec = gate_policy_spec(policy)
    except ConfigError as error:
        raise _Refusal(f"the candidate's config no longer parses: {error}") from None
    except ValidationError as error:
        raise _Refusal("; ".join(error.messages)) from None
    applied = apply_request(spec, config.gate)
    label = f"the gate policy of {policy.registered_model.name} (v{policy.version})"
    if applied.loosenings:
        raise _Refusal(
            f"the candidate's config loosens {label}, which decides: "
            + "; ".join(applied.loosenings)
        )
    holdout = training.holdout_from_bytes(_stored_holdout(candidate))
    rows = _comparable_rows(candidate, production, holdout)
    production_scores, production_threshold = None, None
    if production is not None and rows.comparable:
        production_scores = _production_scores(production, candidate, holdout, rows.kept)
        production_threshold = float(production.experiment.config.get("threshold", 0.5))
    elif production is not None and purpose == GateEvaluation.Purpose.PROMOTION:
        raise _Refusal(
            f"{NOT_COMPARABLE} with production {production}: {rows.why_not}; a promotion "
            "passes only by an override with a justification",
            holdout_rows=len(holdout.y_true),
        )
    try:
        report = gate.run_gate(
            y_true=holdout.y_true[rows.kept],
            candidate_scores=holdout.y_score[rows.kept],
            production_scores=production_scores,
            spec=applied.spec,
            candidate_threshold=config.threshold,
            production_threshold=production_threshold,
            excluded_rows=rows.excluded,
            not_comparable=(
                f"production {production}: {rows.why_not}" if not rows.comparable else None
            ),
        )
    except gate.GateError as error:
        raise _Refusal(str(error), holdout_rows=len(holdout.y_true)) from None
    report.update(
        policy=applied.spec.to_dict(),
        tightenings=applied.tightenings,
        comparable=rows.comparable,
        excluded_rows=rows.excluded,
        candidate_holdout_rows=len(holdout.y_true),
    )
    return report


@dataclass(frozen=True)
class _Rows:
    kept: np.ndarray  # boolean mask over the candidate's holdout
    excluded: int
    comparable: bool = True
    why_not: str = ""


def _comparable_rows(candidate: Experiment, production: ModelVersion | None, holdout: Any) -> _Rows:
    everything = np.ones(len(holdout.y_true), dtype=bool)
    if production is None:
        return _Rows(kept=everything, excluded=0)
    ours, theirs = _Data(candidate), _Data(production.experiment)
    why_not = _incomparable(ours, theirs)
    if why_not:
        return _Rows(kept=everything, excluded=0, comparable=False, why_not=why_not)
    if ours.version.pk == theirs.version.pk and ours.split == theirs.split:
        return _Rows(kept=everything, excluded=0)  # both trained on exactly the same rows
    try:
        seen = _rows_production_trained_on(production, holdout, ours)
    except ValidationError as error:
        raise _Refusal("; ".join(error.messages), len(holdout.y_true), error=True) from None
    return _Rows(kept=~seen, excluded=int(seen.sum()))


def _incomparable(ours: _Data, theirs: _Data) -> str:
    if ours.version.dataset.name != theirs.version.dataset.name:
        return (
            f"the candidate was evaluated on {ours.version.label}, production on "
            f"{theirs.version.label}: a different data set"
        )
    if ours.version.target != theirs.version.target:
        return f"different targets ({ours.version.target} vs {theirs.version.target})"
    our_columns = set(ours.experiment.feature_columns)
    their_columns = set(theirs.experiment.feature_columns)
    if our_columns != their_columns:
        only_ours = sorted(our_columns - their_columns)[:5]
        only_theirs = sorted(their_columns - our_columns)[:5]
        return (
            "different feature columns (only the candidate's: "
            f"{', '.join(only_ours) or 'none'}; only production's: "
            f"{', '.join(only_theirs) or 'none'})"
        )
    return ""


def _stored_holdout(experiment: Experiment) -> bytes:
    """The holdout a COMPLETED experiment stored (the column is NULL before)."""
    if experiment.holdout is None:
        raise ValueError(f"experiment #{experiment.pk} has no stored holdout")
    return bytes(experiment.holdout)


def _rows_production_trained_on(production: ModelVersion, holdout: Any, ours: _Data) -> np.ndarray:
    """A mask over the candidate's holdout: rows whose identity is among the
    rows the production model was trained on."""
    from experiments import training

    their_version = production.experiment.dataset_version
    their_holdout = training.holdout_from_bytes(_stored_holdout(production.experiment))
    their_training = their_holdout.training_rows(their_version.row_count)
    their_identities = dataset_version_row_identities(version=their_version)[their_training]
    our_identities = dataset_version_row_identities(version=ours.version)[holdout.row_ids]
    return np.isin(our_identities, their_identities)


def _production_scores(
    production: ModelVersion, candidate: Experiment, holdout: Any, kept: np.ndarray
) -> Any:
    """Re-score the production model on the candidate's kept holdout rows."""
    from experiments import training
    from experiments.model_format import UnsafeArtifactError

    try:
        model = verified_model(production)
        frame = dataset_version_load(version=candidate.dataset_version)
        rows = frame.iloc[holdout.row_ids[kept]].reset_index(drop=True)
        return training.predict_scores(model, rows, list(production.experiment.feature_columns))
    except (
        training.FeatureMismatchError,
        UnsafeArtifactError,
        ArtifactIntegrityError,
        ValidationError,
    ) as error:
        reason = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        raise _Refusal(
            f"production {production}: {reason}", len(holdout.y_true), error=True
        ) from None


def _failed_report(reason: str, holdout_rows: int | None, error: bool) -> dict[str, Any]:
    return {
        "passed": False,
        "error": error,
        "summary": f"{'Gate error' if error else 'Gate refused'}: {reason}",
        "reasons": [reason],
        "comparison": "not run",
        "metrics": [],
        "holdout_rows": None,
        "candidate_holdout_rows": holdout_rows,
        "excluded_rows": None,
    }


def gate_error_record(
    *, candidate: Experiment, registered_model: RegisteredModel, purpose: str, reason: str
) -> GateEvaluation:
    """Record a gate that could not run to its end, as a failed gate."""
    production = production_version(registered_model)
    policy = gate_policy_current(registered_model=registered_model)
    report = {
        **_failed_report(reason, None, error=True),
        **_context(candidate, production, policy),
    }
    return history_append(
        GateEvaluation,
        registered_model=registered_model,
        candidate=candidate,
        baseline_version=production,
        policy=policy,
        purpose=purpose,
        passed=False,
        report=report,
    )
