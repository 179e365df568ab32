"""The settings of a test run (pyproject.toml: DJANGO_SETTINGS_MODULE): the
platform's own settings with every runtime folder outside the checkout.

A test must never read or write the checkout's var/ and data/: after
`bin/demo` they hold the demo's database, cache and artifacts, which a test
would otherwise find (or spoil). pytest-django loads the settings before any
conftest.py, so the folders are chosen here, in the environment, before
mlplatform.settings reads it: VAR_DIR (the SQLite test database, the static
root) and DATA_ROOT point into one temporary folder per test run, and the
folders derived from them follow. The processes a test starts (workers,
servers, commands) inherit the environment, and with it the same folders.
Each test then gets folders of its own (conftest.py, runtime_folders), and
conftest.py's checkout_untouched fails a test that changes var/ or data/."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT_VARIABLE = "MLPLATFORM_TEST_ROOT"
DERIVED = ("ARTIFACT_ROOT", "DATASET_CACHE_ROOT", "STATIC_ROOT")

# A process started by a test inherits the run's folders; the test run itself
# replaces whatever the shell had (a DATA_ROOT pointing at real data included).
CREATED_HERE = ROOT_VARIABLE not in os.environ
if CREATED_HERE:
    os.environ[ROOT_VARIABLE] = tempfile.mkdtemp(prefix="mlplatform-tests-")
    os.environ["VAR_DIR"] = str(Path(os.environ[ROOT_VARIABLE]) / "var")
    os.environ["DATA_ROOT"] = str(Path(os.environ[ROOT_VARIABLE]) / "data")
    for variable in DERIVED:
        os.environ.pop(variable, None)

from mlplatform.settings import *  # noqa: E402, F403
