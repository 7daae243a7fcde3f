"""Periodic marketplace housekeeping. Every step is idempotent, so two workers or two
scheduler ticks running at once change nothing twice."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from backend.marketplace import services
from backend.marketplace.models import BookingState, Session, SessionState, WaitlistState


def release_expired_holds() -> int:
    """Expire seat holds past their time and offer the freed seats to waiting learners."""
    now = timezone.now()
    sessions = (
        Session.objects.filter(state=SessionState.SCHEDULED, starts_at__gt=now)
        .filter(
            Q(bookings__state=BookingState.HELD, bookings__hold_expires_at__lte=now)
            | Q(waitlist__state=WaitlistState.WAITING)
        )
        .distinct()
    )
    offered = 0
    for session in sessions:
        offered += len(services.waitlist_offer_free_seats(session=session))
    return offered


@db_periodic_task(crontab(minute="*"))
def marketplace_every_minute():
    release_expired_holds()
    services.requests_expire_due()
