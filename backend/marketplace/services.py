"""Marketplace writes: availability, sessions, bookings. Pages, the REST API, offline sync
and jobs all call these; each validates, writes in one transaction and publishes events
after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from backend.accounts.audit import audit_record
from backend.accounts.models import ApprovalState, Role, User
from backend.core import sql
from backend.core.errors import Conflict, DomainError, Forbidden
from backend.core.events import publish
from backend.marketplace.live import announce_seats
from backend.marketplace.models import (
    OPEN_REQUEST_STATES,
    AvailabilityException,
    AvailabilityWindow,
    Booking,
    BookingState,
    Domain,
    Follow,
    RequestState,
    Review,
    Session,
    SessionRequest,
    SessionState,
    WaitlistEntry,
    WaitlistState,
)
from backend.payments.services import refunds_for_booking

UTC_ZONE = ZoneInfo("UTC")

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


def _valid_price(paise: int) -> bool:
    return paise == 0 or 100 <= paise <= settings.MAX_SESSION_PRICE_PAISE


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
    publish("session.created", to=[mentor], data={"session": session.pk}, actor=mentor)
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
    publish("session.updated", to=_audience(session), data={"session": session.pk}, actor=session.mentor_id)
    if session.state == SessionState.SCHEDULED:
        announce_seats(session.pk)  # the capacity may have changed
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
    followers = list(Follow.objects.filter(mentor=mentor).values_list("learner_id", flat=True))
    publish(
        "session.published", to=[mentor, *followers], data={"session": session.pk, "mentor": mentor.pk}, actor=mentor
    )
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
        actor=mentor,
    )
    return session


@transaction.atomic
def session_cancel(*, mentor: User, session: Session, reason: str = "") -> Session:
    """Mentor cancels: every learner holding a seat gets a full refund of what they paid."""
    _require_mentor(mentor)
    session = Session.objects.select_for_update().get(pk=session.pk, mentor=mentor)
    if session.state not in (SessionState.DRAFT, SessionState.SCHEDULED):
        raise Conflict("not_cancellable", "This session can no longer be cancelled.")
    _cancel_session(session, by="mentor", reason=reason, requested_by=mentor)
    return session


def _cancel_session(session: Session, *, by: str, reason: str, requested_by=None) -> None:
    """Cancel a locked session and every seat in it; confirmed seats are refunded in full
    (the refunds reach the gateway after commit)."""
    audience = _audience(session)
    now = timezone.now()
    only_held = set()  # learners who were still paying: nothing to give back, and told so
    for booking in session.bookings.select_for_update().filter(state__in=[BookingState.HELD, BookingState.CONFIRMED]):
        if booking.state == BookingState.HELD:
            only_held.add(booking.learner_id)
        booking.refund_paise = session.price_paise if booking.state == BookingState.CONFIRMED else 0
        booking.state = BookingState.CANCELLED
        booking.cancelled_at = now
        booking.cancelled_by = by
        booking.save(update_fields=["state", "cancelled_at", "cancelled_by", "refund_paise"])
        if booking.refund_paise:
            refunds_for_booking(
                booking=booking,
                amount_paise=booking.refund_paise,
                reason="no_show" if by == "no_show" else f"{by}_cancel",
                requested_by=requested_by,
            )
    session.state = SessionState.CANCELLED
    session.save(update_fields=["state", "updated_at"])
    # The line for a seat closes too, and the people in it hear why (they paid nothing).
    in_line = WaitlistEntry.objects.filter(session=session, state__in=[WaitlistState.WAITING, WaitlistState.OFFERED])
    waiting = set(in_line.values_list("learner_id", flat=True))
    in_line.update(state=WaitlistState.CLOSED)
    data = {"session": session.pk, "reason": reason[:300], "by": by}
    paid = [pk for pk in audience if pk not in only_held]
    publish("session.cancelled", to=paid, data={**data, "refund": session.price_paise > 0}, actor=requested_by)
    if unpaid := sorted({pk for pk in audience if pk in only_held} | (waiting - set(audience))):
        publish("session.cancelled", to=unpaid, data={**data, "refund": False}, actor=requested_by)
    announce_seats(session.pk)


@transaction.atomic
def session_no_show(*, session: Session) -> bool:
    """The mentor never came: PRODUCT.md's no-show rule cancels the session and refunds every
    confirmed seat in full. The caller (a job) decides it is a no-show from the room's presence
    records; this re-checks the state under the lock, so a late "Go live" wins or loses cleanly."""
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.state != SessionState.SCHEDULED:
        return False
    _cancel_session(session, by="no_show", reason="The mentor did not join the session.")
    return True


# The states an admin may cancel: before it happens, and while it is live (a call to stop). A
# completed session is refunded payment by payment (payments.services.refund_by_admin) instead.
ADMIN_CANCELLABLE = (SessionState.DRAFT, SessionState.SCHEDULED, SessionState.LIVE)


@transaction.atomic
def session_cancel_by_admin(*, admin: User, session: Session, reason: str, request=None) -> Session:
    """An admin cancels a mentor's session (a policy breach, a mentor who cannot come and cannot
    be reached, a call to stop): every confirmed seat is refunded in full, held seats are
    released, and the learners and the mentor are told why. The session row is locked first, so
    two admins, or an admin and the mentor, racing to cancel get one cancel and one refusal."""
    if getattr(admin, "role", None) != Role.ADMIN:
        raise Forbidden("wrong_role", "Only admins cancel other people's sessions.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "reason_required",
            "Say why the session is cancelled: the learners and the mentor are told.",
            fields={"reason": "Say why."},
        )
    if len(reason) > 300:
        raise DomainError("invalid", "Keep the reason under 300 characters.", fields={"reason": "Too long."})
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.state == SessionState.CANCELLED:
        raise Conflict("already_cancelled", "This session is already cancelled.")
    if session.state not in ADMIN_CANCELLABLE:
        raise Conflict(
            "not_cancellable",
            "A completed session cannot be cancelled. To give money back, refund its payments under Payments.",
        )
    seats = session.bookings.aggregate(
        confirmed=Count("id", filter=Q(state=BookingState.CONFIRMED)),
        held=Count("id", filter=Q(state=BookingState.HELD)),
    )
    previous = session.state
    _cancel_session(session, by="admin", reason=reason, requested_by=admin)
    audit_record(
        action="session.cancelled_by_admin",
        actor=admin,
        request=request,
        target=session,
        reason=reason,
        previous_state=previous,
        mentor=session.mentor_id,
        confirmed_seats=seats["confirmed"],
        held_seats=seats["held"],
        refund_each_paise=session.price_paise,
    )
    return session


# --- bookings -------------------------------------------------------------------------------------
# The reads of booking and cancelling, in SQL written once (backend/core/sql.py says why): only
# what the checks read, since replays book hundreds at a time and a full session row is mostly text.
_SESSION_TO_BOOK_SQL = (
    "SELECT id, mentor_id, is_private, state, starts_at, capacity, price_paise FROM marketplace_session WHERE id = %s"
)
# The session's live bookings (at most its capacity plus lapsed holds), read once and counted in
# Python: cheaper than an aggregate with three filtered counts.
_LIVE_BOOKINGS_SQL = (
    "SELECT id, learner_id, state, hold_expires_at FROM marketplace_booking WHERE session_id = %s AND state IN (%s, %s)"
)
_BOOKING_TO_CANCEL_SQL = (
    "SELECT id, session_id, learner_id, state, refund_paise FROM marketplace_booking WHERE id = %s AND learner_id = %s"
)
_SESSION_OF_BOOKING_SQL = (
    "SELECT id, mentor_id, state, starts_at, price_paise, capacity FROM marketplace_session WHERE id = %s"
)
_OFFER_GIVEN_BACK_SQL = "UPDATE marketplace_waitlistentry SET state = %s WHERE offered_booking_id = %s"
_ANYONE_WAITING_SQL = "SELECT 1 FROM marketplace_waitlistentry WHERE session_id = %s AND state IN (%s, %s) LIMIT 1"


@transaction.atomic
def booking_create(*, learner: User, session: Session) -> Booking:
    """Book a seat. Free: confirmed at once. Paid: the seat is held while the learner pays.

    The session row is locked for the count-then-insert, so the last seat goes to exactly one
    learner however many try at once (PostgreSQL: row lock; SQLite: IMMEDIATE transaction).
    """
    if learner.role != Role.LEARNER:
        raise Forbidden("wrong_role", "Only learners book sessions.")
    session = sql.one(Session, _SESSION_TO_BOOK_SQL + sql.for_update(), [session.pk])
    if session is None or session.is_private:
        raise DomainError("not_found", "That session does not exist.")
    if session.mentor_id == learner.pk:
        raise Conflict("own_session", "You cannot book your own session.")
    if session.state == SessionState.CANCELLED:
        raise Conflict("session_cancelled", "This session was cancelled.")
    if session.state != SessionState.SCHEDULED or session.starts_at <= timezone.now():
        raise Conflict("not_bookable", "This session is no longer open for booking.")
    now = timezone.now()
    live = list(Booking.objects.raw(_LIVE_BOOKINGS_SQL, [session.pk, BookingState.HELD, BookingState.CONFIRMED]))
    holding = [
        b.learner_id
        for b in live
        if b.state == BookingState.CONFIRMED or b.hold_expires_at is None or b.hold_expires_at > now
    ]
    if len(holding) < len(live):
        # Holds that ran out free their seats (the minute job would too) and let their learners
        # book again under the one-live-booking rule.
        session.bookings.filter(state=BookingState.HELD, hold_expires_at__lte=now).update(state=BookingState.EXPIRED)
    if learner.pk in holding:
        raise Conflict("already_booked", "You already have a seat in this session.")
    if len(holding) >= session.capacity:
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
        data={
            "booking": booking.pk,
            "session": session.pk,
            "state": booking.state,
            "learner": learner.pk,
            "mentor": session.mentor_id,
        },
        actor=learner,
    )
    announce_seats(session.pk)
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
    # The session first, then the booking: the order every other writer of a session's seats
    # locks in (an admin cancelling the session at the same moment must not deadlock with this).
    session = sql.one(Session, _SESSION_OF_BOOKING_SQL + sql.for_update(), [booking.session_id])
    booking = sql.one(Booking, _BOOKING_TO_CANCEL_SQL + sql.for_update(), [booking.pk, learner.pk])
    if booking is None or session is None:
        raise Booking.DoesNotExist
    booking.session = session
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
    if booking.refund_paise:
        refunds_for_booking(
            booking=booking, amount_paise=booking.refund_paise, reason="learner_cancel", requested_by=learner
        )
    with connection.cursor() as cursor:  # a waitlist offer given back (rare; the ORM's update cost 0.3 ms)
        cursor.execute(_OFFER_GIVEN_BACK_SQL, [WaitlistState.LEFT, booking.pk])
    publish(
        "booking.cancelled",
        to=[learner, booking.session.mentor_id],
        data={"booking": booking.pk, "session": booking.session_id},
        actor=learner,
    )
    waitlist_offer_free_seats(session=booking.session)  # the freed seat goes to the next in line
    announce_seats(booking.session_id)
    return booking


# --- waitlist -------------------------------------------------------------------------------------
@transaction.atomic
def waitlist_join(*, learner: User, session: Session) -> WaitlistEntry:
    if learner.role != Role.LEARNER:
        raise Forbidden("wrong_role", "Only learners join waitlists.")
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.is_private or session.state != SessionState.SCHEDULED or session.starts_at <= timezone.now():
        raise Conflict("not_bookable", "This session is no longer open.")
    if session.bookings.filter(_active_q(), learner=learner).exists():
        raise Conflict("already_booked", "You already have a seat in this session.")
    if seats_taken(session) < session.capacity:
        raise Conflict("seats_available", "A seat is free: book it directly.")
    entry, created = WaitlistEntry.objects.get_or_create(
        session=session,
        learner=learner,
        state__in=[WaitlistState.WAITING, WaitlistState.OFFERED],
        defaults={"state": WaitlistState.WAITING},
    )
    if created:
        publish("waitlist.joined", to=[learner], data={"session": session.pk, "entry": entry.pk})
    return entry


@transaction.atomic
def waitlist_leave(*, learner: User, entry: WaitlistEntry) -> WaitlistEntry:
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk, learner=learner)
    if (
        entry.state == WaitlistState.OFFERED
        and entry.offered_booking
        and entry.offered_booking.state == BookingState.HELD
    ):
        Booking.objects.filter(pk=entry.offered_booking_id).update(
            state=BookingState.CANCELLED, cancelled_at=timezone.now(), cancelled_by="learner"
        )
        publish(
            "booking.cancelled",
            to=[learner],
            data={"booking": entry.offered_booking_id, "session": entry.session_id},
            actor=learner,
        )
    if entry.state in (WaitlistState.WAITING, WaitlistState.OFFERED):
        entry.state = WaitlistState.LEFT
        entry.save(update_fields=["state"])
        waitlist_offer_free_seats(session=entry.session)
        announce_seats(entry.session_id)
    return entry


@transaction.atomic
def waitlist_offer_free_seats(*, session: Session) -> list[Booking]:
    """Offer each free seat to the next waiting learner as a timed hold. Safe to call often
    (the job calls it every minute): missed offers are closed first, then seats counted under
    the session lock."""
    if not sql.exists(_ANYONE_WAITING_SQL, [session.pk, WaitlistState.WAITING, WaitlistState.OFFERED]):
        return []  # nobody in line (the common case after a cancel): the minute job tidies holds
    session = Session.objects.select_for_update().get(pk=session.pk)
    now = timezone.now()
    expired = session.bookings.filter(state=BookingState.HELD, hold_expires_at__lte=now).update(
        state=BookingState.EXPIRED
    )
    if expired:
        announce_seats(session.pk)
    WaitlistEntry.objects.filter(
        session=session, state=WaitlistState.OFFERED, offered_booking__state=BookingState.EXPIRED
    ).update(state=WaitlistState.MISSED)
    offers = []
    if session.state != SessionState.SCHEDULED or session.starts_at <= now:
        return offers
    free = session.capacity - seats_taken(session)
    for entry in WaitlistEntry.objects.filter(session=session, state=WaitlistState.WAITING).select_related("learner")[
        : max(free, 0)
    ]:
        expires = min(now + timedelta(minutes=settings.WAITLIST_OFFER_MINUTES), session.starts_at)
        booking = Booking.objects.create(
            session=session, learner=entry.learner, state=BookingState.HELD, hold_expires_at=expires
        )
        entry.state = WaitlistState.OFFERED
        entry.offered_booking = booking
        entry.save(update_fields=["state", "offered_booking"])
        publish(
            "waitlist.offered",
            to=[entry.learner_id],
            data={"session": session.pk, "booking": booking.pk, "expires_at": expires.isoformat()},
        )
        offers.append(booking)
    return offers


@transaction.atomic
def booking_claim(*, learner: User, booking: Booking) -> Booking:
    """Take a held seat of a free session (a waitlist offer or an accepted free request).
    Paid holds are confirmed by the payment instead."""
    booking = Booking.objects.select_for_update().select_related("session").get(pk=booking.pk, learner=learner)
    if booking.state != BookingState.HELD or booking.hold_expires_at <= timezone.now():
        raise Conflict("hold_expired", "This offer has expired.")
    if booking.session.price_paise:
        raise Conflict("payment_required", "Complete the payment to confirm this seat.")
    booking.state = BookingState.CONFIRMED
    booking.confirmed_at = timezone.now()
    booking.save(update_fields=["state", "confirmed_at"])
    WaitlistEntry.objects.filter(offered_booking=booking).update(state=WaitlistState.CLAIMED)
    publish(
        "booking.confirmed",
        to=[learner, booking.session.mentor_id],
        data={
            "booking": booking.pk,
            "session": booking.session_id,
            "learner": learner.pk,
            "mentor": booking.session.mentor_id,
        },
        actor=learner,
    )
    return booking


# --- follows --------------------------------------------------------------------------------------
# Written once (backend/core/sql.py says why): follows are a third of a typical offline queue.
_APPROVED_MENTOR_SQL = (
    "SELECT u.* FROM accounts_user u JOIN accounts_mentorprofile p ON p.user_id = u.id "
    "WHERE u.id = %s AND u.role = %s AND u.is_active AND p.approval_state = %s"
)


def _approved_mentor(mentor_id: int) -> User:
    mentor = (
        sql.one(User, _APPROVED_MENTOR_SQL, [mentor_id, Role.MENTOR, ApprovalState.APPROVED])
        if sql.is_id(mentor_id)
        else None
    )
    if mentor is None:
        raise DomainError("mentor_unavailable", "That mentor is not taking learners right now.")
    return mentor


@transaction.atomic
def follow(*, learner: User, mentor_id: int) -> Follow:
    if learner.role != Role.LEARNER:
        raise Forbidden("wrong_role", "Only learners follow mentors.")
    mentor = _approved_mentor(mentor_id)
    record, created = Follow.objects.get_or_create(learner=learner, mentor=mentor)
    if created:
        publish("mentor.followed", to=[mentor], data={"learner": learner.pk}, actor=learner)
    return record


@transaction.atomic
def unfollow(*, learner: User, mentor_id: int) -> None:
    Follow.objects.filter(learner=learner, mentor_id=mentor_id).delete()


# --- availability checks for requests -------------------------------------------------------------
@transaction.atomic
def availability_exception_set(*, mentor: User, day: date, away: bool, note: str = "") -> None:
    _require_mentor(mentor)
    if away and day < timezone.now().astimezone(ZoneInfo(mentor.timezone)).date():
        raise DomainError(
            "date_in_past", "Away days are today or later.", fields={"date": "Pick today or a later day."}
        )
    if away:
        AvailabilityException.objects.update_or_create(mentor=mentor, date=day, defaults={"note": note[:120]})
    else:
        AvailabilityException.objects.filter(mentor=mentor, date=day).delete()


def is_within_availability(mentor: User, starts_at: datetime, duration_minutes: int) -> bool:
    """Inside one of the mentor's weekly windows, on a day they are not away (their timezone)."""
    zone = ZoneInfo(mentor.timezone)
    start = starts_at.astimezone(zone)
    end = (starts_at + timedelta(minutes=duration_minutes)).astimezone(zone)
    if end.date() != start.date() and end.time() != time(0, 0):
        return False
    if AvailabilityException.objects.filter(mentor=mentor, date=start.date()).exists():
        return False
    end_time = time(23, 59, 59) if end.time() == time(0, 0) else end.time()
    return AvailabilityWindow.objects.filter(
        mentor=mentor, weekday=start.weekday(), start_time__lte=start.time(), end_time__gte=end_time
    ).exists()


# --- requests -------------------------------------------------------------------------------------
@dataclass
class RequestInput:
    topic: str
    preferred_times: list[datetime]
    duration_minutes: int
    description: str = ""
    budget_paise: int = 0


def _expire_if_due(request: SessionRequest) -> SessionRequest:
    if request.state in OPEN_REQUEST_STATES and request.expires_at <= timezone.now():
        request.state = RequestState.EXPIRED
        request.version += 1
        request.save(update_fields=["state", "version", "updated_at"])
    return request


@transaction.atomic
def request_create(*, learner: User, mentor_id: int, data: RequestInput) -> SessionRequest:
    if learner.role != Role.LEARNER:
        raise Forbidden("wrong_role", "Only learners send requests.")
    mentor = _approved_mentor(mentor_id)
    errors = {}
    topic = " ".join((data.topic or "").split())
    if not 5 <= len(topic) <= 140:
        errors["topic"] = "Use 5 to 140 characters."
    if len(data.description or "") > 2000:
        errors["description"] = "Keep it under 2,000 characters."
    if not 15 <= data.duration_minutes <= 240 or data.duration_minutes % 5:
        errors["duration_minutes"] = "15 to 240 minutes, in steps of 5."
    if not _valid_price(data.budget_paise):
        errors["budget_paise"] = "A budget is ₹0 (free) or between ₹1 and the maximum price."
    times = sorted(set(data.preferred_times))
    now = timezone.now()
    if not 1 <= len(times) <= 3 or len(times) != len(data.preferred_times):
        errors["preferred_times"] = "Give one to three different times."
    elif any(timezone.is_naive(t) or t <= now + timedelta(minutes=30) for t in times):
        errors["preferred_times"] = "Each time must be at least 30 minutes from now, with its timezone."
    elif any(t > now + timedelta(days=90) for t in times):
        errors["preferred_times"] = "Pick times within the next 90 days."
    elif not errors.get("duration_minutes") and not all(
        is_within_availability(mentor, t, data.duration_minutes) for t in times
    ):
        errors["preferred_times"] = "Some times are outside the mentor's availability."
    if errors:
        raise DomainError("invalid", "Some fields need attention.", fields=errors)
    # Lock the learner row so two quick submissions cannot both pass the check below.
    User.objects.select_for_update().filter(pk=learner.pk).first()
    if SessionRequest.objects.filter(
        learner=learner, mentor=mentor, state__in=OPEN_REQUEST_STATES, expires_at__gt=now
    ).exists():
        raise Conflict("request_open", "You already have an open request with this mentor.")
    request = SessionRequest.objects.create(
        learner=learner,
        mentor=mentor,
        topic=topic,
        description=(data.description or "").strip(),
        preferred_times=[t.astimezone(UTC_ZONE).isoformat() for t in times],
        duration_minutes=data.duration_minutes,
        budget_paise=data.budget_paise,
        expires_at=min(times[0], now + timedelta(hours=settings.REQUEST_TTL_HOURS)),
    )
    publish("request.created", to=[mentor, learner], data={"request": request.pk}, actor=learner)
    return request


def _lock_open_request(
    request: SessionRequest, *, version: int | None, states, mentor: User | None = None, learner: User | None = None
) -> SessionRequest:
    # A late answer is refused; the expiry written here rolls back with it, and the minute
    # job (requests_expire_due) records it. Pages already show such requests as expired.
    request = SessionRequest.objects.select_for_update().get(pk=request.pk)
    # Only the parties learn anything about a request, its state included.
    if (mentor is not None and request.mentor_id != mentor.pk) or (
        learner is not None and request.learner_id != learner.pk
    ):
        raise Forbidden("forbidden", "This request is not yours.")
    request = _expire_if_due(request)
    if request.state == RequestState.EXPIRED:
        raise Conflict("request_expired", "This request has expired.")
    if request.state not in states:
        raise Conflict("request_answered", "This request was already answered.")
    if version is not None and version != request.version:
        raise Conflict("stale_request", "This request changed since you opened it. Reload to see the latest.")
    return request


def _book_from_request(request: SessionRequest, *, starts_at: datetime, price_paise: int) -> Session:
    mentor = request.mentor
    _lock_mentor(mentor)
    _check_future(starts_at)
    ends_at = starts_at + timedelta(minutes=request.duration_minutes)
    _check_no_overlap(mentor, starts_at, ends_at)
    session = Session(
        mentor=mentor,
        title=request.topic,
        description=request.description,
        domain=mentor.mentor_profile.domains.order_by("position").first()
        or Domain.objects.order_by("position").first(),
        starts_at=starts_at,
        duration_minutes=request.duration_minutes,
        price_paise=price_paise,
        capacity=1,
        state=SessionState.SCHEDULED,
        is_private=True,
    )
    _save_checked(session)
    now = timezone.now()
    paid = price_paise > 0
    Booking.objects.create(
        session=session,
        learner=request.learner,
        state=BookingState.HELD if paid else BookingState.CONFIRMED,
        hold_expires_at=min(now + timedelta(hours=settings.REQUEST_PAYMENT_HOLD_HOURS), starts_at) if paid else None,
        confirmed_at=None if paid else now,
    )
    return session


@transaction.atomic
def request_accept(
    *, mentor: User, request: SessionRequest, starts_at: datetime, version: int | None = None
) -> SessionRequest:
    """The mentor picks one of the learner's times: a private session and a booking are made."""
    request = _lock_open_request(request, version=version, states=[RequestState.PENDING], mentor=mentor)
    if starts_at.astimezone(UTC_ZONE).isoformat() not in request.preferred_times:
        raise DomainError(
            "not_a_preferred_time",
            "Pick one of the learner's times, or counter-offer another.",
            fields={"starts_at": "Not one of the proposed times."},
        )
    request.session = _book_from_request(request, starts_at=starts_at, price_paise=request.budget_paise)
    request.state = RequestState.ACCEPTED
    request.version += 1
    request.save()
    publish(
        "request.accepted",
        to=[request.learner_id, mentor],
        data={"request": request.pk, "session": request.session_id},
        actor=mentor,
    )
    return request


@transaction.atomic
def request_counter(
    *, mentor: User, request: SessionRequest, starts_at: datetime, price_paise: int, version: int | None = None
) -> SessionRequest:
    request = _lock_open_request(request, version=version, states=[RequestState.PENDING], mentor=mentor)
    if timezone.is_naive(starts_at):
        raise DomainError("invalid", "Give the time with its timezone.", fields={"starts_at": "Timezone missing."})
    _check_future(starts_at)
    if not _valid_price(price_paise):
        raise DomainError(
            "invalid", "A price is ₹0 (free) or between ₹1 and the maximum.", fields={"price_paise": "Out of range."}
        )
    _check_no_overlap(mentor, starts_at, starts_at + timedelta(minutes=request.duration_minutes))
    request.state = RequestState.COUNTERED
    request.counter_starts_at = starts_at
    request.counter_price_paise = price_paise
    # The learner has until the proposed time (or 48 hours) to answer.
    request.expires_at = min(starts_at, timezone.now() + timedelta(hours=settings.REQUEST_TTL_HOURS))
    request.version += 1
    request.save()
    publish("request.countered", to=[request.learner_id, mentor], data={"request": request.pk}, actor=mentor)
    return request


@transaction.atomic
def request_counter_answer(
    *, learner: User, request: SessionRequest, accept: bool, version: int | None = None
) -> SessionRequest:
    request = _lock_open_request(request, version=version, states=[RequestState.COUNTERED], learner=learner)
    if accept:
        request.session = _book_from_request(
            request, starts_at=request.counter_starts_at, price_paise=request.counter_price_paise
        )
        request.state = RequestState.ACCEPTED
    else:
        request.state = RequestState.DECLINED
        request.decline_reason = "The learner declined the counter-offer."
    request.version += 1
    request.save()
    publish(
        "request.accepted" if accept else "request.declined",
        to=[request.mentor_id, learner],
        data={"request": request.pk},
        actor=learner,
    )
    return request


@transaction.atomic
def request_decline(
    *, mentor: User, request: SessionRequest, reason: str, version: int | None = None
) -> SessionRequest:
    request = _lock_open_request(request, version=version, states=[RequestState.PENDING], mentor=mentor)
    reason = " ".join((reason or "").split())
    if not 3 <= len(reason) <= 500:
        raise DomainError(
            "reason_required", "Tell the learner why (3 to 500 characters).", fields={"reason": "Give a reason."}
        )
    request.state = RequestState.DECLINED
    request.decline_reason = reason
    request.version += 1
    request.save()
    publish("request.declined", to=[request.learner_id, mentor], data={"request": request.pk}, actor=mentor)
    return request


@transaction.atomic
def request_withdraw(*, learner: User, request: SessionRequest) -> SessionRequest:
    request = _lock_open_request(request, version=None, states=OPEN_REQUEST_STATES, learner=learner)
    request.state = RequestState.WITHDRAWN
    request.version += 1
    request.save()
    publish("request.withdrawn", to=[request.mentor_id, learner], data={"request": request.pk}, actor=learner)
    return request


def requests_expire_due(now: datetime | None = None) -> int:
    """Mark open requests past their expiry as expired (run by the periodic job)."""
    now = now or timezone.now()
    due = SessionRequest.objects.filter(state__in=OPEN_REQUEST_STATES, expires_at__lte=now)
    expired = 0
    for request in due.only("pk"):
        with transaction.atomic():
            locked = SessionRequest.objects.select_for_update().get(pk=request.pk)
            before = locked.state
            if _expire_if_due(locked).state != before:
                expired += 1
                publish("request.expired", to=[locked.learner_id, locked.mentor_id], data={"request": locked.pk})
    return expired


# --- reviews --------------------------------------------------------------------------------------
@transaction.atomic
def review_create(*, learner: User, booking: Booking, rating: int, comment: str = "") -> Review:
    booking = Booking.objects.select_for_update().select_related("session").get(pk=booking.pk, learner=learner)
    if not (
        booking.attended and booking.session.state == SessionState.COMPLETED and booking.state == BookingState.CONFIRMED
    ):
        raise Forbidden("not_attended", "Only learners who attended the session can review it.")
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise DomainError("invalid", "Give 1 to 5 stars.", fields={"rating": "1 to 5 stars."})
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise DomainError("invalid", "Keep the comment under 2,000 characters.", fields={"comment": "Too long."})
    try:
        with transaction.atomic():
            review = Review.objects.create(booking=booking, rating=rating, comment=comment)
    except IntegrityError:
        raise Conflict("review_exists", "You already reviewed this session.") from None
    publish("review.created", to=[booking.session.mentor_id], data={"review": review.pk, "rating": rating})
    publish("booking.reviewed", to=[learner], data={"booking": booking.pk, "review": review.pk}, actor=learner)
    return review
