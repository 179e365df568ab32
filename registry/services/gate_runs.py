"""gate_evaluate: run the regression gate of an experiment against the
production version and record the outcome."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from datasets.services import dataset_version_load
from experiments import training
from experiments.artifacts import ArtifactIntegrityError, artifact_read
from experiments.configs import parse_config
from experiments.models import Experiment, Status
from registry import gate
from registry.models import GateEvaluation, ModelVersion, RegisteredModel, Stage


def production_version(registered_model: RegisteredModel) -> ModelVersion | None:
    return (
        ModelVersion.objects.select_related("experiment__dataset_version__dataset")
        .filter(registered_model=registered_model, stage=Stage.PRODUCTION)
        .first()
    )


def verified_model(version: ModelVersion) -> Any:
    """The version's fitted model, refused if its bytes changed since training."""
    experiment = version.experiment
    if experiment.artifact_sha256 != version.artifact_sha256:
        raise ArtifactIntegrityError(
            f"{version}: the experiment's artifact digest differs from the registered one"
        )
    data = artifact_read(path=experiment.artifact_path, sha256=version.artifact_sha256)
    return training.model_from_bytes(data)


def _production_scores(
    production: ModelVersion, candidate: Experiment, holdout: training.Holdout
) -> Any:
    """Re-score the production model on exactly the candidate's holdout rows."""
    model = verified_model(production)
    frame = dataset_version_load(version=candidate.dataset_version)
    rows = frame.iloc[holdout.row_ids].reset_index(drop=True)
    return training.predict_scores(model, rows, list(production.experiment.feature_columns))


def _failed_report(reason: str, holdout: training.Holdout | None) -> dict[str, Any]:
    return {
        "passed": False,
        "summary": f"Gate error: {reason}",
        "reasons": [reason],
        "comparison": "not run",
        "metrics": [],
        "holdout_rows": len(holdout.y_true) if holdout is not None else None,
        "holdout_positives": int(holdout.y_true.sum()) if holdout is not None else None,
    }


def _gate_report(candidate: Experiment, production: ModelVersion | None) -> dict[str, Any]:
    config = parse_config(candidate.config_text)
    holdout = training.holdout_from_bytes(bytes(candidate.holdout))
    production_scores = None
    production_threshold = None
    if production is not None:
        try:
            production_scores = _production_scores(production, candidate, holdout)
        except (training.FeatureMismatchError, ArtifactIntegrityError, ValidationError) as error:
            reason = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            return _failed_report(f"production {production}: {reason}", holdout)
        production_threshold = float(production.experiment.config.get("threshold", 0.5))
    try:
        report = gate.run_gate(
            y_true=holdout.y_true,
            candidate_scores=holdout.y_score,
            production_scores=production_scores,
            spec=config.gate,
            candidate_threshold=config.threshold,
            production_threshold=production_threshold,
        )
    except gate.GateError as error:
        return _failed_report(str(error), holdout)
    report["candidate"] = {"experiment_id": candidate.pk, "name": candidate.name}
    report["production"] = (
        {"version": production.version, "experiment_id": production.experiment_id}
        if production is not None
        else None
    )
    return report


def gate_evaluate(
    *, candidate: Experiment, registered_model: RegisteredModel, purpose: str
) -> GateEvaluation:
    """Run the regression gate of a COMPLETED experiment against the model's
    current production version and record the outcome, pass or fail."""
    if candidate.status != Status.COMPLETED:
        raise ValidationError(
            f"experiment #{candidate.pk} is {candidate.status.upper()}; "
            "only a COMPLETED experiment can be gated"
        )
    production = production_version(registered_model)
    report = _gate_report(candidate, production)
    return GateEvaluation.objects.create(
        registered_model=registered_model,
        candidate=candidate,
        baseline_version=production,
        purpose=purpose,
        passed=bool(report["passed"]),
        report=report,
    )
