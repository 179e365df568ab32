"""`manage.py demo`, the heart of bin/demo, end to end on a smaller data set:
the baseline in production, a stronger model passing the gate, the underfit
one refused (run_experiment's exit 3 is the demo's point, not its failure),
and a second run that skips every step. It broke once unseen: nothing ran it
but CI's bin/demo."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from experiments.models import Experiment, Registration
from registry.models import ModelVersion, Stage

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_it_runs_every_step_then_skips_them_the_second_time(data_root: Path) -> None:
    out = StringIO()
    call_command("demo", rows=40_000, frauds=400, stdout=out)

    production = ModelVersion.objects.get(stage=Stage.PRODUCTION)
    assert production.experiment.name == "fraud_baseline"
    assert Experiment.objects.get(name="fraud_hgb").registration == Registration.REGISTERED
    assert Experiment.objects.get(name="fraud_underfit").registration == Registration.GATE_FAILED
    assert "refused by the regression gate, as intended" in out.getvalue()
    assert "password demo-password" in out.getvalue()

    again = StringIO()
    call_command("demo", rows=40_000, frauds=400, stdout=again)
    assert "already run and gated" in again.getvalue()
    assert Experiment.objects.count() == 3
