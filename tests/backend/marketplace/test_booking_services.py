"""Bookings: free and paid, the rules of who may book what, cancellation policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backend.core.errors import DomainError
from backend.marketplace import services
from backend.marketplace.models import Booking, BookingState, SessionState
from tests.backend.marketplace.factories import a_session

pytestmark = pytest.mark.django_db


def test_free_booking_is_confirmed_at_once(mentor, learner):
    booking = services.booking_create(learner=learner, session=a_session(mentor))
    assert booking.state == BookingState.CONFIRMED and booking.confirmed_at and booking.hold_expires_at is None


def test_paid_booking_holds_the_seat_for_fifteen_minutes(mentor, learner, outsider):
    session = a_session(mentor, price=49900)
    booking = services.booking_create(learner=learner, session=session)
    assert booking.state == BookingState.HELD
    assert timedelta(minutes=14) < booking.hold_expires_at - timezone.now() <= timedelta(minutes=15)
    with pytest.raises(DomainError) as err:
        services.booking_create(learner=outsider, session=session)
    assert err.value.code == "session_full"
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        second = services.booking_create(learner=outsider, session=session)
    assert second.state == BookingState.HELD
    booking.refresh_from_db()
    assert booking.state == BookingState.EXPIRED


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda m: a_session(m, state=SessionState.CANCELLED), "session_cancelled"),
        (lambda m: a_session(m, state=SessionState.DRAFT), "not_bookable"),
        (lambda m: a_session(m, hours_ahead=-2), "not_bookable"),
        (lambda m: a_session(m, is_private=True), "not_found"),
    ],
)
def test_unbookable_sessions(mentor, learner, setup, code):
    with pytest.raises(DomainError) as err:
        services.booking_create(learner=learner, session=setup(mentor))
    assert err.value.code == code
    assert not Booking.objects.exists()


def test_no_double_booking_and_mentors_cannot_book(mentor, learner):
    session = a_session(mentor, capacity=3)
    services.booking_create(learner=learner, session=session)
    with pytest.raises(DomainError) as err:
        services.booking_create(learner=learner, session=session)
    assert err.value.code == "already_booked"
    with pytest.raises(DomainError) as err:
        services.booking_create(learner=mentor, session=session)
    assert err.value.code == "wrong_role"
    assert Booking.objects.count() == 1


def test_cancel_quote_and_policy(mentor, learner):
    session = a_session(mentor, price=79900, hours_ahead=3)
    booking = services.booking_create(learner=learner, session=session)
    Booking.objects.filter(pk=booking.pk).update(state=BookingState.CONFIRMED)
    booking.refresh_from_db()
    assert services.cancellation_quote(booking)["refund_paise"] == 79900
    late = timezone.now() + timedelta(hours=2, minutes=30)
    assert services.cancellation_quote(booking, now=late) == {
        "paid_paise": 79900,
        "refund_paise": 0,
        "rule": "too_late",
        "full_refund_until": session.starts_at - timedelta(hours=1),
    }
    with time_machine.travel(late):
        cancelled = services.booking_cancel(learner=learner, booking=booking)
    assert (cancelled.state, cancelled.refund_paise, cancelled.cancelled_by) == (BookingState.CANCELLED, 0, "learner")
    with pytest.raises(DomainError) as err:
        services.booking_cancel(learner=learner, booking=booking)
    assert err.value.code == "not_cancellable"


def test_cancelling_frees_the_seat_and_allows_rebooking(mentor, learner, outsider):
    session = a_session(mentor)
    booking = services.booking_create(learner=learner, session=session)
    services.booking_cancel(learner=learner, booking=booking)
    services.booking_create(learner=outsider, session=session)
    with pytest.raises(DomainError):
        services.booking_create(learner=learner, session=session)
