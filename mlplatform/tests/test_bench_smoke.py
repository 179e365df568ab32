"""Every benchmark in bench/ runs in its --smoke mode and prints its table,
so that the scripts cannot rot between the runs made by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SMOKE_TIMEOUT_SECONDS = 300
# Each script's table header, as words that must appear on one line.
HEADERS = {
    "gate_bench.py": ("method", "resamples", "seconds"),
    "train_bench.py": ("model", "run", "ratio", "target", "result"),
    "register_bench.py": ("measured", "ratio", "target", "result"),
    "ui_bench.py": ("page", "median ms", "p95 ms", "result"),
    "queue_bench.py": ("measured", "baseline", "ratio", "target", "result"),
}


def run_smoke(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(HEADERS))
def test_it_runs_the_smoke_mode_and_prints_a_table(script: str) -> None:
    completed = run_smoke(script)

    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.splitlines()
    assert any(all(word in line for word in HEADERS[script]) for line in lines), completed.stdout
    if script != "gate_bench.py":  # the others judge every row against its target
        assert "PASS" in completed.stdout or "MISS" in completed.stdout


def test_it_knows_every_benchmark() -> None:
    helpers = {"common.py", "plain_train.py", "fill_ui.py"}
    scripts = {path.name for path in BENCH.glob("*.py")} - helpers - {"__init__.py"}

    assert scripts == set(HEADERS)
