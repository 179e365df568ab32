"""A synthetic stand-in for Kaggle's credit-card fraud file (creditcard.csv).

Same columns and dtypes as the real file: Time, V1..V28, Amount, Class. The
fraud class is built so that model choice matters: one group of frauds is
roughly linear (a shifted signature in V14/V12/V10/...), others show up only
through magnitudes or interactions a linear model cannot express, and some
look entirely legitimate. Pure numpy/pandas: no Django here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

FEATURE_COUNT = 28
TWO_DAYS_SECONDS = 172_800.0
V_DECIMALS = 13

# Standard deviations of V1..V28 in the real file: PCA components in order.
V_STDS = (
    1.96, 1.65, 1.52, 1.42, 1.38, 1.33, 1.24, 1.19, 1.10, 1.09, 1.02, 1.00, 0.99, 0.96,
    0.92, 0.88, 0.85, 0.84, 0.81, 0.77, 0.73, 0.73, 0.62, 0.61, 0.52, 0.48, 0.40, 0.33,
)  # fmt: skip

# Share of each fraud pattern; the last one is frauds that look legitimate.
FRAUD_MIX = {"linear": 0.50, "mirror": 0.16, "interaction": 0.16, "camouflage": 0.18}

# The linear signature, in standard units per component (1-based V index).
LINEAR_SHIFT = {14: -3.0, 12: -2.4, 10: -2.0, 17: -2.2, 4: 2.0, 11: 1.8, 3: -1.5}


def column_names() -> list[str]:
    return ["Time", *(f"V{i}" for i in range(1, FEATURE_COUNT + 1)), "Amount", "Class"]


def make_fraud_frame(*, rows: int = 284_807, frauds: int = 492, seed: int = 0) -> pd.DataFrame:
    if not 0 < frauds < rows:
        raise ValueError(f"need 0 < frauds < rows, got frauds={frauds}, rows={rows}")
    rng = np.random.default_rng(seed)
    legit = _legit_components(rng, rows - frauds)
    fraud = _fraud_components(rng, frauds)
    components = np.vstack([legit, fraud])
    is_fraud = np.r_[np.zeros(rows - frauds, dtype=np.int64), np.ones(frauds, dtype=np.int64)]
    times = np.r_[_legit_times(rng, rows - frauds), _fraud_times(rng, frauds)]
    amounts = np.r_[_legit_amounts(rng, legit), _fraud_amounts(rng, frauds)]
    order = np.argsort(times, kind="stable")
    return _assemble(components[order], times[order], amounts[order], is_fraud[order])


def write_fraud_csv(
    path: str | os.PathLike[str], *, rows: int = 284_807, frauds: int = 492, seed: int = 0
) -> Path:
    """Write atomically; the same arguments always give the same bytes."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(
        make_fraud_frame(rows=rows, frauds=frauds, seed=seed), preserve_index=False
    )
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            # Arrow writes the shortest round-trip repr of each double: stable bytes.
            pa_csv.write_csv(table, handle)
        Path(temp_name).replace(target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def _heavy_tailed(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    # Student-t with 5 degrees of freedom, scaled to unit variance: legitimate
    # customers have long tails that overlap the fraud patterns.
    return rng.standard_t(5, size=shape) * np.sqrt(3 / 5)


def _legit_components(rng: np.random.Generator, count: int) -> np.ndarray:
    return _heavy_tailed(rng, (count, FEATURE_COUNT))


def _fraud_components(rng: np.random.Generator, count: int) -> np.ndarray:
    sizes = _pattern_sizes(count)
    parts = [
        _linear_frauds(rng, sizes["linear"]),
        _mirror_frauds(rng, sizes["mirror"]),
        _interaction_frauds(rng, sizes["interaction"]),
        _heavy_tailed(rng, (sizes["camouflage"], FEATURE_COUNT)),
    ]
    return rng.permutation(np.vstack(parts))


def _pattern_sizes(count: int) -> dict[str, int]:
    sizes = {name: int(count * share) for name, share in FRAUD_MIX.items()}
    sizes["linear"] += count - sum(sizes.values())
    return sizes


def _linear_frauds(rng: np.random.Generator, count: int) -> np.ndarray:
    """A shifted signature whose strength varies: weak ones sit in legit tails."""
    z = _heavy_tailed(rng, (count, FEATURE_COUNT)) * 1.3
    strength = rng.uniform(0.25, 1.4, size=count)
    for index, shift in LINEAR_SHIFT.items():
        z[:, index - 1] += shift * strength
    return z


def _mirror_frauds(rng: np.random.Generator, count: int) -> np.ndarray:
    """Large |V14| on the 'wrong' side and a wide V9: visible only as magnitude."""
    z = _heavy_tailed(rng, (count, FEATURE_COUNT))
    z[:, 13] = rng.uniform(2.5, 5.0, size=count)
    z[:, 8] *= 3.0
    z[:, 15] *= 2.5
    return z


def _interaction_frauds(rng: np.random.Generator, count: int) -> np.ndarray:
    """V3, V5 and V18 all large with one shared random sign: each alone averages 0."""
    z = _heavy_tailed(rng, (count, FEATURE_COUNT))
    sign = rng.choice([-1.0, 1.0], size=count)
    for column in (2, 4, 17):
        z[:, column] = sign * rng.uniform(1.4, 3.2, size=count)
    return z


def _legit_times(rng: np.random.Generator, count: int) -> np.ndarray:
    """Busy days, quiet nights: sample from a daily intensity by inverse CDF."""
    grid = np.linspace(0.0, TWO_DAYS_SECONDS, 2 * 24 * 60 + 1)
    hour = (grid / 3600.0) % 24
    intensity = 1.0 + 0.85 * np.cos((hour - 14.0) / 24.0 * 2 * np.pi)
    cumulative = np.cumsum(intensity)
    cumulative = (cumulative - cumulative[0]) / (cumulative[-1] - cumulative[0])
    return np.interp(rng.uniform(size=count), cumulative, grid)


def _fraud_times(rng: np.random.Generator, count: int) -> np.ndarray:
    # Fraud keeps going at night, so the fraud rate is higher in quiet hours.
    return rng.uniform(0.0, TWO_DAYS_SECONDS, size=count)


def _legit_amounts(rng: np.random.Generator, components: np.ndarray) -> np.ndarray:
    # Like the real file, Amount leans on a few components (V2 negatively, V7, V20).
    log_amount = (
        3.0
        - 0.45 * components[:, 1]
        + 0.25 * components[:, 6]
        + 0.2 * components[:, 19]
        + rng.normal(0.0, 1.2, size=len(components))
    )
    return np.exp(log_amount)


def _fraud_amounts(rng: np.random.Generator, count: int) -> np.ndarray:
    # Many card tests of about one unit, the rest spread like ordinary spending.
    testing = rng.uniform(size=count) < 0.35
    return np.where(
        testing,
        rng.uniform(0.0, 2.0, size=count),
        np.exp(rng.normal(3.5, 1.6, size=count)),
    )


def _assemble(
    components: np.ndarray, times: np.ndarray, amounts: np.ndarray, is_fraud: np.ndarray
) -> pd.DataFrame:
    names = column_names()
    frame = pd.DataFrame({"Time": np.round(times, 3)})
    features = np.round(components * np.asarray(V_STDS), V_DECIMALS)
    for index, name in enumerate(names[1 : FEATURE_COUNT + 1]):
        frame[name] = features[:, index]
    frame["Amount"] = np.round(np.clip(amounts, 0.0, 25_000.0), 2)
    frame["Class"] = is_fraud
    return frame
