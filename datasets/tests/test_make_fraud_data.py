from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from datasets.synthetic import column_names
from mlplatform.numbers import size


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("make_fraud_data", *args, stdout=out)
    return out.getvalue()


def test_it_writes_the_requested_file_and_its_folders(tmp_path: Path) -> None:
    out = tmp_path / "versions" / "v1" / "creditcard.csv"

    output = run("--out", str(out), "--rows", "500", "--frauds", "20", "--seed", "3")

    frame = pd.read_csv(out)
    assert list(frame.columns) == column_names()
    assert len(frame) == 500
    assert frame["Class"].sum() == 20
    assert f"Wrote {out} (500 rows, 20 frauds, seed 3, {size(out.stat().st_size)})" in output
    assert "KiB)" in output


def test_it_takes_a_path_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    run("--out", "data/small.csv", "--rows", "300", "--frauds", "10")

    assert (tmp_path / "data" / "small.csv").is_file()


def test_it_refuses_to_overwrite_a_file_without_force(tmp_path: Path) -> None:
    out = tmp_path / "creditcard.csv"
    out.write_text("registered data")

    with pytest.raises(CommandError, match=r"already exists.*Use --force"):
        run("--out", str(out), "--rows", "300", "--frauds", "10")
    assert out.read_text() == "registered data"


def test_it_replaces_a_file_with_force(tmp_path: Path) -> None:
    out = tmp_path / "creditcard.csv"
    out.write_text("old")

    run("--out", str(out), "--rows", "300", "--frauds", "10", "--force")

    assert len(pd.read_csv(out)) == 300


def test_it_refuses_more_frauds_than_rows(tmp_path: Path) -> None:
    out = tmp_path / "creditcard.csv"

    with pytest.raises(CommandError, match="need 0 < frauds < rows"):
        run("--out", str(out), "--rows", "10", "--frauds", "10")
    assert not out.exists()


def test_it_reports_the_rows_written_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("datasets.synthetic.WRITE_CHUNK_ROWS", 200)
    out = tmp_path / "creditcard.csv"

    output = run("--out", str(out), "--rows", "500", "--frauds", "20")

    lines = output.splitlines()
    assert lines[0] == "Generating 500 rows ..."
    assert lines[1:4] == [
        "  200 of 500 rows written",
        "  400 of 500 rows written",
        "  500 of 500 rows written",
    ]
    assert "KiB)" in lines[4]  # sizes in binary units, as on the pages
