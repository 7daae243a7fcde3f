"""Notices sent on a clock rather than by an action: reminders before a session and the
feedback prompt after it. Each is claimed by a unique key inside the transaction that records
its notification, so it goes out once however many workers or ticks run it, and a job can
always be re-run."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from backend.core.events import publish
from backend.marketplace.models import Booking, BookingState, Review, SessionState
from backend.notifications.models import NoticeSent

log = logging.getLogger(__name__)

FEEDBACK_AFTER = timedelta(hours=1)
FEEDBACK_GIVE_UP = timedelta(days=2)  # a prompt days late is noise


def claim_and_publish(key: str, event: str, *, to: list[int], data: dict) -> bool:
    """Publish `event` once per `key`, in a savepoint: False if it was already claimed."""
    try:
        with transaction.atomic():
            NoticeSent.objects.create(key=key)
            publish(event, to=to, data=data)
    except IntegrityError:
        return False  # another worker or an earlier tick sent it
    return True


def _due_offset(starts_at: datetime, now: datetime, offsets: list[int]) -> int | None:
    """The reminder due now: the smallest offset whose moment has passed (a job that ran late
    sends the nearer reminder, not both)."""
    due = [minutes for minutes in offsets if starts_at - timedelta(minutes=minutes) <= now]
    return min(due) if due else None


def send_due_reminders(*, now: datetime | None = None) -> int:
    """Reminders REMINDER_OFFSETS_MINUTES before each scheduled session with confirmed seats: to
    each learner with a confirmed seat and to the mentor. Keyed by the session's sequence, so a
    rescheduled session is reminded of again at its new time; a cancelled seat or session is
    simply not found any more."""
    now = now or timezone.now()
    offsets = sorted(settings.REMINDER_OFFSETS_MINUTES)
    if not offsets:
        return 0
    bookings = (
        Booking.objects.filter(
            state=BookingState.CONFIRMED,
            session__state=SessionState.SCHEDULED,
            session__starts_at__gt=now,
            session__starts_at__lte=now + timedelta(minutes=max(offsets)),
        )
        .select_related("session")
        .only("id", "learner_id", "session__id", "session__mentor_id", "session__starts_at", "session__sequence")
    )
    sent = 0
    for booking in bookings:
        session = booking.session
        minutes = _due_offset(session.starts_at, now, offsets)
        if minutes is None:
            continue
        ttl = max(int((session.starts_at - now).total_seconds()), 60)  # useless once it started
        data = {"session": session.pk, "minutes": minutes, "topic": f"reminder-{session.pk}", "ttl_seconds": ttl}
        for user_id in (booking.learner_id, session.mentor_id):
            key = f"reminder:{session.pk}:{user_id}:{minutes}:{session.sequence}"
            extra = {"booking": booking.pk} if user_id == booking.learner_id else {}
            sent += claim_and_publish(key, "reminder.due", to=[user_id], data={**data, **extra})
    return sent


def send_feedback_prompts(*, now: datetime | None = None) -> int:
    """An hour after a session ends, ask each learner who attended and has not reviewed it."""
    now = now or timezone.now()
    reviewed = Review.objects.filter(booking=OuterRef("pk"))
    due = (
        Booking.objects.filter(state=BookingState.CONFIRMED, attended=True, session__state=SessionState.COMPLETED)
        .annotate(finished=Coalesce("session__room_state__ended_at", "session__ends_at"))
        .filter(finished__lte=now - FEEDBACK_AFTER, finished__gte=now - FEEDBACK_GIVE_UP)
        .exclude(Exists(reviewed))
        .only("id", "learner_id", "session_id")
    )
    return sum(
        claim_and_publish(
            f"feedback:{booking.pk}",
            "feedback.prompt",
            to=[booking.learner_id],
            data={"booking": booking.pk, "session": booking.session_id},
        )
        for booking in due
    )
