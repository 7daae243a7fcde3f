"""Small builders for marketplace tests (personas live in tests/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from backend.marketplace.models import Domain, Session, SessionState


def a_session(
    mentor,
    *,
    hours_ahead: float = 48,
    minutes: int = 60,
    price: int = 0,
    capacity: int = 1,
    state=SessionState.SCHEDULED,
    **extra,
) -> Session:
    starts = (timezone.now() + timedelta(hours=hours_ahead)).replace(microsecond=0)
    return Session.objects.create(
        mentor=mentor,
        title=extra.pop("title", "Intro to Django"),
        domain=extra.pop("domain", None) or Domain.objects.order_by("position").first(),
        starts_at=starts,
        duration_minutes=minutes,
        price_paise=price,
        capacity=capacity,
        state=state,
        **extra,
    )
