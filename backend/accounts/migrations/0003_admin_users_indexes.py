"""Indexes for the admin users pages at 100,000+ accounts (see
backend/dashboards/admin_users_selectors.py): each list filter walks an index in the
newest-first order and stops after a page, and an account's audit trail is read by target.

On PostgreSQL a trigram index serves the search for a name or e-mail containing some text
(Django's icontains: UPPER(column) LIKE UPPER('%text%')): without it every search reads all
rows, 80-170 ms at 100,000 accounts; with it a rare word costs 0.3 ms and a common name 10 ms.
pg_trgm is a trusted extension: the database owner running migrations may create it."""

from django.db import migrations, models

CREATE_TRGM = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX accounts_user_search_trgm ON accounts_user
  USING gin (UPPER(full_name::text) gin_trgm_ops, UPPER(email::text) gin_trgm_ops);
"""
DROP_TRGM = "DROP INDEX IF EXISTS accounts_user_search_trgm;"


def trigram_forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRGM)


def trigram_backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRGM)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="user",
            # Name and e-mail ride along so, on SQLite, a search reads the index alone, newest
            # first, and looks up only the rows that match (a rare word: 26 ms instead of 440 ms
            # over 100,000 accounts, where a scan in date order otherwise seeks every row).
            index=models.Index(fields=["-date_joined", "-id", "full_name", "email"], name="accounts_user_newest"),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(fields=["role", "-date_joined", "-id"], name="accounts_user_role_newest"),
        ),
        migrations.AddIndex(
            model_name="user",
            # Blocked accounts are few: a partial index finds them without reading the others.
            index=models.Index(
                fields=["-date_joined", "-id"], condition=models.Q(is_active=False), name="accounts_user_blocked_newest"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["target_type", "target_id", "-created_at"], name="audit_target_latest"),
        ),
        migrations.RunPython(trigram_forwards, trigram_backwards),
    ]
