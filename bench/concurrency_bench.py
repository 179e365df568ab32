"""Two gradient-boosting experiments on one host: queued on one worker against
run side by side on two, with and without the thread budget, on a quiet host
and beside a CPU-bound process.

    .venv/bin/python bench/concurrency_bench.py          # full size: 284,807 rows, 3 runs each
    .venv/bin/python bench/concurrency_bench.py --smoke  # 4,000 rows, 1 run, quiet host (CI)

A scratch installation with its own redis-server and real `manage.py
rqworker training` processes on this host. The experiments are
`configs/fraud_hgb.yaml` without its `registry:` section (200 trees, no early
stopping), submitted through the service the web and the API call.

- queued:      one worker, two experiments submitted together: it runs them
               one after the other;
- concurrent:  two workers, the same two experiments: one each, at once;
- alone:       one worker, one experiment, against `bench/plain_train.py` (a
               whole process: read the CSV, fit with scikit-learn's default
               threads, the same metrics and curves) run right before it.

The time of a run is from the submission to the last experiment's
finished_at (the makespan). "budget" is the default: every work-horse limits
its BLAS/OpenMP threads to the CPUs divided by the training workers alive on
the host. "no budget" starts the workers with TRAINING_THREADS set to the
CPU count, which is what every fit took before the budget existed. "busy"
runs a third process, a Python busy loop, beside the workers.

Targets (quiet host, budget): concurrent <= 1.00 x queued; alone <= 1.05 x
the plain script. The rest is shown for information. Runs are interleaved so
that a change in the machine's load touches every variant alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    FRAUD_CSV,
    MANAGE_PY,
    PYTHON,
    ROOT,
    Scratch,
    fraud_dataset_register,
    load_average,
    machine_description,
    median,
    print_table,
    process_stop,
    scratch_create,
    scratch_remove,
    timed_run,
)
from mlplatform.redis_server import RedisServer

CONCURRENT_TARGET = 1.00
ALONE_TARGET = 1.05
PLAIN_SCRIPT = str(Path(__file__).resolve().parent / "plain_train.py")
HEADER = ("host", "threads", "run", "makespan s", "baseline", "ratio", "target", "result")
BUSY_LOOP = "while True: pass"


def options_parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, one run, quiet only")
    parser.add_argument("--rows", type=int, default=284_807)
    parser.add_argument("--frauds", type=int, default=492)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant (median)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch installation")
    options = parser.parse_args()
    if options.smoke:
        options.rows, options.frauds, options.repeats = 4000, 120, 1
    return options


def prepare(scratch: Scratch, options: argparse.Namespace) -> Path:
    """The data set registered and cached; the config without `registry:`."""
    fraud_dataset_register(scratch, rows=options.rows, frauds=options.frauds)
    document = yaml.safe_load((ROOT / "configs" / "fraud_hgb.yaml").read_text())
    document.pop("registry", None)
    document.pop("gate", None)
    config = scratch.directory / "fraud_hgb_noregistry.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    scratch.activate()
    import django

    django.setup()
    return config


@contextmanager
def workers(scratch: Scratch, count: int, *, budget: bool) -> Iterator[None]:
    """`count` training workers on this host, listening; stopped afterwards."""
    from rq.worker import Worker

    from experiments.queue import training_queue

    env = scratch.env() if budget else scratch.env(TRAINING_THREADS=str(os.cpu_count() or 1))
    logs = scratch.directory / "logs"
    logs.mkdir(exist_ok=True)
    processes = []
    names = []
    for number in range(count):
        name = f"bench-{'budget' if budget else 'nobudget'}-{count}-{number}-{time.time_ns()}"
        names.append(name)
        with (logs / f"{name}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [PYTHON, MANAGE_PY, "rqworker", "training", "--name", name],
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 120
        while len(Worker.all(queue=training_queue())) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"workers did not start; see {logs}")
            time.sleep(0.1)
        yield
    finally:
        for process in processes:
            process.terminate()
        for process, name in zip(processes, names, strict=True):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-2000:]
                print(f"{name} ignored SIGTERM for 30 s, killed; its log:\n{tail}", file=sys.stderr)
                process.kill()
                process.wait(timeout=30)
        # The next variant counts only the workers it starts (a killed
        # worker's registration outlives it, but the budget checks its pid).
        wait_for_no_workers()


def wait_for_no_workers() -> None:
    from experiments.threads import training_workers_on_host

    deadline = time.monotonic() + 30
    while training_workers_on_host():
        if time.monotonic() > deadline:
            raise RuntimeError("stopped workers are still alive after 30 s")
        time.sleep(0.1)


@contextmanager
def busy_host(busy: bool) -> Iterator[None]:
    """A CPU-bound process beside the workers, for the "busy" rows."""
    if not busy:
        yield
        return
    process = subprocess.Popen([PYTHON, "-c", BUSY_LOOP])
    try:
        yield
    finally:
        process_stop(process)


def makespan(config_text: str, count: int) -> float:
    """Submit `count` experiments together; seconds until the last one finished."""
    from django.utils import timezone

    from experiments.models import Experiment, Status
    from experiments.services import experiment_submit

    submitted = timezone.now()
    ids = [experiment_submit(config_text=config_text).experiment.pk for _ in range(count)]
    deadline = time.monotonic() + 3600
    while Experiment.objects.filter(pk__in=ids, finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("experiments not finished after an hour")
        time.sleep(0.05)
    finished = Experiment.objects.filter(pk__in=ids)
    failed = [e for e in finished if e.status != Status.COMPLETED]
    if failed:
        raise RuntimeError(
            f"experiment #{failed[0].pk} {failed[0].status}: {failed[0].error_message}"
        )
    last = max(experiment.finished_at for experiment in finished if experiment.finished_at)
    return (last - submitted).total_seconds()


def plain_seconds(scratch: Scratch, config: Path) -> float:
    command = [PYTHON, PLAIN_SCRIPT, str(scratch.data_root / FRAUD_CSV), "--config", str(config)]
    seconds, _ = timed_run(command, env=scratch.env())
    return seconds


def measure(
    scratch: Scratch, config: Path, options: argparse.Namespace
) -> dict[tuple[str, str, str], list[float]]:
    """Seconds of each (host, threads, run) variant, repeats interleaved."""
    config_text = config.read_text()
    hosts = ("quiet",) if options.smoke else ("quiet", "busy")
    budgets = (True,) if options.smoke else (True, False)
    results: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(options.repeats):
        for host in hosts:
            with busy_host(host == "busy"):
                for budget in budgets:
                    threads = "budget" if budget else "no budget"
                    with workers(scratch, 1, budget=budget):
                        results.setdefault((host, threads, "plain"), []).append(
                            plain_seconds(scratch, config)
                        )
                        results.setdefault((host, threads, "alone"), []).append(
                            makespan(config_text, 1)
                        )
                        results.setdefault((host, threads, "queued"), []).append(
                            makespan(config_text, 2)
                        )
                    with workers(scratch, 2, budget=budget):
                        results.setdefault((host, threads, "concurrent"), []).append(
                            makespan(config_text, 2)
                        )
        print(f"round done, load average {load_average()}", file=sys.stderr)
        print_table(HEADER, table_rows(results), file=sys.stderr)
    return results


def table_rows(results: dict[tuple[str, str, str], list[float]]) -> list[list[str]]:
    rows = []
    for host, threads in dict.fromkeys((host, threads) for host, threads, _ in results):
        seconds = {
            run: median(results[(host, threads, run)])
            for run in ("plain", "alone", "queued", "concurrent")
        }
        judged = host == "quiet" and threads == "budget"
        for run, baseline, target in (
            ("alone", "plain", ALONE_TARGET),
            ("concurrent", "queued", CONCURRENT_TARGET),
        ):
            ratio = seconds[run] / seconds[baseline]
            rows.append([
                host, threads, f"{run} vs {baseline}", f"{seconds[run]:.2f}",
                f"{seconds[baseline]:.2f}", f"{ratio:.2f}",
                f"<= {target:.2f}" if judged else "-",
                ("PASS" if ratio <= target else "MISS") if judged else "(info)",
            ])  # fmt: skip
    return rows


def main() -> None:
    options = options_parse()
    scratch = scratch_create(prefix="bench_concurrency")
    redis_server = RedisServer(scratch.directory / "redis")
    try:
        redis_server.start()
        scratch.extra_env["REDIS_URL"] = redis_server.url
        config = prepare(scratch, options)
        print(f"machine: {machine_description()}", file=sys.stderr)
        results = measure(scratch, config, options)
    finally:
        redis_server.stop()
        scratch_remove(scratch, keep=options.keep)
    print(f"{machine_description()}; {options.rows:,} rows, median of {options.repeats}")
    print_table(HEADER, table_rows(results))


if __name__ == "__main__":
    main()
