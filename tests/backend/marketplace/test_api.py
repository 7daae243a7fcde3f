"""The marketplace REST API: behaviour, access, error codes, and pinned query counts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.marketplace.models import Booking, BookingState, Session, SessionState
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def send(client, method, path, data=None):
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, json.dumps(data or {}), content_type="application/json")


def session_payload(**overrides):
    payload = {
        "title": "Kubernetes office hours",
        "description": "Bring your YAML.",
        "topics": ["Pods", "Helm"],
        "domain": "cloud",
        "starts_at": (timezone.now() + timedelta(days=3)).replace(microsecond=0).isoformat(),
        "duration_minutes": 45,
        "price_paise": 0,
        "capacity": 2,
    }
    payload.update(overrides)
    return payload


def test_mentor_creates_publishes_and_the_public_finds_it(mentor, domains):
    client = client_for(mentor)
    created = send(client, "post", "/api/mentor/sessions/", session_payload())
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "draft" and body["room_code"] and body["seats_left"] == 2
    assert client_for(None).get(f"/api/sessions/{body['id']}/").status_code == 404  # drafts are private
    published = send(client, "post", f"/api/mentor/sessions/{body['id']}/publish/")
    assert published.status_code == 200 and published.json()["state"] == "scheduled"
    found = client_for(None).get("/api/sessions/?q=kubernetes&domain=cloud&free=true").json()
    assert [s["id"] for s in found["results"]] == [body["id"]]
    assert "room_code" not in found["results"][0]


def test_pending_mentor_cannot_publish(pending_mentor, domains):
    client = client_for(pending_mentor)
    created = send(client, "post", "/api/mentor/sessions/", session_payload()).json()
    response = send(client, "post", f"/api/mentor/sessions/{created['id']}/publish/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "mentor_pending"


@pytest.mark.parametrize(
    ("overrides", "field", "status"),
    [
        ({"price_paise": -5}, "price_paise", 400),
        ({"duration_minutes": 9999}, "duration_minutes", 400),
        ({"capacity": 0}, "capacity", 400),
        ({"domain": "nope"}, "domain", 400),
        ({"starts_at": "yesterday"}, "starts_at", 400),
        ({"starts_at": "2020-01-01T10:00:00Z"}, "starts_at", 400),
    ],
)
def test_bad_session_input(mentor, domains, overrides, field, status):
    response = send(client_for(mentor), "post", "/api/mentor/sessions/", session_payload(**overrides))
    assert response.status_code == status
    assert field in response.json()["error"]["fields"]
    assert not Session.objects.exists()


def test_overlap_is_a_409(mentor, domains):
    client = client_for(mentor)
    first = send(client, "post", "/api/mentor/sessions/", session_payload()).json()
    send(client, "post", f"/api/mentor/sessions/{first['id']}/publish/")
    second = send(client, "post", "/api/mentor/sessions/", session_payload(title="Overlapping one")).json()
    response = send(client, "post", f"/api/mentor/sessions/{second['id']}/publish/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "session_overlap"


def test_mentor_cannot_touch_another_mentors_session(mentor, domains):
    other = make_user("other.mentor@example.com", "mentor")
    from backend.accounts.models import MentorProfile

    MentorProfile.objects.create(user=other, headline="x", bio="y", approval_state="approved")
    session = a_session(mentor)
    client = client_for(other)
    for method, path in [
        ("get", f"/api/mentor/sessions/{session.pk}/"),
        ("put", f"/api/mentor/sessions/{session.pk}/"),
        ("post", f"/api/mentor/sessions/{session.pk}/cancel/"),
        ("post", f"/api/mentor/sessions/{session.pk}/reschedule/"),
    ]:
        assert send(client, method, path, session_payload()).status_code == 404
    session.refresh_from_db()
    assert session.state == SessionState.SCHEDULED


def test_learner_books_lists_gets_invite_and_cancels(mentor, learner, domains):
    session = a_session(mentor, title="Résumé review; with care, please")
    client = client_for(learner)
    booked = send(client, "post", "/api/bookings/", {"session": session.pk})
    assert booked.status_code == 201 and booked.json()["state"] == "confirmed"
    booking_id = booked.json()["id"]
    again = send(client, "post", "/api/bookings/", {"session": session.pk})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_booked"
    upcoming = client.get("/api/bookings/?when=upcoming").json()
    assert [b["id"] for b in upcoming["results"]] == [booking_id]

    invite = client.get(f"/api/bookings/{booking_id}/invite.ics")
    text = invite.content.decode()
    assert invite["Content-Type"].startswith("text/calendar")
    assert f"UID:booking-{booking_id}@peerlearn" in text and "SEQUENCE:0" in text
    assert "Résumé review\\; with care\\, please" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))

    from backend.marketplace import services

    services.session_reschedule(mentor=mentor, session=session, starts_at=session.starts_at + timedelta(days=1))
    moved = client.get(f"/api/bookings/{booking_id}/invite.ics").content.decode()
    assert f"UID:booking-{booking_id}@peerlearn" in moved and "SEQUENCE:1" in moved

    quote = client.get(f"/api/bookings/{booking_id}/cancel/").json()
    assert quote["rule"] == "nothing_paid" and quote["refund_paise"] == 0
    cancelled = send(client, "post", f"/api/bookings/{booking_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert Booking.objects.get(pk=booking_id).state == BookingState.CANCELLED


def test_bookings_are_private_to_learner_and_mentor(mentor, learner, outsider, domains):
    booking = Booking.objects.create(session=a_session(mentor), learner=learner, state=BookingState.CONFIRMED)
    assert client_for(outsider).get(f"/api/bookings/{booking.pk}/").status_code == 404
    assert client_for(outsider).get(f"/api/bookings/{booking.pk}/invite.ics").status_code == 404
    assert send(client_for(outsider), "post", f"/api/bookings/{booking.pk}/cancel/").status_code == 404
    assert client_for(mentor).get(f"/api/bookings/{booking.pk}/").status_code == 200
    assert send(client_for(mentor), "post", f"/api/bookings/{booking.pk}/cancel/").status_code == 403  # learners only
    booking.refresh_from_db()
    assert booking.state == BookingState.CONFIRMED


def test_roles_on_booking_endpoints(mentor, learner, domains):
    session = a_session(mentor)
    assert send(client_for(None), "post", "/api/bookings/", {"session": session.pk}).status_code == 401
    response = send(client_for(mentor), "post", "/api/bookings/", {"session": session.pk})
    assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_role"
    assert send(client_for(learner), "post", "/api/bookings/", {"session": 999999}).status_code == 404


def test_full_session_says_so(mentor, learner, outsider, domains):
    session = a_session(mentor, capacity=1)
    send(client_for(learner), "post", "/api/bookings/", {"session": session.pk})
    response = send(client_for(outsider), "post", "/api/bookings/", {"session": session.pk})
    assert response.status_code == 409 and response.json()["error"]["code"] == "session_full"
    listed = client_for(None).get(f"/api/sessions/{session.pk}/").json()
    assert listed["seats_left"] == 0


def test_search_filters_and_cursor_pages(mentor, domains):
    for index in range(25):
        a_session(mentor, hours_ahead=24 + index * 2, price=0 if index % 2 else 49900, title=f"Session number {index}")
    client = client_for(None)
    first = client.get("/api/sessions/?page_size=10").json()
    assert len(first["results"]) == 10 and first["next"]
    second = client.get(first["next"]).json()
    assert first["results"][-1]["starts_at"] <= second["results"][0]["starts_at"]
    assert {s["id"] for s in first["results"]}.isdisjoint({s["id"] for s in second["results"]})
    paid = client.get("/api/sessions/?free=false&price_max=49900").json()["results"]
    assert paid and all(s["price_paise"] == 49900 for s in paid)
    assert client.get("/api/sessions/?price_min=-1").status_code == 400


def test_session_list_query_count_is_constant(mentor, domains, django_assert_max_num_queries):
    for index in range(30):
        a_session(mentor, hours_ahead=24 + index * 2)
    client = client_for(None)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/sessions/?page_size=5")
    with CaptureQueriesContext(connection) as many:
        client.get("/api/sessions/?page_size=30")
    assert len(few) == len(many) == 2  # a page of ids, then their details


def test_booking_list_query_count_is_constant(mentor, learner, domains):
    client = client_for(learner)
    a_session(mentor)
    Booking.objects.create(session=Session.objects.first(), learner=learner, state=BookingState.CONFIRMED)
    with CaptureQueriesContext(connection) as one:
        client.get("/api/bookings/")
    for index in range(10):
        Booking.objects.create(
            session=a_session(mentor, hours_ahead=100 + index * 3), learner=learner, state=BookingState.CONFIRMED
        )
    with CaptureQueriesContext(connection) as eleven:
        client.get("/api/bookings/")
    assert len(one) == len(eleven)
