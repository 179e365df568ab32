from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any, NoReturn

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from experiments.models import Experiment, Status
from mlplatform import numbers


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_it_runs_the_experiment_and_prints_phases_and_a_summary(
    make_config: Callable[..., str], tmp_path: Path
) -> None:
    out = StringIO()

    call_command("run_experiment", config=write(tmp_path, make_config()), stdout=out)

    experiment = Experiment.objects.get()
    assert experiment.status == Status.COMPLETED
    text = out.getvalue()
    assert f"experiment #{experiment.pk}" in text
    for phase in ("loading data", "fitting", "evaluating", "saving"):
        assert phase in text
    assert "COMPLETED" in text
    assert "average_precision" in text


def test_it_prints_one_json_object_with_json(
    make_config: Callable[..., str], tmp_path: Path
) -> None:
    out = StringIO()

    call_command("run_experiment", config=write(tmp_path, make_config()), json=True, stdout=out)

    payload = json.loads(out.getvalue())
    assert payload["id"] == Experiment.objects.get().pk
    assert payload["status"] == "completed"
    assert 0 < payload["metrics"]["average_precision"] <= 1


def test_it_refuses_an_invalid_config_and_writes_nothing(
    make_config: Callable[..., str], tmp_path: Path
) -> None:
    path = write(tmp_path, make_config(extra={"thresold": 0.4}))

    with pytest.raises(CommandError, match="thresold"):
        call_command("run_experiment", config=path)

    assert not Experiment.objects.exists()


def test_it_refuses_a_missing_config_file(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("run_experiment", config=str(tmp_path / "nope.yaml"))


def test_it_exits_non_zero_when_the_experiment_fails(
    make_config: Callable[..., str], tmp_path: Path, settings: Settings
) -> None:
    path = write(tmp_path, make_config())
    for csv in Path(settings.DATA_ROOT).rglob("*.csv"):
        csv.write_text("changed\n")

    with pytest.raises(SystemExit) as caught:
        call_command("run_experiment", config=path, stdout=StringIO(), stderr=StringIO())

    assert caught.value.code == 1
    assert Experiment.objects.get().status == Status.FAILED


def test_it_records_the_named_user(
    make_config: Callable[..., str], tmp_path: Path, experimenter: User
) -> None:
    call_command(
        "run_experiment", config=write(tmp_path, make_config()), user="erin", stdout=StringIO()
    )

    assert Experiment.objects.get().created_by == experimenter


def test_it_refuses_an_unknown_user(make_config: Callable[..., str], tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("run_experiment", config=write(tmp_path, make_config()), user="ghost")

    assert not Experiment.objects.exists()


def test_it_stops_an_in_process_run_past_its_timeout(
    make_config: Callable[..., str], tmp_path: Path
) -> None:
    slow = make_config(
        model_type="random_forest",
        params={"n_estimators": 3000},
        extra={"run": {"timeout_seconds": 1}},
    )

    with pytest.raises(SystemExit) as exit_:
        call_command("run_experiment", config=write(tmp_path, slow), stdout=StringIO())

    experiment = Experiment.objects.get()
    assert exit_.value.code == 1
    assert experiment.status == Status.FAILED
    assert experiment.error_message == "timed out after 1 s"
    assert experiment.finished_at is not None
    assert experiment.started_at is not None
    assert (experiment.finished_at - experiment.started_at).total_seconds() < 30


def test_it_prints_a_registration_error_and_how_to_retry(
    make_config: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.services import registration as registration_module

    def unavailable(**kwargs: Any) -> NoReturn:
        raise RuntimeError("the gate exploded")

    monkeypatch.setattr(registration_module, "gate_compute", unavailable)
    out, err = StringIO(), StringIO()

    with pytest.raises(SystemExit) as exited:  # a registration error: exit 1
        call_command(
            "run_experiment", config=write(tmp_path, make_config()), stdout=out, stderr=err
        )

    assert exited.value.code == 1

    experiment = Experiment.objects.get()
    assert experiment.status == Status.COMPLETED
    assert experiment.registration == "error"
    assert "registration error: RuntimeError: the gate exploded" in err.getvalue()
    assert f"manage.py register_experiment {experiment.pk}" in err.getvalue()


def test_it_gives_the_run_time_the_experiment_page_shows(
    make_config: Callable[..., str], tmp_path: Path
) -> None:
    out = StringIO()

    call_command("run_experiment", config=write(tmp_path, make_config()), stdout=out)

    experiment = Experiment.objects.get()
    assert experiment.finished_at is not None
    assert experiment.started_at is not None
    ran = (experiment.finished_at - experiment.started_at).total_seconds()
    summary = next(line for line in out.getvalue().splitlines() if "COMPLETED" in line)
    assert f"ran for {numbers.duration(ran)}" in summary
    assert "in all)" in summary
    fit_time = next(line for line in out.getvalue().splitlines() if "fit_time_seconds" in line)
    assert fit_time.rstrip().endswith((" s", " ms"))  # a duration, not 0.0123


def test_it_flags_a_registration_identical_to_an_earlier_version(
    make_config: Callable[..., str], tmp_path: Path
) -> None:
    config = write(tmp_path, make_config())
    call_command("run_experiment", config=config, stdout=StringIO())
    out = StringIO()

    call_command("run_experiment", config=config, json=True, stdout=out)
    again = StringIO()
    third_config = write(tmp_path, make_config())
    call_command("run_experiment", config=third_config, stdout=again)

    assert json.loads(out.getvalue())["model_version"]["identical_to"] == [1]
    assert (
        "note: identical to fraud_detector v1, v2 (same config SHA-256 and dataset SHA-256)"
        in again.getvalue()
    )


def test_it_answers_json_with_a_json_error_and_the_same_exit_code(db: None, tmp_path: Path) -> None:
    out = StringIO()

    with pytest.raises(SystemExit) as caught:
        call_command("run_experiment", config=str(tmp_path / "missing.yaml"), json=True, stdout=out)

    assert caught.value.code == 1
    error = json.loads(out.getvalue())["error"]
    assert error == f"config file {tmp_path / 'missing.yaml'} does not exist or is not a file"


# ------------------------------------------------------------ fit progress


def test_it_prints_the_progress_of_the_fit(
    make_config: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.management.commands import run_experiment

    monkeypatch.setattr(run_experiment, "PROGRESS_LINE_SECONDS", 0.0)
    config = make_config(
        model_type="hist_gradient_boosting",
        params={"max_iter": 10, "early_stopping": True, "n_iter_no_change": 100},
    )
    out = StringIO()

    call_command("run_experiment", config=write(tmp_path, config), stdout=out)

    lines = [line for line in out.getvalue().splitlines() if "] fitting: " in line]
    assert len(lines) == 10
    assert re.fullmatch(
        r"\[ *\d+\.\ds\] fitting: iteration 3 / at most 10, val loss 0\.\d{4}, "
        r"(at most .+ left|finishing)",
        lines[2],
    )
    assert re.fullmatch(
        r"\[ *\d+\.\ds\] fitting: iteration 10 / at most 10, val loss 0\.\d{4}", lines[-1]
    )


def test_it_says_how_long_it_has_been_fitting_when_the_model_tells_nothing(
    make_config: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments import training
    from experiments.management.commands import run_experiment

    fit = training._fit

    def slow_fit(*args: Any) -> Any:
        time.sleep(0.7)
        return fit(*args)

    monkeypatch.setattr(training, "_fit", slow_fit)
    monkeypatch.setattr(run_experiment, "TICK_SECONDS", 0.2)
    out = StringIO()

    call_command("run_experiment", config=write(tmp_path, make_config()), stdout=out)

    ticks = re.findall(r"\[ *\d+\.\ds\] fitting \((.+) so far\)", out.getvalue())
    assert len(ticks) >= 2
    assert 0.2 <= float(ticks[0].removesuffix(" s")) < 0.7


def test_it_prints_no_progress_with_json(
    make_config: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.management.commands import run_experiment

    monkeypatch.setattr(run_experiment, "PROGRESS_LINE_SECONDS", 0.0)
    monkeypatch.setattr(run_experiment, "TICK_SECONDS", 0.0)
    config = make_config(model_type="random_forest", params={"n_estimators": 30})
    out = StringIO()

    call_command("run_experiment", config=write(tmp_path, config), json=True, stdout=out)

    assert json.loads(out.getvalue())["status"] == "completed"
