"""Housekeeping for sign-up: abandoned wizard uploads and old e-mail codes."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from backend.accounts.models import EmailCode

DRAFT_MAX_AGE = timedelta(days=1)


def purge_signup_leftovers(now=None) -> tuple[int, int]:
    """Delete draft uploads older than a day and e-mail codes older than a day.

    Safe to run twice or from two workers at once: deleting what is already gone is a no-op.
    """
    now = now or timezone.now()
    codes, _ = EmailCode.objects.filter(created_at__lt=now - DRAFT_MAX_AGE).delete()
    folders = 0
    root = Path(settings.MEDIA_ROOT) / "signup-drafts"
    cutoff = time.time() - DRAFT_MAX_AGE.total_seconds()
    if root.is_dir():
        for folder in root.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    for file in folder.iterdir():
                        file.unlink(missing_ok=True)
                    folder.rmdir()
                    folders += 1
            except FileNotFoundError:
                continue
    return codes, folders


@db_periodic_task(crontab(minute="17"))
def purge_signup_leftovers_hourly():
    purge_signup_leftovers()
