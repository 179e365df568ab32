"""Time the server side of the web pages at 100 and at 10,000 experiments,
on SQLite and on PostgreSQL, and count their SQL queries.

    .venv/bin/python bench/ui_bench.py                  # 10,000 experiments, 1,000,000 metrics
    .venv/bin/python bench/ui_bench.py --smoke          # 20 -> 200 experiments, SQLite only (CI)
    .venv/bin/python bench/ui_bench.py --backends sqlite --requests 50

For each backend a scratch database is migrated and filled by fill_ui.py with
--small experiments (and 100 metric rows per experiment); every page is
requested with django.test.Client as a user holding every role, its queries
counted; the database is then topped up to --experiments experiments and
--metrics metric rows (PostgreSQL is then VACUUM ANALYZEd, as autovacuum would)
and every page is timed: --requests requests after 3 warm-up ones, median and
95th percentile of the whole request (middleware, session, permission checks,
queries, template). The baseline is the login page requested the same way:
the cost of a request that touches no experiment.

Targets: median under 50 ms, p95 under 150 ms, and the same number of queries
at both sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PYTHON,
    machine_description,
    median,
    percentile,
    print_table,
    scratch_create,
    scratch_remove,
)
from mlplatform.redis_server import RedisServer

MEDIAN_TARGET_MS = 50.0
P95_TARGET_MS = 150.0
WARM_UP = 3


def pages() -> list[tuple[str, str]]:
    """(label, path) of every page timed; ids looked up in the filled database."""
    from experiments.models import Experiment
    from registry.models import ModelVersion, Stage

    boosted = (
        Experiment.objects.filter(status="completed", model_type="hist_gradient_boosting")
        .order_by("-pk")
        .values_list("pk", flat=True)
    )
    compared = "&".join(f"ids={pk}" for pk in boosted[:10])
    production = ModelVersion.objects.select_related("registered_model").get(
        registered_model__name="fraud_detector", stage=Stage.PRODUCTION
    )
    model = production.registered_model.name
    return [
        ("dashboard", "/"),
        ("experiments, first page", "/experiments/"),
        ("experiments by average_precision", "/experiments/?sort=average_precision&order=desc"),
        (
            "experiments filtered",
            "/experiments/?status=completed&model_type=hist_gradient_boosting"
            "&name=fraud&sort=average_precision&order=desc",
        ),
        ("experiment detail", f"/experiments/{boosted[0]}/"),
        ("compare 10", f"/experiments/compare/?{compared}"),
        ("registry", "/registry/"),
        ("registered model", f"/registry/models/{model}/"),
        ("model version", f"/registry/models/{model}/versions/{production.version}/"),
    ]


def query_counts(client: Any, paths: list[tuple[str, str]]) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for label, path in paths:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        counts[label] = len(captured.captured_queries)
    return counts


def timings(client: Any, path: str, requests: int) -> list[float]:
    for _ in range(WARM_UP):
        client.get(path)
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        seconds.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
    return [value * 1000 for value in seconds]


def logged_in_client() -> Any:
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="bench_admin"))
    return client


def measure_backend(options: argparse.Namespace) -> dict[str, Any]:
    """In the child process: fill, count, fill more, time; returns the results."""
    import django
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    # No setup_test_environment(): its template instrumentation would add the
    # test client's bookkeeping to every timing.
    django.setup()
    from bench import fill_ui

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    small = fill_ui.fill(experiments=options.small, metrics=options.small * 100)
    client = logged_in_client()
    small_paths = pages()
    small_counts = query_counts(client, small_paths)
    small_times = {label: timings(client, path, 5) for label, path in small_paths}
    large = fill_ui.fill(experiments=options.experiments, metrics=options.metrics)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    fill_seconds = time.perf_counter() - started
    large_paths = pages()
    large_counts = query_counts(client, large_paths)
    results = {}
    for label, path in large_paths:
        results[label] = {
            "path": path,
            "queries_small": small_counts[label],
            "queries_large": large_counts[label],
            "small_median_ms": median(small_times[label]),
            "times_ms": timings(client, path, options.requests),
        }
    baseline = timings(Client(), "/accounts/login/", options.requests)
    return {
        "vendor": connection.vendor,
        "small": small,
        "large": large,
        "fill_seconds": fill_seconds,
        "pages": results,
        "baseline_ms": baseline,
    }


def run_backend(backend: str, options: argparse.Namespace) -> dict[str, Any]:
    """A scratch database and Redis for one backend, measured in a child process."""
    scratch = scratch_create(prefix="bench_ui", postgres=backend == "postgresql")
    redis_server = RedisServer(scratch.directory / "redis")
    try:
        redis_server.start()
        env = scratch.env(REDIS_URL=redis_server.url)
        command = [PYTHON, __file__, "--child", *sys.argv[1:]]
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"{backend}: {completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        return result
    finally:
        redis_server.stop()
        scratch_remove(scratch, keep=options.keep)


def table_rows(backend: str, result: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    floor = median(result["baseline_ms"])
    for label, page in result["pages"].items():
        times = page["times_ms"]
        page_median, page_p95 = median(times), percentile(times, 0.95)
        same = page["queries_small"] == page["queries_large"]
        passed = page_median < MEDIAN_TARGET_MS and page_p95 < P95_TARGET_MS and same
        rows.append(
            (
                backend,
                label,
                f"{page['queries_small']}/{page['queries_large']}",
                f"{page['small_median_ms']:.1f}",
                f"{page_median:.1f}",
                f"{page_p95:.1f}",
                f"{page_median / floor:.1f}",
                "PASS" if passed else "MISS",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, SQLite only (CI)")
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100, help="experiments at the first size")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--keep", action="store_true", help="keep the scratch installations")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.smoke:
        options.experiments, options.metrics, options.small = 200, 20_000, 20
        options.requests, options.backends = 3, "sqlite"
    if options.child:
        print(json.dumps(measure_backend(options)))
        return
    results = {backend: run_backend(backend, options) for backend in options.backends.split(",")}
    print(
        f"pages: {options.small:,} -> {options.experiments:,} experiments, "
        f"{options.metrics:,} metric rows; {options.requests} timed requests per page "
        f"after {WARM_UP} warm-up; Django test client, server side only"
    )
    print(f"machine: {machine_description()}")
    for backend, result in results.items():
        print(
            f"{backend}: filled {result['large']['experiments']:,} experiments and "
            f"{result['large']['metrics']:,} metrics in {result['fill_seconds']:.0f} s; "
            f"baseline (login page) median {median(result['baseline_ms']):.1f} ms"
        )
    print_table(
        (
            "backend", "page", f"queries {options.small}/{options.experiments}",
            f"ms @{options.small}", "median ms", "p95 ms", "x login", "result",
        ),
        [row for backend, result in results.items() for row in table_rows(backend, result)],
    )  # fmt: skip
    print(
        f"targets: median < {MEDIAN_TARGET_MS:.0f} ms, p95 < {P95_TARGET_MS:.0f} ms, same queries"
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlplatform.settings")
    main()
