"""Marketplace reads. Public lists show what anyone may see; per-user reads check access and
fetch related rows in the same query (no N+1)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Avg, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from backend.accounts.models import ApprovalState, User
from backend.core import sql
from backend.marketplace import search
from backend.marketplace.models import Booking, BookingState, Domain, Session, SessionState

MAX_SESSION_MINUTES = 240


def active_seat_filter(prefix: str = "") -> Q:
    """Bookings holding a seat: confirmed, or held and not yet expired."""
    return Q(**{f"{prefix}state": BookingState.CONFIRMED}) | Q(
        **{f"{prefix}state": BookingState.HELD, f"{prefix}hold_expires_at__gt": timezone.now()}
    )


def with_seats(qs: QuerySet) -> QuerySet:
    """Annotate seats_taken with a correlated subquery: it runs only for the rows
    a page returns, where a JOIN + GROUP BY would aggregate every matching session first."""
    taken = (
        Booking.objects.filter(active_seat_filter(), session=OuterRef("pk"))
        .order_by()
        .values("session")
        .annotate(n=Count("*"))
        .values("n")
    )
    # seats_left is Session.seats_left (Python), so the subquery runs once per row, not twice.
    return qs.annotate(seats_taken=Coalesce(Subquery(taken, output_field=IntegerField()), 0))


def _public_sessions():
    return with_seats(
        Session.objects.filter(is_private=False).select_related("mentor", "mentor__mentor_profile", "domain")
    )


def sessions_live_now():
    return _public_sessions().filter(state=SessionState.LIVE).order_by("starts_at")


def sessions_upcoming(*, limit: int = 12, domain: Domain | None = None):
    qs = _public_sessions().filter(state=SessionState.SCHEDULED, starts_at__gt=timezone.now())
    if domain is not None:
        qs = qs.filter(domain=domain)
    return qs.order_by("starts_at")[:limit]


def sessions_search(
    *,
    q: str = "",
    domain: str = "",
    free: bool | None = None,
    price_min: int | None = None,
    price_max: int | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    mentor_id: int | None = None,
) -> QuerySet:
    """Upcoming public sessions matching the filters, soonest first (ties broken by id).

    A light queryset (no joins, no seat counts) to paginate; pass the page to
    `sessions_with_details`. Counting seats for every match before the ORDER BY ... LIMIT was
    the slowest part of a search.
    """
    now = timezone.now()
    # The starts_at bound (sessions last at most 4 hours) lets the database walk the starts_at
    # index from "now" in order and stop after one page, instead of sorting every session.
    qs = Session.objects.filter(
        is_private=False,
        state__in=[SessionState.SCHEDULED, SessionState.LIVE],
        starts_at__gt=now - timedelta(minutes=MAX_SESSION_MINUTES),
        ends_at__gt=now,
    )
    if domain:
        # Compared with the id (a scalar subquery evaluated once), not joined on the slug, so the
        # (domain, starts_at) index is walked, and without a separate query for the id.
        qs = qs.filter(domain_id=Subquery(Domain.objects.filter(slug=domain).values("id")[:1]))
    if q:
        qs = search.filter_text(qs, q)
    if free is True:
        qs = qs.filter(price_paise=0)
    elif free is False:
        qs = qs.filter(price_paise__gt=0)
    if price_min is not None:
        qs = qs.filter(price_paise__gte=price_min)
    if price_max is not None:
        qs = qs.filter(price_paise__lte=price_max)
    if date_from is not None:
        qs = qs.filter(starts_at__gte=date_from)
    if date_to is not None:
        qs = qs.filter(starts_at__lt=date_to)
    if mentor_id is not None:
        qs = qs.filter(mentor_id=mentor_id)
    return qs.only("id", "starts_at").order_by("starts_at", "id")


def sessions_with_details(page) -> list[Session]:
    """The full rows (mentor, profile, domain, seat counts) for a page of sessions, in order."""
    ids = [session.pk for session in page]
    found = {s.pk: s for s in _public_sessions().filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def get_session_for_viewer(user, session_id: int) -> Session:
    """A session page: public sessions for everyone; drafts and private sessions only for
    their mentor (and a private session's booked learner)."""
    session = (
        with_seats(Session.objects.select_related("mentor", "mentor__mentor_profile", "domain"))
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise Http404
    public = not session.is_private and session.state != SessionState.DRAFT
    if public or (user.is_authenticated and session.mentor_id == user.pk):
        return session
    if user.is_authenticated and session.is_private and session.bookings.filter(learner=user).exists():
        return session
    raise Http404


# The two access gates an offline replay runs per queued booking or cancellation, in SQL
# written once (backend/core/sql.py says why).
_SESSION_TO_JOIN_SQL = (
    "SELECT id, mentor_id, state, is_private FROM marketplace_session WHERE id = %s AND NOT is_private AND state <> %s"
)
_OWN_BOOKING_SQL = "SELECT id, learner_id, session_id FROM marketplace_booking WHERE id = %s AND learner_id = %s"


def get_session_to_join(user, session_id: int) -> Session:
    """The session a learner books or waits for, when they may see it: public and published
    (the booking services lock and re-read it; this is only the access gate)."""
    session = (
        sql.one(Session, _SESSION_TO_JOIN_SQL, [session_id, SessionState.DRAFT]) if sql.is_id(session_id) else None
    )
    if session is None:
        raise Http404
    return session


def get_session_for_mentor(mentor: User, session_id: int) -> Session:
    session = (
        with_seats(Session.objects.select_related("domain", "mentor", "mentor__mentor_profile"))
        .filter(pk=session_id, mentor=mentor)
        .first()
    )
    if session is None:
        raise Http404
    return session


def sessions_of_mentor(mentor: User, *, state: str | None = None) -> QuerySet:
    qs = with_seats(Session.objects.filter(mentor=mentor).select_related("domain", "mentor", "mentor__mentor_profile"))
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("starts_at", "id")


def get_booking_for_user(user: User, booking_id: int) -> Booking:
    """A booking is visible to its learner and to the session's mentor, nobody else."""
    booking = (
        Booking.objects.select_related(
            "session", "session__mentor", "session__mentor__mentor_profile", "session__domain", "learner"
        )
        .filter(pk=booking_id)
        .filter(Q(learner=user) | Q(session__mentor=user))
        .first()
    )
    if booking is None:
        raise Http404
    return booking


def get_own_booking(learner: User, booking_id: int) -> Booking:
    """The learner's own booking, as the access gate for services that lock and re-read it."""
    booking = sql.one(Booking, _OWN_BOOKING_SQL, [booking_id, learner.pk]) if sql.is_id(booking_id) else None
    if booking is None:
        raise Http404
    return booking


def bookings_of_learner(learner: User, *, when: str = "upcoming") -> QuerySet:
    now = timezone.now()
    qs = Booking.objects.filter(learner=learner).select_related(
        "session", "session__mentor", "session__mentor__mentor_profile", "session__domain"
    )
    if when == "upcoming":
        return qs.filter(
            active_seat_filter(),
            session__state__in=[SessionState.SCHEDULED, SessionState.LIVE],
            session__ends_at__gt=now,
        ).order_by("session__starts_at", "id")
    if when == "past":
        # Past includes bookings that ended early: cancelled or expired holds.
        return qs.filter(
            Q(session__ends_at__lte=now)
            | Q(session__state__in=[SessionState.COMPLETED, SessionState.CANCELLED])
            | Q(state__in=[BookingState.CANCELLED, BookingState.EXPIRED])
        ).order_by("-session__starts_at", "-id")
    return qs.order_by("-created_at", "-id")


def bookings_for_learner(learner: User, *, upcoming: bool):
    return bookings_of_learner(learner, when="upcoming" if upcoming else "past")


def domains_with_counts():
    return Domain.objects.annotate(
        upcoming=Count(
            "sessions",
            filter=Q(
                sessions__state=SessionState.SCHEDULED,
                sessions__starts_at__gt=timezone.now(),
                sessions__is_private=False,
            ),
        )
    ).order_by("position", "name")  # Meta.ordering is dropped in GROUP BY queries


def mentors_top(*, limit: int = 8):
    """Approved, active mentors ranked by average rating, then by number of reviews."""
    return (
        User.objects.filter(role="mentor", is_active=True, mentor_profile__approval_state=ApprovalState.APPROVED)
        .select_related("mentor_profile")
        .annotate(
            rating=Avg("sessions__bookings__review__rating"),
            review_count=Count("sessions__bookings__review", distinct=True),
        )
        .order_by(F("rating").desc(nulls_last=True), "-review_count", "full_name")[:limit]
    )


def requests_of_user(user: User, *, state: str | None = None) -> QuerySet:
    """Requests a learner sent or a mentor received (expired ones are shown as such by the job)."""
    from backend.marketplace.models import SessionRequest

    qs = SessionRequest.objects.select_related("learner", "mentor", "mentor__mentor_profile", "session")
    qs = qs.filter(learner=user) if user.role == "learner" else qs.filter(mentor=user)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-id")


def get_request_for_user(user: User, request_id: int):
    from backend.marketplace.models import SessionRequest

    request = (
        SessionRequest.objects.select_related("learner", "mentor", "mentor__mentor_profile", "session")
        .filter(pk=request_id)
        .filter(Q(learner=user) | Q(mentor=user))
        .first()
    )
    if request is None:
        raise Http404
    return request


def get_waitlist_entry_for_learner(learner: User, entry_id: int):
    from backend.marketplace.models import WaitlistEntry

    entry = WaitlistEntry.objects.select_related("session").filter(pk=entry_id, learner=learner).first()
    if entry is None:
        raise Http404
    return entry
