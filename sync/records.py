"""What a signed-in user keeps offline, as plain JSON records, read with a fixed number of
queries however many there are (a learner with thousands of bookings pulls in one go).

  learner: bookings, the sessions of those bookings, requests sent, notifications, profile
  mentor:  own sessions (with seats taken), requests received, notifications, profile
Each reader takes `ids` (None = everything) and returns only what the user may see, so ids
asked for but not returned are deletions.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from backend.marketplace.models import Booking, Review, Session, SessionRequest
from backend.marketplace.selectors import with_seats

SESSION_FIELDS = (
    "id",
    "title",
    "description",
    "topics",
    "starts_at",
    "ends_at",
    "duration_minutes",
    "price_paise",
    "capacity",
    "state",
    "is_private",
    "room_code",
    "sequence",
    "mentor_id",
)
BOOKING_FIELDS = (
    "id",
    "state",
    "session_id",
    "created_at",
    "hold_expires_at",
    "confirmed_at",
    "cancelled_at",
    "refund_paise",
    "attended",
)
REQUEST_FIELDS = (
    "id",
    "learner_id",
    "mentor_id",
    "topic",
    "description",
    "preferred_times",
    "duration_minutes",
    "budget_paise",
    "state",
    "version",
    "counter_starts_at",
    "counter_price_paise",
    "decline_reason",
    "session_id",
    "expires_at",
    "created_at",
)


def _only(qs: QuerySet, ids) -> QuerySet:
    return qs if ids is None else qs.filter(pk__in=ids)


def _session_rows(qs: QuerySet) -> list[dict]:
    rows = qs.values(
        *SESSION_FIELDS,
        "domain__slug",
        "domain__name",
        "mentor__full_name",
        "mentor__mentor_profile__headline",
        *(["seats_taken"] if "seats_taken" in qs.query.annotations else []),
    )
    records = []
    for row in rows:
        row["domain"] = {"slug": row.pop("domain__slug"), "name": row.pop("domain__name")}
        row["mentor"] = {
            "id": row.pop("mentor_id"),
            "full_name": row.pop("mentor__full_name"),
            "headline": row.pop("mentor__mentor_profile__headline") or "",
        }
        records.append(row)
    return records


def bookings(user, ids=None) -> list[dict]:
    if user.role != "learner":
        return []
    reviewed = Review.objects.filter(booking=OuterRef("pk"))
    qs = _only(Booking.objects.filter(learner=user), ids).annotate(reviewed=Exists(reviewed))
    return list(qs.order_by("id").values(*BOOKING_FIELDS, "reviewed"))


def bookings_of_sessions(user, session_ids) -> list[int]:
    """A learner's bookings of these sessions (a session change may have changed them)."""
    if user.role != "learner":
        return []
    return list(Booking.objects.filter(learner=user, session_id__in=session_ids).values_list("pk", flat=True))


def sessions(user, ids=None) -> list[dict]:
    if user.role == "learner":
        qs = Session.objects.filter(pk__in=Booking.objects.filter(learner=user).values("session_id"))
    elif user.role == "mentor":
        qs = with_seats(Session.objects.filter(mentor=user))
    else:
        return []
    return _session_rows(_only(qs, ids).order_by("id"))


def requests(user, ids=None) -> list[dict]:
    if user.role == "learner":
        qs = SessionRequest.objects.filter(learner=user)
    elif user.role == "mentor":
        qs = SessionRequest.objects.filter(mentor=user)
    else:
        return []
    rows = _only(qs, ids).order_by("id").values(*REQUEST_FIELDS, "learner__full_name", "mentor__full_name")
    for row in rows:
        row["learner_name"] = row.pop("learner__full_name")
        row["mentor_name"] = row.pop("mentor__full_name")
    return list(rows)


NOTIFICATIONS_KEPT = 100  # a snapshot carries the latest ones; older ones stay online-only


def notifications(user, ids=None) -> list[dict]:
    from backend.notifications.models import Notification

    qs = Notification.objects.filter(user=user)
    qs = qs.filter(pk__in=ids) if ids is not None else qs.order_by("-id")[:NOTIFICATIONS_KEPT]
    fields = ("id", "event", "category", "title", "body", "url", "created_at", "read_at")
    return list(qs.values(*fields))


def profile(user) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "timezone": user.timezone,
        "theme": user.theme,
    }
