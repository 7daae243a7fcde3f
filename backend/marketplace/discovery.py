"""Reads for the public discovery pages: mentor search and profiles, and what a learner already
holds in a session. Ratings come from correlated subqueries rather than joins, so the other
filters can never multiply review rows, and each list costs a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Avg, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from backend.accounts.models import ApprovalState, Role, User
from backend.marketplace.models import Booking, BookingState, Domain, Review, Session, SessionState
from backend.marketplace.selectors import active_seat_filter

AVAILABLE_SOON_DAYS = 7


def _reviews_of(mentor_ref) -> QuerySet:
    # .order_by() clears Meta.ordering, which would otherwise split the GROUP BY.
    return Review.objects.filter(booking__session__mentor=mentor_ref).order_by().values("booking__session__mentor")


def _bookable_public_sessions() -> QuerySet:
    return Session.objects.filter(is_private=False, state=SessionState.SCHEDULED, starts_at__gt=timezone.now())


def _listed_mentors() -> QuerySet:
    """Approved, active mentors with their rating, review count and next public session."""
    reviews = _reviews_of(OuterRef("pk"))
    return (
        User.objects.filter(role=Role.MENTOR, is_active=True, mentor_profile__approval_state=ApprovalState.APPROVED)
        .select_related("mentor_profile")
        .annotate(
            rating=Subquery(reviews.annotate(avg=Avg("rating")).values("avg")[:1]),
            review_count=Coalesce(
                Subquery(reviews.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), Value(0)
            ),
            next_session_at=Subquery(
                _bookable_public_sessions().filter(mentor=OuterRef("pk")).order_by("starts_at").values("starts_at")[:1]
            ),
        )
    )


def mentors_search(
    *, q: str = "", domain: str = "", min_rating: float | None = None, available_soon: bool = False
) -> QuerySet:
    """The mentor directory: best rated first, then most reviewed, then by name."""
    qs = _listed_mentors()
    if q:
        qs = qs.filter(
            Q(full_name__icontains=q)
            | Q(mentor_profile__headline__icontains=q)
            | Q(mentor_profile__skills__icontains=q)  # the JSON list's text: matches any tag
        )
    if domain:
        # Exists, not a join: a join on the many-to-many could repeat a mentor.
        qs = qs.filter(Exists(Domain.objects.filter(slug=domain, mentors__user=OuterRef("pk"))))
    if min_rating is not None:
        qs = qs.filter(rating__gte=min_rating)
    if available_soon:
        soon = timezone.now() + timedelta(days=AVAILABLE_SOON_DAYS)
        qs = qs.filter(Exists(_bookable_public_sessions().filter(mentor=OuterRef("pk"), starts_at__lte=soon)))
    return qs.order_by(F("rating").desc(nulls_last=True), "-review_count", "full_name", "pk")


def get_listed_mentor(mentor_id: int) -> User:
    """A public mentor profile: 404 for anyone who is not an approved, active mentor."""
    mentor = listed_mentor_or_none(mentor_id)
    if mentor is None:
        raise Http404
    return mentor


def listed_mentor_or_none(mentor_id: int) -> User | None:
    return _listed_mentors().filter(pk=mentor_id).first()


def mentor_rating(mentor: User) -> dict:
    """Average stars and number of reviews across the mentor's sessions."""
    return Review.objects.filter(booking__session__mentor=mentor).aggregate(average=Avg("rating"), count=Count("pk"))


def mentor_domains(mentor: User) -> list:
    return list(mentor.mentor_profile.domains.order_by("position", "name"))


def mentor_reviews(mentor: User, *, limit: int = 10) -> list[Review]:
    return list(
        Review.objects.filter(booking__session__mentor=mentor)
        .select_related("booking__learner", "booking__session")
        .order_by("-created_at", "-pk")[:limit]
    )


def mentor_rating_breakdown(mentor: User) -> list[dict]:
    """Reviews per star, five stars first, for the rating summary bars."""
    counts = dict(
        Review.objects.filter(booking__session__mentor=mentor)
        .order_by()
        .values_list("rating")
        .annotate(n=Count("pk"))
        .values_list("rating", "n")
    )
    total = sum(counts.values())
    return [
        {
            "stars": stars,
            "count": counts.get(stars, 0),
            "percent": round(100 * counts.get(stars, 0) / total) if total else 0,
        }
        for stars in range(5, 0, -1)
    ]


def active_booking_of(learner: User, session: Session) -> Booking | None:
    """The learner's seat in this session, if they hold one (an expired hold does not count)."""
    if not (learner.is_authenticated and learner.role == Role.LEARNER):
        return None
    return (
        Booking.objects.filter(active_seat_filter(), session=session, learner=learner)
        .order_by("-created_at", "-pk")
        .first()
    )


def is_expired_hold(booking: Booking) -> bool:
    return booking.state == BookingState.HELD and (
        booking.hold_expires_at is None or booking.hold_expires_at <= timezone.now()
    )
