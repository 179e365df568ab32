"""bin/pip-progress: the short install report bin/bootstrap (and so bin/demo) prints."""

from __future__ import annotations

import subprocess
from pathlib import Path

from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "bin" / "pip-progress"
PIP_LOG = """\
Collecting Django==5.2.19 (from -r requirements.txt (line 2))
  Downloading django-5.2.19-py3-none-any.whl.metadata (4.1 kB)
Collecting numpy==2.4.6 (from -r requirements.txt (line 12))
  Using cached numpy-2.4.6.whl (16.5 MB)
Requirement already satisfied: asgiref>=3.8 in ./.venv/lib (from Django==5.2.19)
Installing collected packages: numpy, asgiref, Django
Successfully installed Django-5.2.19 asgiref-3.9.1 numpy-2.4.6
"""


def test_it_numbers_each_package_and_counts_the_installed_ones() -> None:
    done = subprocess.run([str(SCRIPT)], input=PIP_LOG, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "    [  1] Django==5.2.19",
        "    [  2] numpy==2.4.6",
        "    installing 3 packages ...",
        "    3 packages installed",
    ]


def test_it_passes_pip_errors_through() -> None:
    log = "Collecting nope==1\nERROR: No matching distribution found for nope==1\n"
    done = subprocess.run([str(SCRIPT)], input=log, capture_output=True, text=True, check=True)
    assert "ERROR: No matching distribution found for nope==1" in done.stdout
