"""Notifications: one record per recipient written with the change it reports (never for the
person who acted), in their own words and time zone; read through the API, the offline sync
pull and push; e-mailed per the user's channel choices."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail
from django.db import transaction

from backend.marketplace import services as marketplace
from backend.notifications import services
from backend.notifications.models import Notification, NotificationPreference
from sync.models import Change
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_booking_notifies_the_mentor_in_their_zone_not_the_learner(mentor, learner):
    mentor.timezone = "Asia/Kolkata"
    mentor.save(update_fields=["timezone"])
    session = a_session(mentor, title="Django forms")
    booking = marketplace.booking_create(learner=learner, session=session)
    notification = Notification.objects.get()
    assert notification.user == mentor and notification.event == "booking.created"
    assert notification.title == "New booking: Django forms"
    assert learner.full_name in notification.body and "IST" in notification.body
    assert notification.data == {
        "booking": booking.pk,
        "session": session.pk,
        "state": "confirmed",
        "learner": learner.pk,
        "mentor": mentor.pk,
    }
    assert Change.objects.filter(user=mentor, kind="notification", object_id=notification.pk).exists()


def test_a_held_paid_seat_is_news_only_once_confirmed(mentor, learner):
    booking = marketplace.booking_create(learner=learner, session=a_session(mentor, price=49_900))
    assert not Notification.objects.exists()
    from backend.marketplace.models import BookingState

    booking.state = BookingState.CONFIRMED
    booking.save(update_fields=["state"])
    from backend.core.events import publish

    publish("booking.confirmed", to=[learner, mentor], data={"booking": booking.pk, "session": booking.session_id})
    by_user = {n.user_id: n.title for n in Notification.objects.all()}
    assert by_user == {learner.pk: "Seat confirmed: Intro to Django", mentor.pk: "New booking: Intro to Django"}


def test_a_mentor_cancelling_tells_each_learner_about_the_refund(mentor, learner):
    session = a_session(mentor, title="SQL joins")
    marketplace.booking_create(learner=learner, session=session)
    Notification.objects.all().delete()
    marketplace.session_cancel(mentor=mentor, session=session, reason="I am unwell.")
    notification = Notification.objects.get()
    assert notification.user == learner and notification.title == "Cancelled: SQL joins"
    assert notification.body == "I am unwell."  # a free session: no refund sentence
    assert notification.url == "/dashboard/learner/bookings/"


def test_nothing_is_recorded_when_the_change_rolls_back(mentor, learner):
    session = a_session(mentor)
    with pytest.raises(RuntimeError), transaction.atomic():
        marketplace.booking_create(learner=learner, session=session)
        raise RuntimeError
    assert not Notification.objects.exists()


def test_e_mail_follows_the_users_channel_choices(mentor, learner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        marketplace.booking_create(learner=learner, session=a_session(mentor, title="Rust"))
    assert [m.to for m in mail.outbox] == [[mentor.email]]
    assert mail.outbox[0].subject == "New booking: Rust"
    assert "/dashboard/mentor/sessions/" in mail.outbox[0].body
    assert "Open PeerLearn" in mail.outbox[0].alternatives[0][0]
    services.preferences_update(user=mentor, channels={"email": {"bookings": False}})
    with django_capture_on_commit_callbacks(execute=True):
        marketplace.booking_create(learner=learner, session=a_session(mentor, title="Go", hours_ahead=72))
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(user=mentor).count() == 2  # the bell still has it


def test_the_api_lists_counts_and_marks_only_the_users_own(mentor, learner, outsider):
    for hours in (24, 48, 72):
        marketplace.booking_create(learner=learner, session=a_session(mentor, hours_ahead=hours))
    mine = list(Notification.objects.filter(user=mentor).values_list("pk", flat=True))
    client = client_for(mentor)
    body = client.get("/api/notifications/").json()
    assert [n["id"] for n in body["results"]] == sorted(mine, reverse=True) and body["unread_count"] == 3
    assert client.get("/api/notifications/", {"before": max(mine)}).json()["results"][0]["id"] == sorted(mine)[1]
    # Someone else's ids are ignored, not marked.
    assert client_for(outsider).post(
        "/api/notifications/read/", {"ids": mine}, content_type="application/json"
    ).json() == {
        "marked": 0,
        "unread_count": 0,
    }
    answer = client.post("/api/notifications/read/", {"ids": mine[:1]}, content_type="application/json").json()
    assert answer == {"marked": 1, "unread_count": 2}
    assert client.post("/api/notifications/read-all/").json() == {"marked": 2, "unread_count": 0}
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    bad = client.post("/api/notifications/read/", {"ids": ["x"]}, content_type="application/json")
    assert bad.status_code == 400
    too_many = client.post("/api/notifications/read/", {"ids": list(range(1, 300))}, content_type="application/json")
    assert too_many.status_code == 400
    assert client_for(None).get("/api/notifications/").status_code in (401, 403)


def test_preferences_are_validated_and_merged(learner):
    client = client_for(learner)
    body = client.get("/api/notifications/preferences/").json()
    assert body["channels"]["push"]["reminders"] is True and body["channels"]["email"]["reminders"] is False
    changed = client.patch(
        "/api/notifications/preferences/", {"channels": {"push": {"reminders": False}}}, content_type="application/json"
    )
    assert changed.status_code == 200 and changed.json()["channels"]["push"]["reminders"] is False
    assert changed.json()["channels"]["push"]["bookings"] is True  # what was not named is kept
    for bad in ({"sms": {"bookings": True}}, {"push": {"nonsense": True}}, {"push": {"bookings": "yes"}}, "x"):
        response = client.patch("/api/notifications/preferences/", {"channels": bad}, content_type="application/json")
        assert response.status_code == 400, bad
    assert NotificationPreference.objects.get(user=learner).channels["push"]["reminders"] is False


def test_offline_the_store_pulls_notifications_and_marks_them_read_through_sync(mentor, learner):
    marketplace.booking_create(learner=learner, session=a_session(mentor))
    notification = Notification.objects.get()
    client = client_for(mentor)
    snapshot = client.get("/api/sync/pull").json()
    assert [n["id"] for n in snapshot["changes"]["notifications"]["upsert"]] == [notification.pk]
    device = uuid.uuid4()
    pushed = client.post(
        "/api/sync/push",
        {
            "client_id": str(device),
            "mutations": [{"id": 1, "name": "notifications.read", "args": {"ids": [notification.pk]}}],
        },
        content_type="application/json",
    )
    assert pushed.status_code == 200 and pushed.json()["results"][0]["status"] == "applied", pushed.json()
    notification.refresh_from_db()
    assert notification.read_at is not None
    later = client.get("/api/sync/pull", {"cursor": snapshot["cursor"]}).json()
    assert later["changes"]["notifications"]["upsert"][0]["read_at"] is not None
    assert client_for(learner).get("/api/sync/pull").json()["changes"]["notifications"]["upsert"] == []


def test_a_sync_batch_notifies_what_it_applied_and_nothing_it_refused(mentor, learner):
    first, second = a_session(mentor, title="One"), a_session(mentor, title="Two", hours_ahead=72)
    mutations = [
        {"id": 1, "name": "booking.create", "args": {"session": first.pk}},
        {"id": 2, "name": "booking.create", "args": {"session": first.pk}},  # refused: already booked
        {"id": 3, "name": "booking.create", "args": {"session": second.pk}},
    ]
    answer = client_for(learner).post(
        "/api/sync/push", {"client_id": str(uuid.uuid4()), "mutations": mutations}, content_type="application/json"
    )
    assert [r["status"] for r in answer.json()["results"]] == ["applied", "refused", "applied"]
    titles = sorted(Notification.objects.filter(user=mentor).values_list("title", flat=True))
    assert titles == ["New booking: One", "New booking: Two"]
    assert Change.objects.filter(user=mentor, kind="notification").count() == 2
