"""Marketplace reads for pages and APIs (public data only here; per-user reads check access)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Avg, Count, F, Q
from django.utils import timezone

from backend.accounts.models import ApprovalState, User
from backend.marketplace.models import Booking, BookingState, Domain, Session, SessionState


def _public_sessions():
    return (
        Session.objects.select_related("mentor", "mentor__mentor_profile", "domain")
        .annotate(
            seats_taken=Count("bookings", filter=Q(bookings__state__in=[BookingState.HELD, BookingState.CONFIRMED]))
        )
        .annotate(seats_left=F("capacity") - F("seats_taken"))
    )


def sessions_live_now():
    return _public_sessions().filter(state=SessionState.LIVE).order_by("starts_at")


def sessions_upcoming(*, limit: int = 12, domain: Domain | None = None):
    qs = _public_sessions().filter(state=SessionState.SCHEDULED, starts_at__gt=timezone.now())
    if domain is not None:
        qs = qs.filter(domain=domain)
    return qs.order_by("starts_at")[:limit]


def domains_with_counts():
    return Domain.objects.annotate(
        upcoming=Count(
            "sessions",
            filter=Q(sessions__state=SessionState.SCHEDULED, sessions__starts_at__gt=timezone.now()),
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
        .order_by("-rating", "-review_count", "full_name")[:limit]
    )


def bookings_for_learner(learner: User, *, upcoming: bool):
    now = timezone.now()
    qs = Booking.objects.filter(learner=learner).select_related("session", "session__mentor", "session__domain")
    if upcoming:
        return qs.filter(
            state__in=[BookingState.HELD, BookingState.CONFIRMED],
            session__state__in=[SessionState.SCHEDULED, SessionState.LIVE],
            session__starts_at__gt=now - timedelta(hours=4),
        ).order_by("session__starts_at")
    return qs.filter(session__state=SessionState.COMPLETED).order_by("-session__starts_at")
