"""Every write about notifications. `record_notifications` listens to the event pipeline inside
the publishing transaction, so a notification exists exactly when the change it talks about
does; delivery (the live toast, push, e-mail) happens after commit."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from backend.core.batching import Deferred
from backend.core.errors import DomainError
from backend.core.events import after_commit_with, send_after_commit, user_group
from backend.notifications.catalogue import CATALOGUE, Loaded
from backend.notifications.models import SWITCHABLE, Channel, Notification, NotificationPreference, default_channels

log = logging.getLogger(__name__)

MAX_IDS = 200  # per mark-read call


# Inside a sync push chunk the events wait and are built together at its end (backend.core.batching):
# a query per kind of object for the whole chunk.
_deferred = Deferred("collected_notifications", lambda events: _build(events))
collected, mark, discard_since = _deferred.collected, _deferred.mark, _deferred.discard_since


def record_notifications(event: str, user_ids: list[int], data: dict) -> list[Notification]:
    """The event pipeline's listener. Inside `collected()` (a sync push chunk) the events wait
    and are built together at its end; otherwise they are built now."""
    if event not in CATALOGUE:
        return []
    recipients = [pk for pk in user_ids if pk != data.get("actor")]
    if not recipients:
        return []
    if _deferred.add((event, recipients, data)):
        return []
    return _build([(event, recipients, data)])


def _build(events: list[tuple[str, list[int], dict]]) -> list[Notification]:
    loaded = Loaded.load_many([(data, recipients) for _, recipients, data in events])
    rows = []
    for (event, recipients, data), objects in zip(events, loaded, strict=True):
        spec = CATALOGUE[event]
        for recipient in recipients:
            message = spec.build(objects, recipient)
            if message is not None:
                rows.append(
                    Notification(
                        user_id=recipient,
                        event=event,
                        category=spec.category,
                        title=message.title[:140],
                        body=message.body[:300],
                        url=message.url[:300],
                        data={k: v for k, v in data.items() if k != "actor"},
                    )
                )
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows)
    _changed(created)
    ids = [n.pk for n in created]
    send_after_commit(lambda: [(user_group(n.user_id), "notification.created", live_data(n)) for n in created])
    after_commit_with(deliver_elsewhere, ids)
    return created


def live_data(notification: Notification) -> dict:
    return {
        "id": notification.pk,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "category": notification.category,
        "created_at": notification.created_at.isoformat(),
    }


def _changed(notifications: list[Notification]) -> None:
    """The offline store keeps notifications too: a change row per notification."""
    from sync.changes import record_rows

    record_rows([(n.user_id, "notification", n.pk) for n in notifications])


def deliver_elsewhere(ids: list[int]) -> None:
    from backend.notifications.tasks import deliver_notifications

    deliver_notifications(ids)


@transaction.atomic
def notifications_mark_read(*, user, ids: list[int]) -> int:
    """Mark the user's own notifications read (others' ids are ignored, not an error: a stale
    offline client may hold ids of notifications since deleted)."""
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise DomainError("invalid_ids", "Give a list of notification ids.")
    if len(ids) > MAX_IDS:
        raise DomainError("too_many_ids", f"Mark at most {MAX_IDS} notifications at once.")
    marked = list(Notification.objects.filter(user=user, pk__in=ids, read_at__isnull=True).values_list("pk", flat=True))
    if marked:
        Notification.objects.filter(pk__in=marked).update(read_at=timezone.now())
        _read(user, marked)
    return len(marked)


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    unread = list(Notification.objects.filter(user=user, read_at__isnull=True).values_list("pk", flat=True))
    if unread:
        Notification.objects.filter(pk__in=unread).update(read_at=timezone.now())
        _read(user, unread)
    return len(unread)


def _read(user, ids: list[int]) -> None:
    from sync.changes import record_rows

    record_rows([(user.pk, "notification", pk) for pk in ids])
    send_after_commit(lambda: [(user_group(user.pk), "notification.read", {"ids": ids})])


@transaction.atomic
def preferences_update(*, user, channels: dict) -> NotificationPreference:
    """Switch channels per category: {"push": {"reminders": false}, "email": {...}}. Unknown
    channels or categories and non-boolean values are refused; what is not named is kept."""
    if not isinstance(channels, dict):
        raise DomainError("invalid_preferences", "Send channels as an object.")
    prefs, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    merged = {
        channel: dict(default_channels()[channel], **prefs.channels.get(channel, {})) for channel in Channel.values
    }
    for channel, categories in channels.items():
        if channel not in Channel.values or not isinstance(categories, dict):
            raise DomainError("invalid_preferences", f"Unknown channel: {str(channel)[:20]}.")
        for category, on in categories.items():
            if category not in SWITCHABLE or not isinstance(on, bool):
                raise DomainError("invalid_preferences", f"Unknown category or value: {str(category)[:20]}.")
            merged[channel][category] = on
    prefs.channels = merged
    prefs.save(update_fields=["channels", "updated_at"])
    return prefs


def preferences_of(user) -> NotificationPreference:
    prefs = NotificationPreference.objects.filter(user=user).first()
    return prefs or NotificationPreference(user=user)


def notifications_of(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)
