"""Who may enter a room and when, and what a member sees on entering.

The same gate serves the page and the socket, so a page that says "come in" never meets a
socket that says no."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from backend.marketplace.models import Booking, BookingState, Session, SessionState
from backend.rooms import protocol
from backend.rooms.models import ChatMessage, ChecklistMark, Presence, RoomState, Stroke

CHAT_REPLAYED = 200  # the latest messages a (re)joiner gets
STROKES_REPLAYED = 5000
PRESENCE_TIMEOUT = timedelta(seconds=90)  # sockets ping every 20 s; a crashed process's sockets age out


class RoomRefused(Exception):
    def __init__(self, code: str, message: str, close_code: int, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = close_code
        self.extra = extra

    def frame(self) -> dict:
        return {"type": "refused", "code": self.code, "message": self.message, **self.extra}


@dataclass(frozen=True)
class RoomAccess:
    session: Session
    role: str  # "mentor" or "learner"
    booking: Booking | None

    @property
    def group(self) -> str:
        return room_group(self.session.pk)


def room_group(session_id: int) -> str:
    return f"room.{session_id}"


def window(session: Session) -> tuple[datetime, datetime]:
    """When the room opens and closes (PRODUCT.md: 10 minutes before, 15 after the end)."""
    return (
        session.starts_at - timedelta(minutes=settings.ROOM_OPENS_MINUTES_BEFORE),
        session.ends_at + timedelta(minutes=settings.ROOM_CLOSES_MINUTES_AFTER),
    )


def room_access(user, code: str, *, now: datetime | None = None) -> RoomAccess:
    """The member's way in, or RoomRefused saying why not. Membership is checked before the
    window, so an outsider learns nothing about when a room opens."""
    if user is None or not user.is_authenticated:
        raise RoomRefused("unauthenticated", "Sign in to join the room.", protocol.CLOSE_UNAUTHENTICATED)
    session = Session.objects.select_related("mentor").filter(room_code=code).first()
    if session is None:
        raise RoomRefused("not_found", "There is no room at this address.", protocol.CLOSE_NOT_FOUND)
    booking = None
    if session.mentor_id == user.pk:
        role = "mentor"
    else:
        booking = (
            Booking.objects.filter(session=session, learner=user, state=BookingState.CONFIRMED)
            .only("id", "state", "session_id", "learner_id")
            .first()
        )
        if booking is None:
            raise RoomRefused(
                "not_member",
                "This room is for the session's mentor and learners with a confirmed booking.",
                protocol.CLOSE_FORBIDDEN,
            )
        role = "learner"
    if session.state == SessionState.CANCELLED:
        raise RoomRefused("cancelled", "This session was cancelled.", protocol.CLOSE_GONE)
    if session.state == SessionState.COMPLETED:
        raise RoomRefused("ended", "This session has ended.", protocol.CLOSE_GONE)
    if session.state == SessionState.DRAFT:
        raise RoomRefused("not_member", "This session is not published.", protocol.CLOSE_FORBIDDEN)
    now = now or timezone.now()
    opens, closes = window(session)
    if now < opens:
        raise RoomRefused(
            "too_early", "The room is not open yet.", protocol.CLOSE_OUTSIDE_WINDOW, opens_at=opens.isoformat()
        )
    if now >= closes:
        raise RoomRefused("too_late", "This room has closed.", protocol.CLOSE_OUTSIDE_WINDOW)
    return RoomAccess(session=session, role=role, booking=booking)


def present(session_id: int, *, now: datetime | None = None):
    """The sockets in the room now (a socket of a process that died without saying goodbye stops
    counting once its pings stop)."""
    now = now or timezone.now()
    return Presence.objects.filter(session_id=session_id, left_at__isnull=True, last_seen_at__gt=now - PRESENCE_TIMEOUT)


def member_of(presence: Presence, name: str) -> dict:
    return {
        "peer": presence.peer,
        "user": presence.user_id,
        "name": name,
        "role": presence.role,
        "ready": presence.ready,
        "audio": presence.audio,
        "video": presence.video,
    }


def members(session_id: int) -> list[tuple[dict, str]]:
    """(member, channel name) for each socket present, oldest first."""
    rows = present(session_id).select_related("user").order_by("joined_at", "id")
    return [(member_of(row, row.user.full_name), row.channel_name) for row in rows]


def timer_of(state: RoomState | None, *, now: datetime | None = None) -> dict:
    if state is None:
        return {"elapsed": 0, "running": False}
    elapsed = state.elapsed_seconds
    if state.running_since is not None:
        elapsed += int(((now or timezone.now()) - state.running_since).total_seconds())
    return {"elapsed": max(elapsed, 0), "running": state.running_since is not None}


def checklist(session: Session) -> list[dict]:
    marks = {m.index: m for m in ChecklistMark.objects.filter(session=session)}
    return [
        {
            "index": i,
            "label": str(label),
            "done": bool(marks.get(i) and marks[i].done),
            "by": marks[i].by_id if i in marks else None,
        }
        for i, label in enumerate(session.topics or [])
    ]


def chat_message(message: ChatMessage, name: str) -> dict:
    return {
        "id": message.pk,
        "user": message.author_id,
        "name": name,
        "body": message.body,
        "at": message.created_at.isoformat(),
    }


def history(session: Session) -> dict:
    """What a (re)joiner is given: the latest chat, every stroke, the checklist and the timer."""
    latest = list(ChatMessage.objects.filter(session=session).select_related("author").order_by("-id")[:CHAT_REPLAYED])
    strokes = Stroke.objects.filter(session=session).order_by("id").values_list("id", "author_id", "data")
    return {
        "chat": [chat_message(m, m.author.full_name) for m in reversed(latest)],
        "strokes": [{"id": pk, "user": author, "data": data} for pk, author, data in strokes[:STROKES_REPLAYED]],
        "checklist": checklist(session),
        "timer": timer_of(RoomState.objects.filter(session=session).first()),
    }


def session_summary(session: Session) -> dict:
    opens, closes = window(session)
    return {
        "id": session.pk,
        "title": session.title,
        "topics": [str(t) for t in session.topics or []],
        "state": session.state,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "opens_at": opens.isoformat(),
        "closes_at": closes.isoformat(),
    }
