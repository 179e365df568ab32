"""Time registry.gate.run_gate against a plain per-resample scikit-learn loop,
and the step before it that leaves out the rows production trained on.

    .venv/bin/python bench/gate_bench.py            # full size: 57,000 rows, 98 positives
    .venv/bin/python bench/gate_bench.py --smoke    # tiny, a few seconds (CI)

The exclusion step is what a gate between two different splits of the full
data set adds: the stored training-row mask of production decoded, both sets
of row identities looked up and intersected (np.isin). Hashing the data set's
rows is done once per data set version and stored; it is timed on its own.

The holdout imitates the fraud data: two correlated probability vectors (a
candidate and a production model) on the same rows. The baseline runs every
gate metric with scikit-learn once per resample, on the very rows run_gate's
bootstrap draws, for a few resamples, and is extrapolated; the script also
checks that both give the same confidence intervals.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.configs import GateSpec, MetricRule
from registry import gate


def holdout(rows: int, positives: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y_true = np.zeros(rows, dtype=np.int8)
    y_true[rng.choice(rows, positives, replace=False)] = 1
    signal = rng.normal(size=rows) + 3.5 * y_true
    scores = [1 / (1 + np.exp(6 - signal - 0.4 * rng.normal(size=rows))) for _ in range(2)]
    return y_true, scores[0], scores[1]


def gate_spec(resamples: int) -> GateSpec:
    rules = tuple(
        MetricRule(metric=name, greater_is_better=better, max_drop=0.02)
        for name, better in gate.METRIC_DIRECTIONS.items()
    )
    return GateSpec(rules=rules, resamples=resamples, seed=0)


def arguments(data: tuple[np.ndarray, ...], resamples: int) -> dict[str, Any]:
    y_true, candidate, production = data
    return {
        "y_true": y_true,
        "candidate_scores": candidate,
        "production_scores": production,
        "spec": gate_spec(resamples),
        "candidate_threshold": 0.5,
        "production_threshold": 0.5,
    }


def sklearn_metrics() -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    from sklearn import metrics as sk

    return {
        "average_precision": sk.average_precision_score,
        "roc_auc": sk.roc_auc_score,
        "log_loss": lambda y, s: sk.log_loss(y, s, labels=[0, 1]),
        "precision": lambda y, s: sk.precision_score(y, s >= 0.5, zero_division=0),
        "recall": lambda y, s: sk.recall_score(y, s >= 0.5),
        "f1": lambda y, s: sk.f1_score(y, s >= 0.5),
        "accuracy": lambda y, s: sk.accuracy_score(y, s >= 0.5),
    }


def naive_intervals(kwargs: dict[str, Any]) -> tuple[dict[str, np.ndarray], float]:
    """Every metric, both models, once per resample; returns CIs of delta and seconds."""
    rows = gate.resample_rows(**kwargs)
    y_true, models = kwargs["y_true"], (kwargs["candidate_scores"], kwargs["production_scores"])
    started = time.perf_counter()
    deltas: dict[str, list[float]] = {name: [] for name in gate.GATE_METRICS}
    for resample in rows:
        for name, metric in sklearn_metrics().items():
            cand, prod = (metric(y_true[resample], scores[resample]) for scores in models)
            deltas[name].append(cand - prod if gate.METRIC_DIRECTIONS[name] else prod - cand)
    seconds = time.perf_counter() - started
    tail = (1 - kwargs["spec"].confidence) / 2
    return {k: np.quantile(v, [tail, 1 - tail]) for k, v in deltas.items()}, seconds


def largest_difference(report: dict[str, Any], intervals: dict[str, np.ndarray]) -> float:
    return max(
        float(np.max(np.abs(np.array([m["ci_low"], m["ci_high"]]) - intervals[m["metric"]])))
        for m in report["metrics"]
    )


def median_seconds(function: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (CPU time is steadier on a shared machine)."""
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def exclusion_seconds(rows: int, repeats: int) -> tuple[float, tuple[float, float], int]:
    """(seconds to hash every row once, wall and CPU seconds of the exclusion
    step, rows excluded)
    for a data set of `rows` rows split 80/20 with two different seeds."""
    from datasets.identity import row_identities
    from datasets.synthetic import make_fraud_frame
    from experiments import training
    from experiments.configs import SplitSpec

    frame = make_fraud_frame(rows=rows, frauds=max(2, rows * 492 // 284_807), seed=0)
    labels = frame["Class"].to_numpy().astype(np.int8)
    hash_seconds, _ = median_seconds(lambda: row_identities(frame, "Class"), repeats)
    identities = row_identities(frame, "Class")
    split = {seed: training.split_rows(labels, SplitSpec(0.2, seed)) for seed in (42, 43)}
    production = training.holdout_from_bytes(
        training.holdout_to_bytes(
            training.Holdout(
                row_ids=split[42][1],
                y_true=labels[split[42][1]],
                y_score=np.zeros(len(split[42][1])),
                train_row_ids=split[42][0],
            )
        )
    )
    candidate_rows = split[43][1]

    def exclude() -> np.ndarray:
        trained_on = identities[production.training_rows(rows)]
        return np.isin(identities[candidate_rows], trained_on)

    step_seconds, step_cpu = median_seconds(exclude, repeats)
    return hash_seconds, (step_seconds, step_cpu), int(exclude().sum())


def load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--rows", type=int, default=57_000)
    parser.add_argument("--positives", type=int, default=98)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--baseline-resamples", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dataset-rows", type=int, default=284_807)
    options = parser.parse_args()
    if options.smoke:
        options.rows, options.positives, options.resamples = 3000, 30, 200
        options.baseline_resamples, options.repeats = 5, 2
        options.dataset_rows = 15_000
    data = holdout(options.rows, options.positives)
    full = arguments(data, options.resamples)
    gate_seconds, gate_cpu = median_seconds(lambda: gate.run_gate(**full), options.repeats)
    few = arguments(data, options.baseline_resamples)
    intervals, naive_seconds = naive_intervals(few)
    difference = largest_difference(gate.run_gate(**few), intervals)
    naive_total = naive_seconds * options.resamples / options.baseline_resamples
    print_table(options, (gate_seconds, gate_cpu), naive_seconds, naive_total, difference)
    hash_seconds, (step_seconds, step_cpu), excluded = exclusion_seconds(
        options.dataset_rows, options.repeats
    )
    print(
        f"\nexclusion, {options.dataset_rows:,}-row data set, 80/20 splits with seeds 42 and 43 "
        f"({excluded:,} of the candidate's holdout rows excluded):"
    )
    print(f"  hash every row once (stored per version), wall   {hash_seconds:.3f} s")
    print(
        f"  exclusion step at each gate, wall / CPU          {step_seconds:.3f} / {step_cpu:.3f} s"
    )
    wall, cpu = step_seconds + gate_seconds, step_cpu + gate_cpu
    verdict = "PASS" if wall < 1.0 else "MISS"
    print(f"  exclusion + run_gate, wall / CPU                 {wall:.3f} / {cpu:.3f} s")
    print(f"  target: wall < 1 s beyond loading the models: {verdict} (load average {load()})")


def print_table(
    options: argparse.Namespace,
    gate_times: tuple[float, float],
    naive_seconds: float,
    naive_total: float,
    difference: float,
) -> None:
    print(
        f"holdout: {options.rows} rows, {options.positives} positives; 2 models, "
        f"{len(gate.GATE_METRICS)} metrics; numpy {np.__version__}, {os.cpu_count()} CPUs"
    )
    gate_seconds, gate_cpu = gate_times
    rows = [
        ("method", "resamples", "seconds"),
        (f"run_gate, median of {options.repeats}", str(options.resamples), f"{gate_seconds:.3f}"),
        ("run_gate, CPU time", str(options.resamples), f"{gate_cpu:.3f}"),
        ("sklearn loop, measured", str(options.baseline_resamples), f"{naive_seconds:.3f}"),
        ("sklearn loop, extrapolated", str(options.resamples), f"{naive_total:.1f}"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(f"speed-up: {naive_total / gate_seconds:.0f}x")
    print(f"largest CI difference from the sklearn loop on the same rows: {difference:.1e}")


if __name__ == "__main__":
    main()
