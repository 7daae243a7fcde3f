"""On PostgreSQL the database itself refuses overlapping published sessions of one mentor
(the service checks first, under a row lock; this is the backstop). SQLite has no exclusion
constraints; there the service's check runs inside an IMMEDIATE transaction."""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE marketplace_session ADD CONSTRAINT session_mentor_no_overlap
  EXCLUDE USING gist (mentor_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
  WHERE (state IN ('scheduled', 'live', 'completed'));
"""
DROP = "ALTER TABLE marketplace_session DROP CONSTRAINT IF EXISTS session_mentor_no_overlap;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0003_session_times_and_booking_lifecycle")]
    operations = [migrations.RunPython(forwards, backwards)]
