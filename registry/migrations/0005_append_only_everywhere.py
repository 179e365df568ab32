"""The governance record is append-only against every path: UPDATE and DELETE
refused on SQLite and PostgreSQL, TRUNCATE on PostgreSQL, for the stage
history, the gate policies and the gate evaluations (registry/history_guard.py).
Replaces the UPDATE-only guard of 0003."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from registry import history_guard

OLD_SQLITE = ["DROP TRIGGER IF EXISTS registry_stagetransition_no_update"]
OLD_POSTGRES = [
    "DROP TRIGGER IF EXISTS registry_stagetransition_no_change ON registry_stagetransition",
    "DROP FUNCTION IF EXISTS registry_stagetransition_append_only()",
]


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in {"sqlite": OLD_SQLITE, "postgresql": OLD_POSTGRES}.get(vendor, []):
        schema_editor.execute(sql)
    for sql in history_guard.install_statements(vendor):
        schema_editor.execute(sql)


def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    for sql in history_guard.uninstall_statements(schema_editor.connection.vendor):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_gate_policy")]

    operations = [migrations.RunPython(forwards, backwards)]
