"""Records of the sync protocol: each device's outbox position, what happened to each of its
mutations, and the per-user change log that pulls read."""

from __future__ import annotations

from django.conf import settings
from django.db import connections, models
from django.db.models.functions import Now


class AppendOnly(models.Manager):
    """Insert many log rows in one statement without building model instances' SQL one by one.

    `bulk_create` compiles each row's database default (`Now()`) and reads the ids back; for
    the hundreds of rows a sync push writes that was a tenth of its time. Columns with a
    database default are left to the database, so times still come from its clock."""

    def append(self, rows: list[models.Model], batch: int = 500) -> None:
        connection = connections[self.db]
        fields = [
            f for f in self.model._meta.concrete_fields if not f.primary_key and f.db_default is models.NOT_PROVIDED
        ]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        table = connection.ops.quote_name(self.model._meta.db_table)
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        with connection.cursor() as cursor:
            for start in range(0, len(rows), batch):
                part = rows[start : start + batch]
                params = [f.get_db_prep_save(getattr(row, f.attname), connection) for row in part for f in fields]
                cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(part))}", params)


class SyncClient(models.Model):
    """One installed app (browser profile) of one user. `last_mutation_id` is the highest
    mutation applied or refused; it moves in the same transaction as the mutation's writes."""

    client_id = models.UUIDField(unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sync_clients")
    last_mutation_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(db_default=Now())
    last_seen_at = models.DateTimeField(db_default=Now())


class MutationOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    REFUSED = "refused", "Refused"


class SyncMutation(models.Model):
    """What became of one mutation, so a repeated push gets the first answer again."""

    client = models.ForeignKey(SyncClient, on_delete=models.CASCADE, related_name="mutations")
    mutation_id = models.BigIntegerField()
    name = models.CharField(max_length=60)
    outcome = models.CharField(max_length=10, choices=MutationOutcome.choices)
    result = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    processed_at = models.DateTimeField(db_default=Now())

    objects = AppendOnly()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "mutation_id"], name="sync_mutation_once")]


class Change(models.Model):
    """ "Object `kind`/`object_id` changed for `user`", written by the event pipeline inside the
    changing transaction. `created_at` comes from the database clock, which pulls compare with
    (see sync.pull for why a pull re-reads a short window before its cursor)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField(db_default=Now())

    objects = AppendOnly()

    class Meta:
        indexes = [
            models.Index(fields=["user", "id"], name="sync_change_by_user"),
            models.Index(fields=["user", "created_at"], name="sync_change_by_user_time"),
            models.Index(fields=["created_at"], name="sync_change_by_time"),  # pruning
        ]
