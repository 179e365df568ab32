"""Chaos soak: the whole platform under faults, then its invariants checked.

    .venv/bin/python bench/chaos_soak.py                 # 30 minutes, 3 workers
    .venv/bin/python bench/chaos_soak.py --minutes 5 --workers 2 --seed 1
    .venv/bin/python bench/chaos_soak.py --smoke         # 2 minutes (CI)

A scratch installation runs on a private PostgreSQL (initdb/pg_ctl, when
the binaries are installed; else SQLite) and a private redis-server: N
workers (`rqworker training --name chaos-wN`) and the reconciler loop under
a small supervisor that restarts what exits, as systemd's Restart=always
would, and gunicorn as shipped. A submitter posts small experiments through
the API; a governance loop requests production for staged versions and
approves or rejects them; a command-line loop runs `run_experiment`
in-process. Meanwhile random faults: work-horse and worker SIGKILLs
(the worker alone, or with its work-horse as a crashed host), SIGTERMs,
Redis restarts (its data lost) and FLUSHALLs, database restarts (fast and
immediate), killed command-line runs.

At the end the faults stop, the work drains, and the invariants are
checked: every experiment terminal, none trained twice (one claim each),
every artifact matching its digest, no lost or stuck registration or gate,
one production version per model, history and requests consistent, no HTTP
500. It prints worker availability and queue-wait percentiles against the
targets (availability >= 97 %, p95 queue wait <= 30 s) and exits non-zero
when an invariant fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MANAGE_PY,
    PYTHON,
    ROOT,
    HttpClient,
    Scratch,
    load_average,
    machine_description,
    percentile,
    print_table,
    process_stop,
)
from mlplatform.redis_server import RedisServer, free_port

AVAILABILITY_TARGET = 0.97
QUEUE_WAIT_P95_TARGET = 30.0
RESTART_DELAY_SECONDS = 1.0  # systemd's RestartSec
# Short intervals, so that a soak of minutes sees many reconciliations.
SOAK_SETTINGS = {
    "EXPERIMENT_HEARTBEAT_SECONDS": "2",
    "EXPERIMENT_STALE_SECONDS": "10",
    "EXPERIMENT_RECONCILE_SECONDS": "5",
    "EXPERIMENT_LEASE_SECONDS": "120",
    "REGISTRATION_RETRY_SECONDS": "5",
    "REDIS_CONNECT_TIMEOUT_SECONDS": "1",
    "TRAINING_THREADS": "1",
    "GATE_JOB_TIMEOUT": "300",
    "LOG_LEVEL": "INFO",
    "WEB_WORKERS": "2",
    "WEB_ACCESS_LOG": "",
}
CONFIGS = {
    "logistic_regression": {"class_weight": "balanced", "max_iter": 300},
    "random_forest": {"n_estimators": 300, "max_depth": 8, "class_weight": "balanced"},
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- services


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb), restarted by the faults.
    As root the server runs as the `postgres` account, as PostgreSQL insists."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="mlplatform-chaos-pg-"))
        self.data = self.directory / "data"

    @staticmethod
    def find() -> Path | None:
        for initdb in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True):
            return initdb.parent
        found = shutil.which("initdb")
        return Path(found).parent if found else None

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/mlplatform"

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        self._run(
            str(self.binaries / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        )
        self._ctl("start")
        self._run(
            str(self.binaries / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "mlplatform",
        )

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=off"
        )
        self._run(
            str(self.binaries / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.directory / "server.log"),
            "-o",
            options,
            *extra,
        )

    def restart(self, mode: str) -> None:
        self._ctl("restart", "-m", mode)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._ctl("stop", "-m", "fast")
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Supervised:
    """One long-running process, restarted RESTART_DELAY_SECONDS after it exits."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    refused: int = 0
    serving_since: float | None = None  # seen registered under its own pid
    serving_seconds: float = 0.0
    stopping: bool = False

    def run(self) -> None:
        while not self.stopping:
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with self.log_path.open("ab") as output:
                self.process = subprocess.Popen(
                    self.command,
                    env=self.env,
                    cwd=ROOT,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.starts += 1
            started = time.monotonic()
            self.process.wait()
            self.serving_stopped()
            if time.monotonic() - started < 30 and "active worker named" in self.log_since(offset):
                self.refused += 1
            if not self.stopping:
                time.sleep(RESTART_DELAY_SECONDS)

    def serving_stopped(self) -> None:
        if self.serving_since is not None:
            self.serving_seconds += time.monotonic() - self.serving_since
            self.serving_since = None

    def log_since(self, offset: int) -> str:
        """What this start of the process wrote (the log is shared by all)."""
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")

    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.poll() is None else None

    def stop(self) -> None:
        self.stopping = True
        process = self.process
        if process is not None:
            orphans = children(process.pid)
            process_stop(process)
            for pid in orphans:  # a work-horse, in a process group of its own
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.serving_stopped()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


# ---------------------------------------------------------------- the soak


@dataclass
class Soak:
    options: argparse.Namespace
    scratch: Scratch
    redis: RedisServer
    postgres: PrivatePostgres | None
    env: dict[str, str]
    port: int
    workers: list[Supervised] = field(default_factory=list)
    others: list[Supervised] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    http: Counter[str] = field(default_factory=Counter)
    stop_event: threading.Event = field(default_factory=threading.Event)
    watch_stop: threading.Event = field(default_factory=threading.Event)
    availability: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    cli_runs: int = 0

    # ----------------------------------------------------------- processes

    def supervise(self, name: str, command: list[str], *, worker: bool) -> Supervised:
        process = Supervised(name, command, self.env, self.scratch.directory / f"{name}.log")
        (self.workers if worker else self.others).append(process)
        threading.Thread(target=process.run, name=name, daemon=True).start()
        return process

    def watch_workers(self) -> None:
        """Every 0.5 s: a worker serves from when Redis shows it registered
        under its own pid until its process exits."""
        client = self.redis.client()
        while not self.watch_stop.wait(0.5):
            for worker in self.workers:
                pid = worker.pid()
                if pid is None or worker.serving_since is not None:
                    continue
                with contextlib.suppress(Exception):
                    if client.hget(f"rq:worker:{worker.name}", "pid") == str(pid).encode():
                        worker.serving_since = time.monotonic()

    # ----------------------------------------------------------- traffic

    def api(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        """One API call, retried while the platform answers 503 or cannot be
        reached; None after a 4xx the caller expects (a conflict)."""
        client = HttpClient(self.port, keep_alive=False)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for _ in range(60):
            try:
                status, _, answer = client.request(method, path, body=data, headers=headers)
            except OSError:
                self.http["unreachable"] += 1
                time.sleep(1)
                continue
            self.http[str(status)] += 1
            if status == 503:
                time.sleep(1)
                continue
            if status >= 500:
                log(f"HTTP {status} on {method} {path}: {answer[:300]!r}")
            return json.loads(answer) if status < 300 else None
        return None

    def submit_loop(self) -> None:
        rng = random.Random(self.options.seed + 1)
        number = 0
        while not self.stop_event.wait(rng.uniform(0.5, 1.5) * self.options.submit_every):
            number += 1
            model_type = rng.choice(list(CONFIGS))
            config = config_text(f"soak-{number}", model_type, seed=number)
            self.api(
                "POST", "/api/v1/experiments/", self.tokens["experimenter"], {"config": config}
            )

    def governance_loop(self) -> None:
        """Approve or reject pending production requests, then request
        production for the newest staged version."""
        rng = random.Random(self.options.seed + 2)
        while not self.stop_event.wait(rng.uniform(20, 40)):
            pending = self.api(
                "GET", "/api/v1/stage-requests/?status=pending", self.tokens["approver"]
            ) or {"results": []}
            for request in pending["results"]:
                self.api(
                    "POST",
                    f"/api/v1/stage-requests/{request['id']}/approve/",
                    self.tokens["approver"],
                    {"reason": "soak: approve"},
                )
            failed = self.api(
                "GET", "/api/v1/stage-requests/?status=gate_failed", self.tokens["experimenter"]
            ) or {"results": []}
            for request in failed["results"]:  # the requester takes it back
                self.api(
                    "POST",
                    f"/api/v1/stage-requests/{request['id']}/withdraw/",
                    self.tokens["experimenter"],
                    {"reason": "soak: the gate failed"},
                )
            versions = self.api(
                "GET",
                "/api/v1/models/fraud_detector/versions/?limit=100",
                self.tokens["experimenter"],
            ) or {"results": []}
            staged = [item["version"] for item in versions["results"] if item["stage"] == "staging"]
            if staged:
                newest = max(staged)
                self.api(
                    "POST",
                    "/api/v1/stage-requests/",
                    self.tokens["experimenter"],
                    {
                        "model": "fraud_detector",
                        "version": newest,
                        "to_stage": "production",
                        "reason": "soak",
                    },
                )

    def cli_loop(self) -> None:
        """`run_experiment` in its own process now and then; some are killed."""
        rng = random.Random(self.options.seed + 3)
        config = self.scratch.directory / "cli.yaml"
        while not self.stop_event.wait(rng.uniform(30, 60)):
            self.cli_runs += 1
            config.write_text(config_text(f"cli-{self.cli_runs}", "random_forest", seed=99))
            with (self.scratch.directory / "cli.log").open("ab") as output:
                process = subprocess.Popen(
                    [PYTHON, MANAGE_PY, "run_experiment", "--config", str(config)],
                    env=self.env,
                    cwd=ROOT,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            if rng.random() < 0.4:
                time.sleep(rng.uniform(2, 4))
                process.kill()
                self.faults["run_experiment SIGKILL"] += 1
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=300)

    # ----------------------------------------------------------- faults

    def fault_loop(self) -> None:
        rng = random.Random(self.options.seed)
        kinds = {
            "work-horse SIGKILL": (0.28, self.kill_horse),
            "worker SIGKILL (with its work-horse)": (0.14, lambda: self.kill_worker(rng, True)),
            "worker SIGKILL (alone)": (0.06, lambda: self.kill_worker(rng, False)),
            "worker SIGTERM": (0.12, lambda: self.term_worker(rng)),
            "reconciler SIGKILL": (0.04, self.kill_reconciler),
            "Redis restart (data lost)": (0.12, self.redis.restart_empty),
            "Redis FLUSHALL": (0.04, lambda: self.redis.client().flushall()),
        }
        if self.postgres is not None:
            kinds["PostgreSQL restart (fast)"] = (0.14, lambda: self.postgres_restart("fast"))
            kinds["PostgreSQL restart (immediate)"] = (
                0.06,
                lambda: self.postgres_restart("immediate"),
            )
        names = list(kinds)
        weights = [kinds[name][0] for name in names]
        while not self.stop_event.wait(rng.expovariate(1 / self.options.fault_every)):
            name = rng.choices(names, weights)[0]
            try:
                if kinds[name][1]() is not False:
                    self.faults[name] += 1
                    log(f"fault: {name}")
            except Exception as error:  # a fault that could not be made is no result
                log(f"fault {name} not made: {error}")

    def kill_horse(self) -> bool:
        horses = [
            pid for worker in self.workers if (parent := worker.pid()) for pid in children(parent)
        ]
        if not horses:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(random.choice(horses), signal.SIGKILL)
        return True

    def kill_worker(self, rng: random.Random, with_horse: bool) -> bool:
        worker = rng.choice(self.workers)
        pid = worker.pid()
        if pid is None:
            return False
        horses = children(pid) if with_horse else []
        for target in [pid, *horses]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGKILL)
        return True

    def term_worker(self, rng: random.Random) -> bool:
        pid = rng.choice(self.workers).pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        return True

    def kill_reconciler(self) -> bool:
        pid = self.others[0].pid() if self.others else None
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        return True

    def postgres_restart(self, mode: str) -> None:
        assert self.postgres is not None
        self.postgres.restart(mode)


def config_text(name: str, model_type: str, *, seed: int) -> str:
    params = json.dumps(CONFIGS[model_type])
    return (
        f"experiment_name: {name}\n"
        "dataset: {name: credit_card_fraud, version: v1}\n"
        f"model: {{type: {model_type}, params: {params}}}\n"
        f"split: {{test_size: 0.3, seed: {seed % 7}}}\n"
        "threshold: 0.5\n"
        "registry: {model_name: fraud_detector}\n"
    )


# ---------------------------------------------------------------- set-up


def scratch_for(options: argparse.Namespace) -> tuple[Scratch, PrivatePostgres | None]:
    directory = Path(tempfile.mkdtemp(prefix="mlplatform-chaos-"))
    for place in ("data", "var"):
        (directory / place).mkdir()
    binaries = PrivatePostgres.find() if options.database != "sqlite" else None
    if options.database == "postgres" and binaries is None:
        raise SystemExit("error: --database postgres needs initdb and pg_ctl")
    if binaries is None:
        return Scratch(directory, f"sqlite:///{directory / 'var' / 'soak.sqlite3'}"), None
    postgres = PrivatePostgres(binaries)
    postgres.start()
    return Scratch(directory, postgres.url), postgres


def prepare(scratch: Scratch, env: dict[str, str], rows: int) -> dict[str, str]:
    """Migrate, register the data set and the personas; their API tokens."""

    def manage(*args: str) -> str:
        completed = subprocess.run(
            [PYTHON, MANAGE_PY, *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)}:\n{completed.stderr[-3000:]}")
        return completed.stdout

    manage("migrate", "--verbosity", "0")
    csv = scratch.data_root / "versions" / "v1" / "creditcard.csv"
    manage("make_fraud_data", "--out", str(csv), "--rows", str(rows), "--frauds", str(rows // 20))
    manage("register_dataset", "credit_card_fraud", "v1", str(csv), "--target", "Class")
    from registry.services import role_user_ensure

    tokens = {}
    for role in ("experimenter", "approver"):
        role_user_ensure(username=f"soak_{role}", password=secrets.token_hex(16), role=role)
        created = json.loads(
            manage("api_token", "create", f"soak_{role}", "--name", "soak", "--json")
        )
        tokens[role] = created["token"]
    return tokens


# ---------------------------------------------------------------- invariants


def drain(soak: Soak, timeout: float) -> bool:
    """Until nothing is queued, running, registering or gating."""
    from django.db import connections

    from experiments.models import Experiment, Registration, Status
    from mlplatform.outages import DATABASE_OUTAGE_ERRORS
    from registry.models import StageRequest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            busy = (
                Experiment.objects.filter(status__in=(Status.CREATED, Status.RUNNING)).count()
                + Experiment.objects.filter(
                    registration__in=(Registration.PENDING, Registration.REGISTERING)
                ).count()
                + Experiment.objects.filter(
                    registration=Registration.ERROR, registration_retry_at__isnull=False
                ).count()
                + StageRequest.objects.filter(status=StageRequest.Status.GATING).count()
            )
            if busy == 0:
                return True
        except DATABASE_OUTAGE_ERRORS:
            pass  # a connection the faults broke: the next round opens a new one
        finally:
            connections.close_all()
        time.sleep(2)
    return False


def invariants(soak: Soak) -> list[tuple[str, bool, str]]:
    from django.db.models import Count

    from experiments.artifacts import ArtifactIntegrityError, artifact_open
    from experiments.models import Experiment, Registration, Status
    from registry.models import ModelVersion, Stage, StageRequest, StageTransition

    checks: list[tuple[str, bool, str]] = []
    experiments = list(Experiment.objects.all())
    active = [e.pk for e in experiments if e.status in (Status.CREATED, Status.RUNNING)]
    checks.append(("every experiment terminal", not active, f"active: {active[:10]}"))
    claims = Counter(
        int(match)
        for path in soak.scratch.directory.glob("*.log")
        for match in re.findall(r"experiment #(\d+): claimed by", path.read_text(errors="replace"))
    )
    twice = sorted(pk for pk, count in claims.items() if count > 1)
    checks.append(("none trained twice (one claim each)", not twice, f"claimed twice: {twice}"))
    bad_artifacts = []
    for experiment in experiments:
        if experiment.status == Status.COMPLETED:
            try:
                artifact_open(
                    path=experiment.artifact_path, sha256=experiment.artifact_sha256
                ).close()
            except ArtifactIntegrityError as error:
                bad_artifacts.append(f"#{experiment.pk}: {error}")
    checks.append(
        ("artifacts match their digests", not bad_artifacts, "; ".join(bad_artifacts[:3]))
    )
    stuck = [
        e.pk
        for e in experiments
        if e.status == Status.COMPLETED
        and (e.config.get("registry") or {}).get("model_name")
        and (
            e.registration in (Registration.NONE, Registration.PENDING, Registration.REGISTERING)
            or (e.registration == Registration.ERROR and e.registration_retry_at is not None)
        )
    ]
    checks.append(("no lost or stuck registration", not stuck, f"stuck: {stuck[:10]}"))
    gating = list(
        StageRequest.objects.filter(status=StageRequest.Status.GATING).values_list("pk", flat=True)
    )
    checks.append(("no request left gating", not gating, f"gating: {gating}"))
    production = (
        ModelVersion.objects.filter(stage=Stage.PRODUCTION)
        .values("registered_model")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    checks.append(("at most one production version per model", not production.exists(), ""))
    wrong_stage = []
    for version in ModelVersion.objects.all():
        last = (
            StageTransition.objects.filter(model_version=version)
            .exclude(
                decision__in=(
                    StageTransition.Decision.REJECTED,
                    StageTransition.Decision.REFUSED,
                    StageTransition.Decision.WITHDRAWN,
                    StageTransition.Decision.SUPERSEDED,
                )
            )
            .order_by("-pk")
            .first()
        )
        if last is None or last.to_stage != version.stage:
            wrong_stage.append(str(version))
    checks.append(("every stage matches its history", not wrong_stage, ", ".join(wrong_stage[:5])))
    approved_without_row = [
        request.pk
        for request in StageRequest.objects.filter(status=StageRequest.Status.APPROVED)
        if not StageTransition.objects.filter(
            request=request, decision=StageTransition.Decision.APPROVED
        ).exists()
    ]
    checks.append(
        (
            "every approval recorded in the history",
            not approved_without_row,
            str(approved_without_row),
        )
    )
    presumed = [e.pk for e in experiments if e.error_message.startswith("presumed dead")]
    checks.append(
        ("no run presumed dead (one host: every death is known)", not presumed, str(presumed))
    )
    refused = sum(worker.refused for worker in soak.workers)
    checks.append(("no worker refused its name", not refused, f"{refused} refused starts"))
    checks.append(
        (
            "no HTTP 500",
            not any(code.startswith("5") and code != "503" for code in soak.http),
            str(dict(soak.http)),
        )
    )
    return checks


# ---------------------------------------------------------------- main


def options_parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=3000, help="rows of the generated data set")
    parser.add_argument("--submit-every", type=float, default=4.0, help="seconds, on average")
    parser.add_argument("--fault-every", type=float, default=25.0, help="seconds, on average")
    parser.add_argument("--database", choices=("auto", "postgres", "sqlite"), default="auto")
    parser.add_argument("--smoke", action="store_true", help="2 minutes, 2 workers (CI)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch installation")
    options = parser.parse_args()
    if options.smoke:
        options.minutes, options.workers, options.fault_every = 2.0, 2, 10.0
    return options


def main() -> int:
    options = options_parse()
    scratch, postgres = scratch_for(options)
    redis = RedisServer(scratch.directory / "redis")
    redis.start()
    port = free_port()
    env = scratch.env(REDIS_URL=redis.url, WEB_BIND=f"127.0.0.1:{port}", **SOAK_SETTINGS)
    os.environ.update(env)
    import django

    django.setup()
    soak = Soak(options, scratch, redis, postgres, env, port)
    try:
        return run(soak)
    finally:
        soak.stop_event.set()
        soak.watch_stop.set()
        for process in [*soak.workers, *soak.others]:
            process.stop()
        redis.stop()
        if postgres is not None:
            from django.db import connections

            connections.close_all()
            postgres.stop()
        if options.keep:
            print(f"kept the scratch installation in {scratch.directory}", file=sys.stderr)
        else:
            shutil.rmtree(scratch.directory, ignore_errors=True)


def run(soak: Soak) -> int:
    options = soak.options
    database = "PostgreSQL (private)" if soak.postgres else "SQLite"
    log(
        f"soak: {options.minutes:g} min, {options.workers} workers, seed {options.seed}, "
        f"database {database}; {soak.scratch.directory}"
    )
    soak.tokens = prepare(soak.scratch, soak.env, options.rows)
    gunicorn = str(Path(PYTHON).with_name("gunicorn"))
    soak.supervise(
        "web",
        [gunicorn, "--config", str(ROOT / "gunicorn.conf.py"), "mlplatform.wsgi"],
        worker=False,
    )
    soak.supervise(
        "reconciler", [PYTHON, MANAGE_PY, "reconcile_experiments", "--loop"], worker=False
    )
    soak.others.reverse()  # the reconciler first: the fault that kills it takes others[0]
    for number in range(1, options.workers + 1):
        soak.supervise(
            f"chaos-w{number}",
            [PYTHON, MANAGE_PY, "rqworker", "training", "--name", f"chaos-w{number}"],
            worker=True,
        )
    web_answering(soak.port)
    started = time.monotonic()
    loops: list[Callable[[], None]] = [
        soak.watch_workers,
        soak.submit_loop,
        soak.governance_loop,
        soak.cli_loop,
        soak.fault_loop,
    ]
    threads = [threading.Thread(target=guarded, args=(soak, loop), daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    time.sleep(options.minutes * 60)
    soak.stop_event.set()
    soaked = time.monotonic() - started
    for worker in soak.workers:  # the availability over the soak, before the drain
        serving = worker.serving_seconds
        if worker.serving_since is not None:
            serving += time.monotonic() - worker.serving_since
        soak.availability[worker.name] = min(1.0, serving / soaked)
    log("faults stopped; draining")
    # The supervisor keeps restarting what exits while the work drains.
    drained = drain(soak, timeout=max(300.0, options.minutes * 10))
    soak.watch_stop.set()
    return report(soak, soaked, drained)


def guarded(soak: Soak, loop: Callable[[], None]) -> None:
    """Run a loop of the soak; a bug in it is printed and the loop restarted,
    so that the soak's traffic and faults never stop silently."""
    while not soak.stop_event.is_set():
        try:
            loop()
        except Exception:
            log(f"{loop.__name__} raised; restarting it:\n{traceback.format_exc()}")
            time.sleep(1)


def web_answering(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if HttpClient(port, keep_alive=False).request("GET", "/accounts/login/")[0] == 200:
                return
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer within 120 s")


def report(soak: Soak, soaked: float, drained: bool) -> int:
    from experiments.models import Experiment, Registration

    checks = [("the work drained", drained, ""), *invariants(soak)]
    experiments = list(Experiment.objects.all())
    statuses = Counter(e.status for e in experiments)
    waits = [
        (e.started_at - e.created_at).total_seconds()
        for e in experiments
        if e.started_at and e.job_id
    ]
    errors_left = [
        f"#{e.pk}: {e.registration_message[:80]}"
        for e in experiments
        if e.registration == Registration.ERROR
    ]
    availability = soak.availability
    p50 = percentile(waits, 0.5) if waits else 0.0
    p95 = percentile(waits, 0.95) if waits else 0.0
    print()
    print(machine_description())
    print(
        f"soaked {soaked / 60:.1f} min; {len(experiments):,} experiments "
        f"({', '.join(f'{n:,} {s}' for s, n in statuses.most_common())}); "
        f"{sum(soak.faults.values()):,} faults; load average {load_average()}"
    )
    print()
    print_table(
        ("fault", "count"), [(name, f"{count:,}") for name, count in soak.faults.most_common()]
    )
    print()
    rows = [
        (
            f"availability {name}",
            f"{share:.1%}",
            f">= {AVAILABILITY_TARGET:.0%}",
            "PASS" if share >= AVAILABILITY_TARGET else "MISS",
        )
        for name, share in availability.items()
    ]
    rows.append(("queue wait p50", f"{p50:.1f} s", "", ""))
    rows.append(
        (
            "queue wait p95",
            f"{p95:.1f} s",
            f"<= {QUEUE_WAIT_P95_TARGET:.0f} s",
            "PASS" if p95 <= QUEUE_WAIT_P95_TARGET else "MISS",
        )
    )
    rows.append(("registrations left error", f"{len(errors_left):,}", "", ""))
    rows.append(
        (
            "worker starts refused",
            f"{sum(w.refused for w in soak.workers):,}",
            "0",
            "PASS" if not any(w.refused for w in soak.workers) else "MISS",
        )
    )
    print_table(("measured", "value", "target", "result"), rows)
    print()
    results = [
        (name, "PASS" if ok else "FAIL", "" if ok else detail) for name, ok, detail in checks
    ]
    print_table(("invariant", "result", "detail"), results)
    for line in errors_left[:20]:
        print(f"  registration error left: {line}")
    reasons = Counter(
        re.sub(r"\(.*", "", e.error_message)[:70].strip() for e in experiments if e.error_message
    )
    if reasons:
        print()
        print_table(("why runs FAILED", "count"), [(r, f"{n:,}") for r, n in reasons.most_common()])
    print(f"HTTP answers: {dict(soak.http)}; command-line runs: {soak.cli_runs}")
    if soak.options.json:
        soak.options.json.write_text(
            json.dumps(
                {
                    "minutes": soaked / 60,
                    "experiments": len(experiments),
                    "statuses": dict(statuses),
                    "faults": dict(soak.faults),
                    "availability": availability,
                    "queue_wait_p50": p50,
                    "queue_wait_p95": p95,
                    "registrations_left_error": errors_left,
                    "invariants": {name: ok for name, ok, _ in checks},
                    "http": dict(soak.http),
                },
                indent=2,
            )
        )
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
