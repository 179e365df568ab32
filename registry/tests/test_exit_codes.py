"""One table of exit codes for every command (README, "Exit codes"): 0 done,
1 refused or failed, 2 arguments refused, 3 refused by the regression gate,
4 a service unavailable."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command

from mlplatform.cli import (
    BAD_ARGUMENTS_EXIT,
    EXIT_ERROR,
    EXIT_GATE_REFUSED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
)
from registry.models import GatePolicy, ModelVersion
from registry.tests.conftest import UNDERFIT


def exit_code(*args: str, **options: Any) -> int:
    try:
        call_command(*args, stdout=StringIO(), stderr=StringIO(), **options)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return EXIT_OK


def test_the_codes_are_the_ones_the_readme_lists() -> None:
    """Exit 2 itself is mlplatform/tests/test_cli.py's (argparse, from a shell)."""
    codes = (EXIT_OK, EXIT_ERROR, BAD_ARGUMENTS_EXIT, EXIT_GATE_REFUSED, EXIT_UNAVAILABLE)
    assert codes == (0, 1, 2, 3, 4)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code in codes:
        assert f"| {code} " in readme


def test_run_experiment_exits_3_when_the_gate_refuses_to_register_the_run(
    make_config: Callable[..., str],
    production_version: ModelVersion,
    experimenter: User,
    tmp_path: Path,
) -> None:
    """It exited 0 for the same outcome that request_promotion answered 3."""
    weak = tmp_path / "weak.yaml"
    weak.write_text(make_config(name="weak", **UNDERFIT))
    good = tmp_path / "good.yaml"
    good.write_text(make_config(name="good"))

    assert exit_code("run_experiment", config=str(weak)) == EXIT_GATE_REFUSED
    assert exit_code("run_experiment", config=str(good)) == EXIT_OK


def test_request_promotion_and_register_experiment_exit_3_for_a_refusal_by_the_gate(
    lax_policy: GatePolicy,
    registered: Callable[..., ModelVersion],
    trained: Callable[..., Any],
    experimenter: User,
    approver: User,
) -> None:
    from registry.tests.conftest import promote

    weak = registered(name="weak", **UNDERFIT)
    promote(registered(name="strong"), experimenter, approver)
    weaker = trained(name="weaker", **UNDERFIT)

    assert exit_code(
        "request_promotion", "fraud_detector", str(weak.version), stage="production",
        reason="try", user="erin",
    ) == EXIT_GATE_REFUSED  # fmt: skip
    assert exit_code("register_experiment", str(weaker.pk), user="erin") == EXIT_GATE_REFUSED
