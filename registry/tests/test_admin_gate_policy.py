from __future__ import annotations

import yaml
from django.contrib.auth.models import User
from django.test import Client

from registry.models import GatePolicy, RegisteredModel
from registry.services import registered_model_ensure
from registry.tests.conftest import LAX_POLICY


def staff(user: User) -> User:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_it_records_a_policy_set_in_the_admin(client: Client, policy_admin: User) -> None:
    model = registered_model_ensure(name="fraud_detector")
    client.force_login(staff(policy_admin))

    form = client.get(f"/admin/registry/gatepolicy/add/?registered_model={model.pk}")
    response = client.post(
        "/admin/registry/gatepolicy/add/",
        {"registered_model": model.pk, "policy": yaml.safe_dump(LAX_POLICY), "reason": "tests"},
    )

    assert form.status_code == 200
    assert "threshold: 0.25" in form.content.decode()  # prefilled with the current policy
    assert response.status_code == 302
    policy = GatePolicy.objects.get(version=2)
    assert (policy.created_by, policy.channel, policy.reason) == (policy_admin, "admin", "tests")


def test_it_shows_the_policy_error_and_records_nothing(client: Client, policy_admin: User) -> None:
    model = registered_model_ensure(name="fraud_detector")
    client.force_login(staff(policy_admin))

    response = client.post(
        "/admin/registry/gatepolicy/add/",
        {"registered_model": model.pk, "policy": "bootstrap: {resamples: 5}", "reason": "x"},
    )

    assert response.status_code == 200
    assert "bootstrap.resamples: must be in [200, 20000], got 5" in response.content.decode()
    assert GatePolicy.objects.count() == 1


def test_it_refuses_staff_without_the_permission(client: Client, approver: User) -> None:
    model = registered_model_ensure(name="fraud_detector")
    client.force_login(staff(approver))

    response = client.post(
        "/admin/registry/gatepolicy/add/",
        {"registered_model": model.pk, "policy": yaml.safe_dump(LAX_POLICY), "reason": "x"},
    )

    assert response.status_code == 403
    assert GatePolicy.objects.count() == 1


def test_it_never_offers_to_change_or_delete_a_policy(client: Client, db: None) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    registered_model_ensure(name="fraud_detector")
    policy = GatePolicy.objects.get()
    client.force_login(root)

    page = client.get(f"/admin/registry/gatepolicy/{policy.pk}/change/")
    delete = client.post(f"/admin/registry/gatepolicy/{policy.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200
    assert "Save" not in page.content.decode()
    assert delete.status_code == 403
    assert RegisteredModel.objects.get().gate_policies.count() == 1
