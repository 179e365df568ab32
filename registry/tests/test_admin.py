from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from experiments.selectors import experiment_scalar_metrics
from mlplatform.origin import Origin
from registry.models import Stage, StageRequest, StageTransition
from registry.services import stage_request_create


@pytest.fixture
def admin_client(client, db):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def pending(version, user):
    return stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=user,
        reason="ready",
    )


def test_it_shows_the_full_gate_report_before_the_decision(admin_client, registered, experimenter):
    request = pending(registered(), experimenter)

    response = admin_client.post(
        "/admin/registry/stagerequest/",
        {"action": "approve_requests", "_selected_action": [request.pk]},
    )

    assert response.status_code == 200
    assert b"Regression gate: PASSED" in response.content
    request.refresh_from_db()
    assert request.status == StageRequest.Status.PENDING


def test_it_approves_through_the_service_and_records_the_admin(
    admin_client, registered, experimenter
):
    version = registered()
    request = pending(version, experimenter)

    response = admin_client.post(
        "/admin/registry/stagerequest/",
        {
            "action": "approve_requests",
            "_selected_action": [request.pk],
            "apply": "1",
            "reason": "reviewed in admin",
        },
    )

    assert response.status_code == 302
    request.refresh_from_db()
    version.refresh_from_db()
    assert request.status == StageRequest.Status.APPROVED
    assert request.decided_by.username == "root"
    assert version.stage == Stage.PRODUCTION
    entry = StageTransition.objects.filter(model_version=version).first()
    assert entry.approved_by.username == "root"
    assert "reviewed in admin" in entry.reason


def test_it_rejects_through_the_service(admin_client, registered, experimenter):
    request = pending(registered(), experimenter)

    admin_client.post(
        "/admin/registry/stagerequest/",
        {
            "action": "reject_requests",
            "_selected_action": [request.pk],
            "apply": "1",
            "reason": "not yet",
        },
    )

    request.refresh_from_db()
    assert request.status == StageRequest.Status.REJECTED
    entry = StageTransition.objects.get(request=request)
    assert (entry.channel, entry.decision) == ("admin", "rejected")


@pytest.mark.parametrize("action", ["approve_requests", "reject_requests"])
def test_it_refuses_a_decision_with_an_empty_reason(admin_client, registered, experimenter, action):
    request = pending(registered(), experimenter)

    response = admin_client.post(
        "/admin/registry/stagerequest/",
        {"action": action, "_selected_action": [request.pk], "apply": "1", "reason": "  "},
    )

    assert response.status_code == 200  # the confirmation page again, with the error
    assert "This field is required" in response.content.decode()
    request.refresh_from_db()
    assert request.status == StageRequest.Status.PENDING
    assert not StageTransition.objects.filter(request=request).exists()


def test_it_keeps_history_read_only(admin_client, registered):
    registered()
    entry = StageTransition.objects.get()

    change = admin_client.post(
        f"/admin/registry/stagetransition/{entry.pk}/change/", {"reason": "rewritten"}
    )
    delete = admin_client.post(
        f"/admin/registry/stagetransition/{entry.pk}/delete/", {"post": "yes"}
    )

    assert change.status_code == 403
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.reason != "rewritten"


def test_it_lists_versions_with_stage_metrics_and_gate_outcome(admin_client, registered):
    version = registered()
    metrics = experiment_scalar_metrics(experiment_id=version.experiment_id)

    response = admin_client.get("/admin/registry/modelversion/")

    assert response.status_code == 200
    assert b"Staging" in response.content
    assert b"avg precision" in response.content.lower()
    assert f"{metrics['average_precision']:.4f}".encode() in response.content
    assert f"{metrics['roc_auc']:.4f}".encode() in response.content
