"""The three roles as groups: viewer reads, experimenter launches and asks,
approver decides. The gate override is a separate permission given to no
group by default: an administrator grants it to named people."""

from __future__ import annotations

from typing import Any

READ = [
    "datasets.view_dataset",
    "datasets.view_datasetversion",
    "experiments.view_experiment",
    "experiments.view_metric",
    "registry.view_registeredmodel",
    "registry.view_modelversion",
    "registry.view_gateevaluation",
    "registry.view_stagerequest",
    "registry.view_stagetransition",
]
ROLES: dict[str, list[str]] = {
    "viewer": READ,
    "experimenter": [
        *READ,
        "experiments.add_experiment",
        "experiments.cancel_experiment",
        "datasets.add_datasetversion",
        "registry.request_stage_change",
        "notes.edit_annotation",
    ],
    "approver": [*READ, "registry.approve_stage_change"],
}


def roles_ensure(*, group_model: Any = None, permission_model: Any = None) -> None:
    """Create the role groups with their permissions; idempotent. Takes the
    models so that a migration can pass its historical ones; there a
    permission of an app not migrated yet is skipped (that app's own
    migration grants it), while at run time every permission must exist."""
    in_migration = group_model is not None
    if group_model is None:
        from django.contrib.auth.models import Group, Permission

        group_model, permission_model = Group, Permission
    for role, perms in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            permission = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is None and in_migration:
                continue
            if permission is None:
                raise LookupError(f"no permission {dotted}: are all migrations applied?")
            group.permissions.add(permission)
