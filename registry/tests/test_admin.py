from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from experiments.selectors import experiment_scalar_metrics
from mlplatform.origin import Origin
from mlplatform.testing import make_user
from mlplatform.tests.factories import make_dataset_version, make_experiment, make_model_version
from registry.models import ModelVersion, Stage, StageRequest, StageTransition
from registry.services import stage_request_create


@pytest.fixture
def admin_client(client: Client, db: None) -> Client:
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def pending(version: ModelVersion, user: User) -> StageRequest:
    return stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=user,
        reason="ready",
    )


def test_it_shows_the_full_gate_report_before_the_decision(
    admin_client: Client, registered: Callable[..., ModelVersion], experimenter: User
) -> None:
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
    admin_client: Client, registered: Callable[..., ModelVersion], experimenter: User
) -> None:
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
    assert request.decided_by is not None
    assert request.decided_by.username == "root"
    assert version.stage == Stage.PRODUCTION
    entry = StageTransition.objects.filter(model_version=version).first()
    assert entry is not None
    assert entry.approved_by is not None
    assert entry.approved_by.username == "root"
    assert "reviewed in admin" in entry.reason


def test_it_rejects_through_the_service(
    admin_client: Client, registered: Callable[..., ModelVersion], experimenter: User
) -> None:
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
def test_it_refuses_a_decision_with_an_empty_reason(
    admin_client: Client,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    action: str,
) -> None:
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


def test_it_keeps_history_read_only(
    admin_client: Client, registered: Callable[..., ModelVersion]
) -> None:
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


def test_it_lists_versions_with_stage_metrics_and_gate_outcome(
    admin_client: Client, registered: Callable[..., ModelVersion]
) -> None:
    version = registered()
    metrics = experiment_scalar_metrics(experiment_id=version.experiment_id)

    response = admin_client.get("/admin/registry/modelversion/")

    assert response.status_code == 200
    assert b"Staging" in response.content
    assert b"avg precision" in response.content.lower()
    assert f"{metrics['average_precision']:.4f}".encode() in response.content
    assert f"{metrics['roc_auc']:.4f}".encode() in response.content


# ------------------------------------------------ the decision on the request's own page


@pytest.fixture
def waiting(db: None, experimenter: User) -> StageRequest:
    """A pending request to archive a staging version: no gate, no training."""
    version = make_model_version(make_experiment(make_dataset_version()), stage="staging")
    return StageRequest.objects.create(
        model_version=version,
        from_stage="staging",
        to_stage="archived",
        reason="superseded",
        requested_by=experimenter,
    )


def page(request_id: int) -> str:
    return f"/admin/registry/stagerequest/{request_id}/change/"


def decide(request_id: int) -> str:
    return f"/admin/registry/stagerequest/{request_id}/decide/"


def test_it_offers_approve_and_reject_on_the_requests_own_page(
    admin_client: Client, waiting: StageRequest
) -> None:
    content = admin_client.get(page(waiting.pk)).content.decode()
    assert f'action="{decide(waiting.pk)}"' in content
    assert 'id="admin-approve"' in content
    assert 'name="reason"' in content


def test_it_approves_from_the_page_through_the_service(
    admin_client: Client, waiting: StageRequest
) -> None:
    response = admin_client.post(decide(waiting.pk), {"decision": "approve", "reason": "old"})
    assert response.status_code == 302
    assert response["Location"] == page(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == StageRequest.Status.APPROVED
    assert waiting.decided_by is not None
    assert waiting.decided_by.username == "root"
    assert waiting.model_version.stage == Stage.ARCHIVED
    entry = StageTransition.objects.get(request=waiting)
    assert "approved: old" in entry.reason
    assert (
        "This request was approved by root" in admin_client.get(page(waiting.pk)).content.decode()
    )


def test_it_rejects_from_the_page(admin_client: Client, waiting: StageRequest) -> None:
    admin_client.post(decide(waiting.pk), {"decision": "reject", "reason": "keep it"})
    waiting.refresh_from_db()
    assert waiting.status == StageRequest.Status.REJECTED
    assert waiting.model_version.stage == Stage.STAGING


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"decision": "approve", "reason": ""}, "This field is required."),
        ({"decision": "maybe", "reason": "x"}, "Select a valid choice."),
    ],
)
def test_it_refuses_a_bad_decision_on_the_page_and_writes_nothing(
    admin_client: Client, waiting: StageRequest, data: dict[str, str], message: str
) -> None:
    response = admin_client.post(decide(waiting.pk), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == StageRequest.Status.PENDING
    assert not StageTransition.objects.filter(request=waiting).exists()


def test_it_tells_the_requester_another_approver_must_decide(
    client: Client, waiting: StageRequest
) -> None:
    requester = User.objects.create_superuser("req", "req@example.com", "pw")
    StageRequest.objects.filter(pk=waiting.pk).update(requested_by=requester)
    client.force_login(requester)
    assert (
        "You requested this; another approver must decide."
        in client.get(page(waiting.pk)).content.decode()
    )
    response = client.post(decide(waiting.pk), {"decision": "approve", "reason": "mine"})
    assert response.status_code == 403
    assert "you requested this; another approver must decide" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == StageRequest.Status.PENDING


def test_it_shows_no_decision_form_to_staff_who_may_not_approve(
    client: Client, waiting: StageRequest
) -> None:
    staff = make_user("sam", "viewer")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    content = client.get(page(waiting.pk)).content.decode()
    assert "Only an approver may decide this request." in content
    assert 'id="decision-form"' not in content
    response = client.post(decide(waiting.pk), {"decision": "approve", "reason": "x"})
    assert response.status_code == 403
    waiting.refresh_from_db()
    assert waiting.status == StageRequest.Status.PENDING


def test_it_answers_get_and_unknown_requests_on_the_decision_address(
    admin_client: Client, waiting: StageRequest
) -> None:
    assert admin_client.get(decide(waiting.pk)).status_code == 405
    assert admin_client.post(decide(424242), {"decision": "approve"}).status_code == 404


def test_it_lists_requests_in_few_columns_with_iso_dates(
    admin_client: Client, waiting: StageRequest
) -> None:
    content = admin_client.get("/admin/registry/stagerequest/").content.decode()
    assert (
        f'<td class="field-requested_at nowrap">{waiting.requested_at:%Y-%m-%d %H:%M}</td>'
        in content
    )
    assert "Staging \u2192 Archived" in content
    assert '<td class="field-decision">pending</td>' in content
    assert "field-from_stage" not in content


def test_it_shows_the_chain_heads_and_verifies_them(
    admin_client: Client, registered: Callable[..., ModelVersion]
) -> None:
    from registry.models import HistoryChain

    registered()
    head = HistoryChain.objects.get(table="registry_stagetransition")

    page = admin_client.get("/admin/registry/historychain/").content.decode()
    verified = admin_client.post(
        "/admin/registry/historychain/",
        {"action": "verify_chains", "_selected_action": [head.pk], "index": 0},
        follow=True,
    ).content.decode()

    assert head.head_hash in page
    assert f"Chain registry_stagetransition: OK, 1 row, head {head.head_hash}" in verified
