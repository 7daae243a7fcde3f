"""The learner's booking page, /dashboard/learner/bookings/<id>/: what it shows in each state, in
the viewer's timezone, and who may open it."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.marketplace.models import Booking, BookingState, SessionState
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


def shown(value, zone=IST, fmt="%a %-d %b %Y, %-I:%M %p") -> str:
    """A time as the `local_time` tag writes it: in the zone, with the zone named."""
    local = value.astimezone(zone)
    return f"{local.strftime(fmt).replace('AM', 'am').replace('PM', 'pm')} {local:%Z}"


def text_of(response) -> str:
    """The page's text with tags dropped and whitespace collapsed, as a reader sees it."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r" ([.,;])", r"\1", text)


@pytest.fixture
def indian_learner(learner):
    learner.timezone = "Asia/Kolkata"
    learner.save(update_fields=["timezone"])
    return learner


def booking_of(learner, session, state=BookingState.CONFIRMED, **extra) -> Booking:
    return Booking.objects.create(session=session, learner=learner, state=state, **extra)


def test_confirmed_booking_shows_the_session_in_the_viewers_zone(mentor, indian_learner, domains):
    session = a_session(mentor, title="Django deep dive", hours_ahead=50, minutes=90, price=49_900)
    booking = booking_of(indian_learner, session, confirmed_at=timezone.now())
    response = client_for(indian_learner).get(f"/dashboard/learner/bookings/{booking.pk}/")
    assert response.status_code == 200
    body, text = response.content.decode(), text_of(response)
    assert f'<a href="/sessions/{session.pk}/">Django deep dive</a>' in body
    assert "with Maya Mentor · Senior engineer" in text
    assert session.domain.name in text
    assert shown(session.starts_at) in text and " IST" in text
    assert "1 h 30 min" in text and "₹499" in text
    assert '<span class="chip chip-confirmed" data-booking-chip>Confirmed</span>' in body
    opens = shown(session.starts_at - timedelta(minutes=10), fmt="%-I:%M %p")
    assert f"The room opens 10 minutes before the start, at {opens}." in text
    assert f'href="/api/bookings/{booking.pk}/invite.ics"' in body
    assert f'href="/bookings/{booking.pk}/cancel/?next=/dashboard/learner/bookings/{booking.pk}/"' in body
    assert "data-last-synced" in body
    assert re.search(r'href="/dashboard/learner/bookings/"\s+aria-current="page"', body)


def test_times_follow_each_viewers_own_zone(mentor, learner, domains):
    learner.timezone = "America/New_York"
    learner.save(update_fields=["timezone"])
    session = a_session(mentor, hours_ahead=50)
    booking = booking_of(learner, session)
    text = text_of(client_for(learner).get(f"/dashboard/learner/bookings/{booking.pk}/"))
    assert shown(session.starts_at, ZoneInfo("America/New_York")) in text
    assert "IST" not in text


def test_held_booking_shows_until_when_the_seat_is_held(mentor, indian_learner, domains):
    session = a_session(mentor, hours_ahead=30, price=29_900)
    until = (timezone.now() + timedelta(minutes=12)).replace(microsecond=0)
    booking = booking_of(indian_learner, session, BookingState.HELD, hold_expires_at=until)
    response = client_for(indian_learner).get(f"/dashboard/learner/bookings/{booking.pk}/")
    body, text = response.content.decode(), text_of(response)
    assert '<span class="chip chip-held" data-booking-chip>Awaiting payment</span>' in body
    assert f"Complete payment by {shown(until, fmt='%a %-d %b, %-I:%M %p')} to confirm your seat" in text
    assert f"/bookings/{booking.pk}/cancel/" in body
    assert "invite.ics" not in body  # a held seat is not in the calendar until it is confirmed


def test_lapsed_hold_reads_as_expired(mentor, indian_learner, domains):
    session = a_session(mentor, hours_ahead=30, price=29_900)
    lapsed = timezone.now() - timedelta(minutes=1)
    booking = booking_of(indian_learner, session, BookingState.HELD, hold_expires_at=lapsed)
    body = client_for(indian_learner).get(f"/dashboard/learner/bookings/{booking.pk}/").content.decode()
    assert '<span class="chip chip-expired">Expired</span>' in body
    assert "The seat was released" in body and "/cancel/" not in body


def test_cancelled_booking_shows_the_refund(mentor, indian_learner, domains):
    session = a_session(mentor, hours_ahead=30, price=49_900)
    booking = booking_of(
        indian_learner,
        session,
        BookingState.CANCELLED,
        confirmed_at=timezone.now() - timedelta(days=1),
        cancelled_at=timezone.now(),
        refund_paise=49_900,
    )
    response = client_for(indian_learner).get(f"/dashboard/learner/bookings/{booking.pk}/")
    body, text = response.content.decode(), text_of(response)
    assert '<span class="chip chip-cancelled" data-booking-chip>Cancelled</span>' in body
    assert "₹499 refunded to how you paid." in text
    assert "/cancel/" not in body and "invite.ics" not in body and "The room opens" not in text
    assert 'href="/dashboard/learner/bookings/?when=past"' in body  # back to the list it is in


def test_late_cancellation_says_there_is_no_refund(mentor, indian_learner, domains):
    session = a_session(mentor, hours_ahead=0.5, price=49_900)
    booking = booking_of(
        indian_learner,
        session,
        BookingState.CANCELLED,
        confirmed_at=timezone.now() - timedelta(days=1),
        cancelled_at=timezone.now(),
    )
    text = text_of(client_for(indian_learner).get(f"/dashboard/learner/bookings/{booking.pk}/"))
    assert "No refund: it was cancelled too close to the start." in text


def test_past_session_has_no_actions(mentor, indian_learner, domains):
    session = a_session(mentor, hours_ahead=-30, state=SessionState.COMPLETED)
    booking = booking_of(indian_learner, session)
    response = client_for(indian_learner).get(f"/dashboard/learner/bookings/{booking.pk}/")
    body, text = response.content.decode(), text_of(response)
    assert "This session has ended" in text and "Session completed" in text
    assert "/cancel/" not in body and "invite.ics" not in body and "The room opens" not in text


def test_another_learners_booking_is_not_found(mentor, learner, outsider, domains):
    booking = booking_of(learner, a_session(mentor))
    assert client_for(outsider).get(f"/dashboard/learner/bookings/{booking.pk}/").status_code == 404
    assert client_for(learner).get(f"/dashboard/learner/bookings/{booking.pk + 1000}/").status_code == 404


def test_mentors_are_sent_to_their_own_dashboard(mentor, learner, domains):
    # Even the session's mentor, who may read the booking through the API: this is a learner page.
    booking = booking_of(learner, a_session(mentor))
    response = client_for(mentor).get(f"/dashboard/learner/bookings/{booking.pk}/")
    assert response.status_code == 302 and response.url == "/dashboard/mentor/"


def test_anonymous_visitors_sign_in_first(mentor, learner, domains):
    booking = booking_of(learner, a_session(mentor))
    response = client_for(None).get(f"/dashboard/learner/bookings/{booking.pk}/")
    assert response.status_code == 302
    assert response.url == f"/login/?next=%2Fdashboard%2Flearner%2Fbookings%2F{booking.pk}%2F"


def test_bookings_list_links_each_row_to_its_booking(mentor, learner, domains):
    soon = booking_of(learner, a_session(mentor, title="Soon", hours_ahead=24))
    done = booking_of(learner, a_session(mentor, title="Done", hours_ahead=-30, state=SessionState.COMPLETED))
    client = client_for(learner)
    assert (
        f'href="/dashboard/learner/bookings/{soon.pk}/">Soon</a>'
        in client.get("/dashboard/learner/bookings/").content.decode()
    )
    past = client.get("/dashboard/learner/bookings/?when=past").content.decode()
    assert f'href="/dashboard/learner/bookings/{done.pk}/">Done</a>' in past
