"""Reads of a user's own notifications (every query is scoped to the user)."""

from __future__ import annotations

from backend.notifications.models import Notification


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def latest(user, size: int = 6) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("-id")[:size])


def page_of(user, *, before: int | None = None, unread_only: bool = False, size: int = 20) -> list[Notification]:
    qs = Notification.objects.filter(user=user)
    if before:
        qs = qs.filter(pk__lt=before)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return list(qs.order_by("-id")[:size])
