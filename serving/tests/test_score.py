from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from registry.models import ModelVersion
from serving.models import ScoringRun


def score(*args: str) -> str:
    out = StringIO()
    call_command("score", *args, stdout=out)
    return out.getvalue()


def test_it_scores_a_file_with_the_production_model_and_says_so(
    production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path
) -> None:
    output = tmp_path / "scored.csv"

    printed = score(
        "fraud_detector", "--stage", "production", "--input", str(small_fraud_csv),
        "--output", str(output),
    )  # fmt: skip

    run = ScoringRun.objects.get()
    assert printed.startswith("scored 4,000 rows of small_fraud/v1/small_fraud.csv with ")
    assert f"recorded as scoring run #{run.pk}" in printed
    assert list(pd.read_csv(output).columns)[-2:] == ["fraud_probability", "decision"]
    assert run.channel == "cli"
    assert run.user_name.startswith("cli:")


def test_it_prints_one_json_object(
    production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path, viewer: Any
) -> None:
    printed = score(
        "fraud_detector", "--version", "1", "--input", str(small_fraud_csv),
        "--output", str(tmp_path / "out.csv"), "--user", "vera", "--json",
    )  # fmt: skip

    summary = json.loads(printed)
    run = ScoringRun.objects.get()
    assert summary["id"] == run.pk
    assert (summary["model"], summary["version"], summary["rows"]) == ("fraud_detector", 1, 4000)
    assert summary["positives"] == run.positives
    assert summary["input_sha256"] == run.input_sha256
    assert summary["artifact_sha256"] == production_version.artifact_sha256
    assert summary["user"] == "vera"


@pytest.mark.parametrize(
    ("model", "message"),
    [("nope", "there is no registered model 'nope'"), ("fraud_detector", "has no version 9")],
)
def test_it_fails_with_a_clear_message(
    production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path, model: str,
    message: str,
) -> None:  # fmt: skip
    with pytest.raises(CommandError, match=message):
        score(
            model, "--version", "9", "--input", str(small_fraud_csv),
            "--output", str(tmp_path / "out.csv"),
        )  # fmt: skip
    assert not ScoringRun.objects.exists()


def test_it_needs_a_stage_or_a_version(small_fraud_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="one of the arguments --stage --version is required"):
        score("fraud_detector", "--input", str(small_fraud_csv), "--output", "x.csv")


def test_it_names_the_column_a_model_overflows_on(
    production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(small_fraud_csv).head(5)
    features = production_version.experiment.feature_columns
    frame.loc[3, features] = 1e308
    source = small_fraud_csv.parent / "extreme.csv"
    frame.to_csv(source, index=False)

    with pytest.raises(CommandError, match=r"too large to score \(up to 1e\+308\).*in line 5"):
        score(
            "fraud_detector", "--stage", "production", "--input", str(source),
            "--output", str(tmp_path / "out.csv"),
        )  # fmt: skip
    assert not ScoringRun.objects.exists()
    assert not (tmp_path / "out.csv").exists()


def test_it_never_writes_over_what_the_platform_keeps(
    production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path
) -> None:
    from django.conf import settings

    registered = small_fraud_csv.read_bytes()
    other = small_fraud_csv.parent / "copy.csv"
    other.write_bytes(registered)
    artifact = Path(settings.ARTIFACT_ROOT) / production_version.experiment.artifact_path
    model_bytes = artifact.read_bytes()

    for target, message in (
        (small_fraud_csv, "overwrite the file of data set small_fraud:v1"),
        (artifact, "inside the artifact store"),
        (Path(settings.ARTIFACT_ROOT) / "new.csv", "inside the artifact store"),
    ):
        with pytest.raises(CommandError, match=message):
            score(
                "fraud_detector", "--stage", "production", "--input", str(other),
                "--output", str(target), "--force",
            )  # fmt: skip

    assert small_fraud_csv.read_bytes() == registered
    assert artifact.read_bytes() == model_bytes
    assert not ScoringRun.objects.exists()
