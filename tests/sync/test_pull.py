"""GET /api/sync/pull: a full snapshot, then only what changed, per user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.services import account_update
from backend.marketplace import services
from backend.marketplace.models import Booking, BookingState
from sync.models import Change
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def pull(client, cursor=None):
    response = client.get("/api/sync/pull", {"cursor": cursor} if cursor else {})
    assert response.status_code == 200, response.content
    return response.json()


def ids(body, collection, part="upsert"):
    changes = body["changes"][collection][part]
    return sorted(row["id"] if isinstance(row, dict) else row for row in changes)


def age_changes(seconds: int) -> None:
    """Make every change older, as if the client came back later."""
    for change in Change.objects.all():
        Change.objects.filter(pk=change.pk).update(created_at=change.created_at - timedelta(seconds=seconds))


def test_the_first_pull_is_a_snapshot_of_the_learners_data(learner, mentor):
    session = a_session(mentor, title="Offline Django", price=49900, capacity=3)
    booking = services.booking_create(learner=learner, session=session)
    body = pull(client_for(learner))
    assert body["reset"] is True
    [row] = body["changes"]["bookings"]["upsert"]
    assert row["id"] == booking.pk and row["state"] == "held" and row["session_id"] == session.pk
    assert row["hold_expires_at"] and row["reviewed"] is False
    [shown] = body["changes"]["sessions"]["upsert"]
    assert shown["title"] == "Offline Django" and shown["price_paise"] == 49900
    assert shown["mentor"] == {"id": mentor.pk, "full_name": "Maya Mentor", "headline": mentor.mentor_profile.headline}
    assert shown["domain"]["slug"] == session.domain.slug
    assert body["profile"]["email"] == learner.email and body["profile"]["role"] == "learner"
    assert body["cursor"]


def test_later_pulls_carry_only_what_changed(learner, mentor):
    kept, changing = a_session(mentor, hours_ahead=30, capacity=3), a_session(mentor, hours_ahead=60, capacity=3)
    services.booking_create(learner=learner, session=kept)
    booking = services.booking_create(learner=learner, session=changing)
    client = client_for(learner)
    cursor = pull(client)["cursor"]
    age_changes(120)

    services.booking_cancel(learner=learner, booking=booking)
    body = pull(client, cursor)
    assert body["reset"] is False
    assert ids(body, "bookings") == [booking.pk]
    assert body["changes"]["bookings"]["upsert"][0]["state"] == "cancelled"
    assert ids(body, "sessions") == [changing.pk]
    assert body["profile"] is None

    age_changes(120)
    quiet = pull(client, body["cursor"])
    assert quiet["reset"] is False
    assert all(not quiet["changes"][c]["upsert"] and not quiet["changes"][c]["delete"] for c in quiet["changes"])


def test_a_pull_rereads_the_recent_window_so_a_late_commit_is_not_missed(learner, mentor):
    client = client_for(learner)
    cursor = pull(client)["cursor"]
    slow = services.booking_create(learner=learner, session=a_session(mentor, hours_ahead=30))
    late = list(Change.objects.filter(object_id__in=[slow.pk, slow.session_id]).values())
    Change.objects.filter(pk__in=[row["id"] for row in late]).delete()  # its transaction has not committed yet
    quick = services.booking_create(learner=learner, session=a_session(mentor, hours_ahead=60))
    first = pull(client, cursor)
    assert ids(first, "bookings") == [quick.pk]
    Change.objects.bulk_create([Change(**row) for row in late])  # now it commits, with the smaller ids
    again = pull(client, first["cursor"])
    assert slow.pk in ids(again, "bookings")


def test_a_mentor_cancelling_changes_the_learners_bookings_too(learner, mentor):
    session = a_session(mentor, capacity=2)
    booking = services.booking_create(learner=learner, session=session)
    client = client_for(learner)
    cursor = pull(client)["cursor"]
    age_changes(120)
    services.session_cancel(mentor=mentor, session=session, reason="Ill")
    body = pull(client, cursor)
    assert ids(body, "sessions") == [session.pk]
    assert body["changes"]["sessions"]["upsert"][0]["state"] == "cancelled"
    assert ids(body, "bookings") == [booking.pk]
    assert body["changes"]["bookings"]["upsert"][0]["state"] == "cancelled"


def test_objects_outside_the_users_data_are_deletions(learner, mentor):
    services.follow(learner=learner, mentor_id=mentor.pk)
    client = client_for(learner)
    cursor = pull(client)["cursor"]
    age_changes(120)
    draft = a_session(mentor, state="draft")
    services.session_publish(mentor=mentor, session=draft)  # followers hear of it
    body = pull(client, cursor)
    assert ids(body, "sessions", "delete") == [draft.pk]  # not booked: not in the learner's store


def test_a_mentors_data_is_their_sessions_with_seats_and_requests(learner, mentor):
    session = a_session(mentor, capacity=4)
    services.booking_create(learner=learner, session=session)
    body = pull(client_for(mentor))
    [row] = body["changes"]["sessions"]["upsert"]
    assert row["id"] == session.pk and row["seats_taken"] == 1
    assert body["changes"]["bookings"]["upsert"] == []


def test_profile_changes_come_through(learner):
    client = client_for(learner)
    cursor = pull(client)["cursor"]
    account_update(user=learner, theme="dark")
    body = pull(client, cursor)
    assert body["profile"]["theme"] == "dark"


def test_each_user_pulls_only_their_own(learner, outsider, mentor):
    session = a_session(mentor, capacity=3)
    services.booking_create(learner=learner, session=session)
    body = pull(client_for(outsider))
    assert body["changes"]["bookings"]["upsert"] == [] and body["changes"]["sessions"]["upsert"] == []
    outsider_cursor = body["cursor"]
    services.booking_create(learner=outsider, session=a_session(mentor, hours_ahead=90))
    learner_cursor = pull(client_for(learner))["cursor"]
    # Another user's cursor is refused, not silently served.
    response = client_for(learner).get("/api/sync/pull", {"cursor": outsider_cursor})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"
    assert client_for(outsider).get("/api/sync/pull", {"cursor": learner_cursor}).status_code == 400
    assert client_for(learner).get("/api/sync/pull", {"cursor": "garbage"}).status_code == 400
    assert client_for(None).get("/api/sync/pull").status_code in (401, 403)


def test_old_or_future_cursors_reset(learner, mentor, settings, time_machine):
    services.booking_create(learner=learner, session=a_session(mentor, capacity=2))
    client = client_for(learner)
    cursor = pull(client)["cursor"]
    time_machine.move_to(timezone.now() + timedelta(days=settings.SYNC_CHANGE_RETENTION_DAYS + 1))
    assert pull(client_for(learner), cursor)["reset"] is True  # (signed in afresh: the old login expired)
    time_machine.move_to(timezone.now() - timedelta(days=settings.SYNC_CHANGE_RETENTION_DAYS + 1))
    Change.objects.all().delete()  # the log was lost (a restored database): the cursor is "from the future"
    assert pull(client_for(learner), cursor)["reset"] is True


def test_a_long_absence_gets_a_snapshot(learner, mentor, settings):
    settings.SYNC_PULL_MAX_CHANGES = 10
    client = client_for(learner)
    cursor = pull(client)["cursor"]
    for hour in range(12):
        services.booking_create(learner=learner, session=a_session(mentor, hours_ahead=30 + hour * 3))
    body = pull(client, cursor)
    assert body["reset"] is True and len(body["changes"]["bookings"]["upsert"]) == 12


def test_snapshot_query_count_does_not_grow(learner, mentor):
    client = client_for(learner)
    services.booking_create(learner=learner, session=a_session(mentor))
    with CaptureQueriesContext(connection) as one:
        pull(client)
    other = make_user("other.mentor@example.com", "mentor")
    for hour in range(15):
        session = a_session(other if hour % 2 else mentor, hours_ahead=60 + hour * 3)
        Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    with CaptureQueriesContext(connection) as sixteen:
        body = pull(client)
    assert len(body["changes"]["bookings"]["upsert"]) == 16
    assert len(one) == len(sixteen)
