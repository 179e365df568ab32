from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager, nullcontext
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from experiments.documents import experiment_document
from experiments.fit_progress import FitProgress
from experiments.limits import memory_limited
from experiments.metrics import format_metric
from experiments.models import Experiment, Phase, Registration, Status
from experiments.progress import describe, progress_detail, seconds_left
from experiments.selectors import experiment_detail, experiment_scalar_metrics
from experiments.services import experiment_create, experiment_submit
from experiments.services.heartbeat import heartbeat
from mlplatform import numbers
from mlplatform.cli import (
    EXIT_ERROR,
    EXIT_GATE_REFUSED,
    JsonCommand,
    command_user,
    document_json,
    identity_arguments,
)
from mlplatform.origin import Origin, os_account
from mlplatform.startup import collector_paused
from registry import gate
from registry.selectors import identical_versions
from registry.services import experiment_run_and_register

KEY_METRICS = ("average_precision", "roc_auc", "f1", "precision", "recall", "fit_time_seconds")
# During a fit: a progress line at most every PROGRESS_LINE_SECONDS, and some
# line at least every TICK_SECONDS, even from an estimator that tells nothing.
PROGRESS_LINE_SECONDS = 2.0
TICK_SECONDS = 10.0


class Command(JsonCommand):
    help = (
        "Validate a YAML experiment config, record the experiment and run it in-process "
        "(or, with --enqueue, queue it for the workers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--config", required=True, help="Path to a YAML config.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        identity_arguments(parser, acting="the creator")
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Queue the experiment for the RQ workers and return at once with its id.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        config_text = read_config_text(Path(options["config"]))
        user = command_user(options, required=False)
        user_name = user.get_username() if user else f"cli:{os_account()}"
        if options["enqueue"]:
            self.submit(config_text, user, user_name, options["config"])
            return
        try:
            with collector_paused():
                # The engine, and (as the config is parsed) its estimator class.
                import_module("experiments.training")
                import_module("experiments.model_format")
                experiment = experiment_create(
                    config_text=config_text, user=user, user_name=user_name
                )
        except ValidationError as error:
            raise CommandError(
                f"invalid config {options['config']}: " + "; ".join(error.messages)
            ) from None
        self.started = time.monotonic()
        self.lines = threading.Lock()  # the ticker and the forest's threads print too
        self.phase, self.phase_started, self.last_line = "", self.started, self.started
        self.log(f"experiment #{experiment.pk} {experiment.name} created")
        try:
            # The same memory limit as a worker's work-horse, for this run only.
            with memory_limited(), self.ticker():
                _, evaluation, version = experiment_run_and_register(
                    experiment_id=experiment.pk,
                    on_progress=self.progress,
                    on_fit_progress=None if self.as_json else self.fit_progress,
                    origin=Origin.cli(),
                )
        except KeyboardInterrupt:
            self.finish(experiment.pk, registration=None)
            raise SystemExit(130) from None
        experiment.refresh_from_db()
        self.finish(experiment.pk, registration=_registration(experiment, evaluation, version))

    def submit(self, config_text: str, user: User | None, user_name: str, path: str) -> None:
        """Record and queue; exit 0 once recorded, even if Redis is down (the
        workers queue it when Redis is back), and say so."""
        try:
            submission = experiment_submit(
                config_text=config_text, user=user, user_name=user_name, source="cli"
            )
        except ValidationError as error:
            raise CommandError(f"invalid config {path}: " + "; ".join(error.messages)) from None
        experiment = submission.experiment
        if self.as_json:  # as the API answers a submission
            document = experiment_document(experiment_detail(experiment_id=experiment.pk))
            document |= {"enqueued": submission.enqueued, "message": submission.message}
            self.stdout.write(document_json(document))
            return
        self.stdout.write(f"experiment #{experiment.pk} {experiment.name} created")
        (self.stdout if submission.enqueued else self.stderr).write(submission.message)

    def log(self, line: str) -> None:
        if not self.as_json:
            self.stdout.write(line)

    def progress(self, experiment: Experiment, phase: str) -> None:
        with self.lines:
            now = time.monotonic()
            self.phase, self.phase_started, self.last_line = phase, now, now
            self.log(f"[{now - self.started:7.1f}s] {phase}")

    def fit_progress(self, progress: FitProgress) -> None:
        """`[   12.3s] fitting: iteration 120 / 200, val loss 0.0041, about 40 s left`"""
        with self.lines:
            now = time.monotonic()
            if now - self.last_line < PROGRESS_LINE_SECONDS:
                return
            self.last_line = now
            left = seconds_left(
                done=progress.done, total=progress.total, fit_seconds=now - self.phase_started
            )
            text = describe(
                unit=progress.unit,
                done=progress.done,
                total=progress.total,
                at_most=progress.at_most,
                detail=progress_detail(progress),
                seconds_left=left,
            )
            self.log(f"[{now - self.started:7.1f}s] {Phase.FITTING}: {text}")

    def tick(self) -> None:
        """`[   22.3s] fitting (20 s so far)` when nothing was printed for TICK_SECONDS."""
        with self.lines:
            now = time.monotonic()
            if self.phase != Phase.FITTING or now - self.last_line < TICK_SECONDS:
                return
            self.last_line = now
            so_far = numbers.duration(now - self.phase_started)
            self.log(f"[{now - self.started:7.1f}s] {Phase.FITTING} ({so_far} so far)")

    def ticker(self) -> AbstractContextManager[None]:
        if self.as_json:
            return nullcontext()
        return heartbeat(self.tick, name="run-experiment-ticker", interval=min(1.0, TICK_SECONDS))

    def finish(self, experiment_id: int, registration: dict[str, Any] | None) -> None:
        """The outcome: --json prints the experiment as the API shows it
        (experiments.documents) and the command's seconds; the exit code follows the table of every
        command: 0 done, 1 failed (a FAILED run, a registration error),
        3 refused by the regression gate."""
        experiment = experiment_detail(experiment_id=experiment_id)
        if self.as_json:  # plus the one thing only the command knows: its own time
            document = experiment_document(experiment)
            document["command_seconds"] = round(time.monotonic() - self.started, 3)
            self.stdout.write(document_json(document))
        else:
            self.print_summary(self.summary(experiment, registration))
        if experiment.status != Status.COMPLETED:
            raise SystemExit(EXIT_ERROR)
        if experiment.registration == Registration.GATE_FAILED:
            raise SystemExit(EXIT_GATE_REFUSED)
        if experiment.registration == Registration.ERROR:
            raise SystemExit(EXIT_ERROR)

    def summary(
        self, experiment: Experiment, registration: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {
            "id": experiment.pk,
            "name": experiment.name,
            "status": experiment.status,
            "metrics": experiment_scalar_metrics(experiment_id=experiment.pk),
            "error": experiment.error_message or None,
            # The run as its page shows it (started to finished), and the whole command.
            "run_seconds": _run_seconds(experiment),
            "elapsed_seconds": round(time.monotonic() - self.started, 3),
            "registration": registration,
        }

    def print_summary(self, summary: dict[str, Any]) -> None:
        ran = summary["run_seconds"]
        timing = f"ran for {numbers.duration(ran)}, " if ran is not None else ""
        self.stdout.write(
            f"experiment #{summary['id']} {summary['name']}: {summary['status'].upper()} "
            f"({timing}{numbers.duration(summary['elapsed_seconds'])} in all)"
        )
        for name in KEY_METRICS:
            if name in summary["metrics"]:
                self.stdout.write(f"  {name:<20} {format_metric(name, summary['metrics'][name])}")
        if summary["error"]:
            self.stderr.write(f"  error: {summary['error']}")
        registration = summary["registration"]
        if registration is None:
            return
        if registration["version"] is not None:
            self.stdout.write(
                f"registered {registration['model']} v{registration['version']} in staging "
                "(regression gate passed)"
            )
            if registration["identical_to"]:
                others = ", ".join(f"v{number}" for number in registration["identical_to"])
                self.stdout.write(
                    f"note: identical to {registration['model']} {others} (same config SHA-256 "
                    "and dataset SHA-256): an approver has seen this model before"
                )
        elif registration["outcome"] == "error":
            self.stderr.write(
                f"not registered in {registration['model']}: registration error: "
                f"{registration['message']} ({_retry_text(registration)}; by hand: "
                f"manage.py register_experiment {summary['id']})"
            )
        else:
            self.stdout.write(f"not registered in {registration['model']}: regression gate failed")
        if registration["gate_report"] is not None:
            self.stdout.write(gate.format_report(registration["gate_report"]))


def read_config_text(path: Path) -> str:
    if not path.is_file():
        raise CommandError(f"config file {path} does not exist or is not a file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read config file {path}: {error}") from None


def _registration(experiment: Experiment, evaluation: Any, version: Any) -> dict[str, Any] | None:
    model_name = (experiment.config.get("registry") or {}).get("model_name")
    if not model_name or experiment.status != Status.COMPLETED:
        return None
    identical = identical_versions(version=version) if version is not None else []
    return {
        "model": model_name,
        "outcome": experiment.registration,
        "message": experiment.registration_message,
        "attempts": experiment.registration_attempts,
        "max_attempts": settings.REGISTRATION_MAX_ATTEMPTS,
        "next_retry_at": experiment.registration_retry_at,
        "version": version.version if version is not None else None,
        "stage": version.stage if version is not None else None,
        "gate_passed": evaluation.passed if evaluation is not None else None,
        "gate_report": evaluation.report if evaluation is not None else None,
        "identical_to": [other.version for other in identical],
    }


def _retry_text(registration: dict[str, Any]) -> str:
    attempt = f"attempt {registration['attempts']} of {registration['max_attempts']}"
    if registration["next_retry_at"]:
        when = registration["next_retry_at"]
        return f"{attempt}; the reconciler tries again at {when:%Y-%m-%d %H:%M:%S} UTC"
    return f"{attempt}; no automatic attempt left"


def _run_seconds(experiment: Experiment) -> float | None:
    if experiment.started_at is None or experiment.finished_at is None:
        return None
    return round((experiment.finished_at - experiment.started_at).total_seconds(), 3)
