"""Time the commands that do not train against `manage.py check`.

    .venv/bin/python bench/command_bench.py            # 7 runs each
    .venv/bin/python bench/command_bench.py --smoke    # 1 run each (CI)

Builds a scratch installation (its own data, var and SQLite database) with a
small generated data set and one model version trained and registered by
run_experiment, and then times whole processes, interpreter start-up and
system checks included, median of --repeats runs, interleaved so that a busy
machine slows every command alike:

- check:              manage.py check, the baseline: Django, the apps and
                      every system check (the URL check imports every view);
- registry_status:    the listing of every model, version and decision;
- request_promotion:  a request that is not gated (to staging or the archive,
                      alternately, so that each run is a real request);
- approve_promotion:  the approval of that request;
- verify_datasets:    re-hashes the registered file (4,000 rows, about 1 MB:
                      milliseconds; what is timed is the start-up);
- gate_policy:        the model's gate policy and its history.

None of them needs scikit-learn, skops or the API's django-ninja and pydantic,
and none runs the URL checks (mlplatform/tests/test_light_commands.py checks
that they do not import them). Target: each at most 1.5x `check`.
The data set is always small: what these commands do does not grow with it.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MANAGE_PY,
    PYTHON,
    ROOT,
    Scratch,
    fraud_dataset_register,
    machine_description,
    median,
    print_table,
    scratch_create,
    scratch_remove,
    timed_run_cpu,
    verdict,
)

TARGET_RATIO = 1.5
ROWS, FRAUDS = 4000, 120
MODEL = "fraud_detector"
REQUESTER, APPROVER = "bench_requester", "bench_approver"
COMMANDS = (
    "check",
    "registry_status",
    "request_promotion",
    "approve_promotion",
    "verify_datasets",
    "gate_policy",
)
HEADER = ("command", "wall s", "cpu s", "ratio", "target", "result")


def options_parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one run each (CI)")
    parser.add_argument("--repeats", type=int, default=7, help="runs per command (median)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch installation")
    options = parser.parse_args()
    if options.smoke:
        options.repeats = 1
    return options


def prepare(scratch: Scratch) -> None:
    """A data set, one registered model version (in staging; registering it
    gave the model the default gate policy), and the accounts that request
    and approve."""
    fraud_dataset_register(scratch, rows=ROWS, frauds=FRAUDS)
    scratch.manage("run_experiment", "--config", str(ROOT / "configs" / "fraud_baseline.yaml"))
    scratch.activate()
    import django

    django.setup()
    from registry.services import role_user_ensure

    password = secrets.token_urlsafe()  # nobody logs in as them
    role_user_ensure(username=REQUESTER, password=password, role="experimenter")
    role_user_ensure(username=APPROVER, password=password, role="approver")


class Round:
    """One run of every command; the request made in one round is the one
    approved in it, to the stage the version is not in."""

    def __init__(self, scratch: Scratch, index: int) -> None:
        self.scratch = scratch
        self.stage = "archived" if index % 2 == 0 else "staging"
        self.request_id = ""

    def arguments(self, command: str) -> list[str]:
        if command == "request_promotion":
            return [
                command, MODEL, "1", "--stage", self.stage, "--user", REQUESTER,
                "--reason", "benchmark", "--json",
            ]  # fmt: skip
        if command == "approve_promotion":
            return [command, self.request_id, "--user", APPROVER, "--reason", "benchmark"]
        if command == "gate_policy":
            return [command, MODEL]
        return [command]

    def run(self, command: str) -> tuple[float, float]:
        arguments = [PYTHON, MANAGE_PY, *self.arguments(command)]
        seconds, cpu, output = timed_run_cpu(arguments, env=self.scratch.env())
        if command == "request_promotion":
            self.request_id = str(json.loads(output)["id"])
        return seconds, cpu


def measure(scratch: Scratch, repeats: int) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {command: [] for command in COMMANDS}
    Round(scratch, 1).run("check")  # warms the page cache
    for index in range(repeats):
        round_ = Round(scratch, index)
        for command in COMMANDS:
            results[command].append(round_.run(command))
    return results


def table_rows(results: dict[str, list[tuple[float, float]]]) -> list[tuple[str, ...]]:
    baseline = median([seconds for seconds, _ in results["check"]])
    rows: list[tuple[str, ...]] = []
    for command in COMMANDS:
        seconds = median([run[0] for run in results[command]])
        cpu = median([run[1] for run in results[command]])
        ratio = seconds / baseline
        is_baseline = command == "check"
        rows.append(
            (
                command,
                f"{seconds:.2f}",
                f"{cpu:.2f}",
                f"{ratio:.2f}",
                "" if is_baseline else f"<= {TARGET_RATIO:.2f}",
                "" if is_baseline else verdict(ratio, TARGET_RATIO),
            )
        )
    return rows


def main() -> None:
    options = options_parse()
    scratch = scratch_create(prefix="bench-command")
    try:
        prepare(scratch)
        results = measure(scratch, options.repeats)
    finally:
        scratch_remove(scratch, keep=options.keep)
    print(f"commands: median of {options.repeats} whole-process runs, interleaved")
    print(f"machine: {machine_description()}")
    print_table(HEADER, table_rows(results))


if __name__ == "__main__":
    main()
