"""The change log: every published event leaves "this changed for you" rows for its recipients,
in the same transaction, so a pull after the commit always finds them."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from sync.models import Change

# Event data keys that name objects a user keeps offline, and the kind each one is stored as.
TRACKED_KEYS = {"booking": "booking", "session": "session", "request": "request"}

_collected: contextvars.ContextVar[list[Change] | None] = contextvars.ContextVar("collected_changes", default=None)


def record_event(event: str, user_ids: list[int], data: dict) -> None:
    objects = [(kind, data[key]) for key, kind in TRACKED_KEYS.items() if isinstance(data.get(key), int)]
    rows = [Change(user_id=user_id, kind=kind, object_id=pk) for user_id in user_ids for kind, pk in objects]
    if event == "profile.updated":
        rows += [Change(user_id=user_id, kind="profile", object_id=user_id) for user_id in user_ids]
    _append(rows)


def record_rows(rows: list[tuple[int, str, int]]) -> None:
    """(user id, kind, object id) changes recorded directly, for objects no event data names
    (a user's notifications)."""
    _append([Change(user_id=user_id, kind=kind, object_id=pk) for user_id, kind, pk in rows])


def _append(rows: list[Change]) -> None:
    if not rows:
        return
    collected = _collected.get()
    if collected is not None:
        collected += rows
    else:
        Change.objects.append(rows)


@contextlib.contextmanager
def collected() -> Iterator[None]:
    """Write the rows recorded inside this block in one insert when it ends without an error.
    Use it inside the transaction that makes the changes (a sync push chunk), so the rows still
    commit with them. A refused mutation's rows are written too even though its savepoint rolled
    back: a change row only says "read this again", so a spare one costs a re-read, never a
    wrong answer."""
    rows: list[Change] = []
    token = _collected.set(rows)
    try:
        yield
    finally:
        _collected.reset(token)
    if rows:
        Change.objects.append(rows)
