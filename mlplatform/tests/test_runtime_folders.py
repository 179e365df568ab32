"""Tests never touch the checkout's var/ and data/ (bin/demo's database,
cache and artifacts): `bin/demo` then `bin/test` failed three tests that read
the demo's dataset cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from mlplatform.testing import CHECKOUT, checkout_guarded


def test_every_runtime_folder_of_a_test_is_its_own(tmp_path: Path) -> None:
    for name in ("VAR_DIR", "DATA_ROOT", "DATASET_CACHE_ROOT", "ARTIFACT_ROOT"):
        assert Path(getattr(settings, name)).is_relative_to(tmp_path), name
    artifacts = storages["artifacts"]
    assert isinstance(artifacts, FileSystemStorage)
    assert Path(artifacts.location).is_relative_to(tmp_path)


def test_the_run_and_the_processes_it_starts_use_folders_outside_the_checkout() -> None:
    """A worker or server a test starts reads the environment, not the test's
    settings: the environment names the run's own folders, the SQLite test
    database among them."""
    for name in ("VAR_DIR", "DATA_ROOT"):
        assert not Path(os.environ[name]).is_relative_to(CHECKOUT), name
    test_database = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if test_database:
        assert not Path(test_database).is_relative_to(CHECKOUT)
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.VAR_DIR); print(settings.DATA_ROOT)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=CHECKOUT,
    )
    assert child.stdout.split() == [os.environ["VAR_DIR"], os.environ["DATA_ROOT"]]


def test_the_guard_names_what_a_test_left_in_the_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "var" / "cache").mkdir(parents=True)
    (checkout / "data").mkdir()
    kept = checkout / "var" / "cache" / "kept.parquet"
    kept.write_bytes(b"demo")
    folders = (checkout / "var", checkout / "data")

    with pytest.raises(pytest.fail.Exception, match=r"data/stray\.csv"), checkout_guarded(folders):
        (checkout / "data" / "stray.csv").write_text("Time,Class\n")
    with pytest.raises(pytest.fail.Exception, match=r"kept\.parquet"), checkout_guarded(folders):
        kept.write_bytes(b"spoilt by a test")
    with checkout_guarded(folders):  # reading is not a change
        kept.read_bytes()
    with checkout_guarded(folders):  # a demo server serving meanwhile writes its own database
        (checkout / "var" / "mlplatform.sqlite3-wal").write_bytes(b"page")
