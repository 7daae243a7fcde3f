"""The one event pipeline. Services call `publish` inside their transaction; nothing leaves
until the transaction commits, then each recipient's open pages (and later the notification
fan-out and the sync poke) get the event over the channel layer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(event: str, *, to: Iterable, data: dict | None = None) -> None:
    """Send `event` to users (objects or ids) after the current transaction commits."""
    user_ids = sorted({getattr(u, "pk", u) for u in to if u is not None})
    payload = {"type": "event.message", "event": event, "data": data or {}}

    def send():
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for user_id in user_ids:
            try:
                if loop is not None:  # called from async code's thread: hand it to that loop
                    loop.create_task(layer.group_send(user_group(user_id), payload))
                else:
                    async_to_sync(layer.group_send)(user_group(user_id), payload)
            except Exception:  # a dead layer must not break the request that already committed
                log.warning("event %s to user %s not delivered", event, user_id, exc_info=True)

    if user_ids:
        transaction.on_commit(send)
