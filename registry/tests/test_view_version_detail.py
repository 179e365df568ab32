from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from datasets.models import DatasetVersion
from mlplatform.origin import Origin
from mlplatform.testing import make_user
from mlplatform.tests.factories import (
    make_dataset_version,
    make_experiment,
    make_gate_evaluation,
    make_model_version,
)
from registry.models import ModelVersion, Stage, StageRequest
from registry.services import stage_request_create
from serving.services import scoring_run_create

URL = "/registry/models/fraud_detector/versions/1/"


def test_it_shows_metrics_history_gate_report_and_the_digest(
    client: Client, viewer: User, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    client.force_login(viewer)
    response = client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert "average_precision" in content
    assert version.artifact_sha256 in content
    assert f'href="{URL}artifact/"' in content
    assert "registered from experiment" in content  # the stage history
    assert version.registration_gate is not None
    report = version.registration_gate.report
    assert report["summary"] in content
    assert f"{report['holdout_rows']:,} rows compared" in content
    assert f"gate policy v{report['policy_version']} of fraud_detector" in content
    assert "/request/" not in content  # a viewer may not request
    assert "/decide/" not in content


def test_it_shows_a_pending_request_with_its_full_gate_report_before_the_decision(
    client: Client, experimenter: User, approver: User, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    request = stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="best AP",
    )
    client.force_login(approver)
    content = client.get(URL).content.decode()
    report_at = content.index(f"Pending request #{request.pk}")
    gate_at = content.index("Regression gate report", report_at)
    form_at = content.index(f'action="/registry/requests/{request.pk}/decide/"')
    assert report_at < gate_at < form_at
    assert request.gate is not None
    for entry in request.gate.report["metrics"]:
        assert entry["metric"] in content[gate_at:form_at]
    assert "best AP" in content


def test_it_tells_the_requester_that_another_approver_must_decide(
    client: Client, registered: Callable[..., ModelVersion]
) -> None:
    both = make_user("bea", "experimenter", "approver")
    version = registered()
    stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=both,
        reason="mine",
    )
    client.force_login(both)
    content = client.get(URL).content.decode()
    assert "another approver must decide" in content
    assert "/decide/" not in content


def test_it_offers_the_request_form_to_an_experimenter(
    client: Client, experimenter: User, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(experimenter)
    assert f'action="{URL}request/"' in client.get(URL).content.decode()


def test_it_answers_404_for_an_unknown_version(client: Client, viewer: User) -> None:
    make_model_version(make_experiment(make_dataset_version()))
    client.force_login(viewer)
    response = client.get("/registry/models/fraud_detector/versions/7/")
    assert response.status_code == 404
    assert b"has no version 7" in response.content
    unknown = client.get("/registry/models/fraud_detectr/versions/1/")
    assert unknown.status_code == 404
    assert b"no model named &#x27;fraud_detectr&#x27;" in unknown.content


@pytest.fixture
def dataset(db: None) -> DatasetVersion:
    return make_dataset_version()


@pytest.mark.parametrize(
    ("stage", "offered", "default"),
    [
        ("staging", ["production", "archived"], "production"),
        ("production", ["staging", "archived"], "archived"),
        ("archived", ["staging", "production"], "staging"),
        ("none", ["staging", "production", "archived"], "staging"),
    ],
)
def test_it_never_offers_or_defaults_to_the_current_stage(
    client: Client,
    experimenter: User,
    dataset: DatasetVersion,
    stage: str,
    offered: list[str],
    default: str,
) -> None:
    make_model_version(make_experiment(dataset), stage=stage)
    client.force_login(experimenter)
    form = client.get(URL).context["request_form"]
    assert [value for value, _ in form.fields["to_stage"].choices] == offered
    assert form["to_stage"].value() == default


def test_it_says_a_pending_request_is_waiting_instead_of_offering_another(
    client: Client, experimenter: User, dataset: DatasetVersion
) -> None:
    version = make_model_version(make_experiment(dataset), stage="staging")
    request = StageRequest.objects.create(
        model_version=version,
        from_stage="staging",
        to_stage="archived",
        reason="old",
        requested_by=experimenter,
    )
    client.force_login(experimenter)
    content = client.get(URL).content.decode()
    assert f"Request #{request.pk}</a> to archived is waiting for an approver" in content
    assert 'id="request-form"' not in content


def test_it_warns_an_approver_of_a_better_staging_version(
    client: Client, experimenter: User, approver: User, dataset: DatasetVersion
) -> None:
    weaker = make_experiment(dataset, metrics={"average_precision": 0.80})
    stronger = make_experiment(dataset, metrics={"average_precision": 0.90})
    worse = make_experiment(dataset, metrics={"average_precision": 0.70})
    version = make_model_version(weaker, version=1, stage="staging")
    make_model_version(stronger, version=2, stage="staging")
    make_model_version(worse, version=3, stage="staging")
    StageRequest.objects.create(
        model_version=version,
        from_stage="staging",
        to_stage="production",
        reason="go",
        requested_by=experimenter,
    )
    client.force_login(approver)
    response = client.get(URL)
    assert [(b.version, b.value) for b in response.context["better_staging"]] == [(2, 0.9)]
    content = response.content.decode()
    assert "(staging) has a better average_precision, 0.9000" in content
    assert "against 0.8000 for this version" in content
    client.force_login(experimenter)  # the warning is for the one who decides
    assert "has a better average_precision" not in client.get(URL).content.decode()


def test_it_flags_a_version_identical_to_another(
    client: Client, viewer: User, dataset: DatasetVersion
) -> None:
    first = make_experiment(dataset, name="same")
    again = make_experiment(dataset, name="same")  # same config text, same data file
    other = make_experiment(dataset, name="different")
    make_model_version(first, version=1)
    make_model_version(again, version=2)
    make_model_version(other, version=3)
    client.force_login(viewer)
    content = client.get(URL).content.decode()
    assert 'id="identical-warning"' in content
    assert ">v2</a> (staging): the same config SHA-256 and dataset SHA-256" in content
    third = client.get("/registry/models/fraud_detector/versions/3/").content.decode()
    assert 'id="identical-warning"' not in third


def test_it_shows_each_gate_report_once(
    client: Client, experimenter: User, approver: User, dataset: DatasetVersion
) -> None:
    production = make_model_version(make_experiment(dataset), version=1, stage="production")
    candidate = make_model_version(make_experiment(dataset), version=2, stage="staging")
    gate = make_gate_evaluation(candidate.experiment, production, metrics=[])
    StageRequest.objects.create(
        model_version=candidate,
        from_stage="staging",
        to_stage="production",
        reason="go",
        requested_by=experimenter,
        gate=gate,
    )
    client.force_login(approver)
    content = client.get("/registry/models/fraud_detector/versions/2/").content.decode()
    assert content.count('class="gate-report') == 2  # the request's and the registration's
    assert "shown with the request above" in content


def test_it_refuses_an_outsider(
    client: Client, outsider: User, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


def test_it_draws_each_interval_against_its_allowed_drop_and_shows_newer_fields(
    client: Client, viewer: User, dataset: DatasetVersion
) -> None:
    report = {
        "passed": False,
        "summary": "Failed: the one metric rule is not met.",
        "confidence": 0.9,
        "policy_model": "fraud_detector",
        "policy_version": 4,
        "holdout_rows": 5000,
        "holdout_positives": 60,
        "excluded_rows": 1204,
        "candidate_holdout_rows": 6204,
        "comparable": True,
        "dataset": {"name": "fraud", "version": "v2"},
        "metrics": [
            {
                "metric": "average_precision",
                "greater_is_better": True,
                "candidate": 0.8,
                "production": 0.85,
                "delta": -0.05,
                "relative_delta": -0.0588,
                "ci_low": -0.09,
                "ci_high": -0.01,
                "rule": {"max_drop": 0.02},
                "checks": [{"name": "max_drop", "passed": False, "detail": "below -0.02"}],
                "passed": False,
                "unexpected": "ignored",
            },
            {"metric": "roc_auc", "candidate": 0.9},
        ],
    }
    make_model_version(make_experiment(dataset), gate_passed=False, report=report)
    client.force_login(viewer)
    content = client.get(URL).content.decode()
    assert content.count('class="interval-picture"') == 1  # roc_auc has no interval
    assert 'class="interval breach"' in content  # the lower end is past -0.02
    assert "90% CI of delta [-0.0900, -0.0100]; allowed drop 0.0200" in content
    assert '<td class="num">-0.0500</td>' in content
    assert '<td class="num">-5.88%</td>' in content
    assert "gate policy v4 of fraud_detector" in content
    assert "1,204 of the candidate's 6,204 holdout rows excluded" in content
    assert "<dd>name fraud, version v2</dd>" in content


def test_it_lists_the_versions_batch_scoring_runs(
    client: Client,
    viewer: Any,
    production_version: ModelVersion,
    small_fraud_csv: Path,
    tmp_path: Path,
) -> None:
    scoring_run_create(
        model_name="fraud_detector",
        version=1,
        input_path=small_fraud_csv,
        output_path=tmp_path / "scored.csv",
        origin=Origin.cli(),
        user_name="cli:ops",
    )
    client.force_login(viewer)
    content = client.get(URL).content.decode()
    runs = content[content.index('id="scoring-runs"') :]
    assert "small_fraud/v1/small_fraud.csv" in runs
    assert ">4000<" in runs
    assert "cli:ops" in runs


def test_it_says_when_no_file_was_scored(
    client: Client, viewer: Any, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(viewer)
    assert "No file has been scored with this version." in client.get(URL).content.decode()
