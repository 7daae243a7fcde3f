"""What learners do, as interaction rows: logged off the event pipeline (one place, inside the
publishing transaction) plus page views, and the weights the model gives each kind."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection, transaction

from backend.core.batching import Deferred
from backend.recommendations.models import Interaction, Kind

log = logging.getLogger(__name__)

# The one table of how much each kind says about a learner's taste (confidence for ALS).
WEIGHTS: dict[str, float] = {
    Kind.BOOKED: 4.0,
    Kind.ATTENDED: 5.0,
    Kind.TIPPED: 6.0,
    Kind.FOLLOWED: 3.0,
    Kind.REQUESTED: 3.0,
    Kind.RATED: 1.5,  # per star above two: a one- or two-star rating adds nothing
    Kind.VIEWED_SESSION: 0.5,
    Kind.VIEWED_MENTOR: 0.75,
}
KIND_CODES = {kind: code for code, kind in enumerate(Kind.values)}


def weight_of(kind: str, value: int = 0) -> float:
    if kind == Kind.RATED:
        return WEIGHTS[Kind.RATED] * max(0, value - 2)
    return WEIGHTS.get(kind, 0.0)


def cache_key(learner_id: int) -> str:
    return f"recs:v1:{learner_id}"


def invalidate(learner_ids) -> None:
    """Drop cached recommendations after the interaction commits (before, a request could cache
    a ranking computed without it)."""
    keys = [cache_key(pk) for pk in set(learner_ids)]
    transaction.on_commit(lambda: cache.delete_many(keys))


def _booking_rows(data: dict, kind: str) -> list[Interaction]:
    from backend.marketplace.models import Booking

    booking_id = data["booking"]
    if all(key in data for key in ("learner", "mentor", "session")):
        # Booking events name everyone: no read (offline replays log hundreds in a batch).
        found = {"learner_id": data["learner"], "session_id": data["session"], "session__mentor_id": data["mentor"]}
    else:
        found = Booking.objects.filter(pk=booking_id).values("learner_id", "session_id", "session__mentor_id").first()
    if found is None:
        return []
    return [
        Interaction(
            learner_id=found["learner_id"],
            mentor_id=found["session__mentor_id"],
            session_id=found["session_id"],
            kind=kind,
            ref=booking_id if kind == Kind.BOOKED else None,
        )
    ]


def _rows_for(event: str, user_ids: list[int], data: dict) -> list[Interaction]:
    from backend.marketplace.models import Booking, BookingState, Review, SessionRequest

    if event in ("booking.created", "booking.confirmed"):
        return _booking_rows(data, Kind.BOOKED)
    if event == "tip.received":
        return _booking_rows(data, Kind.TIPPED)
    if event == "mentor.followed":  # sent to the mentor, about data["learner"]
        return [Interaction(learner_id=data["learner"], mentor_id=user_ids[0], kind=Kind.FOLLOWED)]
    if event == "request.created":
        found = SessionRequest.objects.filter(pk=data["request"]).values("learner_id", "mentor_id").first()
        if found is None:
            return []
        return [Interaction(**found, kind=Kind.REQUESTED, ref=data["request"])]
    if event == "booking.reviewed":  # to the learner; review.created carries no learner
        found = (
            Review.objects.filter(pk=data["review"])
            .values("rating", "booking__learner_id", "booking__session_id", "booking__session__mentor_id")
            .first()
        )
        if found is None:
            return []
        return [
            Interaction(
                learner_id=found["booking__learner_id"],
                mentor_id=found["booking__session__mentor_id"],
                session_id=found["booking__session_id"],
                kind=Kind.RATED,
                value=found["rating"],
                ref=data["review"],
            )
        ]
    if event == "session.completed":  # attendance was set by rooms.services.session_complete
        attended = Booking.objects.filter(
            session_id=data["session"], state=BookingState.CONFIRMED, attended=True
        ).values_list("pk", "learner_id", "session__mentor_id")
        return [
            Interaction(learner_id=learner, mentor_id=mentor, session_id=data["session"], kind=Kind.ATTENDED, ref=pk)
            for pk, learner, mentor in attended
        ]
    return []


EVENTS = {
    "booking.created",
    "booking.confirmed",
    "tip.received",
    "mentor.followed",
    "request.created",
    "booking.reviewed",
    "session.completed",
}


# Inside a sync push chunk the events wait and are logged in one savepoint and one insert at its
# end (backend.core.batching); a refused mutation's are taken back: an interaction that did not
# happen must not teach the model.
_deferred = Deferred("collected_interactions", lambda events: _log(events))
collected, mark, discard_since = _deferred.collected, _deferred.mark, _deferred.discard_since


def record_from_event(event: str, user_ids: list[int], data: dict) -> None:
    """In-transaction listener (backend.core.events.listen). Inside `collected()` (a sync push
    chunk) the events wait and are logged together at its end; otherwise they are logged now."""
    if event not in EVENTS:
        return
    if not _deferred.add((event, user_ids, data)):
        _log([(event, user_ids, data)])


def _log(events: list[tuple[str, list[int], dict]]) -> None:
    """A failure here is logged and must never undo the bookings or reviews that published the
    events, hence the savepoint."""
    try:
        with transaction.atomic():
            rows = [row for event in events for row in _rows_for(*event)]
            for start in range(0, len(rows), INSERT_ROWS):
                _insert(rows[start : start + INSERT_ROWS])
    except Exception:
        if len(events) > 1:  # one bad event must not cost the chunk's others
            for event in events:
                _log([event])
            return
        log.exception("interactions not logged for %s", events[0][0])
        return
    if rows:
        invalidate(row.learner_id for row in rows)


# One statement, written once: the ORM's bulk_create cost several times the insert itself. ON
# CONFLICT DO NOTHING: the same booking logged from "created" and then "confirmed" is one row.
INSERT_ROWS = 500
_INSERT_SQL = (
    "INSERT INTO recommendations_interaction (learner_id, mentor_id, session_id, kind, value, ref, created_at) "
    "VALUES {values} ON CONFLICT DO NOTHING"
)


def _insert(rows: list[Interaction]) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    params = []
    for row in rows:
        params += [row.learner_id, row.mentor_id, row.session_id, row.kind, row.value, row.ref, adapt(row.created_at)]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL.format(values=", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))), params)


def record_view(user, *, session=None, mentor=None) -> None:
    """A learner opened a session or mentor page: one INSERT, no read (the page already holds
    the session and mentor). Views are weak signals, so they do not drop the learner's cached
    recommendations; the cache's lifetime picks them up."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "role", "") != "learner":
        return
    try:
        with transaction.atomic():  # a savepoint when the request is already in a transaction
            _insert_view(user, session, mentor)
    except Exception:  # a view that could not be logged must not break the page
        log.warning("view not logged", exc_info=True)


def _insert_view(user, session, mentor) -> None:
    if session is not None:
        Interaction.objects.create(
            learner_id=user.pk, mentor_id=session.mentor_id, session_id=session.pk, kind=Kind.VIEWED_SESSION
        )
    elif mentor is not None:
        Interaction.objects.create(learner_id=user.pk, mentor_id=mentor.pk, kind=Kind.VIEWED_MENTOR)
