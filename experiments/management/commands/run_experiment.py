from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from experiments.models import Experiment, Status
from experiments.selectors import experiment_scalar_metrics
from experiments.services import experiment_create, experiment_execute
from mlplatform.users import user_for_command

KEY_METRICS = ("average_precision", "roc_auc", "f1", "precision", "recall", "fit_time_seconds")


class Command(BaseCommand):
    help = "Validate a YAML experiment config, record the experiment and run it in-process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--config", required=True, help="Path to a YAML config.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument("--user", help="Username to record as the creator.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        config_text = read_config_text(Path(options["config"]))
        user, user_name = user_for_command(options["user"])
        try:
            experiment = experiment_create(config_text=config_text, user=user, user_name=user_name)
        except ValidationError as error:
            raise CommandError(f"invalid config {options['config']}: " + "; ".join(error.messages))
        self.started = time.monotonic()
        self.log(f"experiment #{experiment.pk} {experiment.name} created")
        try:
            experiment_execute(experiment_id=experiment.pk, on_progress=self.progress)
        except KeyboardInterrupt:
            self.finish(experiment.pk)
            raise SystemExit(130) from None
        self.finish(experiment.pk)

    def log(self, line: str) -> None:
        if not self.as_json:
            self.stdout.write(line)

    def progress(self, experiment: Experiment, phase: str) -> None:
        self.log(f"[{time.monotonic() - self.started:7.1f}s] {phase}")

    def finish(self, experiment_id: int) -> None:
        experiment = Experiment.objects.get(pk=experiment_id)
        metrics = experiment_scalar_metrics(experiment_id=experiment_id)
        summary = {
            "id": experiment.pk,
            "name": experiment.name,
            "status": experiment.status,
            "dataset": experiment.dataset_version_id and str(experiment.dataset_version),
            "metrics": metrics,
            "artifact_sha256": experiment.artifact_sha256 or None,
            "error": experiment.error_message or None,
            "elapsed_seconds": round(time.monotonic() - self.started, 3),
        }
        if self.as_json:
            self.stdout.write(json.dumps(summary, indent=2, sort_keys=True))
        else:
            self.print_summary(summary)
        if experiment.status != Status.COMPLETED:
            raise SystemExit(1)

    def print_summary(self, summary: dict[str, Any]) -> None:
        self.stdout.write(
            f"experiment #{summary['id']} {summary['name']}: {summary['status'].upper()} "
            f"in {summary['elapsed_seconds']:.1f}s"
        )
        for name in KEY_METRICS:
            if name in summary["metrics"]:
                self.stdout.write(f"  {name:<20} {summary['metrics'][name]:.4f}")
        if summary["error"]:
            self.stderr.write(f"  error: {summary['error']}")


def read_config_text(path: Path) -> str:
    if not path.is_file():
        raise CommandError(f"config file {path} does not exist or is not a file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read config file {path}: {error}") from None
