"""The one event pipeline. Services call `publish` inside their transaction; nothing leaves
until the transaction commits, then each recipient's open pages (and later the notification
fan-out and the sync poke) get the event over the channel layer.

`broadcast` is the same pipeline for public facts that anyone watching may see (a session's
free seats), sent to named groups instead of users."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _send(groups: list[str], event: str, data: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    payload = {"type": "event.message", "event": event, "data": data}
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    for group in groups:
        try:
            if loop is not None:  # called from async code's thread: hand it to that loop
                loop.create_task(layer.group_send(group, payload))
            else:
                async_to_sync(layer.group_send)(group, payload)
        except Exception:  # a dead layer must not break the request that already committed
            log.warning("event %s to %s not delivered", event, group, exc_info=True)


# Called inside the publishing transaction with (event, user_ids, data), so what they write
# commits or rolls back with the change itself (the sync change log hangs off this).
_in_transaction_listeners: list[Callable[[str, list[int], dict], None]] = []


def listen(listener: Callable[[str, list[int], dict], None]) -> None:
    if listener not in _in_transaction_listeners:
        _in_transaction_listeners.append(listener)


def publish(event: str, *, to: Iterable, data: dict | None = None) -> None:
    """Send `event` to users (objects or ids) after the current transaction commits."""
    user_ids = sorted({getattr(u, "pk", u) for u in to if u is not None})
    if not user_ids:
        return
    for listener in _in_transaction_listeners:
        listener(event, user_ids, data or {})
    transaction.on_commit(lambda: _send([user_group(pk) for pk in user_ids], event, data or {}))


def broadcast(event: str, *, messages: Callable[[], dict[str, dict]]) -> None:
    """After commit, call `messages()` for {group: data} (read then, so it sees the committed
    state) and send `event` with each data to its group."""

    def send():
        try:
            by_group = messages()
        except Exception:
            log.warning("event %s not built", event, exc_info=True)
            return
        for group, data in by_group.items():
            _send([group], event, data)

    transaction.on_commit(send)
