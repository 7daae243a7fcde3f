"""Training jobs: nightly and on demand, never two at once (one huey lock across workers)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task
from huey.exceptions import TaskLockedException

from backend.recommendations import training

log = logging.getLogger(__name__)
LOCK = "recommendations-train"


def is_training() -> bool:
    return HUEY.is_locked(LOCK)


def train_locked():
    """Train unless a run holds the lock; a second request is skipped (logged), not queued."""
    try:
        with HUEY.lock_task(LOCK):
            return training.train()
    except TaskLockedException:
        log.info("recommendations training already running; this run is skipped")
        return None


@db_task()
def recommendations_train():
    train_locked()


@db_periodic_task(crontab(hour="3", minute="20"))
def recommendations_train_nightly():
    train_locked()
