from __future__ import annotations

import pandas as pd
import pytest

from datasets.synthetic import make_fraud_frame

SMALL_ROWS = 4000
SMALL_FRAUDS = 120


@pytest.fixture(scope="session")
def small_fraud_frame() -> pd.DataFrame:
    """Time, V1..V28, Amount, Class: 4,000 rows, 120 frauds. Do not mutate."""
    return make_fraud_frame(rows=SMALL_ROWS, frauds=SMALL_FRAUDS, seed=0)
