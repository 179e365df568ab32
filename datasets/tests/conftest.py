from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

from datasets.models import Dataset, DatasetFileCheck, DatasetVersion

# A tiny valid dataset: two feature columns and a 0/1 target.
TINY_CSV = "x,y,Class\n1.5,2,0\n2.5,3,1\n3.5,4,0\n4.5,5,1\n"


@pytest.fixture
def write_data_file(data_root: Path) -> Callable[[str, str | bytes], Path]:
    """Write a file under DATA_ROOT (folders created) and return its absolute path."""

    def write(relative: str, content: str | bytes) -> Path:
        path = data_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return write


@pytest.fixture
def assert_nothing_registered(db: None) -> Callable[[], None]:
    """Check that a refused registration left no rows and no cache file behind."""

    def check() -> None:
        assert not Dataset.objects.exists()
        assert not DatasetVersion.objects.exists()
        assert not DatasetFileCheck.objects.exists()
        cache = Path(settings.DATASET_CACHE_ROOT)
        assert not cache.exists() or not any(cache.iterdir())

    return check
