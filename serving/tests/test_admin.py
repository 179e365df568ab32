from __future__ import annotations

from pathlib import Path

from django.test import Client

from mlplatform.origin import Origin
from registry.models import ModelVersion
from serving.models import ScoringRun
from serving.services import scoring_run_create

RUNS = "/admin/serving/scoringrun/"


def test_it_shows_scoring_runs_read_only(
    admin_client: Client, production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path
) -> None:
    run = scoring_run_create(
        model_name="fraud_detector", version=1, input_path=small_fraud_csv,
        output_path=tmp_path / "out.csv", origin=Origin.cli(), user_name="cli:ops",
    )  # fmt: skip

    listing = admin_client.get(RUNS).content.decode()
    detail = admin_client.get(f"{RUNS}{run.pk}/change/").content.decode()
    edit = admin_client.post(f"{RUNS}{run.pk}/change/", {"rows": "1"})

    assert "small_fraud/v1/small_fraud.csv" in listing
    assert run.input_sha256 in detail
    assert 'name="_save"' not in detail
    assert edit.status_code == 403
    assert ScoringRun.objects.get().rows == 4000
