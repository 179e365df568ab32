"""The three roles as groups: viewer reads, experimenter launches and asks,
approver decides. The gate override and changing a model's gate policy
(registry.change_gatepolicy) are separate permissions given to no group by
default: an administrator grants them to named people."""

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
    "registry.view_gatepolicy",
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


def roles_migrate(apps: Any) -> None:
    """The role groups as of a migration's state, for data migrations: the
    permissions are created first (Django normally does so after the last
    migration), and a permission whose model does not exist yet at that state
    is left for the later migration that adds the model."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            found = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if found is not None:
                group.permissions.add(found)
