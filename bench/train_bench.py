"""Time `manage.py run_experiment` against a plain pandas + scikit-learn script.

    .venv/bin/python bench/train_bench.py              # full size: 284,807 rows, 5 runs each
    .venv/bin/python bench/train_bench.py --smoke      # 4,000 rows, 1 run each (CI)

Builds a scratch installation (its own data, var, cache and SQLite database),
generates the fraud data set, registers it, and then times whole processes,
interpreter start-up included, median of --repeats runs, interleaved so that
a busy machine slows both sides alike:

- plain:      bench/plain_train.py, the script a user would write: read the
              CSV with pandas, the same split, pipeline, metrics and curves;
              saves nothing (nor computes the per-iteration holdout loss the
              platform records for gradient boosting);
- warm:       run_experiment with the Parquet cache of the data set present,
              on a copy of the config without `registry:` (train, score, store
              the model artifact, holdout and metrics);
- cold:       the same with the cache deleted first (the run parses the CSV
              and writes the cache);
- warm+gate:  the shipped config, with `registry:`: the run then gates the
              model against the production version (re-scoring it on the
              same holdout, 1,000 bootstrap resamples) and registers it.

The target (at most 1.10x the plain script) applies to the ungated runs,
warm and cold; the gated run is work the plain script does not do, shown
for information. "same" compares the metrics both compute.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    FRAUD_CSV,
    MANAGE_PY,
    PYTHON,
    ROOT,
    Scratch,
    data_bench_options,
    fraud_dataset_register,
    machine_description,
    median,
    print_table,
    scratch_create,
    scratch_remove,
    timed_run_cpu,
    verdict,
)

TARGET_RATIO = 1.10
CONFIGS = {"logistic_regression": "fraud_baseline.yaml", "hist_gradient_boosting": "fraud_hgb.yaml"}
PLAIN_SCRIPT = str(Path(__file__).resolve().parent / "plain_train.py")
VARIANTS = ("plain", "warm", "cold", "warm+gate")
HEADER = ("model", "run", "wall s", "cpu s", "in-command s", "ratio", "target", "result", "same")


def prepare(scratch: Scratch, options: argparse.Namespace) -> dict[str, dict[str, Path]]:
    """Data set registered; per model, the shipped config and a copy without registry."""
    fraud_dataset_register(scratch, rows=options.rows, frauds=options.frauds)
    configs = {}
    for model, filename in CONFIGS.items():
        text = (ROOT / "configs" / filename).read_text()
        without = yaml.safe_load(text)
        without.pop("registry", None)
        shipped = scratch.directory / filename
        shipped.write_text(text)
        plain = scratch.directory / filename.replace(".yaml", "_noregistry.yaml")
        plain.write_text(yaml.safe_dump(without, sort_keys=False))
        configs[model] = {"registry": shipped, "noregistry": plain}
    return configs


def promote_first_baseline(scratch: Scratch, config: Path) -> None:
    """Train the baseline once with its registry section and make that version
    production through the services, so that every gated run compares with it."""
    scratch.manage("run_experiment", "--config", str(config))
    scratch.activate()
    import django

    django.setup()
    from mlplatform.origin import Origin
    from registry.models import ModelVersion
    from registry.services import role_user_ensure, stage_request_create, stage_request_decide

    password = secrets.token_urlsafe()  # nobody logs in as them
    requester = role_user_ensure(username="bench_requester", password=password, role="experimenter")
    approver = role_user_ensure(username="bench_approver", password=password, role="approver")
    version = ModelVersion.objects.earliest("pk")
    request = stage_request_create(
        model_version=version,
        to_stage="production",
        user=requester,
        reason="benchmark champion",
        origin=Origin.cli(),
    )
    stage_request_decide(
        request_id=request.pk, user=approver, approve=True, reason="benchmark", origin=Origin.cli()
    )


def run_once(
    scratch: Scratch, variant: str, configs: dict[str, Path]
) -> tuple[float, dict[str, Any]]:
    """Wall seconds of one process and the metrics it printed (with its CPU seconds)."""
    if variant == "plain":
        csv = scratch.data_root / FRAUD_CSV
        command = [PYTHON, PLAIN_SCRIPT, str(csv), "--config", str(configs["noregistry"])]
        seconds, cpu, output = timed_run_cpu(command, env=scratch.env())
        return seconds, {**json.loads(output), "cpu_seconds": cpu}
    if variant == "cold":
        for cached in scratch.cache_root.glob("*.parquet"):
            cached.unlink()
    config = configs["registry" if variant == "warm+gate" else "noregistry"]
    command = [PYTHON, MANAGE_PY, "run_experiment", "--config", str(config), "--json"]
    seconds, cpu, output = timed_run_cpu(command, env=scratch.env())
    summary = json.loads(output)
    if summary["status"] != "completed":
        raise RuntimeError(f"run_experiment did not complete: {summary}")
    inside = summary["command_seconds"]
    return seconds, {**summary["metrics"], "in_command_seconds": inside, "cpu_seconds": cpu}


def measure(
    scratch: Scratch, configs: dict[str, dict[str, Path]], repeats: int
) -> dict[tuple[str, str], list[tuple[float, dict[str, Any]]]]:
    results: dict[tuple[str, str], list[tuple[float, dict[str, Any]]]] = {}
    for model in configs:
        run_once(scratch, "warm", configs[model])  # warms the cache and the page cache
    for _ in range(repeats):
        for model, model_configs in configs.items():
            for variant in VARIANTS:
                results.setdefault((model, variant), []).append(
                    run_once(scratch, variant, model_configs)
                )
    return results


def same_metrics(plain: dict[str, Any], platform: dict[str, Any]) -> bool:
    names = ("average_precision", "roc_auc", "log_loss", "f1", "tp", "fp")
    return all(abs(plain[name] - platform[name]) < 1e-9 for name in names)


def table_rows(
    results: dict[tuple[str, str], list[tuple[float, dict[str, Any]]]],
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for model in CONFIGS:
        plain_runs = results[(model, "plain")]
        plain_seconds = median([seconds for seconds, _ in plain_runs])
        plain_cpu = median([run[1]["cpu_seconds"] for run in plain_runs])
        plain_cells = (f"{plain_seconds:.2f}", f"{plain_cpu:.2f}", "", "1.00", "", "", "yes")
        rows.append((model, "plain script", *plain_cells))
        for variant in VARIANTS[1:]:
            runs = results[(model, variant)]
            seconds = median([run[0] for run in runs])
            inside = median([run[1]["in_command_seconds"] for run in runs])
            cpu = median([run[1]["cpu_seconds"] for run in runs])
            ratio = seconds / plain_seconds
            gated = variant == "warm+gate"
            same = all(same_metrics(plain_runs[0][1], run[1]) for run in runs)
            rows.append(
                (
                    model,
                    f"platform {variant}",
                    f"{seconds:.2f}",
                    f"{cpu:.2f}",
                    f"{inside:.2f}",
                    f"{ratio:.2f}",
                    "-" if gated else f"<= {TARGET_RATIO:.2f}",
                    "(info)" if gated else verdict(ratio, TARGET_RATIO),
                    "yes" if same else "NO",
                )
            )
    return rows


def main() -> None:
    options = data_bench_options(__doc__.split("\n")[0], repeats_help="runs per variant (median)")
    scratch = scratch_create(prefix="bench-train")
    try:
        configs = prepare(scratch, options)
        promote_first_baseline(scratch, configs["logistic_regression"]["registry"])
        results = measure(scratch, configs, options.repeats)
    finally:
        scratch_remove(scratch, keep=options.keep)
    print(f"training: {options.rows:,} rows, median of {options.repeats} whole-process runs")
    print(f"machine: {machine_description()}")
    print_table(
        HEADER,
        table_rows(results),
    )


if __name__ == "__main__":
    main()
