from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from pytest_django.fixtures import Settings

from datasets import files
from datasets.models import DatasetFileCheck, DatasetVersion
from datasets.profiling import column_specs
from datasets.services import dataset_register, dataset_version_load
from datasets.synthetic import write_fraud_csv

pytestmark = pytest.mark.django_db


def cache_file(version: DatasetVersion, settings: Settings) -> Path:
    return Path(settings.DATASET_CACHE_ROOT) / f"{version.sha256}.arrow"


def refused(version: DatasetVersion) -> str:
    with pytest.raises(ValidationError) as caught:
        dataset_version_load(version=version)
    return " ".join(caught.value.messages)


def rewrite_one_byte(path: Path) -> None:
    """Change the content but not the size (the last row's Class 0 -> 1 or 1 -> 0)."""
    data = bytearray(path.read_bytes())
    data[-2] = ord("1") if data[-2] == ord("0") else ord("0")
    path.write_bytes(bytes(data))


def fail_if_called(*args: object) -> None:
    raise AssertionError("this should not run")


def test_it_returns_the_registered_frame(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    frame = dataset_version_load(version=registered_dataset)

    pd.testing.assert_frame_equal(frame, pd.read_csv(small_fraud_csv))
    assert column_specs(frame) == registered_dataset.columns


@pytest.mark.parametrize("cached", [False, True], ids=["from csv", "from cache"])
def test_it_numbers_rows_from_zero(registered_dataset: DatasetVersion, cached: bool) -> None:
    if cached:
        dataset_version_load(version=registered_dataset)

    frame = dataset_version_load(version=registered_dataset)

    assert isinstance(frame.index, pd.RangeIndex)
    assert (frame.index.start, frame.index.stop, frame.index.step) == (0, 4000, 1)


def test_it_writes_the_cache_on_first_load(
    registered_dataset: DatasetVersion, settings: Settings
) -> None:
    cache = cache_file(registered_dataset, settings)
    assert not cache.exists()

    dataset_version_load(version=registered_dataset)

    assert cache.is_file()
    assert [path.name for path in cache.parent.iterdir()] == [cache.name]  # no temp left


def test_it_reads_the_cache_with_the_registered_types(
    registered_dataset: DatasetVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = dataset_version_load(version=registered_dataset)
    monkeypatch.setattr(files, "read_csv_frame", fail_if_called)

    second = dataset_version_load(version=registered_dataset)

    pd.testing.assert_frame_equal(second, first)
    assert column_specs(second) == registered_dataset.columns


def test_it_does_not_rehash_an_unchanged_file(
    registered_dataset: DatasetVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_version_load(version=registered_dataset)
    monkeypatch.setattr(files, "file_sha256", fail_if_called)

    assert len(dataset_version_load(version=registered_dataset)) == 4000


def test_it_rehashes_a_touched_file_and_remembers_it(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    dataset_version_load(version=registered_dataset)
    later = small_fraud_csv.stat().st_mtime_ns + 5_000_000_000
    os.utime(small_fraud_csv, ns=(later, later))

    dataset_version_load(version=registered_dataset)

    assert DatasetFileCheck.objects.get(version=registered_dataset).mtime_ns == later


@pytest.mark.parametrize("cached", [False, True], ids=["from csv", "from cache"])
def test_it_refuses_a_file_whose_content_changed(
    registered_dataset: DatasetVersion, small_fraud_csv: Path, cached: bool
) -> None:
    if cached:
        dataset_version_load(version=registered_dataset)
    rewrite_one_byte(small_fraud_csv)

    message = refused(registered_dataset)

    assert message.startswith("small_fraud:v1: file ")
    assert "small_fraud/v1/small_fraud.csv no longer matches its registered SHA-256" in message
    assert f"(registered {registered_dataset.sha256[:12]}…, now " in message
    assert "the database record is authoritative" in message
    assert "restore the file or register a new version" in message


def test_it_refuses_a_file_whose_size_changed(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    with small_fraud_csv.open("a") as handle:
        handle.write("1.0" + ",0" * 29 + ",0\n")

    message = refused(registered_dataset)

    assert "no longer matches its registered size" in message
    assert f"registered {registered_dataset.size_bytes:,} bytes" in message


def test_it_refuses_a_missing_file(
    registered_dataset: DatasetVersion, small_fraud_csv: Path
) -> None:
    small_fraud_csv.unlink()

    message = refused(registered_dataset)

    assert "small_fraud:v1: file " in message
    assert "small_fraud.csv is missing; restore it or register a new version" in message


def test_it_refuses_a_file_swapped_for_a_symlink_outside_data_root(
    registered_dataset: DatasetVersion, small_fraud_csv: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.csv"
    shutil.copy(small_fraud_csv, outside)  # identical bytes, but not under DATA_ROOT
    small_fraud_csv.unlink()
    small_fraud_csv.symlink_to(outside)

    message = refused(registered_dataset)

    assert "file small_fraud/v1/small_fraud.csv now leads outside DATA_ROOT" in message
    assert str(tmp_path) not in message  # not the link's target, nor DATA_ROOT


def test_it_falls_back_to_the_csv_when_the_cache_is_corrupt(
    registered_dataset: DatasetVersion, settings: Settings
) -> None:
    cache = cache_file(registered_dataset, settings)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"not an arrow file at all")

    frame = dataset_version_load(version=registered_dataset)

    assert len(frame) == 4000
    pd.testing.assert_frame_equal(pd.read_feather(cache), frame)


def test_it_ignores_a_cache_with_other_columns(
    registered_dataset: DatasetVersion, settings: Settings
) -> None:
    cache = cache_file(registered_dataset, settings)
    cache.parent.mkdir(parents=True)
    pd.DataFrame({"other": [1, 2]}).to_feather(cache)

    frame = dataset_version_load(version=registered_dataset)

    assert column_specs(frame) == registered_dataset.columns


@pytest.mark.slow
def test_it_round_trips_a_full_size_file(data_root: Path, settings: Settings) -> None:
    path = write_fraud_csv(data_root / "versions" / "v1" / "creditcard.csv")
    version = dataset_register(
        name="credit_card_fraud", version="v1", path=path, target="Class", user_name="pytest"
    )

    from_csv = dataset_version_load(version=version)
    from_cache = dataset_version_load(version=version)

    assert version.row_count == 284_807
    assert version.class_counts == {"0": 284_315, "1": 492}
    assert 140_000_000 < version.size_bytes < 160_000_000
    assert cache_file(version, settings).is_file()
    pd.testing.assert_frame_equal(from_cache, from_csv)


def test_it_never_returns_a_value_changed_in_the_cache(
    registered_dataset: DatasetVersion, settings: Settings
) -> None:
    """The probe: one value changed in the Arrow cache was returned by the
    next load (training and the gate read it) while verify_datasets said OK."""
    first = dataset_version_load(version=registered_dataset)  # writes the cache
    cache = cache_file(registered_dataset, settings)
    tampered = pd.read_feather(cache)
    tampered.loc[7, "V1"] = 12345.0
    tampered.to_feather(cache, compression="uncompressed")

    again = dataset_version_load(version=registered_dataset)

    original = float(first["V1"].iloc[7])
    assert float(again["V1"].iloc[7]) == original != 12345.0
    pd.testing.assert_frame_equal(pd.read_feather(cache), first)  # rebuilt from the file


def test_it_reads_a_cache_whose_digest_it_recorded(
    registered_dataset: DatasetVersion, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_version_load(version=registered_dataset)
    parsed: list[Path] = []
    monkeypatch.setattr(files, "hash_and_read_csv", lambda path: parsed.append(path))

    frame = dataset_version_load(version=registered_dataset)  # the cache: no CSV parse

    assert len(frame) == 4000
    assert parsed == []
