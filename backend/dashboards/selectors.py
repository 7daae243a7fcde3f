"""Figures for the dashboards, all computed from real records with a fixed number of queries
(pages and the dashboard API share them)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from backend.accounts.models import ApprovalState, AuditEvent, Role, User
from backend.dashboards.admin_reports_selectors import overview
from backend.dashboards.money_selectors import earnings_this_month
from backend.marketplace.models import (
    OPEN_REQUEST_STATES,
    Booking,
    BookingState,
    Follow,
    RequestState,
    Review,
    Session,
    SessionRequest,
    SessionState,
)
from backend.marketplace.selectors import bookings_of_learner, with_seats
from backend.payments.admin_selectors import money_counts


def learner_home(learner: User) -> dict:
    completed = Booking.objects.filter(
        learner=learner, state=BookingState.CONFIRMED, session__state=SessionState.COMPLETED
    )
    totals = completed.aggregate(minutes=Sum("session__duration_minutes"), count=Count("id"))
    return {
        "upcoming": list(bookings_of_learner(learner, when="upcoming")[:6]),
        "hours_learned": round((totals["minutes"] or 0) / 60, 1),
        "sessions_completed": totals["count"],
        "open_requests": list(
            SessionRequest.objects.filter(learner=learner, state__in=OPEN_REQUEST_STATES)
            .select_related("mentor")
            .order_by("-created_at")[:5]
        ),
        "activity": list(
            Booking.objects.filter(learner=learner)
            .select_related("session", "session__mentor")
            .order_by("-created_at", "-id")[:8]
        ),
    }


def learner_home_recommended(learner: User) -> dict:
    """The home carousel (pages only; the dashboard API leaves it to /api/recommendations/)."""
    from backend.recommendations.serving import recommend

    return {"recommended": recommend(learner, limit=8).items}


def mentor_home(mentor: User) -> dict:
    now = timezone.now()
    # "Today" is the mentor's own day, not the server's.
    day_start = now.astimezone(ZoneInfo(mentor.timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    sessions = with_seats(
        Session.objects.filter(mentor=mentor).select_related("domain", "mentor", "mentor__mentor_profile")
    )
    counts = Session.objects.filter(mentor=mentor).aggregate(
        drafts=Count("id", filter=Q(state=SessionState.DRAFT)),
        completed=Count("id", filter=Q(state=SessionState.COMPLETED)),
    )
    rating = Review.objects.filter(booking__session__mentor=mentor).aggregate(avg=Avg("rating"), count=Count("id"))
    pending = SessionRequest.objects.filter(mentor=mentor, state=RequestState.PENDING, expires_at__gt=now)
    return {
        "today": list(
            sessions.filter(starts_at__gte=day_start, starts_at__lt=day_start + timedelta(days=1))
            .exclude(state=SessionState.CANCELLED)
            .order_by("starts_at")
        ),
        "upcoming": list(sessions.filter(state=SessionState.SCHEDULED, starts_at__gt=now).order_by("starts_at")[:6]),
        "drafts": counts["drafts"],
        "completed": counts["completed"],
        "rating": rating["avg"],
        "review_count": rating["count"],
        "followers": Follow.objects.filter(mentor=mentor).count(),
        "pending_requests": list(pending.select_related("learner").order_by("expires_at")[:5]),
        "learners_taught": Booking.objects.filter(
            session__mentor=mentor, session__state=SessionState.COMPLETED, state=BookingState.CONFIRMED
        )
        .values("learner")
        .distinct()
        .count(),
        "earnings": earnings_this_month(mentor, now=now),
    }


def admin_home(admin: User, *, now=None) -> dict:
    """The admin overview: KPIs and chart series (admin_reports_selectors.overview), the money
    queues, mentors awaiting approval and the latest audit entries. A fixed number of queries
    (pinned in tests/backend/dashboards/test_admin_reports.py) however big the tables are."""
    return {
        **overview(admin, now=now),
        "money": money_counts(admin),
        "pending_mentors": list(
            User.objects.filter(role=Role.MENTOR, mentor_profile__approval_state=ApprovalState.PENDING)
            .select_related("mentor_profile")
            .prefetch_related("mentor_profile__domains")
            .order_by("date_joined")[:20]
        ),
        "recent_audit": list(AuditEvent.objects.select_related("actor")[:10]),
    }
