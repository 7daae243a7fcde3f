"""Sync housekeeping: the change log and mutation records are kept for a retention period; a
cursor older than that gets a full snapshot instead."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sync.models import Change, SyncMutation


def prune(now=None) -> tuple[int, int]:
    cutoff = (now or timezone.now()) - timedelta(days=settings.SYNC_CHANGE_RETENTION_DAYS)
    changes, _ = Change.objects.filter(created_at__lt=cutoff).delete()
    outcomes, _ = SyncMutation.objects.filter(processed_at__lt=cutoff).delete()
    return changes, outcomes


@db_periodic_task(crontab(minute="17", hour="3"))
def sync_prune_nightly():
    prune()
