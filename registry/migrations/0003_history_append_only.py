"""Stage history is append-only: the database itself refuses to change a row.

UPDATE is refused on every backend. DELETE is refused on PostgreSQL (where
test teardown uses TRUNCATE, which row triggers do not see); on SQLite the
test runner's flush deletes rows, so there the guarantee is the code's and the
admin's (no delete or change permission is ever granted)."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

SQLITE_FORWARD = """
CREATE TRIGGER registry_stagetransition_no_update
BEFORE UPDATE ON registry_stagetransition
BEGIN
    SELECT RAISE(ABORT, 'registry_stagetransition is append-only');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS registry_stagetransition_no_update;"

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION registry_stagetransition_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'registry_stagetransition is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER registry_stagetransition_no_change
BEFORE UPDATE OR DELETE ON registry_stagetransition
FOR EACH ROW EXECUTE FUNCTION registry_stagetransition_append_only();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS registry_stagetransition_no_change ON registry_stagetransition;
DROP FUNCTION IF EXISTS registry_stagetransition_append_only();
"""


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)


def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
