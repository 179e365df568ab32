from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError

from mlplatform.origin import Origin
from registry.models import ModelVersion, Stage
from serving.models import ScoringRun
from serving.services import scoring_run_create

ORIGIN = Origin.cli()


def score(input_path: Path, output_path: Path, **options: Any) -> ScoringRun:
    defaults: dict[str, Any] = {"stage": Stage.PRODUCTION, "origin": ORIGIN, "user_name": "cli:me"}
    return scoring_run_create(
        model_name="fraud_detector",
        input_path=input_path,
        output_path=output_path,
        **{**defaults, **options},
    )


def test_it_writes_the_rows_with_their_scores_and_records_the_run(
    production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path
) -> None:
    output = tmp_path / "scored.csv"

    run = score(small_fraud_csv, output)

    original, scored = pd.read_csv(small_fraud_csv), pd.read_csv(output)
    assert list(scored.columns) == [*original.columns, "fraud_probability", "decision"]
    pd.testing.assert_frame_equal(scored[original.columns], original)
    assert scored["fraud_probability"].between(0, 1).all()
    np.testing.assert_array_equal(
        scored["decision"], (scored["fraud_probability"] >= 0.5).astype(int)
    )
    assert run.model_version == production_version
    assert run.rows == len(original) == 4000
    assert run.positives == scored["decision"].sum() > 0
    assert run.input_sha256 == hashlib.sha256(small_fraud_csv.read_bytes()).hexdigest()
    assert run.input_path == "small_fraud/v1/small_fraud.csv"
    assert run.artifact_sha256 == production_version.artifact_sha256
    assert (run.user_name, run.channel, run.requested_stage) == ("cli:me", "cli", "production")
    assert (run.os_user, run.host) == (ORIGIN.os_user, ORIGIN.host)
    assert run.duration_seconds > 0


def test_it_records_the_user_who_scored(
    production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path, viewer: Any
) -> None:
    run = score(small_fraud_csv, tmp_path / "out.csv", user=viewer, version=1, stage="")

    assert (run.user, run.user_name, run.requested_stage) == (viewer, "vera", "")


def test_it_refuses_a_file_outside_data_root(
    production_version: ModelVersion, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("Time,V1\n1,2\n")

    with pytest.raises(ValidationError, match="is outside DATA_ROOT"):
        score(outside, tmp_path / "out.csv")

    assert not (tmp_path / "out.csv").exists()
    assert not ScoringRun.objects.exists()


def test_it_names_the_columns_and_lines_it_cannot_score(
    production_version: ModelVersion, data_root: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(Path(data_root) / "small_fraud" / "v1" / "small_fraud.csv").head(5)
    frame = frame.drop(columns=["V3"])
    frame.loc[2, "Amount"] = np.nan
    bad = data_root / "bad.csv"
    frame.to_csv(bad, index=False)

    with pytest.raises(ValidationError) as caught:
        score(bad, tmp_path / "out.csv")

    assert caught.value.messages == ["bad.csv: 1 column cannot be scored: V3: missing"]
    assert not (tmp_path / "out.csv").exists()
    assert not ScoringRun.objects.exists()


def test_it_names_the_lines_of_bad_values(
    production_version: ModelVersion, small_fraud_csv: Path, data_root: Path, tmp_path: Path
) -> None:
    lines = small_fraud_csv.read_text().splitlines()[:6]
    fields = lines[3].split(",")
    fields[-2] = ""  # Amount, line 4 of the file
    lines[3] = ",".join(fields)
    bad = data_root / "empty_cell.csv"
    bad.write_text("\n".join(lines) + "\n")

    with pytest.raises(ValidationError) as caught:
        score(bad, tmp_path / "out.csv")

    assert caught.value.messages == [
        "empty_cell.csv: 1 column cannot be scored: "
        "Amount: not a finite number (null, NaN, infinity or empty) in line 4"
    ]


def test_it_does_not_replace_an_existing_output_unless_asked(
    production_version: ModelVersion, small_fraud_csv: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.csv"
    output.write_text("keep me")

    with pytest.raises(ValidationError, match=r"already exists \(--force replaces it\)"):
        score(small_fraud_csv, output)
    assert output.read_text() == "keep me"

    score(small_fraud_csv, output, overwrite=True)
    assert output.read_text().startswith("Time,")


def test_it_refuses_to_overwrite_its_input(
    production_version: ModelVersion, small_fraud_csv: Path
) -> None:
    with pytest.raises(ValidationError, match="would overwrite the input"):
        score(small_fraud_csv, small_fraud_csv, overwrite=True)


def test_it_leaves_no_output_when_the_run_cannot_be_recorded(
    production_version: ModelVersion,
    small_fraud_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(**fields: Any) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(ScoringRun.objects, "create", fail)

    with pytest.raises(RuntimeError):
        score(small_fraud_csv, tmp_path / "out.csv")

    assert list(tmp_path.glob("*out.csv*")) == []
