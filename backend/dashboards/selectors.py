"""Figures for the dashboard shells, all computed from real records."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from backend.accounts.models import ApprovalState, AuditEvent, Role, User
from backend.marketplace.models import Booking, BookingState, Review, Session, SessionState
from backend.marketplace.selectors import bookings_for_learner


def learner_home(learner: User) -> dict:
    completed = Booking.objects.filter(
        learner=learner, state=BookingState.CONFIRMED, session__state=SessionState.COMPLETED
    )
    totals = completed.aggregate(minutes=Sum("session__duration_minutes"), count=Count("id"))
    return {
        "upcoming": list(bookings_for_learner(learner, upcoming=True)[:6]),
        "past": list(bookings_for_learner(learner, upcoming=False)[:5]),
        "hours_learned": round((totals["minutes"] or 0) / 60, 1),
        "sessions_completed": totals["count"],
        "activity": list(
            Booking.objects.filter(learner=learner)
            .select_related("session", "session__mentor")
            .order_by("-created_at")[:8]
        ),
    }


def mentor_home(mentor: User) -> dict:
    now = timezone.now()
    local_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    sessions = (
        Session.objects.filter(mentor=mentor)
        .select_related("domain")
        .annotate(
            seats_taken=Count("bookings", filter=Q(bookings__state__in=[BookingState.HELD, BookingState.CONFIRMED]))
        )
    )
    rating = Review.objects.filter(booking__session__mentor=mentor).aggregate(avg=Avg("rating"), count=Count("id"))
    return {
        "today": list(
            sessions.filter(starts_at__gte=local_today, starts_at__lt=local_today + timedelta(days=1)).exclude(
                state=SessionState.CANCELLED
            )
        ),
        "upcoming": list(sessions.filter(state=SessionState.SCHEDULED, starts_at__gt=now)[:6]),
        "drafts": sessions.filter(state=SessionState.DRAFT).count(),
        "completed": sessions.filter(state=SessionState.COMPLETED).count(),
        "rating": rating["avg"],
        "review_count": rating["count"],
        "learners_taught": Booking.objects.filter(
            session__mentor=mentor, session__state=SessionState.COMPLETED, state=BookingState.CONFIRMED
        )
        .values("learner")
        .distinct()
        .count(),
    }


def admin_home() -> dict:
    week_ago = timezone.now() - timedelta(days=7)
    by_role = dict(User.objects.values_list("role").annotate(n=Count("id")))
    return {
        "learners": by_role.get(Role.LEARNER, 0),
        "mentors": by_role.get(Role.MENTOR, 0),
        "admins": by_role.get(Role.ADMIN, 0),
        "sessions_this_week": Session.objects.filter(
            starts_at__gte=week_ago, starts_at__lte=timezone.now() + timedelta(days=7)
        )
        .exclude(state=SessionState.DRAFT)
        .count(),
        "pending_mentors": list(
            User.objects.filter(role=Role.MENTOR, mentor_profile__approval_state=ApprovalState.PENDING)
            .select_related("mentor_profile")
            .prefetch_related("mentor_profile__domains")
            .order_by("date_joined")[:20]
        ),
        "recent_audit": list(AuditEvent.objects.select_related("actor")[:10]),
    }
