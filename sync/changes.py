"""The change log: every published event leaves "this changed for you" rows for its recipients,
in the same transaction, so a pull after the commit always finds them."""

from __future__ import annotations

from sync.models import Change

# Event data keys that name objects a user keeps offline, and the kind each one is stored as.
TRACKED_KEYS = {"booking": "booking", "session": "session", "request": "request"}


def record_event(event: str, user_ids: list[int], data: dict) -> None:
    objects = [(kind, data[key]) for key, kind in TRACKED_KEYS.items() if isinstance(data.get(key), int)]
    rows = [Change(user_id=user_id, kind=kind, object_id=pk) for user_id in user_ids for kind, pk in objects]
    if event == "profile.updated":
        rows += [Change(user_id=user_id, kind="profile", object_id=user_id) for user_id in user_ids]
    if rows:
        Change.objects.bulk_create(rows)
