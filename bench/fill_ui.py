"""Fill a scratch database with experiments, metrics and registry history, for ui_bench.py.

    .venv/bin/python bench/fill_ui.py --database-url sqlite:////tmp/ui.sqlite3 \
        [--experiments 10000] [--metrics 1000000]

Migrates the database, then tops it up to --experiments experiments and
about --metrics metric rows (running it again with larger numbers adds the
difference). The rows look like the platform's own: 85% COMPLETED with the
engine's 16-17 scalar metrics, PR and ROC curves of 300 points and, for
gradient boosting, a stepped validation_loss series (up to 200 steps, as many
as it takes to reach --metrics); FAILED ones with a traceback; a few RUNNING,
CREATED and CANCELLED. Three registered models with versions in every
stage, their gate reports (computed by the real gate), stage history and
pending requests. One user, `bench_admin`, holds every role (viewer,
experimenter, approver). The database named must be a scratch one: rows are
written straight through the ORM, never through the services.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BENCH_USER = "bench_admin"
STATUS_MIX = {
    "completed": 0.85,
    "failed": 0.08,
    "cancelled": 0.03,
    "running": 0.02,
    "created": 0.02,
}
MODEL_MIX = {"logistic_regression": 0.25, "random_forest": 0.2, "hist_gradient_boosting": 0.55}
CONFIG_FILES = {
    "logistic_regression": "fraud_baseline.yaml",
    "random_forest": "fraud_random_forest.yaml",
    "hist_gradient_boosting": "fraud_hgb.yaml",
}
MODEL_NAMES = ("fraud_detector", "fraud_detector_hgb", "chargeback_detector")
DATASETS = (("credit_card_fraud", "v1"), ("credit_card_fraud", "v2"), ("chargebacks", "v1"))
MAX_STEPS = 200
CURVE_POINTS = 300
CHUNK = 1000
SCALAR_NAMES = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss",
    "tn", "fp", "fn", "tp", "holdout_rows", "holdout_positives", "train_rows",
    "fit_time_seconds", "predict_time_seconds",
)  # fmt: skip


@dataclass
class Fixtures:
    """What every experiment row shares: user, dataset versions, configs, curves."""

    user: Any
    versions: list[Any]
    configs: dict[str, tuple[str, dict[str, Any]]]
    curves: dict[str, Any]
    now: datetime.datetime


def fill(*, experiments: int, metrics: int, seed: int = 0) -> dict[str, int]:
    """Top the database up to `experiments` experiments and about `metrics`
    metric rows; returns the counts afterwards. Needs django.setup()."""
    from experiments.models import Experiment, Metric

    fixtures = _fixtures()
    existing = Experiment.objects.count()
    wanted = max(0, experiments - existing)
    rng = np.random.default_rng(seed + existing)
    metric_budget = max(0, metrics - Metric.objects.count())
    with _created_at_settable():
        for start in range(0, wanted, CHUNK):
            size = min(CHUNK, wanted - start)
            share = metric_budget * size // max(wanted, 1)
            _fill_chunk(fixtures, rng, first_index=existing + start, size=size, metrics=share)
        _fill_registry(fixtures, rng, versions_per_model=max(5, min(50, experiments // 200)))
    return {"experiments": Experiment.objects.count(), "metrics": Metric.objects.count()}


def _fixtures() -> Fixtures:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from datasets.models import Dataset, DatasetVersion
    from experiments.configs import parse_config
    from registry.roles import ROLES, roles_ensure

    roles_ensure()
    user, _ = User.objects.get_or_create(username=BENCH_USER)
    user.groups.set(Group.objects.filter(name__in=ROLES))
    versions = []
    for name, version in DATASETS:
        dataset, _ = Dataset.objects.get_or_create(name=name)
        row, _ = DatasetVersion.objects.get_or_create(
            dataset=dataset, version=version, defaults=_dataset_version_fields(name, version)
        )
        versions.append(row)
    root = Path(__file__).resolve().parents[1] / "configs"
    configs = {}
    for model_type, filename in CONFIG_FILES.items():
        text = (root / filename).read_text()
        configs[model_type] = (text, parse_config(text).to_dict())
    return Fixtures(user, versions, configs, _curves(), timezone.now())


def _dataset_version_fields(name: str, version: str) -> dict[str, Any]:
    columns = [{"name": f"V{i}", "dtype": "float64"} for i in range(1, 29)]
    return {
        "path": f"versions/{version}/{name}.csv",
        "sha256": hashlib.sha256(f"{name}:{version}".encode()).hexdigest(),
        "size_bytes": 143_805_570,
        "row_count": 284_807,
        "columns": [
            {"name": "Time", "dtype": "float64"},
            *columns,
            {"name": "Class", "dtype": "int64"},
        ],
        "target": "Class",
        "class_counts": {"0": 284_315, "1": 492},
        "registered_by_name": "bench",
    }


def _curves() -> dict[str, Any]:
    """PR and ROC curves of CURVE_POINTS points, the size the engine stores."""
    x = np.linspace(0.0, 1.0, CURVE_POINTS)
    thresholds = np.linspace(1.0, 0.0, CURVE_POINTS)
    precision = 1.0 - 0.8 * x**2
    return {
        "pr": {
            "precision": precision.tolist(),
            "recall": x.tolist(),
            "threshold": thresholds.tolist(),
        },
        "roc": {"fpr": x.tolist(), "tpr": np.sqrt(x).tolist(), "threshold": thresholds.tolist()},
    }


class _created_at_settable:
    """Let bulk_create keep the created_at values given (auto_now_add would
    stamp every row with the same moment), for the duration of a fill."""

    def __enter__(self) -> None:
        from experiments.models import Experiment
        from registry.models import GateEvaluation, ModelVersion, StageRequest, StageTransition

        self.fields = [
            Experiment._meta.get_field("created_at"),
            ModelVersion._meta.get_field("created_at"),
            GateEvaluation._meta.get_field("created_at"),
            StageRequest._meta.get_field("requested_at"),
            StageTransition._meta.get_field("created_at"),
        ]
        for field in self.fields:
            field.auto_now_add = False

    def __exit__(self, *exc: object) -> None:
        for field in self.fields:
            field.auto_now_add = True


def _choice(rng: np.random.Generator, mix: dict[str, float], size: int) -> list[str]:
    return list(rng.choice(list(mix), size=size, p=list(mix.values())))


def _fill_chunk(
    fixtures: Fixtures, rng: np.random.Generator, *, first_index: int, size: int, metrics: int
) -> None:
    from django.db import transaction

    from experiments.models import Experiment, Metric

    statuses = _choice(rng, STATUS_MIX, size)
    model_types = _choice(rng, MODEL_MIX, size)
    rows = [
        _experiment(fixtures, rng, index=first_index + offset, status=status, model_type=model)
        for offset, (status, model) in enumerate(zip(statuses, model_types, strict=True))
    ]
    with transaction.atomic():
        created = Experiment.objects.bulk_create(rows, batch_size=500)
        Metric.objects.bulk_create(_metrics(created, rng, metrics), batch_size=5000)


def _experiment(
    fixtures: Fixtures, rng: np.random.Generator, *, index: int, status: str, model_type: str
) -> Any:
    from experiments.models import Experiment

    text, config = fixtures.configs[model_type]
    name = f"{config['experiment_name']}_{index:05d}"
    config = copy.deepcopy(config)
    config["experiment_name"] = name
    created = fixtures.now - datetime.timedelta(minutes=30 * (100_000 - index))
    started = created + datetime.timedelta(seconds=5) if status != "created" else None
    finished = (
        started + datetime.timedelta(seconds=40)
        if started is not None and status in ("completed", "failed", "cancelled")
        else None
    )
    completed = status == "completed"
    return Experiment(
        name=name,
        config_text=text.replace(
            f"experiment_name: {config['experiment_name'][:-6]}", f"experiment_name: {name}", 1
        ),
        config=config,
        config_sha256=hashlib.sha256(f"{index}".encode()).hexdigest(),
        dataset_version=fixtures.versions[index % len(fixtures.versions)],
        model_type=model_type,
        status=status,
        phase="fitting" if status == "running" else ("queued" if status == "created" else ""),
        source="web" if index % 3 else "cli",
        created_by=fixtures.user,
        created_by_name=BENCH_USER,
        created_at=created,
        started_at=started,
        finished_at=finished,
        heartbeat_at=started,
        error_message="ValueError: the model could not be fitted" if status == "failed" else "",
        traceback="Traceback (most recent call last):\n" + "  File ...\n" * 40
        if status == "failed"
        else "",
        job_id=f"experiment-{index}",
        worker_name="bench-worker-1",
        environment={"python": "3.11.7", "scikit_learn": "1.9.1", "hostname": "bench"},
        target="Class",
        feature_columns=[f"V{i}" for i in range(1, 29)] if completed else [],
        artifact_path=f"experiments/{index}/model.skops" if completed else "",
        artifact_sha256=hashlib.sha256(f"model{index}".encode()).hexdigest() if completed else "",
        artifact_size=120_000 if completed else None,
        curves=fixtures.curves if completed else {},
        holdout_sha256="",
    )


def _metrics(experiments: list[Any], rng: np.random.Generator, budget: int) -> list[Any]:
    """The engine's scalar metrics for each COMPLETED experiment, then stepped
    validation_loss series for the boosted ones with what is left of the budget."""
    from experiments.models import Metric

    completed = [e for e in experiments if e.status == "completed"]
    rows = []
    for experiment in completed:
        quality = rng.uniform(0.3, 0.95)
        values = dict(zip(SCALAR_NAMES, rng.uniform(0, 1, len(SCALAR_NAMES)), strict=True))
        values.update(average_precision=quality, roc_auc=0.5 + quality / 2, f1=quality * 0.8)
        if experiment.model_type != "random_forest":
            values["n_iter"] = 200.0
        rows += [Metric(experiment=experiment, name=n, value=float(v)) for n, v in values.items()]
    boosted = [e for e in completed if e.model_type == "hist_gradient_boosting"]
    left = max(0, budget - len(rows))
    for position, experiment in enumerate(boosted):
        steps = min(MAX_STEPS, left // len(boosted) + (position < left % len(boosted)))
        losses = 0.05 + 0.5 * np.exp(-np.arange(steps) / 30.0)
        rows += [
            Metric(experiment=experiment, name="validation_loss", value=float(loss), step=step)
            for step, loss in enumerate(losses, start=1)
        ]
    return rows


def _fill_registry(
    fixtures: Fixtures, rng: np.random.Generator, *, versions_per_model: int
) -> None:
    """Registered models with versions_per_model versions each (added to what is there)."""
    from django.db import transaction

    from experiments.models import Experiment
    from registry.models import ModelVersion, RegisteredModel

    report = _gate_report()
    taken = ModelVersion.objects.values_list("experiment_id", flat=True)
    free = list(
        Experiment.objects.filter(status="completed").exclude(pk__in=taken).order_by("pk")
        .values_list("pk", flat=True)[: versions_per_model * len(MODEL_NAMES)]
    )  # fmt: skip
    with transaction.atomic():
        for position, name in enumerate(MODEL_NAMES):
            model, _ = RegisteredModel.objects.get_or_create(name=name)
            have = model.versions.count()
            ids = free[position :: len(MODEL_NAMES)][: max(0, versions_per_model - have)]
            if ids:
                _versions(fixtures, model, ids, first=have + 1, report=report)


def _versions(
    fixtures: Fixtures,
    model: Any,
    experiment_ids: list[int],
    *,
    first: int,
    report: dict[str, Any],
) -> None:
    from registry.models import GateEvaluation, ModelVersion, Stage, StageRequest, StageTransition

    ModelVersion.objects.filter(registered_model=model, stage=Stage.PRODUCTION).update(
        stage=Stage.ARCHIVED
    )
    ModelVersion.objects.filter(registered_model=model, stage=Stage.STAGING).update(
        stage=Stage.ARCHIVED
    )
    when = fixtures.now - datetime.timedelta(days=1)
    last = len(experiment_ids) - 1
    for offset, experiment_id in enumerate(experiment_ids):
        stage = (
            Stage.PRODUCTION
            if offset == last - 1
            else Stage.STAGING
            if offset >= last - 1
            else Stage.ARCHIVED
        )
        gate = GateEvaluation.objects.create(
            registered_model=model, candidate_id=experiment_id, purpose="registration",
            passed=True, report=report, created_at=when,
        )  # fmt: skip
        version = ModelVersion.objects.create(
            registered_model=model, version=first + offset, experiment_id=experiment_id,
            artifact_sha256=hashlib.sha256(f"model{experiment_id}".encode()).hexdigest(),
            stage=Stage.STAGING if stage != Stage.ARCHIVED else Stage.ARCHIVED,
            registration_gate=gate, created_by=fixtures.user, created_at=when,
            stage_changed_at=when,
        )  # fmt: skip
        history = [(Stage.NONE, Stage.STAGING, "automatic")]
        if stage != Stage.STAGING:
            history.append((Stage.STAGING, Stage.PRODUCTION, "approved"))
        if stage == Stage.ARCHIVED:
            history.append((Stage.PRODUCTION, Stage.ARCHIVED, "approved"))
        StageTransition.objects.bulk_create(
            StageTransition(
                model_version=version, from_stage=old, to_stage=new, decision=decision,
                requested_by=fixtures.user,
                approved_by=fixtures.user if decision == "approved" else None,
                actor_label="regression gate" if decision == "automatic" else "",
                reason="benchmark history", gate_report=report, created_at=when,
            )
            for old, new, decision in history
        )  # fmt: skip
        if stage == Stage.PRODUCTION:
            ModelVersion.objects.filter(pk=version.pk).update(stage=Stage.PRODUCTION)
        if stage == Stage.STAGING and offset == last:
            promotion = GateEvaluation.objects.create(
                registered_model=model, candidate_id=experiment_id, purpose="promotion",
                passed=True, report=report, created_at=when,
            )  # fmt: skip
            StageRequest.objects.create(
                model_version=version, from_stage=Stage.STAGING, to_stage=Stage.PRODUCTION,
                reason="better average precision", requested_by=fixtures.user, gate=promotion,
                requested_at=when,
            )  # fmt: skip


def _gate_report() -> dict[str, Any]:
    """A real gate report, computed once on a synthetic holdout of the fraud data's size."""
    from experiments.configs import PolicyBounds, load_gate_policy
    from registry.gate import run_gate

    rng = np.random.default_rng(0)
    y_true = (rng.random(56_962) < 0.0017).astype(np.int8)
    signal = rng.normal(size=len(y_true)) + 3.5 * y_true
    candidate, production = (
        1 / (1 + np.exp(6 - signal - 0.4 * rng.normal(size=len(y_true)))) for _ in range(2)
    )
    root = Path(__file__).resolve().parents[1] / "configs"
    spec = load_gate_policy((root / "gate_policy.yaml").read_text(), PolicyBounds())
    return run_gate(
        y_true=y_true, candidate_scores=candidate, production_scores=production, spec=spec,
        candidate_threshold=0.5, production_threshold=0.5,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="a scratch database; it is migrated")
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=1_000_000)
    options = parser.parse_args()
    os.environ["DATABASE_URL"] = options.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlplatform.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    counts = fill(experiments=options.experiments, metrics=options.metrics)
    print(f"{counts['experiments']:,} experiments, {counts['metrics']:,} metric rows")


if __name__ == "__main__":
    main()
