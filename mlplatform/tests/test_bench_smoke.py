"""Every benchmark in bench/ runs in its --smoke mode and prints its table,
so that the scripts cannot rot between the runs made by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SMOKE_TIMEOUT_SECONDS = 300
# Each run (a script and its extra arguments) and its table header, as words
# that must appear on one line.
HEADERS = {
    "command_bench.py": ("command", "ratio", "target", "result"),
    "gate_bench.py": ("method", "resamples", "seconds"),
    "train_bench.py": ("model", "run", "ratio", "target", "result"),
    "register_bench.py": ("measured", "ratio", "target", "result"),
    "ui_bench.py": ("page", "median ms", "p95 ms", "result"),
    "ui_bench.py --http": ("server", "page", "p50 ms", "p95 ms", "result"),
    "queue_bench.py": ("measured", "baseline", "ratio", "target", "result"),
    "serving_bench.py": ("measured", "platform", "baseline", "ratio", "target", "result"),
    "concurrency_bench.py": ("host", "threads", "run", "ratio", "target", "result"),
}


def run_smoke(run: str) -> subprocess.CompletedProcess[str]:
    script, *arguments = run.split()
    return subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", *arguments],
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("run", sorted(HEADERS))
def test_it_runs_the_smoke_mode_and_prints_a_table(run: str) -> None:
    completed = run_smoke(run)

    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.splitlines()
    assert any(all(word in line for word in HEADERS[run]) for line in lines), completed.stdout
    if run != "gate_bench.py":  # the others judge every row against its target
        assert "PASS" in completed.stdout or "MISS" in completed.stdout


def test_it_knows_every_benchmark() -> None:
    helpers = {"common.py", "plain_train.py", "plain_score.py", "fill_ui.py"}
    # Its 2-minute smoke runs once in .ci/run, on its own database: not once per backend here.
    helpers.add("chaos_soak.py")
    scripts = {path.name for path in BENCH.glob("*.py")} - helpers - {"__init__.py"}

    assert scripts == {run.split()[0] for run in HEADERS}
