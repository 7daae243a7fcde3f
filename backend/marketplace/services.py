"""Marketplace writes: availability, sessions, bookings. Pages, the REST API, offline sync
and jobs all call these; each validates, writes in one transaction and publishes events
after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.core.errors import Conflict, DomainError, Forbidden
from backend.core.events import publish
from backend.marketplace.models import (
    AvailabilityWindow,
    Booking,
    BookingState,
    Domain,
    Session,
    SessionState,
)

# States whose time is taken on the mentor's calendar (drafts are not).
CALENDAR_STATES = [SessionState.SCHEDULED, SessionState.LIVE, SessionState.COMPLETED]


# --- availability ---------------------------------------------------------------------------------
def _check_windows(windows: list[dict]) -> list[tuple[int, time, time]]:
    parsed = []
    for window in windows:
        weekday, start, end = window["weekday"], window["start"], window["end"]
        if not (0 <= weekday <= 6) or start >= end:
            raise DomainError("invalid_window", "Each window needs a weekday and a start before its end.")
        parsed.append((weekday, start, end))
    parsed.sort()
    for (day_a, _, end_a), (day_b, start_b, _) in zip(parsed, parsed[1:], strict=False):
        if day_a == day_b and start_b < end_a:
            raise DomainError("overlapping_windows", "Two availability windows overlap on the same day.")
    return parsed


@transaction.atomic
def availability_replace(*, mentor, windows: list[dict]) -> list[AvailabilityWindow]:
    """Replace a mentor's weekly windows (times in the mentor's own timezone)."""
    parsed = _check_windows(windows)
    AvailabilityWindow.objects.filter(mentor=mentor).delete()
    return AvailabilityWindow.objects.bulk_create(
        AvailabilityWindow(mentor=mentor, weekday=d, start_time=s, end_time=e) for d, s, e in parsed
    )


# --- sessions -------------------------------------------------------------------------------------
@dataclass
class SessionInput:
    title: str
    domain: Domain
    starts_at: datetime
    duration_minutes: int
    description: str = ""
    topics: list[str] = field(default_factory=list)
    price_paise: int = 0
    capacity: int = 1


def _require_mentor(user: User) -> None:
    if user.role != Role.MENTOR:
        raise Forbidden("wrong_role", "Only mentors manage sessions.")


def _validate(data: SessionInput) -> SessionInput:
    errors = {}
    title = " ".join((data.title or "").split())
    if not 5 <= len(title) <= 140:
        errors["title"] = "Use 5 to 140 characters."
    if not 15 <= data.duration_minutes <= 240 or data.duration_minutes % 5:
        errors["duration_minutes"] = "Sessions last 15 to 240 minutes, in steps of 5."
    if not 0 <= data.price_paise <= settings.MAX_SESSION_PRICE_PAISE:
        errors["price_paise"] = f"Price must be between ₹0 and ₹{settings.MAX_SESSION_PRICE_PAISE // 100:,}."
    elif data.price_paise and data.price_paise < 100:
        errors["price_paise"] = "Paid sessions cost at least ₹1."
    if not 1 <= data.capacity <= 100:
        errors["capacity"] = "Capacity must be between 1 and 100."
    topics = [" ".join(t.split()) for t in data.topics if t and t.strip()]
    if len(topics) > 10 or any(len(t) > 60 for t in topics):
        errors["topics"] = "Up to 10 topics of at most 60 characters."
    if timezone.is_naive(data.starts_at):
        errors["starts_at"] = "Give the start time with its timezone."
    elif data.starts_at > timezone.now() + timedelta(days=365):
        errors["starts_at"] = "Schedule at most a year ahead."
    if errors:
        raise DomainError("invalid", "Some fields need attention.", fields=errors)
    data.title, data.topics = title, topics
    return data


def _check_future(starts_at: datetime) -> None:
    if starts_at <= timezone.now():
        raise DomainError(
            "start_in_past", "The start time has passed.", fields={"starts_at": "Pick a time in the future."}
        )


def _check_no_overlap(mentor: User, starts_at: datetime, ends_at: datetime, *, exclude: int | None = None) -> None:
    clash = (
        Session.objects.filter(mentor=mentor, state__in=CALENDAR_STATES, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .exclude(pk=exclude)
        .first()
    )
    if clash is not None:
        raise Conflict(
            "session_overlap",
            f"This overlaps your session “{clash.title}”.",
            fields={"starts_at": "You already have a session at this time."},
        )


def _lock_mentor(mentor: User) -> None:
    # One mentor's calendar changes one at a time (PostgreSQL row lock; SQLite's IMMEDIATE
    # transactions already serialise writers), so two publishes cannot both pass the check.
    User.objects.select_for_update().filter(pk=mentor.pk).first()


def _save_checked(session: Session) -> None:
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError as exc:
        # PostgreSQL's exclusion constraint caught an overlap the check could not see.
        raise Conflict("session_overlap", "This overlaps another of your sessions.") from exc


@transaction.atomic
def session_create(*, mentor: User, data: SessionInput) -> Session:
    """A new draft. Pending mentors may prepare drafts; only approved ones publish."""
    _require_mentor(mentor)
    data = _validate(data)
    _check_future(data.starts_at)
    session = Session(mentor=mentor, **data.__dict__)
    session.save()
    return session


def _active_q() -> Q:
    """Bookings that hold a seat: confirmed, or held and not yet expired."""
    return Q(state=BookingState.CONFIRMED) | Q(state=BookingState.HELD, hold_expires_at__gt=timezone.now())


def seats_taken(session: Session) -> int:
    return session.bookings.filter(_active_q()).count()


@transaction.atomic
def session_update(*, mentor: User, session: Session, data: SessionInput) -> Session:
    """Edit a session. Once learners hold seats, the price is fixed, capacity cannot drop below
    the seats taken, and a new time goes through `session_reschedule` (which tells them)."""
    _require_mentor(mentor)
    session = Session.objects.select_for_update().get(pk=session.pk, mentor=mentor)
    if session.state not in (SessionState.DRAFT, SessionState.SCHEDULED):
        raise Conflict("not_editable", "Only drafts and scheduled sessions can be edited.")
    data = _validate(data)
    taken = seats_taken(session)
    if taken:
        if data.price_paise != session.price_paise:
            raise Conflict(
                "price_locked",
                "Learners have booked at this price; it cannot change now.",
                fields={"price_paise": "Locked by existing bookings."},
            )
        if data.starts_at != session.starts_at or data.duration_minutes != session.duration_minutes:
            raise Conflict(
                "use_reschedule",
                "Sessions with bookings are moved with Reschedule, which tells the learners.",
                fields={"starts_at": "Use Reschedule."},
            )
    if data.capacity < taken:
        raise Conflict(
            "capacity_below_bookings", f"{taken} seats are already booked.", fields={"capacity": f"At least {taken}."}
        )
    if data.starts_at != session.starts_at:
        _check_future(data.starts_at)
    for name, value in data.__dict__.items():
        setattr(session, name, value)
    if session.state == SessionState.SCHEDULED:
        _lock_mentor(mentor)
        _check_no_overlap(
            mentor,
            session.starts_at,
            session.starts_at + timedelta(minutes=session.duration_minutes),
            exclude=session.pk,
        )
    _save_checked(session)
    if session.state == SessionState.SCHEDULED:
        publish("session.updated", to=_audience(session), data={"session": session.pk})
    return session


def _audience(session: Session) -> list[int]:
    learners = list(session.bookings.filter(_active_q()).values_list("learner_id", flat=True))
    return [session.mentor_id, *learners]


@transaction.atomic
def session_publish(*, mentor: User, session: Session) -> Session:
    _require_mentor(mentor)
    if not mentor.is_approved_mentor:
        raise Forbidden("mentor_pending", "Your profile is waiting for approval; you can publish once approved.")
    _lock_mentor(mentor)
    session = Session.objects.select_for_update().get(pk=session.pk, mentor=mentor)
    if session.state != SessionState.DRAFT:
        raise Conflict("not_draft", "Only drafts can be published.")
    _check_future(session.starts_at)
    _check_no_overlap(mentor, session.starts_at, session.ends_at, exclude=session.pk)
    session.state = SessionState.SCHEDULED
    _save_checked(session)
    publish("session.published", to=[mentor], data={"session": session.pk})
    return session


@transaction.atomic
def session_reschedule(*, mentor: User, session: Session, starts_at: datetime) -> Session:
    """Move a scheduled session; its bookings follow and each invite's SEQUENCE goes up."""
    _require_mentor(mentor)
    _lock_mentor(mentor)
    session = Session.objects.select_for_update().get(pk=session.pk, mentor=mentor)
    if session.state != SessionState.SCHEDULED:
        raise Conflict("not_reschedulable", "Only scheduled sessions can be rescheduled.")
    if timezone.is_naive(starts_at):
        raise DomainError(
            "invalid", "Give the start time with its timezone.", fields={"starts_at": "Timezone missing."}
        )
    _check_future(starts_at)
    if starts_at == session.starts_at:
        return session
    _check_no_overlap(mentor, starts_at, starts_at + timedelta(minutes=session.duration_minutes), exclude=session.pk)
    previous = session.starts_at
    session.starts_at = starts_at
    session.sequence += 1
    _save_checked(session)
    publish(
        "session.rescheduled",
        to=_audience(session),
        data={"session": session.pk, "from": previous.isoformat(), "to": starts_at.isoformat()},
    )
    return session


@transaction.atomic
def session_cancel(*, mentor: User, session: Session, reason: str = "") -> Session:
    """Mentor cancels: every learner holding a seat gets a full refund of what they paid."""
    _require_mentor(mentor)
    session = Session.objects.select_for_update().get(pk=session.pk, mentor=mentor)
    if session.state not in (SessionState.DRAFT, SessionState.SCHEDULED):
        raise Conflict("not_cancellable", "This session can no longer be cancelled.")
    audience = _audience(session)
    now = timezone.now()
    for booking in session.bookings.select_for_update().filter(state__in=[BookingState.HELD, BookingState.CONFIRMED]):
        booking.refund_paise = session.price_paise if booking.state == BookingState.CONFIRMED else 0
        booking.state = BookingState.CANCELLED
        booking.cancelled_at = now
        booking.cancelled_by = "mentor"
        booking.save(update_fields=["state", "cancelled_at", "cancelled_by", "refund_paise"])
    session.state = SessionState.CANCELLED
    session.save(update_fields=["state", "updated_at"])
    publish("session.cancelled", to=audience, data={"session": session.pk, "reason": reason[:300]})
    return session


# --- bookings -------------------------------------------------------------------------------------
@transaction.atomic
def booking_create(*, learner: User, session: Session) -> Booking:
    """Book a seat. Free: confirmed at once. Paid: the seat is held while the learner pays.

    The session row is locked for the count-then-insert, so the last seat goes to exactly one
    learner however many try at once (PostgreSQL: row lock; SQLite: IMMEDIATE transaction).
    """
    if learner.role != Role.LEARNER:
        raise Forbidden("wrong_role", "Only learners book sessions.")
    session = Session.objects.select_for_update().filter(pk=session.pk).first()
    if session is None or session.is_private:
        raise DomainError("not_found", "That session does not exist.")
    if session.mentor_id == learner.pk:
        raise Conflict("own_session", "You cannot book your own session.")
    if session.state == SessionState.CANCELLED:
        raise Conflict("session_cancelled", "This session was cancelled.")
    if session.state != SessionState.SCHEDULED or session.starts_at <= timezone.now():
        raise Conflict("not_bookable", "This session is no longer open for booking.")
    now = timezone.now()
    # A hold that ran out frees its seat and lets the same learner book again.
    session.bookings.filter(state=BookingState.HELD, hold_expires_at__lte=now).update(state=BookingState.EXPIRED)
    if session.bookings.filter(learner=learner, state__in=[BookingState.HELD, BookingState.CONFIRMED]).exists():
        raise Conflict("already_booked", "You already have a seat in this session.")
    if seats_taken(session) >= session.capacity:
        raise Conflict("session_full", "This session is full. Join the waitlist to be offered a freed seat.")
    paid = session.price_paise > 0
    try:
        with transaction.atomic():
            booking = Booking.objects.create(
                session=session,
                learner=learner,
                state=BookingState.HELD if paid else BookingState.CONFIRMED,
                hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES) if paid else None,
                confirmed_at=None if paid else now,
            )
    except IntegrityError:
        raise Conflict("already_booked", "You already have a seat in this session.") from None
    publish(
        "booking.created",
        to=[learner, session.mentor_id],
        data={"booking": booking.pk, "session": session.pk, "state": booking.state},
    )
    return booking


def cancellation_quote(booking: Booking, *, now: datetime | None = None) -> dict:
    """What the learner gets back if they cancel now (shown before they confirm)."""
    now = now or timezone.now()
    paid = booking.session.price_paise if booking.state == BookingState.CONFIRMED else 0
    cutoff = booking.session.starts_at - timedelta(hours=settings.FULL_REFUND_HOURS_BEFORE)
    if not paid:
        refund, rule = 0, "nothing_paid"
    elif now <= cutoff:
        refund, rule = paid, "full_refund"
    else:
        refund, rule = 0, "too_late"
    return {"paid_paise": paid, "refund_paise": refund, "rule": rule, "full_refund_until": cutoff}


@transaction.atomic
def booking_cancel(*, learner: User, booking: Booking) -> Booking:
    booking = Booking.objects.select_for_update().select_related("session").get(pk=booking.pk, learner=learner)
    if booking.state not in (BookingState.HELD, BookingState.CONFIRMED):
        raise Conflict("not_cancellable", "This booking is not active.")
    if booking.session.starts_at <= timezone.now():
        raise Conflict("session_started", "The session has started; it can no longer be cancelled.")
    quote = cancellation_quote(booking)
    booking.state = BookingState.CANCELLED
    booking.cancelled_at = timezone.now()
    booking.cancelled_by = "learner"
    booking.refund_paise = quote["refund_paise"]
    booking.save(update_fields=["state", "cancelled_at", "cancelled_by", "refund_paise"])
    publish(
        "booking.cancelled",
        to=[learner, booking.session.mentor_id],
        data={"booking": booking.pk, "session": booking.session_id},
    )
    return booking
