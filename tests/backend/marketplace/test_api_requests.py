"""REST API for requests, waitlist, follows, reviews and availability."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.marketplace.models import (
    AvailabilityException,
    AvailabilityWindow,
    Booking,
    BookingState,
    Follow,
    RequestState,
    SessionRequest,
    SessionState,
    WaitlistEntry,
)
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


def send(client, method, path, data=None):
    return getattr(client, method)(path, json.dumps(data or {}), content_type="application/json")


def evening(days: int, hour: int = 18) -> str:
    day = (timezone.now() + timedelta(days=days)).astimezone(IST).date()
    return datetime.combine(day, time(hour), tzinfo=IST).isoformat()


@pytest.fixture
def open_mentor(mentor):
    mentor.timezone = "Asia/Kolkata"
    mentor.save()
    for weekday in range(7):
        AvailabilityWindow.objects.create(mentor=mentor, weekday=weekday, start_time=time(18), end_time=time(21))
    return mentor


def test_request_counter_accept_round_trip(open_mentor, learner, outsider):
    learner_client, mentor_client = client_for(learner), client_for(open_mentor)
    created = send(
        learner_client,
        "post",
        "/api/requests/",
        {
            "mentor": open_mentor.pk,
            "topic": "Review my portfolio",
            "preferred_times": [evening(2), evening(3)],
            "duration_minutes": 45,
            "budget_paise": 30000,
        },
    )
    assert created.status_code == 201, created.content
    request_id, version = created.json()["id"], created.json()["version"]
    assert [r["id"] for r in mentor_client.get("/api/requests/").json()["results"]] == [request_id]
    assert client_for(outsider).get(f"/api/requests/{request_id}/").status_code == 404

    missing = send(mentor_client, "post", f"/api/requests/{request_id}/", {"action": "counter", "version": version})
    assert missing.status_code == 400 and "starts_at" in missing.json()["error"]["fields"]
    countered = send(
        mentor_client,
        "post",
        f"/api/requests/{request_id}/",
        {"action": "counter", "version": version, "starts_at": evening(4, 10), "price_paise": 50000},
    )
    assert countered.status_code == 200 and countered.json()["state"] == "countered"
    stale = send(
        learner_client, "post", f"/api/requests/{request_id}/", {"action": "accept_counter", "version": version}
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_request"
    accepted = send(
        learner_client,
        "post",
        f"/api/requests/{request_id}/",
        {"action": "accept_counter", "version": countered.json()["version"]},
    )
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    request = SessionRequest.objects.get(pk=request_id)
    assert (
        request.session.price_paise == 50000 and Booking.objects.get(session=request.session).state == BookingState.HELD
    )
    # The mentor cannot use the learner's actions and vice versa.
    again = send(
        mentor_client, "post", f"/api/requests/{request_id}/", {"action": "decline", "reason": "changed my mind"}
    )
    assert again.status_code == 409


def test_request_errors_through_the_api(open_mentor, pending_mentor, learner):
    client = client_for(learner)
    outside = send(
        client,
        "post",
        "/api/requests/",
        {
            "mentor": open_mentor.pk,
            "topic": "Late night help",
            "preferred_times": [evening(2, 23)],
            "duration_minutes": 30,
        },
    )
    assert outside.status_code == 400 and "preferred_times" in outside.json()["error"]["fields"]
    pending = send(
        client,
        "post",
        "/api/requests/",
        {
            "mentor": pending_mentor.pk,
            "topic": "Anything at all",
            "preferred_times": [evening(2)],
            "duration_minutes": 30,
        },
    )
    assert pending.status_code == 400 and pending.json()["error"]["code"] == "mentor_unavailable"
    too_many = send(
        client,
        "post",
        "/api/requests/",
        {
            "mentor": open_mentor.pk,
            "topic": "Four times",
            "preferred_times": [evening(1), evening(2), evening(3), evening(4)],
            "duration_minutes": 30,
        },
    )
    assert too_many.status_code == 400
    assert (
        send(
            client_for(open_mentor),
            "post",
            "/api/requests/",
            {"mentor": open_mentor.pk, "topic": "Mentor asks", "preferred_times": [evening(2)], "duration_minutes": 30},
        ).status_code
        == 403
    )
    assert not SessionRequest.objects.exists()


def test_mentor_declines_with_reason(open_mentor, learner):
    created = send(
        client_for(learner),
        "post",
        "/api/requests/",
        {"mentor": open_mentor.pk, "topic": "Mock interview", "preferred_times": [evening(2)], "duration_minutes": 60},
    ).json()
    response = send(
        client_for(open_mentor),
        "post",
        f"/api/requests/{created['id']}/",
        {"action": "decline", "reason": "Not my area"},
    )
    assert response.json()["state"] == "declined"
    assert SessionRequest.objects.get().state == RequestState.DECLINED


def test_waitlist_and_claim_via_api(mentor, learner, outsider):
    session = a_session(mentor, capacity=1)
    booking = send(client_for(learner), "post", "/api/bookings/", {"session": session.pk}).json()
    joined = send(client_for(outsider), "post", "/api/waitlist/", {"session": session.pk})
    assert joined.status_code == 201 and joined.json()["state"] == "waiting"
    send(client_for(learner), "post", f"/api/bookings/{booking['id']}/cancel/")
    entry = WaitlistEntry.objects.get()
    assert entry.state == "offered"
    claimed = send(client_for(outsider), "post", f"/api/bookings/{entry.offered_booking_id}/claim/")
    assert claimed.status_code == 200 and claimed.json()["state"] == "confirmed"
    assert send(client_for(learner), "post", f"/api/waitlist/{entry.pk}/leave/").status_code == 404


def test_follow_and_unfollow(mentor, learner):
    client = client_for(learner)
    assert send(client, "put", f"/api/mentors/{mentor.pk}/follow/").status_code == 204
    assert send(client, "put", f"/api/mentors/{mentor.pk}/follow/").status_code == 204
    assert Follow.objects.count() == 1
    assert send(client, "delete", f"/api/mentors/{mentor.pk}/follow/").status_code == 204
    assert not Follow.objects.exists()
    assert send(client, "put", "/api/mentors/999999/follow/").status_code == 400


def test_review_via_api(mentor, learner, outsider):
    session = a_session(mentor, hours_ahead=-5, state=SessionState.COMPLETED)
    booking = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED, attended=True)
    assert send(client_for(outsider), "post", f"/api/bookings/{booking.pk}/review/", {"rating": 5}).status_code == 404
    assert send(client_for(learner), "post", f"/api/bookings/{booking.pk}/review/", {"rating": 0}).status_code == 400
    assert (
        send(
            client_for(learner), "post", f"/api/bookings/{booking.pk}/review/", {"rating": 5, "comment": "Great"}
        ).status_code
        == 201
    )
    twice = send(client_for(learner), "post", f"/api/bookings/{booking.pk}/review/", {"rating": 4})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "review_exists"


def test_mentor_sets_availability_and_away_days(mentor, learner):
    client = client_for(mentor)
    day = (timezone.now() + timedelta(days=5)).date().isoformat()
    response = send(
        client,
        "put",
        "/api/mentor/availability/",
        {"windows": [{"weekday": 1, "start": "09:00", "end": "12:00"}], "away_days": [day]},
    )
    assert response.status_code == 200, response.content
    assert response.json()["windows"] == [{"weekday": 1, "start": "09:00:00", "end": "12:00:00"}]
    assert AvailabilityException.objects.filter(mentor=mentor).count() == 1
    overlap = send(
        client,
        "put",
        "/api/mentor/availability/",
        {
            "windows": [
                {"weekday": 1, "start": "09:00", "end": "12:00"},
                {"weekday": 1, "start": "11:00", "end": "13:00"},
            ]
        },
    )
    assert overlap.status_code == 400 and overlap.json()["error"]["code"] == "overlapping_windows"
    assert AvailabilityWindow.objects.filter(mentor=mentor).count() == 1  # unchanged
    assert client_for(learner).get("/api/mentor/availability/").status_code == 403
