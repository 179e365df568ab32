"""docs/configuration.md lists every environment variable settings.py reads,
and nothing else above its "Read outside settings.py" section.

The variables read are found two ways: in the source (every env_* helper call
and os.environ / os.getenv read with a literal name, including reads that only
happen on some branches), and by loading the settings in a child process
whose os.environ records every name settings.py asks for (names built at run
time: TRAINING_LIMIT_<MODEL TYPE>_<PARAMETER>, <NAME>_FILE)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SETTINGS_PY = ROOT / "mlplatform" / "settings.py"
REFERENCE = ROOT / "docs" / "configuration.md"
OUTSIDE_SETTINGS = "## Read outside `settings.py`"
ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_float", "env_list", "env_path", "env_secret"}
COLUMNS = ["variable", "default", "type", "used by", "what it does", "example"]

# Runs settings.py (argv[1]) with an os.environ that records the names read
# from settings.py itself (not from the libraries it imports).
RECORDER = """
import json, os, runpy, sys

path = os.path.realpath(sys.argv[1])
names = set()

def from_settings():
    # The caller of get(), or of os.getenv() when that called get().
    frame = sys._getframe(2)
    if frame.f_code.co_name == "getenv":
        frame = frame.f_back
    return os.path.realpath(frame.f_code.co_filename) == path

class Recording(dict):
    def get(self, key, default=None):
        if from_settings():
            names.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        if from_settings():
            names.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        if from_settings():
            names.add(key)
        return super().__contains__(key)

os.environ = Recording(os.environ)
runpy.run_path(path)
print(json.dumps(sorted(names)))
"""


def _name_argument(node: ast.AST) -> ast.expr | None:
    """The expression naming the variable, if `node` reads one."""
    if isinstance(node, ast.Call) and node.args:
        function = ast.unparse(node.func)
        if function in ENV_HELPERS or function in {"os.environ.get", "os.getenv"}:
            return node.args[0]
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
        return node.slice
    return None


def names_in_source(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        name = _name_argument(node)
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            found.add(name.value)
    return found


def names_read_on_loading(settings_file: Path, tmp_path: Path) -> set[str]:
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var")}
    result = subprocess.run(
        [sys.executable, "-c", RECORDER, str(settings_file)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def names_read(settings_file: Path, tmp_path: Path) -> set[str]:
    return names_in_source(settings_file.read_text()) | names_read_on_loading(
        settings_file, tmp_path
    )


def reference_rows() -> list[list[str]]:
    """The cells of every table row above the "Read outside" section."""
    text = REFERENCE.read_text().split(OUTSIDE_SETTINGS)[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| `")
    ]


def documented_names() -> list[str]:
    return [name for row in reference_rows() for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row[0])]


def test_it_documents_every_variable_settings_reads(tmp_path: Path) -> None:
    missing = names_read(SETTINGS_PY, tmp_path) - set(documented_names())

    assert not missing, f"add to docs/configuration.md: {', '.join(sorted(missing))}"


def test_it_documents_no_variable_settings_does_not_read(tmp_path: Path) -> None:
    stale = set(documented_names()) - names_read(SETTINGS_PY, tmp_path)

    assert not stale, f"not read by settings.py: {', '.join(sorted(stale))}"


def test_it_catches_a_new_read_literal_or_computed(tmp_path: Path) -> None:
    changed = tmp_path / "settings.py"
    changed.write_text(
        SETTINGS_PY.read_text()
        + '\nNEW_LIMIT = env_int("NEW_LIMIT_SECONDS", 1)\n'
        + 'PER_KIND = {kind: env_str(f"NEW_{kind}_NAME", "") for kind in ("A", "B")}\n'
    )

    missing = names_read(changed, tmp_path) - set(documented_names())

    assert missing == {"NEW_LIMIT_SECONDS", "NEW_A_NAME", "NEW_B_NAME"}


def test_it_lists_each_variable_once() -> None:
    names = documented_names()

    assert len(names) == len(set(names))


def test_it_gives_every_variable_a_default_type_use_purpose_and_example() -> None:
    headers = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in REFERENCE.read_text().split(OUTSIDE_SETTINGS)[0].splitlines()
        if line.startswith("| variable |")
    ]

    assert headers
    assert all(header == COLUMNS for header in headers)
    for row in reference_rows():
        assert len(row) == len(COLUMNS), row
        assert all(row), row


def test_it_is_linked_from_the_readme() -> None:
    assert "(docs/configuration.md)" in (ROOT / "README.md").read_text()
