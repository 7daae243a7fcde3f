"""Push fixtures: the local push service stand-in and browser-made subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from huey.contrib.djhuey import HUEY

from push import services
from push.testing import PushServiceStandIn


@pytest.fixture(autouse=True)
def _push_settings(settings):
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True  # the stand-in listens on 127.0.0.1
    settings.PUSH_TIMEOUT_SECONDS = 5
    HUEY.storage.flush_all()
    yield
    HUEY.storage.flush_all()


@pytest.fixture
def push_service():
    with PushServiceStandIn() as service:
        yield service


def subscribe(user, browser):
    subscription, _ = services.subscription_save(
        user=user, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth, user_agent="pytest"
    )
    return subscription


def run_scheduled(after_seconds: float = 24 * 3600) -> int:
    """Run the huey tasks scheduled for later (under HUEY_IMMEDIATE, a task with a delay waits in
    the in-memory schedule instead of running), as the consumer would `after_seconds` from now."""
    at = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=after_seconds)
    tasks = HUEY.read_schedule(at)
    for task in tasks:
        HUEY.execute(task, timestamp=at)
    return len(tasks)


def scheduled_delays() -> list[float]:
    now = datetime.now(UTC).replace(tzinfo=None)
    return sorted((task.eta - now).total_seconds() for task in HUEY.scheduled())
