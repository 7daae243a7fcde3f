"""Live facts about public sessions for anyone with a page open: the free seats shown on
session cards and pages. Watchers join a session's group through the updates socket
(backend.core.consumers); services announce changes after commit."""

from __future__ import annotations

from backend.core.events import broadcast

MAX_WATCHED = 60  # a page shows at most a few dozen sessions; more is a misbehaving client


def session_group(session_id: int) -> str:
    return f"session.{session_id}"


def watchable_ids(ids: list[int]) -> list[int]:
    """The public, published sessions among `ids`: only their seats are anyone's business."""
    from backend.marketplace.models import Session, SessionState

    return list(
        Session.objects.filter(pk__in=ids, is_private=False)
        .exclude(state=SessionState.DRAFT)
        .values_list("pk", flat=True)
    )


def _seat_messages(session_ids: set[int]) -> dict[str, dict]:
    from backend.marketplace.models import Session, SessionState
    from backend.marketplace.selectors import with_seats

    rows = (
        with_seats(Session.objects.filter(pk__in=session_ids, is_private=False))
        .exclude(state=SessionState.DRAFT)
        .values_list("pk", "capacity", "seats_taken", "state")
    )
    return {
        session_group(pk): {"session": pk, "capacity": capacity, "seats_left": max(capacity - taken, 0), "state": state}
        for pk, capacity, taken, state in rows
    }


def announce_seats(*session_ids: int) -> None:
    """Tell watchers of these sessions how many seats are free, as committed."""
    broadcast("session.seats", ids=session_ids, messages_for=_seat_messages)
