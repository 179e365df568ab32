"""What every benchmark shares: a scratch installation (its own data, var,
cache, artifact folders and database), timed subprocesses, the machine
description and the result table. No Django at import time.

A scratch installation never touches a developer's var/ or data/: every path
setting and DATABASE_URL point into a temporary folder (or, with
--postgres, into a scratch PostgreSQL database created and dropped here).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MANAGE_PY = str(ROOT / "manage.py")
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
# The settings that name a place on disk or a database; all are overridden.
PLACE_VARIABLES = ("DATA_ROOT", "VAR_DIR", "ARTIFACT_ROOT", "DATASET_CACHE_ROOT", "STATIC_ROOT")


@dataclass
class Scratch:
    """A throw-away installation: folders under one temporary directory and a database."""

    directory: Path
    database_url: str
    postgres_name: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def data_root(self) -> Path:
        return self.directory / "data"

    @property
    def var_dir(self) -> Path:
        return self.directory / "var"

    @property
    def cache_root(self) -> Path:
        return self.var_dir / "cache" / "datasets"

    def env(self, **extra: str) -> dict[str, str]:
        """os.environ with every place and the database pointed here."""
        env = {key: value for key, value in os.environ.items() if key not in PLACE_VARIABLES}
        env.update(
            DJANGO_SETTINGS_MODULE="mlplatform.settings",
            DJANGO_ENV="local",
            DEBUG="0",
            DATABASE_URL=self.database_url,
            DATA_ROOT=str(self.data_root),
            VAR_DIR=str(self.var_dir),
            ARTIFACT_ROOT=str(self.var_dir / "artifacts"),
            DATASET_CACHE_ROOT=str(self.cache_root),
            STATIC_ROOT=str(self.var_dir / "static"),
            LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def activate(self) -> None:
        """Point this process's settings here, before django.setup()."""
        os.environ.update(self.env())
        sys.path.insert(0, str(ROOT))

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [PYTHON, MANAGE_PY, *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and completed.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} exited {completed.returncode}:\n"
                f"{completed.stdout}\n{completed.stderr}"
            )
        return completed


def scratch_create(*, prefix: str, postgres: bool = False) -> Scratch:
    directory = Path(tempfile.mkdtemp(prefix=f"mlplatform-{prefix}-"))
    for place in ("data", "var"):
        (directory / place).mkdir()
    if not postgres:
        return Scratch(directory, f"sqlite:///{directory / 'var' / 'bench.sqlite3'}")
    name = f"{prefix.replace('-', '_')}_{os.getpid()}"
    _postgres_admin(f'CREATE DATABASE "{name}"')
    return Scratch(directory, f"{POSTGRES_ADMIN_URL}/{name}", postgres_name=name)


FRAUD_CSV = Path("versions/v1/creditcard.csv")  # under the scratch's DATA_ROOT


def fraud_dataset_register(scratch: Scratch, *, rows: int, frauds: int) -> Path:
    """Migrate the scratch database, generate the fraud data set and register
    it as credit_card_fraud:v1 (what the shipped configs train on); its CSV."""
    scratch.manage("migrate", "--verbosity", "0")
    csv = scratch.data_root / FRAUD_CSV
    scratch.manage(
        "make_fraud_data", "--out", str(csv), "--rows", str(rows), "--frauds", str(frauds)
    )
    scratch.manage("register_dataset", "credit_card_fraud", "v1", str(csv), "--target", "Class")
    return csv


def scratch_remove(scratch: Scratch, *, keep: bool = False) -> None:
    if scratch.postgres_name and not keep:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{scratch.postgres_name}" WITH (FORCE)')
    if keep:
        print(f"kept scratch installation in {scratch.directory}", file=sys.stderr)
        return
    shutil.rmtree(scratch.directory, ignore_errors=True)


def _postgres_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES_ADMIN_URL}/postgres", autocommit=True) as connection:
        connection.execute(statement)


# ------------------------------------------------------------------ timing


def timed_run(command: Sequence[str], *, env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of one whole process (interpreter start-up included) and its stdout."""
    seconds, _, stdout = timed_run_cpu(command, env=env)
    return seconds, stdout


def timed_run_cpu(command: Sequence[str], *, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU (user + system, all threads) seconds of one whole process, and its
    stdout. CPU time is steadier than wall time on a machine others are using."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        list(command), env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {completed.returncode}:\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    return seconds, cpu, completed.stdout


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], share: float) -> float:
    """The share-quantile (0..1) by linear interpolation; the value itself for one sample."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def verdict(value: float, limit: float) -> str:
    return "PASS" if value <= limit else "MISS"


# ------------------------------------------------------------------ report


def machine_description() -> str:
    """One line that says where the numbers came from."""
    import numpy
    import pandas
    import sklearn

    return (
        f"{datetime.date.today().isoformat()}; {os.cpu_count()} CPUs ({cpu_model()}), "
        f"{memory_gib():.0f} GiB RAM; Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, pandas {pandas.__version__}, "
        f"scikit-learn {sklearn.__version__}; load average {load_average()}"
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def print_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], file: TextIO | None = None
) -> None:
    """A plain-text table, columns left-aligned, as the other benchmarks print."""
    table = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    print("\n".join(line.rstrip() for line in lines), file=file or sys.stdout)


def data_bench_options(description: str, *, repeats_help: str) -> argparse.Namespace:
    """The options of the benchmarks that time work on a generated fraud CSV:
    its size, how many runs to take the median of, and the tiny CI smoke mode."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny data, one run each (CI)")
    parser.add_argument("--rows", type=int, default=284_807)
    parser.add_argument("--frauds", type=int, default=492)
    parser.add_argument("--repeats", type=int, default=5, help=repeats_help)
    parser.add_argument("--keep", action="store_true", help="keep the scratch installation")
    options = parser.parse_args()
    if options.smoke:
        options.rows, options.frauds, options.repeats = 4000, 120, 1
    return options


# ------------------------------------------------------------------ HTTP

# How each web server is started against a scratch installation. gunicorn
# uses the project's gunicorn.conf.py (its documented worker and thread
# counts, access log on) as deployed; runserver as the README used to.
WEB_SERVERS = {
    "gunicorn": lambda port: [
        str(Path(PYTHON).with_name("gunicorn")), "--config", str(ROOT / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "mlplatform.wsgi",
    ],
    "runserver": lambda port: [PYTHON, MANAGE_PY, "runserver", "--noreload", f"127.0.0.1:{port}"],
}  # fmt: skip


class HttpClient:
    """A plain HTTP/1.1 client on http.client: one connection kept alive
    across requests (keep_alive=True), or a new connection for each."""

    def __init__(
        self, port: int, *, keep_alive: bool = True, headers: dict[str, str] | None = None
    ) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.headers = dict(headers or {})
        self.connection: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.connection.request(
            method, path, body=body, headers={**self.headers, **(headers or {})}
        )
        response = self.connection.getresponse()
        data = response.read()
        answer = (response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        if not self.keep_alive or response.will_close:
            self.close()
        return answer

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def web_server_start(kind: str, scratch: Scratch, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a web server on the scratch installation and wait until it answers."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            WEB_SERVERS[kind](port), env=scratch.env(), cwd=ROOT, stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited at start-up:\n{log.read_text()[-3000:]}")
        try:
            if HttpClient(port, keep_alive=False).request("GET", "/accounts/login/")[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{kind} did not answer within 120 s:\n{log.read_text()[-3000:]}")


def process_stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
