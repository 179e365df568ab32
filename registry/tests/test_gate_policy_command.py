from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from registry.models import GatePolicy, RegisteredModel
from registry.services import registered_model_ensure
from registry.tests.conftest import LAX_POLICY


@pytest.fixture
def model(db: None) -> RegisteredModel:
    return registered_model_ensure(name="fraud_detector")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "lax.yaml"
    path.write_text(yaml.safe_dump(LAX_POLICY))
    return path


def run(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command("gate_policy", *args, stdout=out, **options)
    return out.getvalue()


def test_it_prints_the_current_policy_and_its_history(model: RegisteredModel) -> None:
    text = run("fraud_detector")

    assert "gate policy v1 of fraud_detector (current)" in text
    assert "primary_metric: average_precision" in text
    assert "v1" in text
    assert "by project default via worker" in text


def test_it_prints_json(model: RegisteredModel) -> None:
    payload = json.loads(run("fraud_detector", json=True))

    assert payload["current"]["version"] == 1
    assert payload["current"]["policy"]["metrics"]["roc_auc"]["threshold"] == 0.75
    assert [entry["version"] for entry in payload["history"]] == [1]


def test_it_sets_a_policy_for_the_permission_holder(
    model: RegisteredModel, policy_admin: User, policy_file: Path
) -> None:
    text = run(
        "fraud_detector", set=str(policy_file), user="polly", reason="smaller bootstrap", json=True
    )

    payload = json.loads(text)
    assert payload["current"]["version"] == 2
    assert payload["current"]["set_by"] == "polly"
    assert payload["current"]["channel"] == "cli"
    assert payload["current"]["os_user"]
    assert payload["current"]["reason"] == "smaller bootstrap"


@pytest.mark.parametrize("persona", ["experimenter", "approver"])
def test_it_refuses_experimenters_and_approvers(
    model: RegisteredModel, policy_file: Path, persona: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)

    with pytest.raises(CommandError, match="may not change gate policies"):
        run("fraud_detector", set=str(policy_file), user=user.username, reason="mine")

    assert GatePolicy.objects.count() == 1


def test_it_needs_a_user_to_set(model: RegisteredModel, policy_file: Path) -> None:
    with pytest.raises(CommandError, match="say who you are: set MLPLATFORM_TOKEN"):
        run("fraud_detector", set=str(policy_file), reason="x")


def test_it_names_the_problem_of_a_bad_policy_file(
    model: RegisteredModel, policy_admin: User, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**LAX_POLICY, "min_positives": 1}))

    with pytest.raises(CommandError, match=r"min_positives: must be in \[20, 1000000\], got 1"):
        run("fraud_detector", set=str(bad), user="polly", reason="x")

    assert GatePolicy.objects.count() == 1


def test_it_says_so_for_an_unknown_model(db: None) -> None:
    with pytest.raises(CommandError, match="no model named 'nope'"):
        run("nope")
