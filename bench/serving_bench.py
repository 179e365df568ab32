"""Serving against plain scikit-learn: predictions over the API (gunicorn, as
deployed) and batch scoring with `manage.py score`.

    .venv/bin/python bench/serving_bench.py                 # full-size data, ~3 min
    .venv/bin/python bench/serving_bench.py --smoke         # tiny data, few requests (CI)
    .venv/bin/python bench/serving_bench.py --postgres      # a scratch PostgreSQL database

A scratch installation: the generated fraud data set (--rows) registered as
credit_card_fraud:v1, configs/fraud_baseline.yaml trained, gated and
promoted to production through the commands, gunicorn started with
gunicorn.conf.py. Then:

- single row: POST .../stages/production/predict with one record, against a
  trivial authenticated API call on the same server (GET /api/v1/me/: the
  token lookup, the permission check, a JSON answer); --requests of each,
  alternated, on one kept-alive connection each. Target: predict p95 within
  3x the trivial call's p95.
- 10,000 rows: the same endpoint with 10,000 records (from the data set),
  the server's own time (its Server-Timing header: reading and parsing the
  body, checking every row, predicting, answering) against the same work
  done plainly in this process: json.loads of the same body, a DataFrame of
  its records, predict_proba of the same model (the artifact downloaded
  through the API). Median of --batch-requests, alternated. Target: 1.5x.
  The server parses JSON with orjson; an info row compares it with a plain
  side that does too.
- batch scoring: `manage.py score` on the whole CSV (a recorded run: the
  input hashed, the model verified, every row checked) against
  bench/plain_score.py, which reads the CSV with pandas, loads the model and
  writes the same CSV (checked byte for byte); whole processes, interpreter
  start-up included, median of --repeats interleaved. Target: 1.3x.

The machine is shared: the load average is printed before and after each
measurement, and the ratios move with it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MANAGE_PY,
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
    timed_run,
    verdict,
    web_server_start,
)
from mlplatform.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = "/api/v1/models/fraud_detector/stages/production/predict"
TRIVIAL = "/api/v1/me/"
SINGLE_ROW_TARGET = 3.0
MANY_ROWS_TARGET = 1.5
BATCH_TARGET = 1.3
MANY_ROWS = 10_000
WARM_UP = 5


def options_parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, few requests (CI)")
    parser.add_argument("--rows", type=int, default=284_807)
    parser.add_argument("--frauds", type=int, default=492)
    parser.add_argument("--requests", type=int, default=300, help="single-row and trivial calls")
    parser.add_argument("--batch-requests", type=int, default=15, help="10,000-row predicts")
    parser.add_argument("--repeats", type=int, default=5, help="batch scoring runs of each")
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL database")
    parser.add_argument("--keep", action="store_true", help="keep the scratch installation")
    options = parser.parse_args()
    if options.smoke:
        options.rows, options.frauds = 4000, 120
        options.requests, options.batch_requests, options.repeats = 20, 2, 1
    return options


# ------------------------------------------------------------------ set-up


def prepare(scratch: Scratch, options: argparse.Namespace) -> str:
    """Data, a production model and a viewer's API token."""
    csv = input_csv(scratch)
    scratch.manage("migrate", "--verbosity", "0")
    scratch.manage(
        "make_fraud_data", "--out", str(csv), "--rows", str(options.rows),
        "--frauds", str(options.frauds),
    )  # fmt: skip
    scratch.manage("register_dataset", "credit_card_fraud", "v1", str(csv), "--target", "Class")
    scratch.activate()
    import django

    django.setup()
    from api.services import api_token_create
    from registry.services import role_user_ensure

    for role in ("experimenter", "approver", "viewer"):
        role_user_ensure(username=f"bench_{role}", password="bench-pw-1", role=role)  # noqa: S106
    scratch.manage(
        "run_experiment", "--config", str(ROOT / "configs" / "fraud_baseline.yaml"),
        "--user", "bench_experimenter",
    )  # fmt: skip
    requested = scratch.manage(
        "request_promotion", "fraud_detector", "1", "--stage", "production",
        "--user", "bench_experimenter", "--reason", "serving benchmark", "--json",
    )  # fmt: skip
    request_id = str(json.loads(requested.stdout)["id"])
    scratch.manage("approve_promotion", request_id, "--user", "bench_approver", "--reason", "ok")
    from django.contrib.auth.models import User

    return api_token_create(user=User.objects.get(username="bench_viewer"), name="bench").secret


def input_csv(scratch: Scratch) -> Path:
    return scratch.data_root / "credit_card_fraud" / "v1" / "creditcard.csv"


# ------------------------------------------------------------------ API


def records_body(scratch: Scratch, features: list[str], rows: int) -> bytes:
    import pandas as pd

    frame = pd.read_csv(input_csv(scratch), nrows=rows)
    return json.dumps({"records": frame[features].to_dict(orient="records")}).encode()


def post_json(client: HttpClient, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    return client.request("POST", path, body=body, headers={"Content-Type": "application/json"})


def single_row(
    port: int, token: str, body: bytes, requests: int
) -> tuple[list[float], list[float]]:
    """(trivial call ms, single-row predict ms), alternated, each on its own connection."""
    bearer = {"Authorization": f"Bearer {token}"}
    trivial_client, predict_client = (
        HttpClient(port, headers=bearer),
        HttpClient(port, headers=bearer),
    )
    trivial, predict = [], []
    for index in range(WARM_UP + requests):
        started = time.perf_counter()
        status, _, _ = trivial_client.request("GET", TRIVIAL)
        middle = time.perf_counter()
        answered, _, _ = post_json(predict_client, PRODUCTION, body)
        ended = time.perf_counter()
        if (status, answered) != (200, 200):
            raise RuntimeError(f"HTTP {status} / {answered}")
        if index >= WARM_UP:
            trivial.append((middle - started) * 1000)
            predict.append((ended - middle) * 1000)
    trivial_client.close()
    predict_client.close()
    return trivial, predict


def many_rows(
    port: int, token: str, body: bytes, model: Any, features: list[str], requests: int
) -> tuple[list[float], dict[str, list[float]], int]:
    """(server ms from Server-Timing, {parser: in-process plain ms}, rows), alternated.
    The plain side parses the body with json (the standard library) and,
    for comparison, with orjson, which the server uses."""
    import orjson

    client = HttpClient(port, headers={"Authorization": f"Bearer {token}"})
    server: list[float] = []
    plain: dict[str, list[float]] = {"json": [], "orjson": []}
    rows = 0
    for index in range(1 + requests):
        status, headers, answer = post_json(client, PRODUCTION, body)
        if status != 200:
            raise RuntimeError(f"predict: HTTP {status}: {answer[:500]!r}")
        rows = len(json.loads(answer)["predictions"])
        timings = {name: _plain_predict(parse, body, model, features)
                   for name, parse in (("json", json.loads), ("orjson", orjson.loads))}  # fmt: skip
        if index:  # the first of each is a warm-up
            server.append(float(headers["server-timing"].removeprefix("app;dur=")))
            for name, milliseconds in timings.items():
                plain[name].append(milliseconds)
    client.close()
    return server, plain, rows


def _plain_predict(parse: Any, body: bytes, model: Any, features: list[str]) -> float:
    """Milliseconds to parse the body, build a DataFrame of its records and predict."""
    import pandas as pd

    started = time.perf_counter()
    frame = pd.DataFrame(parse(body)["records"])
    model.predict_proba(frame[features])
    return (time.perf_counter() - started) * 1000


def artifact_and_features(port: int, token: str) -> tuple[bytes, list[str], float]:
    client = HttpClient(port, headers={"Authorization": f"Bearer {token}"})
    _, _, detail = client.request("GET", "/api/v1/models/fraud_detector/versions/1/")
    _, headers, artifact = client.request(
        "GET", "/api/v1/models/fraud_detector/versions/1/artifact/"
    )
    client.close()
    if hashlib.sha256(artifact).hexdigest() != headers["x-artifact-sha256"]:
        raise RuntimeError("the downloaded artifact does not match its digest")
    version = json.loads(detail)
    return artifact, version["feature_columns"], version["threshold"]


# ------------------------------------------------------------------ batch


def batch(
    scratch: Scratch, model_path: Path, threshold: float, repeats: int
) -> tuple[list[float], list[float]]:
    """(score command s, plain script s), interleaved; the outputs must match."""
    env = scratch.env()
    csv = input_csv(scratch)
    ours, theirs = scratch.directory / "scored.csv", scratch.directory / "plain.csv"
    platform, plain = [], []
    for _ in range(repeats):
        seconds, _ = timed_run(
            [PYTHON, MANAGE_PY, "score", "fraud_detector", "--stage", "production",
             "--input", str(csv), "--output", str(ours), "--force"],
            env=env,
        )  # fmt: skip
        platform.append(seconds)
        seconds, _ = timed_run(
            [PYTHON, str(ROOT / "bench" / "plain_score.py"), str(model_path), str(csv),
             str(theirs), "--threshold", str(threshold)],
            env=env,
        )  # fmt: skip
        plain.append(seconds)
    if _digest(ours) != _digest(theirs):
        raise RuntimeError("manage.py score and the plain script wrote different CSVs")
    return platform, plain


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ main


def main() -> None:
    options = options_parse()
    scratch = scratch_create(prefix="bench_serving", postgres=options.postgres)
    loads: list[str] = []
    try:
        token = prepare(scratch, options)
        port = free_port()
        server = web_server_start("gunicorn", scratch, port, scratch.directory / "gunicorn.log")
        try:
            artifact, features, threshold = artifact_and_features(port, token)
            model_path = scratch.directory / "model.skops"
            model_path.write_bytes(artifact)
            from experiments.model_format import model_from_bytes

            model = model_from_bytes(artifact)
            loads.append(f"start {load_average()}")
            trivial, predict = single_row(
                port, token, records_body(scratch, features, 1), options.requests
            )
            loads.append(f"after single rows {load_average()}")
            body = records_body(scratch, features, min(MANY_ROWS, options.rows))
            server_ms, plain_by_parser, rows = many_rows(
                port, token, body, model, features, options.batch_requests
            )
            loads.append(f"after {rows:,} rows {load_average()}")
        finally:
            process_stop(server)
        platform_s, plain_s = batch(scratch, model_path, threshold, options.repeats)
        loads.append(f"after batch {load_average()}")
    finally:
        scratch_remove(scratch, keep=options.keep)
    report(options, trivial, predict, server_ms, plain_by_parser, rows, platform_s, plain_s, loads)


def report(
    options: argparse.Namespace,
    trivial: list[float],
    predict: list[float],
    server_ms: list[float],
    plain_by_parser: dict[str, list[float]],
    rows: int,
    platform_s: list[float],
    plain_s: list[float],
    loads: list[str],
) -> None:
    backend = "PostgreSQL" if options.postgres else "SQLite"
    print(
        f"serving: {options.rows:,}-row data set, {backend}, gunicorn (gunicorn.conf.py); "
        f"{options.requests} single-row calls, {options.batch_requests} x {rows:,} rows, "
        f"{options.repeats} batch runs"
    )
    print(f"machine: {machine_description()}")
    print("load average (shared machine): " + "; ".join(loads))
    single = percentile(predict, 0.95) / percentile(trivial, 0.95)
    plain_ms, plain_orjson_ms = plain_by_parser["json"], plain_by_parser["orjson"]
    many = median(server_ms) / median(plain_ms)
    whole = median(platform_s) / median(plain_s)
    print_table(
        ("measured", "platform", "baseline", "ratio", "target", "result"),
        [
            (
                "single-row predict p95 vs GET /api/v1/me/ p95",
                f"{percentile(predict, 0.95):.1f} ms", f"{percentile(trivial, 0.95):.1f} ms",
                f"{single:.2f}", f"<= {SINGLE_ROW_TARGET}", verdict(single, SINGLE_ROW_TARGET),
            ),
            (
                "single-row predict p50 vs GET /api/v1/me/ p50",
                f"{median(predict):.1f} ms", f"{median(trivial):.1f} ms",
                f"{median(predict) / median(trivial):.2f}", "-", "(info)",
            ),
            (
                f"{rows:,}-row predict, server time vs in-process plain",
                f"{median(server_ms):.0f} ms", f"{median(plain_ms):.0f} ms",
                f"{many:.2f}", f"<= {MANY_ROWS_TARGET}", verdict(many, MANY_ROWS_TARGET),
            ),
            (
                f"{rows:,}-row predict, server time vs plain with orjson",
                f"{median(server_ms):.0f} ms", f"{median(plain_orjson_ms):.0f} ms",
                f"{median(server_ms) / median(plain_orjson_ms):.2f}", "-", "(info)",
            ),
            (
                f"batch scoring {options.rows:,} rows: manage.py score vs plain script",
                f"{median(platform_s):.2f} s", f"{median(plain_s):.2f} s",
                f"{whole:.2f}", f"<= {BATCH_TARGET}", verdict(whole, BATCH_TARGET),
            ),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
