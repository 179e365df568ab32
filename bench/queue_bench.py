"""Submit small experiments through the web endpoint to two RQ workers and time
the submission, the wait until RUNNING and the throughput; check that every
experiment ran exactly once.

    .venv/bin/python bench/queue_bench.py                 # 10 one at a time, then 100 at once
    .venv/bin/python bench/queue_bench.py --smoke         # 2, then 6 (CI)
    .venv/bin/python bench/queue_bench.py --postgres      # a scratch PostgreSQL database

A scratch installation with its own redis-server, a real HTTP server
(`manage.py runserver --noreload`, DEBUG off) and two `manage.py rqworker
training` processes. A logged-in session (CSRF token and all) POSTs the launch
form with a small logistic-regression config on a 4,000-row data set.

- idle:  --idle experiments, each submitted once the previous one finished, so
         a worker is always free: submission latency and submit -> RUNNING
         (the experiment's started_at, written by the worker's claim);
- burst: --burst experiments submitted back to back: submission latency,
         throughput (experiments per second from the first submission to the
         last finished_at) and the queue wait;
- exactly once: every experiment COMPLETED, one job each (experiment-<id>,
         finished, returning "completed"), metrics recorded once;
- baselines: GET of the launch form on the same server (a request that
         writes nothing) for the latency, and the same experiments executed
         one after another in one process (experiment_execute, no queue) for
         the throughput.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MANAGE_PY,
    PYTHON,
    Scratch,
    machine_description,
    median,
    percentile,
    print_table,
    scratch_create,
    scratch_remove,
)
from mlplatform.redis_server import RedisServer, free_port

LATENCY_P95_TARGET = 0.100
RUNNING_MEDIAN_TARGET = 1.0
PASSWORD = "bench-queue-password-1"  # noqa: S105 - a throw-away user in a scratch database
USERNAME = "bench_submitter"
CONFIG = """\
experiment_name: bench_queue_{number:04d}
dataset:
  name: bench_small
  version: v1
model:
  type: logistic_regression
  params:
    class_weight: balanced
    max_iter: 200
split:
  test_size: 0.2
  seed: 42
run:
  timeout_seconds: 300
"""


class Browser:
    """A session against the live server: cookies, CSRF token, no redirects followed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.status, response.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": self.csrf()}).encode()
        request = urllib.request.Request(  # noqa: S310 - http to our own server
            self.base_url + path, data=data, headers={"Referer": self.base_url + path}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers.get("Location", "")
        except urllib.error.HTTPError as error:  # 302 arrives here: redirects are not followed
            return error.code, error.headers.get("Location", "")

    def csrf(self) -> str:
        return next(
            cookie.value
            for cookie in self.cookies
            if cookie.name == "csrftoken" and cookie.value is not None
        )

    def log_in(self) -> None:
        self.get("/accounts/login/")
        status, _ = self.post("/accounts/login/", {"username": USERNAME, "password": PASSWORD})
        if status != 302:
            raise RuntimeError(f"login failed: HTTP {status}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def submit(browser: Browser, number: int) -> tuple[int, float, float]:
    """POST the launch form; (experiment id, seconds taken, wall-clock time sent)."""
    sent = time.time()
    started = time.perf_counter()
    status, location = browser.post(
        "/experiments/new/", {"config_file": "", "config_text": CONFIG.format(number=number)}
    )
    seconds = time.perf_counter() - started
    match = re.fullmatch(r"/experiments/(\d+)/", location)
    if status != 302 or match is None:
        raise RuntimeError(f"submission {number}: HTTP {status} {location}")
    return int(match.group(1)), seconds, sent


# ------------------------------------------------------------------ set-up


def prepare(scratch: Scratch) -> None:
    scratch.manage("migrate", "--verbosity", "0")
    csv = scratch.data_root / "bench_small" / "v1" / "small.csv"
    scratch.manage("make_fraud_data", "--out", str(csv), "--rows", "4000", "--frauds", "120")
    scratch.manage("register_dataset", "bench_small", "v1", str(csv), "--target", "Class")
    scratch.activate()
    import django

    django.setup()
    from registry.services import role_user_ensure

    role_user_ensure(username=USERNAME, password=PASSWORD, role="experimenter")


def start_processes(scratch: Scratch, port: int) -> list[subprocess.Popen[bytes]]:
    env = scratch.env()
    logs = scratch.directory / "logs"
    logs.mkdir()
    processes = []
    for name in ("bench-worker-1", "bench-worker-2"):
        command = [PYTHON, MANAGE_PY, "rqworker", "training", "--name", name]
        processes.append(_spawn(command, env, logs / f"{name}.log"))
    command = [PYTHON, MANAGE_PY, "runserver", "--noreload", f"127.0.0.1:{port}"]
    processes.append(_spawn(command, env, logs / "runserver.log"))
    return processes


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


def wait_until_ready(base_url: str, redis_url: str, processes: list[Any]) -> None:
    import redis
    from rq import Worker

    connection = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 120
    while True:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a worker or the web server exited during start-up")
        if len(Worker.all(connection=connection)) == 2 and _answers(base_url):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("workers or web server not up after 120 s")
        time.sleep(0.2)


def _answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/accounts/login/", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ------------------------------------------------------------------ phases


def wait_finished(ids: list[int], timeout: float) -> None:
    from experiments.models import Experiment

    deadline = time.monotonic() + timeout
    while Experiment.objects.filter(pk__in=ids, finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"experiments not finished after {timeout:.0f} s")
        time.sleep(0.05)


def idle_phase(browser: Browser, count: int) -> list[tuple[int, float, float]]:
    submissions = []
    for number in range(count):
        submission = submit(browser, number)
        submissions.append(submission)
        wait_finished([submission[0]], timeout=120)
    return submissions


def burst_phase(browser: Browser, count: int, first: int) -> list[tuple[int, float, float]]:
    submissions = [submit(browser, first + number) for number in range(count)]
    wait_finished([pk for pk, _, _ in submissions], timeout=60 + 10 * count)
    return submissions


def waits_until_running(submissions: list[tuple[int, float, float]]) -> list[float]:
    from experiments.models import Experiment

    started = dict(
        Experiment.objects.filter(pk__in=[pk for pk, _, _ in submissions]).values_list(
            "pk", "started_at"
        )
    )
    return [_timestamp(started[pk]) - sent for pk, _, sent in submissions]


def throughput(submissions: list[tuple[int, float, float]]) -> float:
    from experiments.models import Experiment

    rows = Experiment.objects.filter(pk__in=[pk for pk, _, _ in submissions])
    last = max(_timestamp(moment) for moment in rows.values_list("finished_at", flat=True))
    return len(submissions) / (last - min(sent for _, _, sent in submissions))


def _timestamp(moment: datetime | None) -> float:
    if moment is None:
        raise RuntimeError("an experiment was not started or not finished")
    return moment.timestamp()


def exactly_once(ids: list[int], redis_url: str) -> tuple[bool, str]:
    """Every experiment COMPLETED once: one started_at, its own finished job
    that returned "completed", the engine's metrics recorded once."""
    import redis
    from django.db.models import Count
    from rq.job import Job

    from experiments.models import Experiment, Metric

    rows = list(Experiment.objects.filter(pk__in=ids))
    problems = []
    if len(rows) != len(ids) or any(row.status != "completed" for row in rows):
        problems.append("not every experiment COMPLETED")
    if any(row.started_at is None or row.job_id != f"experiment-{row.pk}" for row in rows):
        problems.append("a run without its claim or its own job id")
    connection = redis.Redis.from_url(redis_url)
    jobs = Job.fetch_many([f"experiment-{pk}" for pk in ids], connection=connection)
    if any(job is None or job.get_status() != "finished" for job in jobs):
        problems.append("a job that did not finish")
    elif any(job is not None and job.return_value() != "completed" for job in jobs):
        problems.append("a job that lost its claim (ran twice?)")
    per_experiment = Metric.objects.filter(experiment_id__in=ids).values("experiment_id")
    counts = set(per_experiment.annotate(total=Count("id")).values_list("total", flat=True))
    if len(counts) != 1:
        problems.append(f"metric counts differ between experiments: {sorted(counts)}")
    return not problems, "; ".join(problems) or f"{len(ids)} of {len(ids)} completed once"


def inline_throughput(count: int) -> float:
    """Experiments per second executed one after another in this process."""
    from experiments.services import experiment_create, experiment_execute

    started = time.perf_counter()
    for number in range(count):
        experiment = experiment_create(
            config_text=CONFIG.format(number=9000 + number), user_name="bench"
        )
        experiment_execute(experiment_id=experiment.pk)
    return count / (time.perf_counter() - started)


def baseline_latencies(browser: Browser, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        browser.get("/experiments/new/")
        seconds.append(time.perf_counter() - started)
    return seconds


# ------------------------------------------------------------------ report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2 + 6 experiments (CI)")
    parser.add_argument("--idle", type=int, default=10, help="experiments with a free worker")
    parser.add_argument("--burst", type=int, default=100, help="experiments submitted at once")
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL database")
    parser.add_argument("--keep", action="store_true", help="keep the scratch installation")
    options = parser.parse_args()
    if options.smoke:
        options.idle, options.burst = 2, 6
    scratch = scratch_create(prefix="bench_queue", postgres=options.postgres)
    redis_server = RedisServer(scratch.directory / "redis")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        redis_server.start()
        scratch.extra_env["REDIS_URL"] = redis_server.url
        prepare(scratch)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        processes = start_processes(scratch, port)
        wait_until_ready(base_url, redis_server.url, processes)
        results = measure(options, base_url, redis_server.url)
    finally:
        stop_processes(processes)
        redis_server.stop()
        scratch_remove(scratch, keep=options.keep)
    report(options, results)


def measure(options: argparse.Namespace, base_url: str, redis_url: str) -> dict[str, Any]:
    browser = Browser(base_url)
    browser.log_in()
    baseline = baseline_latencies(browser, max(10, options.burst // 2))
    idle = idle_phase(browser, options.idle)
    burst = burst_phase(browser, options.burst, first=options.idle)
    ids = [pk for pk, _, _ in idle + burst]
    once, once_text = exactly_once(ids, redis_url)
    return {
        "baseline": baseline,
        "idle_latency": [seconds for _, seconds, _ in idle],
        "idle_running": waits_until_running(idle),
        "burst_latency": [seconds for _, seconds, _ in burst],
        "burst_running": waits_until_running(burst),
        "throughput": throughput(burst),
        "inline_throughput": inline_throughput(min(options.burst, 20)),
        "exactly_once": once,
        "exactly_once_text": once_text,
        "vendor": "postgresql" if options.postgres else "sqlite",
    }


def report(options: argparse.Namespace, results: dict[str, Any]) -> None:
    ms = 1000
    base_p50 = median(results["baseline"])
    rows = []
    for label, latencies in (
        ("idle", results["idle_latency"]),
        ("burst", results["burst_latency"]),
    ):
        p50, p95 = median(latencies), percentile(latencies, 0.95)
        rows.append(
            (
                f"submission latency, {label} (p50 / p95)",
                f"{p50 * ms:.1f} / {p95 * ms:.1f} ms",
                f"{base_p50 * ms:.1f} ms (GET launch form)",
                f"{p50 / base_p50:.1f}",
                f"p95 < {LATENCY_P95_TARGET * ms:.0f} ms",
                "PASS" if p95 < LATENCY_P95_TARGET else "MISS",
            )
        )
    idle_wait = median(results["idle_running"])
    rows.append(
        (
            "submit -> RUNNING, idle workers (median / max)",
            f"{idle_wait:.2f} / {max(results['idle_running']):.2f} s",
            "",
            "",
            f"median < {RUNNING_MEDIAN_TARGET:.0f} s",
            "PASS" if idle_wait < RUNNING_MEDIAN_TARGET else "MISS",
        )
    )
    burst_wait = results["burst_running"]
    rows.append(
        (
            "submit -> RUNNING, burst (median / max)",
            f"{median(burst_wait):.2f} / {max(burst_wait):.2f} s",
            "",
            "",
            "-",
            "(info)",
        )
    )
    rows.append(
        (
            "throughput, burst, 2 workers",
            f"{results['throughput']:.2f} /s",
            f"{results['inline_throughput']:.2f} /s (in-process loop)",
            f"{results['throughput'] / results['inline_throughput']:.2f}",
            "-",
            "(info)",
        )
    )
    rows.append(
        (
            "exactly once",
            results["exactly_once_text"],
            "",
            "",
            "all, once",
            "PASS" if results["exactly_once"] else "MISS",
        )
    )
    print(
        f"queue: {options.idle} experiments one at a time, then {options.burst} at once; "
        f"2 workers, runserver, {results['vendor']}; logistic regression on 4,000 rows"
    )
    print(f"machine: {machine_description()}")
    print_table(("measured", "platform", "baseline", "ratio", "target", "result"), rows)


if __name__ == "__main__":
    main()
