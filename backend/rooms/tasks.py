"""Rooms nobody closed: a live session whose room window has passed is completed as it stands,
with attendance from the presence records (idempotent: a completed session is left alone).
Rooms nobody opened: a mentor absent 10 minutes after the start is a no-show (cancel, refund)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from backend.rooms import services


@db_periodic_task(crontab(minute="*/5"))
def rooms_complete_finished():
    services.complete_finished_sessions()


@db_periodic_task(crontab(minute="*"))
def rooms_cancel_no_shows():
    services.cancel_no_shows()
