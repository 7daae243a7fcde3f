"""Requests: availability, accept, counter-offer, decline, expiry, stale and double answers."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from backend.core.errors import DomainError
from backend.marketplace import services
from backend.marketplace.models import AvailabilityWindow, Booking, BookingState, RequestState, Session, SessionRequest

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


@pytest.fixture
def available_mentor(mentor):
    """Maya teaches every day 18:00–21:00 in Kolkata."""
    mentor.timezone = "Asia/Kolkata"
    mentor.save()
    for weekday in range(7):
        AvailabilityWindow.objects.create(mentor=mentor, weekday=weekday, start_time=time(18), end_time=time(21))
    return mentor


def evening(days_ahead: int, hour: int = 18) -> datetime:
    day = (timezone.now() + timedelta(days=days_ahead)).astimezone(IST).date()
    return datetime.combine(day, time(hour), tzinfo=IST)


def ask(learner, mentor, times, **overrides) -> SessionRequest:
    data = {"topic": "Help with my Django app", "preferred_times": times, "duration_minutes": 60, "budget_paise": 0}
    data.update(overrides)
    return services.request_create(learner=learner, mentor_id=mentor.pk, data=services.RequestInput(**data))


def test_request_then_accept_creates_private_session_and_booking(available_mentor, learner):
    request = ask(learner, available_mentor, [evening(2), evening(3, 19)])
    assert request.state == RequestState.PENDING and request.expires_at <= timezone.now() + timedelta(hours=48)
    accepted = services.request_accept(
        mentor=available_mentor, request=request, starts_at=evening(3, 19), version=request.version
    )
    assert accepted.state == RequestState.ACCEPTED
    session = accepted.session
    assert session.is_private and session.capacity == 1 and session.starts_at == evening(3, 19)
    booking = Booking.objects.get(session=session)
    assert booking.learner == learner and booking.state == BookingState.CONFIRMED  # free request


def test_paid_request_acceptance_holds_the_seat(available_mentor, learner):
    request = ask(learner, available_mentor, [evening(2)], budget_paise=150000)
    services.request_accept(mentor=available_mentor, request=request, starts_at=evening(2))
    booking = Booking.objects.get(session__request=request)
    assert booking.state == BookingState.HELD and booking.hold_expires_at <= evening(2)
    assert booking.session.price_paise == 150000


@pytest.mark.parametrize(
    ("times", "overrides", "field"),
    [
        (lambda: [evening(2, 10)], {}, "preferred_times"),  # outside 18–21
        (lambda: [evening(2, 20)], {"duration_minutes": 90}, "preferred_times"),  # runs past 21:00
        (lambda: [timezone.now() - timedelta(hours=1)], {}, "preferred_times"),
        (lambda: [evening(1), evening(2), evening(3), evening(4)], {}, "preferred_times"),
        (lambda: [evening(2), evening(2)], {}, "preferred_times"),
        (lambda: [evening(2)], {"duration_minutes": 7}, "duration_minutes"),
        (lambda: [evening(2)], {"budget_paise": -1}, "budget_paise"),
        (lambda: [evening(2)], {"topic": "hi"}, "topic"),
    ],
)
def test_bad_requests_are_refused(available_mentor, learner, times, overrides, field):
    with pytest.raises(DomainError) as err:
        ask(learner, available_mentor, times(), **overrides)
    assert field in err.value.fields
    assert not SessionRequest.objects.exists()


def test_exception_day_blocks_requests(available_mentor, learner):
    services.availability_exception_set(mentor=available_mentor, day=evening(2).date(), away=True, note="Travel")
    with pytest.raises(DomainError):
        ask(learner, available_mentor, [evening(2)])
    ask(learner, available_mentor, [evening(3)])


def test_requests_to_pending_mentors_are_refused(pending_mentor, learner):
    with pytest.raises(DomainError) as err:
        ask(learner, pending_mentor, [evening(2)])
    assert err.value.code == "mentor_unavailable"


def test_one_open_request_per_mentor(available_mentor, learner):
    ask(learner, available_mentor, [evening(2)])
    with pytest.raises(DomainError) as err:
        ask(learner, available_mentor, [evening(3)])
    assert err.value.code == "request_open"


def test_counter_offer_accepted_by_learner(available_mentor, learner):
    request = ask(learner, available_mentor, [evening(2)], budget_paise=50000)
    new_time = evening(4, 9)  # mentors may counter outside their usual windows
    countered = services.request_counter(
        mentor=available_mentor, request=request, starts_at=new_time, price_paise=80000, version=request.version
    )
    assert countered.state == RequestState.COUNTERED
    with pytest.raises(DomainError) as err:
        services.request_accept(mentor=available_mentor, request=request, starts_at=evening(2))
    assert err.value.code == "request_answered"
    done = services.request_counter_answer(learner=learner, request=request, accept=True, version=countered.version)
    assert (
        done.state == RequestState.ACCEPTED and done.session.starts_at == new_time and done.session.price_paise == 80000
    )


def test_counter_offer_declined_by_learner(available_mentor, learner):
    request = ask(learner, available_mentor, [evening(2)])
    services.request_counter(mentor=available_mentor, request=request, starts_at=evening(5), price_paise=0)
    done = services.request_counter_answer(learner=learner, request=request, accept=False)
    assert done.state == RequestState.DECLINED and not Session.objects.exists()


def test_decline_needs_a_reason(available_mentor, learner):
    request = ask(learner, available_mentor, [evening(2)])
    with pytest.raises(DomainError) as err:
        services.request_decline(mentor=available_mentor, request=request, reason=" ")
    assert err.value.code == "reason_required"
    done = services.request_decline(mentor=available_mentor, request=request, reason="Fully booked this week")
    assert done.state == RequestState.DECLINED and done.decline_reason == "Fully booked this week"


def test_stale_and_double_answers(available_mentor, learner):
    request = ask(learner, available_mentor, [evening(2)])
    opened_version = request.version
    services.request_accept(mentor=available_mentor, request=request, starts_at=evening(2), version=opened_version)
    with pytest.raises(DomainError) as err:
        services.request_accept(mentor=available_mentor, request=request, starts_at=evening(2), version=opened_version)
    assert err.value.code == "request_answered"
    assert Session.objects.count() == 1 and Booking.objects.count() == 1
    other = ask(learner, available_mentor, [evening(5)])
    services.request_counter(mentor=available_mentor, request=other, starts_at=evening(6), price_paise=0)
    with pytest.raises(DomainError) as err:
        services.request_counter_answer(learner=learner, request=other, accept=True, version=other.version - 1)
    assert err.value.code == "stale_request"


def test_accepting_a_time_that_is_not_proposed_or_overlaps(available_mentor, learner, outsider):
    request = ask(learner, available_mentor, [evening(2)])
    with pytest.raises(DomainError) as err:
        services.request_accept(mentor=available_mentor, request=request, starts_at=evening(2, 19))
    assert err.value.code == "not_a_preferred_time"
    first = ask(outsider, available_mentor, [evening(2)])
    services.request_accept(mentor=available_mentor, request=first, starts_at=evening(2))
    with pytest.raises(DomainError) as err:
        services.request_accept(mentor=available_mentor, request=request, starts_at=evening(2))
    assert err.value.code == "session_overlap"
    assert SessionRequest.objects.get(pk=request.pk).state == RequestState.PENDING  # nothing half-written


def test_requests_expire_at_earliest_time_or_after_48_hours(available_mentor, learner):
    soon = ask(learner, available_mentor, [evening(1), evening(6)])
    assert soon.expires_at == min(evening(1), soon.created_at + timedelta(hours=48))
    with time_machine.travel(soon.expires_at + timedelta(minutes=1)):
        assert services.requests_expire_due() == 1
        assert services.requests_expire_due() == 0  # idempotent
        with pytest.raises(DomainError) as err:
            services.request_accept(mentor=available_mentor, request=soon, starts_at=evening(6))
    assert err.value.code == "request_expired"
    assert SessionRequest.objects.get(pk=soon.pk).state == RequestState.EXPIRED


def test_only_the_parties_can_answer(available_mentor, learner, outsider, pending_mentor):
    request = ask(learner, available_mentor, [evening(2)])
    with pytest.raises(DomainError):
        services.request_accept(mentor=pending_mentor, request=request, starts_at=evening(2))
    with pytest.raises(DomainError):
        services.request_withdraw(learner=outsider, request=request)
    services.request_withdraw(learner=learner, request=request)
    assert SessionRequest.objects.get(pk=request.pk).state == RequestState.WITHDRAWN


def test_prices_under_one_rupee_and_past_away_days_are_refused(available_mentor, learner):
    with pytest.raises(DomainError) as err:
        ask(learner, available_mentor, [evening(2)], budget_paise=50)
    assert "budget_paise" in err.value.fields
    request = ask(learner, available_mentor, [evening(2)])
    with pytest.raises(DomainError):
        services.request_counter(mentor=available_mentor, request=request, starts_at=evening(3), price_paise=99)
    with pytest.raises(DomainError) as err:
        services.availability_exception_set(
            mentor=available_mentor, day=(timezone.now() - timedelta(days=2)).date(), away=True
        )
    assert err.value.code == "date_in_past"
