"""Experimenters may edit tags and notes (see registry/roles.py), and the
revision history is append-only: the database refuses to change a row
(UPDATE on every backend, DELETE on PostgreSQL, as for the stage history)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from registry.roles import roles_ensure

SQLITE_FORWARD = """
CREATE TRIGGER notes_annotationrevision_no_update
BEFORE UPDATE ON notes_annotationrevision
BEGIN
    SELECT RAISE(ABORT, 'notes_annotationrevision is append-only');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS notes_annotationrevision_no_update;"

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION notes_annotationrevision_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'notes_annotationrevision is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER notes_annotationrevision_no_change
BEFORE UPDATE OR DELETE ON notes_annotationrevision
FOR EACH ROW EXECUTE FUNCTION notes_annotationrevision_append_only();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS notes_annotationrevision_no_change ON notes_annotationrevision;
DROP FUNCTION IF EXISTS notes_annotationrevision_append_only();
"""


def grant(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        # Only needs to be truthy; django-stubs types it as the models module.
        app_config.models_module = True  # type: ignore[assignment]
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_ensure(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


def append_only(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)


def not_append_only(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("notes", "0001_initial"),
        ("registry", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(append_only, not_append_only),
    ]
