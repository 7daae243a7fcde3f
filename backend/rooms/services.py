"""Every write the live room makes. The consumer calls these and relays what they return to the
room after they commit; the dashboards hear about going live and ending through `publish`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.core.errors import Conflict, DomainError, Forbidden
from backend.core.events import publish, send_after_commit
from backend.marketplace import services as marketplace_services
from backend.marketplace.models import Booking, BookingState, Session, SessionState
from backend.rooms import selectors
from backend.rooms.models import ChatMessage, ChecklistMark, Presence, RoomState, Stroke


# --- presence and the clock -----------------------------------------------------------------------
@transaction.atomic
def presence_join(*, session: Session, user, role: str, peer: str, channel_name: str) -> dict:
    now = timezone.now()
    Presence.objects.create(
        session=session, user=user, role=role, peer=peer, channel_name=channel_name, joined_at=now, last_seen_at=now
    )
    _announce_arrival(session, user, role)
    return _retime(session.pk, now)


def _announce_arrival(session: Session, user, role: str) -> None:
    """The other side hears that someone came into the room, once per person per session (a
    reload or a second tab is not news)."""
    from backend.notifications.jobs import claim_and_publish

    if role == "mentor":
        event, audience = "room.mentor_ready", _learners(session)
    else:
        event, audience = "room.learner_joined", [session.mentor_id]
    if audience:
        data = {"session": session.pk, "learner": user.pk} if role == "learner" else {"session": session.pk}
        claim_and_publish(f"room:{session.pk}:{user.pk}", event, to=audience, data=data)


@transaction.atomic
def presence_leave(*, peer: str) -> dict | None:
    """Close the socket's presence; the clock pauses if a side is now missing. None if it had
    already left (a second disconnect)."""
    now = timezone.now()
    presence = Presence.objects.filter(peer=peer, left_at__isnull=True).only("id", "session_id").first()
    if presence is None:
        return None
    Presence.objects.filter(pk=presence.pk).update(left_at=now, last_seen_at=now)
    return _retime(presence.session_id, now)


def presence_touch(*, peer: str) -> None:
    Presence.objects.filter(peer=peer, left_at__isnull=True).update(last_seen_at=timezone.now())


def presence_update(*, peer: str, **fields) -> None:
    """ready / audio / video as the member last said, for those who join later."""
    allowed = {k: v for k, v in fields.items() if k in ("ready", "audio", "video") and isinstance(v, bool)}
    if allowed:
        Presence.objects.filter(peer=peer, left_at__isnull=True).update(**allowed)


def _retime(session_id: int, now: datetime) -> dict:
    """Start or pause the clock from who is present. Runs in the caller's transaction with the
    room's state row locked, so two sockets joining at once on two processes agree."""
    state = RoomState.objects.filter(session_id=session_id).first()
    if state is None or (state.went_live_at is None and state.running_since is None):
        return selectors.timer_of(state, now=now)  # the lobby: no clock to move, nothing to lock
    state = RoomState.objects.select_for_update().get(pk=state.pk)
    live = state.went_live_at is not None and state.ended_at is None
    roles = set(selectors.present(session_id, now=now).values_list("role", flat=True).distinct())
    both = live and {"mentor", "learner"} <= roles
    if both and state.running_since is None:
        state.running_since = now
        state.save(update_fields=["running_since"])
    elif not both and state.running_since is not None:
        state.elapsed_seconds += max(int((now - state.running_since).total_seconds()), 0)
        state.running_since = None
        state.save(update_fields=["elapsed_seconds", "running_since"])
    return selectors.timer_of(state, now=now)


# --- going live and ending --------------------------------------------------------------------------
def _learners(session: Session) -> list[int]:
    return list(
        Booking.objects.filter(session=session, state=BookingState.CONFIRMED).values_list("learner_id", flat=True)
    )


@transaction.atomic
def session_go_live(*, mentor, session: Session) -> dict:
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.mentor_id != mentor.pk:
        raise Forbidden("not_mentor", "Only the session's mentor starts it.")
    if session.state == SessionState.LIVE:
        return _retime(session.pk, timezone.now())  # a second click, or a reload: nothing to do
    if session.state != SessionState.SCHEDULED:
        raise Conflict("not_startable", "This session can no longer be started.")
    now = timezone.now()
    opens, closes = selectors.window(session)
    if not opens <= now < closes:
        raise Conflict("outside_window", "The room is not open now.")
    session.state = SessionState.LIVE
    session.save(update_fields=["state", "updated_at"])
    RoomState.objects.update_or_create(session=session, defaults={"went_live_at": now})
    publish("session.live", to=[mentor, *_learners(session)], data={"session": session.pk})
    return _retime(session.pk, now)


@transaction.atomic
def session_complete(*, session: Session, by=None) -> Session:
    """End the session: completed, the clock stopped, and each confirmed learner marked as
    attended if they were in the room while it was live (their presence rows are the evidence
    reviews, refunds and payouts rely on). `by` is the mentor, or None for the closing job."""
    session = Session.objects.select_for_update().get(pk=session.pk)
    if by is not None and session.mentor_id != by.pk:
        raise Forbidden("not_mentor", "Only the session's mentor ends it.")
    if session.state == SessionState.COMPLETED:
        return session
    if session.state != SessionState.LIVE:
        raise Conflict("not_live", "Only a live session can be ended.")
    now = timezone.now()
    state, _ = RoomState.objects.get_or_create(session=session)
    state = RoomState.objects.select_for_update().get(pk=state.pk)
    if state.running_since is not None:
        state.elapsed_seconds += max(int((now - state.running_since).total_seconds()), 0)
        state.running_since = None
    state.ended_at, state.ended_by = now, by
    state.save()
    live_from = state.went_live_at or session.starts_at
    attended = (
        Presence.objects.filter(session=session, role="learner", joined_at__lt=now)
        .filter(Q(left_at__isnull=True) | Q(left_at__gt=live_from))
        .values_list("user_id", flat=True)
    )
    Booking.objects.filter(session=session, state=BookingState.CONFIRMED, learner_id__in=attended).update(attended=True)
    Presence.objects.filter(session=session, left_at__isnull=True).update(left_at=now)
    session.state = SessionState.COMPLETED
    session.save(update_fields=["state", "updated_at"])
    publish("session.completed", to=[session.mentor_id, *_learners(session)], data={"session": session.pk})
    return session


def complete_finished_sessions(*, now: datetime | None = None) -> int:
    """Live sessions whose room has closed and that nobody ended: complete them as they stand."""
    now = now or timezone.now()
    done = 0
    for session in Session.objects.filter(state=SessionState.LIVE, ends_at__lt=now).only("id", "starts_at", "ends_at"):
        if selectors.window(session)[1] <= now:
            session_complete(session=session)
            done += 1
    return done


def cancel_no_shows(*, now: datetime | None = None) -> int:
    """Sessions whose mentor has not been in the room NO_SHOW_AFTER_MINUTES after the start,
    with learners holding confirmed seats: cancelled and refunded in full (PRODUCT.md). A
    mentor who came to the lobby but has not gone live yet is not a no-show."""
    now = now or timezone.now()
    late = now - timedelta(minutes=settings.NO_SHOW_AFTER_MINUTES)
    candidates = (
        Session.objects.filter(
            state=SessionState.SCHEDULED, starts_at__lte=late, starts_at__gte=now - timedelta(days=1)
        )
        .filter(bookings__state=BookingState.CONFIRMED)
        .exclude(presences__role="mentor")
        .distinct()
        .only("id")
    )
    return sum(marketplace_services.session_no_show(session=session) for session in candidates)


# --- what the room keeps ----------------------------------------------------------------------------
def _require_live_member(session: Session) -> None:
    # Read afresh: the socket's copy of the session dates from when it connected.
    state = Session.objects.filter(pk=session.pk).values_list("state", flat=True).first()
    if state not in (SessionState.SCHEDULED, SessionState.LIVE):
        raise Conflict("room_closed", "This room is closed.")


@transaction.atomic
def chat_post(*, session: Session, user, body: str) -> ChatMessage:
    _require_live_member(session)
    body = body.strip()
    if not body:
        raise DomainError("invalid", "Write a message first.")
    return ChatMessage.objects.create(session=session, author=user, body=body[:2000])


@transaction.atomic
def stroke_add(*, session: Session, user, data: dict) -> Stroke:
    _require_live_member(session)
    if Stroke.objects.filter(session=session).count() >= selectors.STROKES_REPLAYED:
        raise Conflict("board_full", "The whiteboard is full. Clear it to keep drawing.")
    return Stroke.objects.create(session=session, author=user, data=data)


@transaction.atomic
def board_clear(*, session: Session, user) -> int:
    _require_live_member(session)
    deleted, _ = Stroke.objects.filter(session=session).delete()
    return deleted


@transaction.atomic
def checklist_mark(*, session: Session, user, index: int, done: bool) -> dict:
    _require_live_member(session)
    topics = session.topics or []
    if not 0 <= index < len(topics):
        raise DomainError("invalid", "There is no such item on the checklist.")
    ChecklistMark.objects.update_or_create(session=session, index=index, defaults={"done": done, "by": user})
    return {"index": index, "label": str(topics[index]), "done": done, "by": user.pk}


# --- events that end a call ---------------------------------------------------------------------
CALL_ENDERS = ("user.blocked", "session.cancelled")


def member_group(user_id: int) -> str:
    """The room sockets of one account. Only the events that end a call go here: the account's
    whole stream (its dashboards') would share the sockets' channel capacity with signalling."""
    return f"room-member.{user_id}"


def pass_on_call_enders(event: str, user_ids: list[int], data: dict) -> None:
    """Event-pipeline listener: after commit, copy a block or a cancellation to the account's
    room sockets, which close with the reason (consumers.RoomConsumer.event_message)."""
    if event in CALL_ENDERS:
        send_after_commit(lambda: [(member_group(pk), event, data) for pk in user_ids])
