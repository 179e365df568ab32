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

HTTP mode (--http) times whole requests over a real socket instead, against
gunicorn (gunicorn.conf.py, as deployed) and against `manage.py runserver`,
on a scratch SQLite installation filled with --small experiments: the login
page with one connection kept alive and with a new connection per request,
the dashboard (logged in, kept alive) and an authenticated API call
(GET /api/v1/me/). Target: the login page kept alive, p50 under 10 ms with
gunicorn (runserver is shown for comparison).

    .venv/bin/python bench/ui_bench.py --http [--requests 200]
    .venv/bin/python bench/ui_bench.py --http --smoke
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
    HttpClient,
    Scratch,
    load_average,
    machine_description,
    median,
    percentile,
    print_table,
    process_stop,
    scratch_create,
    scratch_remove,
    web_server_start,
)
from mlplatform.redis_server import RedisServer, free_port

MEDIAN_TARGET_MS = 50.0
P95_TARGET_MS = 150.0
WARM_UP = 3
HTTP_P50_TARGET_MS = 10.0
HTTP_PASSWORD = "bench-ui-http-password-1"  # noqa: S105 - a throw-away user in a scratch database


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


# ------------------------------------------------------------------ HTTP mode


def http_prepare(scratch: Scratch, experiments: int) -> str:
    """Migrate and fill the scratch database; give bench_admin a password;
    return an API token for it."""
    scratch.manage("migrate", "--verbosity", "0")
    scratch.activate()
    import django

    django.setup()
    from django.contrib.auth.models import User

    from api.services import api_token_create
    from bench import fill_ui

    fill_ui.fill(experiments=experiments, metrics=experiments * 100)
    user = User.objects.get(username=fill_ui.BENCH_USER)
    user.set_password(HTTP_PASSWORD)
    user.save(update_fields=["password"])
    return api_token_create(user=user, name="ui_bench").secret


def http_session_cookie(port: int) -> str:
    """Log in through the login form, as a browser does; the session cookie."""
    client = HttpClient(port)
    _, headers, _ = client.request("GET", "/accounts/login/")
    csrf = _cookie(headers, "csrftoken")
    from bench.fill_ui import BENCH_USER

    form = f"username={BENCH_USER}&password={HTTP_PASSWORD}&csrfmiddlewaretoken={csrf}"
    status, headers, _ = client.request(
        "POST",
        "/accounts/login/",
        body=form.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
        },
    )
    client.close()
    if status != 302:
        raise RuntimeError(f"login failed: HTTP {status}")
    return f"sessionid={_cookie(headers, 'sessionid')}"


def _cookie(headers: dict[str, str], name: str) -> str:
    for part in headers.get("set-cookie", "").replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    raise RuntimeError(f"no {name} cookie in {headers.get('set-cookie')!r}")


def http_timings(client: HttpClient, path: str, requests: int) -> list[float]:
    for _ in range(WARM_UP):
        client.request("GET", path)
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        status, _, _ = client.request("GET", path)
        seconds.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
    client.close()
    return [value * 1000 for value in seconds]


def http_measure(port: int, token: str, requests: int) -> dict[str, list[float]]:
    session = {"Cookie": http_session_cookie(port)}
    bearer = {"Authorization": f"Bearer {token}"}
    return {
        "login page, kept alive": http_timings(HttpClient(port), "/accounts/login/", requests),
        "login page, new connections": http_timings(
            HttpClient(port, keep_alive=False), "/accounts/login/", requests
        ),
        "dashboard, kept alive": http_timings(HttpClient(port, headers=session), "/", requests),
        "API GET /api/v1/me/, kept alive": http_timings(
            HttpClient(port, headers=bearer), "/api/v1/me/", requests
        ),
    }


def http_mode(options: argparse.Namespace) -> None:
    scratch = scratch_create(prefix="bench_ui_http")
    redis_server = RedisServer(scratch.directory / "redis")  # the dashboard asks the queue
    try:
        redis_server.start()
        scratch.extra_env["REDIS_URL"] = redis_server.url
        token = http_prepare(scratch, options.small)
        results = {}
        loads = {}
        for server in ("gunicorn", "runserver"):
            port = free_port()
            log = scratch.directory / f"{server}.log"
            process = web_server_start(server, scratch, port, log)
            try:
                results[server] = http_measure(port, token, options.requests)
                loads[server] = load_average()
            finally:
                process_stop(process)
    finally:
        redis_server.stop()
        scratch_remove(scratch, keep=options.keep)
    print(
        f"HTTP: {options.requests} timed requests per row after {WARM_UP} warm-up, "
        f"whole request over a local socket; SQLite, {options.small} experiments"
    )
    print(f"machine: {machine_description()}")
    print("load average after each server: " + "; ".join(f"{k} {v}" for k, v in loads.items()))
    print_table(
        ("server", "page", "p50 ms", "p95 ms", "target", "result"),
        [row for server, pages in results.items() for row in http_rows(server, pages)],
    )


def http_rows(server: str, pages: dict[str, list[float]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for label, times in pages.items():
        judged = server == "gunicorn" and label == "login page, kept alive"
        p50 = median(times)
        result = ("PASS" if p50 < HTTP_P50_TARGET_MS else "MISS") if judged else "(info)"
        target = f"p50 < {HTTP_P50_TARGET_MS:.0f}" if judged else "-"
        rows.append((server, label, f"{p50:.1f}", f"{percentile(times, 0.95):.1f}", target, result))
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
    parser.add_argument("--http", action="store_true", help="time requests over HTTP instead")
    options = parser.parse_args()
    if options.http:
        options.requests = 20 if options.smoke else max(options.requests, 200)
        options.small = 20 if options.smoke else options.small
        http_mode(options)
        return
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
