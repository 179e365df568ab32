from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from mlplatform import numbers
from mlplatform.cli import PlatformCommand, command_user, identity_arguments
from mlplatform.origin import Origin, os_account
from registry.models import Stage
from serving.errors import ModelNotFound, ModelTooLarge, ModelUnavailable
from serving.models import ScoringRun
from serving.services import scoring_run_create


class Command(PlatformCommand):
    help = (
        "Score a CSV file under DATA_ROOT with a model version (or the one in production) and "
        "write its rows with fraud_probability and decision columns; the run is recorded."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version names a model version here; it replaces Django's own --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="Registered model name, e.g. fraud_detector.")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--stage", choices=[Stage.PRODUCTION, Stage.STAGING])
        which.add_argument("--version", type=int, help="A version number.")
        parser.add_argument("--input", required=True, help="CSV file under DATA_ROOT.")
        parser.add_argument("--output", required=True, help="CSV file to write.")
        parser.add_argument("--force", action="store_true", help="Replace an existing output.")
        identity_arguments(parser, acting="who scored")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = command_user(options, required=False)
        user_name = user.get_username() if user else f"cli:{os_account()}"
        try:
            run = scoring_run_create(
                model_name=options["model"],
                version=options["version"],
                stage=options["stage"] or "",
                input_path=Path(options["input"]).absolute(),
                output_path=options["output"],
                overwrite=options["force"],
                user=user,
                user_name=user_name,
                origin=Origin.cli(),
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        except (ModelNotFound, ModelUnavailable, ModelTooLarge) as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(scoring_run_summary(run), indent=2))
            return
        self.stdout.write(
            f"scored {numbers.count(run.rows)} rows of {run.input_path} with "
            f"{run.model_version} in {numbers.duration(run.duration_seconds)}: "
            f"{numbers.count(run.positives)} decided as fraud (threshold {run.threshold:g}); "
            f"wrote {run.output_path}; recorded as scoring run #{run.pk}"
        )


def scoring_run_summary(run: ScoringRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "model": run.model_version.registered_model.name,
        "version": run.model_version.version,
        "artifact_sha256": run.artifact_sha256,
        "threshold": run.threshold,
        "input": run.input_path,
        "input_sha256": run.input_sha256,
        "output": run.output_path,
        "rows": run.rows,
        "positives": run.positives,
        "user": run.user_name,
        "started_at": run.started_at.isoformat(),
        "duration_seconds": round(run.duration_seconds, 3),
    }
