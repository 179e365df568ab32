from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django.fixtures import Settings

from datasets.models import DatasetVersion
from datasets.services import dataset_register
from datasets.tests.conftest import TINY_CSV

pytestmark = pytest.mark.django_db


def run() -> str:
    out = io.StringIO()
    call_command("verify_datasets", stdout=out)
    return out.getvalue()


def register(name: str, path: str | Path) -> None:
    dataset_register(name=name, version="v1", path=path, target="Class", user_name="pytest")


def test_it_prints_ok_for_each_intact_version(
    registered_dataset: DatasetVersion, write_data_file: Callable[[str, str | bytes], Path]
) -> None:
    register("tiny", write_data_file("tiny.csv", TINY_CSV))

    lines = run().splitlines()

    assert lines == [
        "OK       small_fraud:v1  small_fraud/v1/small_fraud.csv",
        "OK       tiny:v1  tiny.csv",
        "2 dataset versions verified.",
    ]


def test_it_fails_when_a_file_is_changed_or_missing(
    write_data_file: Callable[[str, str | bytes], Path],
) -> None:
    gone = write_data_file("gone.csv", TINY_CSV)
    register("changed", write_data_file("changed.csv", TINY_CSV))
    register("gone", gone)
    register("intact", write_data_file("intact.csv", TINY_CSV))
    write_data_file("changed.csv", TINY_CSV.replace("1.5", "9.5"))
    gone.unlink()
    out = io.StringIO()

    with pytest.raises(CommandError, match="2 of 3 dataset versions failed verification"):
        call_command("verify_datasets", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("MISMATCH changed:v1  changed:v1: file ")
    assert "no longer matches its registered SHA-256" in lines[0]
    assert lines[1].startswith("MISSING  gone:v1  gone:v1: file ")
    assert lines[2] == "OK       intact:v1  intact.csv"


def test_it_says_when_there_is_nothing_to_verify(db: None) -> None:
    assert run() == "0 dataset versions verified.\n"


def test_it_finds_and_removes_a_tampered_cache(
    registered_dataset: DatasetVersion, settings: Settings
) -> None:
    import pandas as pd

    from datasets.services import dataset_version_load

    dataset_version_load(version=registered_dataset)  # writes the cache
    cache = Path(settings.DATASET_CACHE_ROOT) / f"{registered_dataset.sha256}.arrow"
    tampered = pd.read_feather(cache)
    tampered.loc[0, "Amount"] = 99999.0
    tampered.to_feather(cache, compression="uncompressed")

    with pytest.raises(CommandError, match="1 of 1 dataset versions failed verification"):
        run()

    assert not cache.exists()
