"""Sessions: drafts, publishing, overlap, editing with bookings, reschedule, cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.core.errors import DomainError
from backend.marketplace import services
from backend.marketplace.models import Booking, BookingState, Domain, SessionState
from tests.backend.marketplace.factories import a_session

pytestmark = pytest.mark.django_db


def data(**overrides) -> services.SessionInput:
    values = {
        "title": "System design mock",
        "domain": Domain.objects.order_by("position").first(),
        "starts_at": (timezone.now() + timedelta(days=2)).replace(microsecond=0),
        "duration_minutes": 60,
        "price_paise": 49900,
        "capacity": 2,
        "topics": ["Caching", " Queues  "],
    }
    values.update(overrides)
    return services.SessionInput(**values)


def test_create_draft_then_publish(mentor, domains):
    session = services.session_create(mentor=mentor, data=data())
    assert session.state == SessionState.DRAFT and session.topics == ["Caching", "Queues"]
    assert session.ends_at == session.starts_at + timedelta(minutes=60)
    services.session_publish(mentor=mentor, session=session)
    session.refresh_from_db()
    assert session.state == SessionState.SCHEDULED


def test_pending_mentor_drafts_but_cannot_publish(pending_mentor, domains):
    session = services.session_create(mentor=pending_mentor, data=data())
    with pytest.raises(DomainError) as err:
        services.session_publish(mentor=pending_mentor, session=session)
    assert err.value.code == "mentor_pending"
    session.refresh_from_db()
    assert session.state == SessionState.DRAFT


def test_learner_cannot_create_sessions(learner, domains):
    with pytest.raises(DomainError) as err:
        services.session_create(mentor=learner, data=data())
    assert err.value.code == "wrong_role"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price_paise": -100}, "price_paise"),
        ({"price_paise": 10**9}, "price_paise"),
        ({"price_paise": 50}, "price_paise"),
        ({"duration_minutes": 5}, "duration_minutes"),
        ({"duration_minutes": 600}, "duration_minutes"),
        ({"duration_minutes": 47}, "duration_minutes"),
        ({"capacity": 0}, "capacity"),
        ({"title": "Hi"}, "title"),
        ({"topics": ["x" * 61]}, "topics"),
        ({"starts_at": timezone.now() + timedelta(days=400)}, "starts_at"),
    ],
)
def test_absurd_values_are_refused_per_field(mentor, domains, overrides, field):
    with pytest.raises(DomainError) as err:
        services.session_create(mentor=mentor, data=data(**overrides))
    assert field in err.value.fields


def test_past_start_is_refused(mentor, domains):
    with pytest.raises(DomainError) as err:
        services.session_create(mentor=mentor, data=data(starts_at=timezone.now() - timedelta(minutes=1)))
    assert err.value.code == "start_in_past"


def test_publishing_an_overlapping_session_is_refused(mentor, domains):
    first = services.session_create(mentor=mentor, data=data())
    services.session_publish(mentor=mentor, session=first)
    clash = services.session_create(mentor=mentor, data=data(starts_at=first.starts_at + timedelta(minutes=30)))
    with pytest.raises(DomainError) as err:
        services.session_publish(mentor=mentor, session=clash)
    assert err.value.code == "session_overlap"
    back_to_back = services.session_create(mentor=mentor, data=data(starts_at=first.ends_at))
    services.session_publish(mentor=mentor, session=back_to_back)  # touching is fine


def test_editing_a_booked_session(mentor, learner, outsider, domains):
    session = a_session(mentor, price=0, capacity=3)
    services.booking_create(learner=learner, session=session)
    services.booking_create(learner=outsider, session=session)
    for overrides, code in [
        ({"capacity": 1}, "capacity_below_bookings"),
        ({"price_paise": 100}, "price_locked"),
        ({"starts_at": session.starts_at + timedelta(hours=1)}, "use_reschedule"),
    ]:
        values = {
            "title": session.title,
            "domain": session.domain,
            "starts_at": session.starts_at,
            "duration_minutes": 60,
            "price_paise": 0,
            "capacity": 3,
        }
        values.update(overrides)
        with pytest.raises(DomainError) as err:
            services.session_update(mentor=mentor, session=session, data=services.SessionInput(**values))
        assert err.value.code == code
    session.refresh_from_db()
    assert (session.capacity, session.price_paise) == (3, 0)
    updated = services.session_update(
        mentor=mentor,
        session=session,
        data=services.SessionInput(
            title="Renamed session", domain=session.domain, starts_at=session.starts_at, duration_minutes=60, capacity=2
        ),
    )
    assert updated.title == "Renamed session" and updated.capacity == 2


def test_reschedule_bumps_sequence_and_keeps_bookings(mentor, learner, domains):
    session = a_session(mentor)
    booking = services.booking_create(learner=learner, session=session)
    new_start = session.starts_at + timedelta(days=1)
    services.session_reschedule(mentor=mentor, session=session, starts_at=new_start)
    session.refresh_from_db()
    booking.refresh_from_db()
    assert (
        session.starts_at == new_start
        and session.sequence == 1
        and session.ends_at == new_start + timedelta(minutes=60)
    )
    assert booking.state == BookingState.CONFIRMED
    other = a_session(mentor, hours_ahead=100)
    with pytest.raises(DomainError) as err:
        services.session_reschedule(mentor=mentor, session=other, starts_at=new_start + timedelta(minutes=15))
    assert err.value.code == "session_overlap"
    with pytest.raises(DomainError) as err:
        services.session_reschedule(mentor=mentor, session=other, starts_at=timezone.now() - timedelta(hours=1))
    assert err.value.code == "start_in_past"


def test_mentor_cancel_refunds_everyone_who_paid(mentor, learner, outsider, domains):
    session = a_session(mentor, price=99900, capacity=2)
    paid = services.booking_create(learner=learner, session=session)
    Booking.objects.filter(pk=paid.pk).update(state=BookingState.CONFIRMED, confirmed_at=timezone.now())
    held = services.booking_create(learner=outsider, session=session)
    services.session_cancel(mentor=mentor, session=session, reason="Ill")
    paid.refresh_from_db()
    held.refresh_from_db()
    assert (paid.state, paid.refund_paise, paid.cancelled_by) == (BookingState.CANCELLED, 99900, "mentor")
    assert (held.state, held.refund_paise) == (BookingState.CANCELLED, 0)
    session.refresh_from_db()
    assert session.state == SessionState.CANCELLED


def test_another_mentor_cannot_touch_my_session(mentor, pending_mentor, domains):
    session = a_session(mentor)
    from backend.marketplace.models import Session

    with pytest.raises(Session.DoesNotExist):
        services.session_cancel(mentor=pending_mentor, session=session)


def test_postgres_refuses_overlaps_even_past_the_service(mentor, domains):
    from django.db import IntegrityError, connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("exclusion constraints exist on PostgreSQL only")
    first = a_session(mentor)
    with pytest.raises(IntegrityError), transaction.atomic():
        a_session(mentor, hours_ahead=48.5)  # bypasses the service's check on purpose
    a_session(mentor, hours_ahead=48.5, state=SessionState.DRAFT)  # drafts do not hold the calendar
    assert first.pk
