"""/room/<code>/ as a page: who sees the room, who sees why not, the review after the session,
the dashboards' way in, the job that closes forgotten rooms, and TURN credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backend.marketplace.models import Booking, BookingState, Review, SessionState
from backend.rooms import ice, services
from backend.rooms.models import Presence, RoomState
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(mentor, learner):
    s = a_session(mentor, hours_ahead=5 / 60, topics=["Models"])
    Booking.objects.create(session=s, learner=learner, state=BookingState.CONFIRMED, confirmed_at=timezone.now())
    return s


def config_of(response) -> dict:
    match = re.search(r'<script id="room-config" type="application/json">(.*?)</script>', response.content.decode())
    assert match, "the room page carries its config"
    return json.loads(match.group(1))


def test_members_get_the_room_with_their_role(session, mentor, learner):
    response = client_for(learner).get(f"/room/{session.room_code}/")
    assert response.status_code == 200
    config = config_of(response)
    assert config["me"] == {"user": learner.pk, "name": learner.full_name, "role": "learner"}
    assert config["socket"] == f"/ws/room/{session.room_code}/"
    assert config["review_url"] == f"/room/{session.room_code}/review/"
    assert config["session"]["topics"] == ["Models"]
    mentor_config = config_of(client_for(mentor).get(f"/room/{session.room_code}/"))
    assert mentor_config["me"]["role"] == "mentor" and mentor_config["review_url"] is None


def test_everyone_else_is_turned_away(session, outsider, admin_user, pending_mentor):
    anonymous = client_for(None).get(f"/room/{session.room_code}/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    for user in (outsider, pending_mentor):
        response = client_for(user).get(f"/room/{session.room_code}/")
        assert response.status_code == 403
        assert session.title not in response.content.decode()  # nothing about the session leaks
    assert client_for(admin_user, verified=True).get(f"/room/{session.room_code}/").status_code == 403
    assert client_for(outsider).get("/room/nope/").status_code == 404


def test_outside_the_window_a_member_sees_when_it_opens(session, learner):
    with time_machine.travel(session.starts_at - timedelta(hours=1), tick=False):
        response = client_for(learner).get(f"/room/{session.room_code}/")
    assert response.status_code == 200
    assert response.context["reason"] == "too_early"
    assert response.context["opens_at"] == session.starts_at - timedelta(minutes=10)
    with time_machine.travel(session.ends_at + timedelta(minutes=20), tick=False):
        response = client_for(learner).get(f"/room/{session.room_code}/")
    assert response.context["reason"] == "too_late"


def test_after_the_session_an_attendee_reviews_it_once(session, mentor, learner):
    services.session_go_live(mentor=mentor, session=session)
    now = timezone.now()
    Presence.objects.create(
        session=session,
        user=learner,
        role="learner",
        peer="peer-lena1",
        channel_name="x",
        joined_at=now,
        last_seen_at=now,
    )
    services.session_complete(session=session, by=mentor)
    client = client_for(learner)
    page = client.get(f"/room/{session.room_code}/")
    assert page.context["reason"] == "ended" and page.context["can_review"] is True
    response = client.post(f"/room/{session.room_code}/review/", {"rating": "5", "comment": "Clear and kind."})
    booking = Booking.objects.get(session=session, learner=learner)
    assert response.status_code == 302 and response["Location"] == f"/dashboard/learner/bookings/{booking.pk}/"
    assert Review.objects.get(booking=booking).rating == 5
    again = client.post(f"/room/{session.room_code}/review/", {"rating": "1"}, follow=True)
    assert "already reviewed" in again.content.decode()
    assert Review.objects.count() == 1
    assert client.get(f"/room/{session.room_code}/").context["can_review"] is False


def test_a_review_needs_attendance_and_valid_stars(session, mentor, learner, outsider):
    services.session_go_live(mentor=mentor, session=session)
    services.session_complete(session=session, by=mentor)  # the learner never came
    client = client_for(learner)
    assert client.get(f"/room/{session.room_code}/").context["can_review"] is False
    client.post(f"/room/{session.room_code}/review/", {"rating": "5"})
    assert not Review.objects.exists()
    Booking.objects.filter(session=session).update(attended=True)
    client.post(f"/room/{session.room_code}/review/", {"rating": "nine"})
    assert not Review.objects.exists()
    assert client_for(outsider).post(f"/room/{session.room_code}/review/", {"rating": "5"}).status_code == 404


def test_dashboards_show_the_way_in_as_the_room_opens_and_goes_live(mentor, learner):
    later = a_session(mentor, hours_ahead=3, title="Later today")
    soon = a_session(mentor, hours_ahead=5 / 60, title="Starting soon")
    for s in (later, soon):
        Booking.objects.create(session=s, learner=learner, state=BookingState.CONFIRMED, confirmed_at=timezone.now())
    home = client_for(learner).get("/dashboard/learner/").content.decode()
    assert f'data-room-for="{later.pk}" data-room-phase="soon"' in home
    assert f'data-room-for="{soon.pk}" data-room-phase="open"' in home and "Enter the lobby" in home
    services.session_go_live(mentor=mentor, session=soon)
    home = client_for(learner).get("/dashboard/learner/").content.decode()
    assert f'data-room-for="{soon.pk}" data-room-phase="live"' in home and "Join now" in home
    mentor_page = client_for(mentor).get("/dashboard/mentor/sessions/?tab=scheduled").content.decode()
    assert f'href="/room/{soon.room_code}/"' in mentor_page


def test_a_live_room_nobody_ended_is_completed_after_it_closes(session, mentor, learner):
    services.session_go_live(mentor=mentor, session=session)
    now = timezone.now()
    Presence.objects.create(
        session=session,
        user=learner,
        role="learner",
        peer="peer-lena2",
        channel_name="x",
        joined_at=now,
        last_seen_at=now,
    )
    assert services.complete_finished_sessions() == 0  # still open
    with time_machine.travel(session.ends_at + timedelta(minutes=16), tick=False):
        assert services.complete_finished_sessions() == 1
        assert services.complete_finished_sessions() == 0  # safe to run again
    session.refresh_from_db()
    assert session.state == SessionState.COMPLETED
    assert Booking.objects.get(session=session).attended is True
    assert RoomState.objects.get(session=session).ended_by is None


def test_turn_credentials_are_time_limited_and_signed(settings, learner):
    settings.ROOM_STUN_URLS = ["stun:stun.example.org:3478"]
    settings.ROOM_TURN_URLS = ["turn:turn.example.org:3478?transport=udp"]
    settings.ROOM_TURN_SECRET = "s3cret"
    settings.ROOM_TURN_TTL_SECONDS = 3600
    username, credential = ice.turn_credentials(learner.pk, now=1_000_000)
    assert username == f"1003600:{learner.pk}"
    expected = base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()).decode()
    assert credential == expected
    servers = ice.servers_for(learner)
    assert servers[0] == {"urls": ["stun:stun.example.org:3478"]}
    assert servers[1]["urls"] == ["turn:turn.example.org:3478?transport=udp"] and servers[1]["credential"]
    settings.ROOM_TURN_SECRET = ""
    assert len(ice.servers_for(learner)) == 1  # no secret, no TURN
