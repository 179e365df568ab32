from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.test import Client

from mlplatform.origin import Origin
from mlplatform.testing import make_user
from registry.models import ModelVersion, Stage
from registry.services import stage_request_create
from serving.services import scoring_run_create

URL = "/registry/models/fraud_detector/versions/1/"


def test_it_shows_metrics_history_gate_report_and_the_digest(
    client: Client, viewer: Any, registered: Callable[..., ModelVersion]
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
    report = version.registration_gate.report
    assert report["summary"] in content
    assert f"{report['holdout_rows']} rows" in content
    assert "/request/" not in content  # a viewer may not request
    assert "/decide/" not in content


def test_it_shows_a_pending_request_with_its_full_gate_report_before_the_decision(
    client: Client, experimenter: Any, approver: Any, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    request = stage_request_create(
        model_version=version, to_stage=Stage.PRODUCTION, user=experimenter, reason="best AP"
    )
    client.force_login(approver)
    content = client.get(URL).content.decode()
    report_at = content.index(f"Pending request #{request.pk}")
    gate_at = content.index("Regression gate report", report_at)
    form_at = content.index(f'action="/registry/requests/{request.pk}/decide/"')
    assert report_at < gate_at < form_at
    for entry in request.gate.report["metrics"]:
        assert entry["metric"] in content[gate_at:form_at]
    assert "best AP" in content


def test_it_tells_the_requester_that_another_approver_must_decide(
    client: Client, registered: Callable[..., ModelVersion]
) -> None:
    both = make_user("bea", "experimenter", "approver")
    version = registered()
    stage_request_create(model_version=version, to_stage=Stage.PRODUCTION, user=both, reason="mine")
    client.force_login(both)
    content = client.get(URL).content.decode()
    assert "another approver must decide" in content
    assert "/decide/" not in content


def test_it_offers_the_request_form_to_an_experimenter(
    client: Client, experimenter: Any, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(experimenter)
    assert f'action="{URL}request/"' in client.get(URL).content.decode()


def test_it_answers_404_for_an_unknown_version(client: Client, viewer: Any) -> None:
    client.force_login(viewer)
    assert client.get("/registry/models/fraud_detector/versions/7/").status_code == 404


def test_it_refuses_an_outsider(
    client: Client, outsider: Any, registered: Callable[..., ModelVersion]
) -> None:
    registered()
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


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
