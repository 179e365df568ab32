"""Time dataset registration against one pandas.read_csv of the same file.

    .venv/bin/python bench/register_bench.py            # the full-size 144 MB CSV, 5 runs each
    .venv/bin/python bench/register_bench.py --smoke    # 4,000 rows, 1 run each (CI)

Registration streams the file once for its SHA-256 (on a thread, overlapping
the parse), parses it with pandas, profiles it and writes two rows. Measured
two ways, median of --repeats, interleaved with the baseline:

- process:    `manage.py register_dataset NAME vN CSV --target Class`, the
              whole process, against `python -c "pandas.read_csv(CSV)"`;
- in-process: datasets.services.dataset_register(...) against
              pandas.read_csv(CSV), both in this process after a warm-up.

Each registration is a new version of the same file in a scratch installation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MANAGE_PY,
    PYTHON,
    Scratch,
    data_bench_options,
    machine_description,
    median,
    print_table,
    scratch_create,
    scratch_remove,
    timed_run,
    verdict,
)

TARGET_RATIO = 1.5
CSV_PATH = Path("versions/v1/creditcard.csv")


def prepare(scratch: Scratch, options: argparse.Namespace) -> Path:
    scratch.manage("migrate", "--verbosity", "0")
    csv = scratch.data_root / CSV_PATH
    scratch.manage(
        "make_fraud_data", "--out", str(csv), "--rows", str(options.rows),
        "--frauds", str(options.frauds),
    )  # fmt: skip
    return csv


def processes(scratch: Scratch, csv: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Whole-process seconds: (register_dataset, python -c read_csv)."""
    env = scratch.env()
    plain_command = [PYTHON, "-c", f"import pandas; pandas.read_csv({str(csv)!r})"]
    timed_run(plain_command, env=env)  # the file into the page cache
    platform, plain = [], []
    for run in range(repeats):
        plain.append(timed_run(plain_command, env=env)[0])
        command = [
            PYTHON, MANAGE_PY, "register_dataset", "bench_process", f"v{run}", str(csv),
            "--target", "Class",
        ]  # fmt: skip
        platform.append(timed_run(command, env=env)[0])
    return platform, plain


def in_process(scratch: Scratch, csv: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of the service call and of one read_csv, in this process."""
    scratch.activate()
    import django

    django.setup()
    import pandas as pd

    from datasets.services import dataset_register

    def register(version: str) -> None:
        dataset_register(
            name="bench_service", version=version, path=csv, target="Class", user_name="bench"
        )

    register("warmup")
    pd.read_csv(csv)
    platform, plain = [], []
    for run in range(repeats):
        started = time.perf_counter()
        pd.read_csv(csv)
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        register(f"v{run}")
        platform.append(time.perf_counter() - started)
    return platform, plain


def row(label: str, platform: list[float], plain: list[float]) -> tuple[str, ...]:
    ratio = median(platform) / median(plain)
    return (
        label,
        f"{median(platform):.3f}",
        f"{median(plain):.3f}",
        f"{ratio:.2f}",
        f"<= {TARGET_RATIO:.2f}",
        verdict(ratio, TARGET_RATIO),
    )


def main() -> None:
    options = data_bench_options(__doc__.split("\n")[0], repeats_help="runs per side (median)")
    scratch = scratch_create(prefix="bench-register")
    try:
        csv = prepare(scratch, options)
        size = csv.stat().st_size
        process_times = processes(scratch, csv, options.repeats)
        service_times = in_process(scratch, csv, options.repeats)
    finally:
        scratch_remove(scratch, keep=options.keep)
    print(
        f"registration: {options.rows:,} rows, {size / 1e6:.1f} MB CSV, "
        f"median of {options.repeats} runs"
    )
    print(f"machine: {machine_description()}")
    print_table(
        ("measured", "register s", "read_csv s", "ratio", "target", "result"),
        [
            row("whole process: register_dataset vs python -c read_csv", *process_times),
            row("in process: dataset_register() vs pandas.read_csv()", *service_times),
        ],
    )


if __name__ == "__main__":
    main()
