"""Push housekeeping and the retry of a delivery a push service could not take at once."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from push import delivery, services

log = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="3", minute="41"))
def push_expire_idle_subscriptions():
    deleted = services.subscriptions_expire_idle()
    if deleted:
        log.info("push: %s idle subscriptions deleted", deleted)


@db_task()
def push_retry(subscription_id: int, message: dict, attempt: int):
    delivery.retry_one(subscription_id, delivery.Message(**message), attempt)
