"""The three roles as groups: viewer reads, experimenter launches and asks,
approver decides. The gate override is a separate permission given to no
group by default: an administrator grants it to named people."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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
ROLES = {
    "viewer": READ,
    "experimenter": READ
    + [
        "experiments.add_experiment",
        "experiments.cancel_experiment",
        "datasets.add_datasetversion",
        "registry.request_stage_change",
    ],
    "approver": READ + ["registry.approve_stage_change"],
}


def ensure_permissions(apps):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_roles(apps, schema_editor):
    ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0001_initial"),
        ("experiments", "0001_initial"),
        ("datasets", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
