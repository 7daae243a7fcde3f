"""Waitlist offers, follows, and reviews."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backend.core.errors import DomainError
from backend.marketplace import services
from backend.marketplace.models import Booking, BookingState, Follow, Review, SessionState, WaitlistState
from backend.marketplace.tasks import release_expired_holds
from tests.backend.marketplace.factories import a_session
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_freed_seat_is_offered_to_the_next_in_line_with_a_timed_hold(mentor, learner, outsider):
    third = make_user("third@example.com", "learner")
    session = a_session(mentor, capacity=1)
    first_booking = services.booking_create(learner=learner, session=session)
    with pytest.raises(DomainError) as err:
        services.waitlist_join(learner=learner, session=session)
    assert err.value.code == "already_booked"
    first_in_line = services.waitlist_join(learner=outsider, session=session)
    services.waitlist_join(learner=third, session=session)
    assert services.waitlist_join(learner=outsider, session=session).pk == first_in_line.pk  # idempotent

    services.booking_cancel(learner=learner, booking=first_booking)
    first_in_line.refresh_from_db()
    offer = first_in_line.offered_booking
    assert (
        first_in_line.state == WaitlistState.OFFERED and offer.state == BookingState.HELD and offer.learner == outsider
    )
    with pytest.raises(DomainError) as err:
        services.booking_create(learner=third, session=session)
    assert err.value.code == "session_full"

    # The offer runs out: the job passes the seat on to the next learner.
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert release_expired_holds() == 1
        assert release_expired_holds() == 0
        with pytest.raises(DomainError) as err:
            services.booking_claim(learner=outsider, booking=offer)
        assert err.value.code == "hold_expired"
        third_offer = Booking.objects.get(session=session, learner=third, state=BookingState.HELD)
        claimed = services.booking_claim(learner=third, booking=third_offer)
    assert claimed.state == BookingState.CONFIRMED
    first_in_line.refresh_from_db()
    assert first_in_line.state == WaitlistState.MISSED
    assert services.seats_taken(session) == 1


def test_waitlist_only_when_full(mentor, learner):
    with pytest.raises(DomainError) as err:
        services.waitlist_join(learner=learner, session=a_session(mentor, capacity=2))
    assert err.value.code == "seats_available"


def test_follow_is_idempotent_and_only_for_approved_mentors(mentor, pending_mentor, learner):
    services.follow(learner=learner, mentor_id=mentor.pk)
    services.follow(learner=learner, mentor_id=mentor.pk)
    assert Follow.objects.filter(learner=learner, mentor=mentor).count() == 1
    with pytest.raises(DomainError):
        services.follow(learner=learner, mentor_id=pending_mentor.pk)
    with pytest.raises(DomainError):
        services.follow(learner=mentor, mentor_id=mentor.pk)
    services.unfollow(learner=learner, mentor_id=mentor.pk)
    assert not Follow.objects.exists()


def test_followers_hear_about_new_sessions(mentor, learner, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "backend.core.events._deliver", lambda messages: sent.extend((group, event) for group, event, _ in messages)
    )
    services.follow(learner=learner, mentor_id=mentor.pk)
    draft = a_session(mentor, state=SessionState.DRAFT)
    with django_capture_on_commit_callbacks(execute=True):
        services.session_publish(mentor=mentor, session=draft)
    assert (f"user.{learner.pk}", "session.published") in sent


def test_reviews_only_from_attendees_once(mentor, learner, outsider):
    session = a_session(mentor, hours_ahead=-3, state=SessionState.COMPLETED)
    attended = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED, attended=True)
    absent = Booking.objects.create(session=session, learner=outsider, state=BookingState.CONFIRMED, attended=False)
    with pytest.raises(DomainError) as err:
        services.review_create(learner=outsider, booking=absent, rating=5)
    assert err.value.code == "not_attended"
    with pytest.raises(DomainError) as err:
        services.review_create(learner=learner, booking=attended, rating=6)
    assert "rating" in err.value.fields
    services.review_create(learner=learner, booking=attended, rating=4, comment="Useful")
    with pytest.raises(DomainError) as err:
        services.review_create(learner=learner, booking=attended, rating=5)
    assert err.value.code == "review_exists"
    assert Review.objects.get().rating == 4
    with pytest.raises(Booking.DoesNotExist):
        services.review_create(learner=outsider, booking=attended, rating=1)
