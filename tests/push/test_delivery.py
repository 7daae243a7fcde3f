"""Delivery end to end: push_to_user → pywebpush → the local push service stand-in, which checks
VAPID and decrypts the payload like a browser."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings

from push import delivery
from push.models import PushSubscription
from push.testing import Reply
from tests.push.conftest import run_scheduled, scheduled_delays, subscribe

PAYLOAD = {"id": 7, "title": "Session in 10 minutes", "body": "Python basics with Maya", "url": "/room/abc/"}


def push(user, **kwargs):
    options = {"payload": PAYLOAD, "ttl_seconds": 600, "urgency": "high", "topic": "reminder-booking-42"} | kwargs
    return delivery.push_to_user(user.pk, **options)


def test_every_device_of_the_user_gets_the_decrypted_payload_with_ttl_urgency_and_topic(
    learner, outsider, push_service
):
    phone, laptop, other = push_service.subscribe(), push_service.subscribe(), push_service.subscribe()
    subscribe(learner, phone), subscribe(learner, laptop), subscribe(outsider, other)

    assert push(learner) == 2

    got = {d.subscription_id: d for d in push_service.received}
    assert set(got) == {phone.id, laptop.id}
    for received in got.values():
        assert received.payload == PAYLOAD
        assert (received.ttl, received.urgency) == (600, "high")
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", received.topic)
        assert "booking" not in received.topic  # the push service must not read our ids
        assert received.vapid_key == settings.VAPID_PUBLIC_KEY
        assert received.vapid_claims["aud"] == push_service.origin
        assert received.vapid_claims["sub"] == settings.VAPID_SUBJECT
        assert 0 < received.vapid_claims["exp"] - time.time() <= 24 * 3600
    assert got[phone.id].topic == got[laptop.id].topic == delivery.topic_header("reminder-booking-42")
    assert not push_service.rejected
    rows = PushSubscription.objects.filter(user=learner)
    assert all(row.last_success_at is not None and row.failures == 0 for row in rows)


def test_ttl_is_never_below_a_minute_and_no_topic_means_no_header(learner, push_service):
    subscribe(learner, push_service.subscribe())
    assert push(learner, ttl_seconds=0, urgency="whatever", topic="") == 1
    (received,) = push_service.received
    assert (received.ttl, received.urgency, received.topic) == (60, "normal", None)


def test_a_user_without_devices_is_reached_nowhere(learner):
    assert push(learner) == 0


def test_a_long_body_is_shortened_to_fit_one_push_record(learner, push_service):
    subscribe(learner, push_service.subscribe())
    assert push(learner, payload={**PAYLOAD, "body": "é" * 5000}) == 1
    (received,) = push_service.received
    assert received.payload["title"] == PAYLOAD["title"] and received.payload["body"].endswith("…")


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_no_longer_knows_is_deleted(learner, push_service, status):
    dead, alive = push_service.subscribe(), push_service.subscribe()
    subscribe(learner, dead), subscribe(learner, alive)
    push_service.program(dead.id, Reply(status))

    assert push(learner) == 1
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [alive.endpoint]
    assert scheduled_delays() == []


def test_other_refusals_count_a_failure_without_retry(learner, push_service):
    browser = push_service.subscribe()
    row = subscribe(learner, browser)
    push_service.program(browser.id, Reply(403))
    assert push(learner) == 0
    row.refresh_from_db()
    assert row.failures == 1 and row.last_success_at is None
    assert scheduled_delays() == []
    assert push(learner) == 1  # the next success resets the count
    row.refresh_from_db()
    assert row.failures == 0


def test_429_is_retried_after_the_retry_after_the_push_service_asked_for(learner, push_service):
    browser = push_service.subscribe()
    row = subscribe(learner, browser)
    push_service.program(browser.id, Reply(429, retry_after="7"))

    assert push(learner) == 0
    (delay,) = scheduled_delays()
    assert 5 <= delay <= 7
    assert run_scheduled(after_seconds=8) == 1
    statuses = [d.status for d in push_service.for_subscription(browser.id)]
    assert statuses == [429, 201]
    assert push_service.received[-1].payload == PAYLOAD
    assert push_service.received[-1].ttl <= 600
    row.refresh_from_db()
    assert row.last_success_at is not None and row.failures == 0


def test_5xx_is_retried_three_times_with_backoff_then_given_up(learner, push_service):
    browser = push_service.subscribe()
    row = subscribe(learner, browser)
    push_service.program(browser.id, *[Reply(500)] * 4)

    assert push(learner, ttl_seconds=24 * 3600) == 0
    delays = []
    while scheduled_delays():
        delays.append(scheduled_delays()[0])
        run_scheduled()
    assert [round(d / b, 1) >= 0.7 for d, b in zip(delays, delivery.RETRY_DELAYS, strict=True)] == [True] * 3
    assert delays[0] < delays[1] < delays[2]
    assert [d.status for d in push_service.for_subscription(browser.id)] == [500] * 4
    row.refresh_from_db()
    assert row.failures == 1 and row.last_success_at is None


def test_no_retry_is_scheduled_past_the_messages_ttl(learner, push_service):
    browser = push_service.subscribe()
    subscribe(learner, browser)
    push_service.program(browser.id, Reply(503, retry_after="3600"))
    assert push(learner, ttl_seconds=120) == 0
    assert scheduled_delays() == []


def test_a_hanging_push_service_times_out_without_holding_up_the_other_devices(learner, push_service, settings):
    settings.PUSH_TIMEOUT_SECONDS = 1
    stuck, fine = push_service.subscribe(), push_service.subscribe()
    subscribe(learner, stuck), subscribe(learner, fine)
    push_service.program(stuck.id, Reply(hang_seconds=5))

    started = time.monotonic()
    assert push(learner) == 1
    assert time.monotonic() - started < 3
    assert [d.subscription_id for d in push_service.received] == [fine.id]
    assert len(scheduled_delays()) == 1  # the timed-out device is tried again later
    assert PushSubscription.objects.count() == 2


def test_an_unreachable_push_service_is_retried_not_raised(learner, push_service):
    browser = push_service.subscribe()
    row = subscribe(learner, browser)
    PushSubscription.objects.filter(pk=row.pk).update(endpoint="http://127.0.0.1:9/push/x")  # nothing listens
    assert push(learner) == 0
    assert len(scheduled_delays()) == 1


def test_a_redirect_is_not_followed(learner, push_service):
    browser = push_service.subscribe()
    row = subscribe(learner, browser)
    push_service.program(browser.id, Reply(307))
    assert push(learner) == 0
    row.refresh_from_db()
    assert row.failures == 1 and len(push_service.received) == 1


def test_a_device_deleted_before_its_retry_is_skipped(learner, push_service):
    browser = push_service.subscribe()
    subscribe(learner, browser)
    push_service.program(browser.id, Reply(500))
    push(learner)
    PushSubscription.objects.all().delete()
    assert run_scheduled() == 1
    assert len(push_service.received) == 1


def test_the_notification_fan_out_reaches_the_device_through_push_to_user(learner, push_service):
    from backend.notifications.models import Notification
    from backend.notifications.tasks import push_notification

    browser = push_service.subscribe()
    subscribe(learner, browser)
    notification = Notification.objects.create(
        user=learner,
        event="session.live",
        category="reminders",
        title="Maya is live",
        body="Join now",
        url="/room/abc/",
        data={"topic": "session-9-live"},
    )
    push_notification(notification)
    (received,) = push_service.received
    assert received.payload["title"] == "Maya is live" and received.payload["url"] == "/room/abc/"
    assert (received.ttl, received.urgency) == (30 * 60, "high")
    assert received.topic == delivery.topic_header("session-9-live")
