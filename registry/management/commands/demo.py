from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from datasets.models import DatasetVersion
from experiments.models import Experiment, Status
from mlplatform.cli import EXIT_GATE_REFUSED
from mlplatform.origin import Origin
from registry.models import ModelVersion, Stage
from registry.services import (
    model_version_get,
    role_user_ensure,
    stage_request_create,
    stage_request_decide,
)

DATASET, VERSION = "credit_card_fraud", "v1"
MODEL = "fraud_detector"
DEMO_USERS = {
    "experimenter": "demo_experimenter",
    "approver": "demo_approver",
    "viewer": "demo_viewer",
}
DEMO_PASSWORD = "demo-password"  # noqa: S105 - local demo accounts only, refused in production


class Command(BaseCommand):
    help = (
        "Run the demo end to end: generate and register the fraud data set, train the "
        "baseline, promote it to production, then show a better model passing the "
        "regression gate and a worse one failing it. Each step is skipped when done."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=284807)
        parser.add_argument("--frauds", type=int, default=492)

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("the demo creates well-known accounts: refused in production")
        self.users = {
            role: role_user_ensure(username=name, password=DEMO_PASSWORD, role=role)
            for role, name in DEMO_USERS.items()
        }
        self.step_data(options["rows"], options["frauds"])
        self.step_baseline_in_production()
        self.step_experiment("fraud_hgb", "a stronger model: should pass the gate")
        self.step_experiment(
            "fraud_underfit", "a deliberately worse model: should fail the gate", refused=True
        )
        self.stdout.write("\n==> registry")
        call_command("registry_status", stdout=self.stdout)
        self.print_logins()

    def section(self, title: str) -> None:
        self.stdout.write(f"\n==> {title}")

    def step_data(self, rows: int, frauds: int) -> None:
        relative = Path("versions") / VERSION / "creditcard.csv"
        path = Path(settings.DATA_ROOT) / relative
        self.section(f"data set {DATASET}:{VERSION} ({path})")
        if path.exists():
            self.stdout.write("file present, not regenerated (delete it to regenerate)")
        else:
            call_command(
                "make_fraud_data", out=str(path), rows=rows, frauds=frauds, stdout=self.stdout
            )
        if DatasetVersion.objects.filter(dataset__name=DATASET, version=VERSION).exists():
            self.stdout.write("already registered")
            return
        call_command(
            "register_dataset",
            DATASET,
            VERSION,
            str(path),
            target="Class",
            description="Credit-card fraud (synthetic unless you supplied the real file)",
            user=self.users["experimenter"].username,
            stdout=self.stdout,
        )

    def step_baseline_in_production(self) -> None:
        self.section("baseline in production")
        if ModelVersion.objects.filter(registered_model__name=MODEL, stage=Stage.PRODUCTION):
            self.stdout.write(f"{MODEL} already has a production version")
            return
        self.run_config("fraud_baseline")
        version = self.latest_staged()
        request = stage_request_create(
            model_version=version,
            to_stage=Stage.PRODUCTION,
            user=self.users["experimenter"],
            reason="Demo: the logistic regression baseline becomes the first production model.",
            origin=Origin.cli(),
        )
        self.stdout.write(
            f"request #{request.pk} by {request.requested_by}: "
            f"gate passed={request.gate.passed if request.gate else None}"
        )
        stage_request_decide(
            request_id=request.pk,
            user=self.users["approver"],
            approve=True,
            reason="Demo approval: gate passed, metrics reviewed.",
            origin=Origin.cli(),
        )
        version.refresh_from_db()
        self.stdout.write(f"{version} approved by {self.users['approver']}: now {version.stage}")

    def latest_staged(self) -> ModelVersion:
        version = (
            ModelVersion.objects.filter(registered_model__name=MODEL, stage=Stage.STAGING)
            .order_by("-version")
            .first()
        )
        if version is None:
            raise CommandError("the baseline did not pass its registration gate")
        return model_version_get(model_name=MODEL, version=version.version)

    def step_experiment(self, config_name: str, purpose: str, *, refused: bool = False) -> None:
        """Run a shipped config; `refused`: the regression gate is meant to
        refuse it (run_experiment exits 3), which is then the demo's point."""
        self.section(f"{config_name}: {purpose}")
        done = Experiment.objects.filter(name=config_name, status=Status.COMPLETED)
        if done.filter(gate_evaluations__isnull=False).exists():
            self.stdout.write("already run and gated")
            return
        self.run_config(config_name, refused=refused)

    def run_config(self, config_name: str, *, refused: bool = False) -> None:
        config = Path(settings.BASE_DIR) / "configs" / f"{config_name}.yaml"
        try:
            call_command(
                "run_experiment",
                config=str(config),
                user=self.users["experimenter"].username,
                stdout=self.stdout,
            )
        except SystemExit as exit_:
            if refused and exit_.code == EXIT_GATE_REFUSED:
                self.stdout.write("refused by the regression gate, as intended")
                return
            raise CommandError(f"{config_name} did not complete (exit {exit_.code})") from None

    def print_logins(self) -> None:
        self.section("demo accounts (local install only)")
        for role, name in DEMO_USERS.items():
            self.stdout.write(f"  {role:<13} user {name:<18} password {DEMO_PASSWORD}")
