"""The one event pipeline. Services call `publish` inside their transaction; nothing leaves
until the transaction commits, then each recipient's open pages (and later the notification
fan-out and the sync poke) get the event over the channel layer.

`broadcast` is the same pipeline for public facts that anyone watching may see (a session's
free seats), sent to named groups instead of users.

`held_back()` collects what commits inside it and sends it all at once at the end: a sync push
applies up to a hundred mutations, each in its own transaction, and one hop to the channel
layer for the lot is far cheaper than one per event."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterable, Iterator

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

Message = tuple[str, str, dict]  # (group, event, data)
MessagesFor = Callable[[set[int]], dict[str, dict]]


class _Held:
    def __init__(self):
        self.builds: list[Callable[[], list[Message]]] = []
        # Broadcasts about many objects merge while held: one read for all their ids.
        self.merged: dict[tuple[str, MessagesFor], set[int]] = {}
        # Follow-up work merges too: one call (one job enqueued) with every id of the batch.
        self.follow_ups: dict[Callable[[list[int]], None], list[int]] = {}

    def messages(self) -> list[Message]:
        found = [message for build in self.builds for message in _built(build)]
        for (event, messages_for), ids in self.merged.items():
            found += _built(lambda e=event, f=messages_for, i=ids: [(g, e, d) for g, d in f(i).items()])
        return found


_held: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("held_events", default=None)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


async def _group_send_all(layer, messages: list[Message]) -> None:
    results = await asyncio.gather(
        *(
            layer.group_send(group, {"type": "event.message", "event": event, "data": data})
            for group, event, data in messages
        ),
        return_exceptions=True,
    )
    for (group, event, _), result in zip(messages, results, strict=True):
        if isinstance(result, Exception):  # a dead layer must not break what already committed
            log.warning("event %s to %s not delivered: %r", event, group, result)


def _deliver(messages: list[Message]) -> None:
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None:  # called from async code's thread: hand it to that loop
            loop.create_task(_group_send_all(layer, messages))
        else:
            async_to_sync(_group_send_all)(layer, messages)
    except Exception:
        log.warning("%d events not delivered", len(messages), exc_info=True)


def _after_commit(build: Callable[[], list[Message]]) -> None:
    def run():
        held = _held.get()
        if held is not None:
            held.builds.append(build)
        else:
            _deliver(_built(build))

    transaction.on_commit(run)


def send_after_commit(build: Callable[[], list[Message]]) -> None:
    """Send (group, event, data) messages built after commit, bypassing the in-transaction
    listeners: for news derived from an event already published (a notification of it)."""
    _after_commit(build)


def _built(build: Callable[[], list[Message]]) -> list[Message]:
    try:
        return build()
    except Exception:
        log.warning("event not built", exc_info=True)
        return []


@contextlib.contextmanager
def held_back() -> Iterator[None]:
    held = _Held()
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        _deliver(held.messages())
        for follow_up, ids in held.follow_ups.items():
            try:
                follow_up(ids)
            except Exception:  # what committed stays committed; the job's own retry covers it
                log.warning("follow-up %s not run", getattr(follow_up, "__name__", follow_up), exc_info=True)


def after_commit_with(follow_up: Callable[[list[int]], None], ids: list[int]) -> None:
    """Call `follow_up(ids)` after the transaction commits; while held back (a sync push), the
    ids of every commit in the batch are merged into one call at the end."""

    def run():
        held = _held.get()
        if held is not None:
            held.follow_ups.setdefault(follow_up, []).extend(ids)
            return
        try:
            follow_up(ids)
        except Exception:  # a queue down (Redis away) must not fail a request whose data committed
            log.warning("follow-up %s not run", getattr(follow_up, "__name__", follow_up), exc_info=True)

    transaction.on_commit(run)


# Called inside the publishing transaction with (event, user_ids, data), so what they write
# commits or rolls back with the change itself (the sync change log hangs off this).
_in_transaction_listeners: list[Callable[[str, list[int], dict], None]] = []


def listen(listener: Callable[[str, list[int], dict], None]) -> None:
    if listener not in _in_transaction_listeners:
        _in_transaction_listeners.append(listener)


def publish(event: str, *, to: Iterable, data: dict | None = None, actor=None) -> None:
    """Send `event` to users (objects or ids) after the current transaction commits. `actor`
    (who did it) travels in the data as "actor": their own pages update, but nobody is
    notified of what they did themselves."""
    user_ids = sorted({getattr(u, "pk", u) for u in to if u is not None})
    if not user_ids:
        return
    data = data or {}
    if actor is not None:
        data = {**data, "actor": getattr(actor, "pk", actor)}
    # The event goes out before anything its listeners derive from it (its notification).
    _after_commit(lambda: [(user_group(pk), event, data) for pk in user_ids])
    for listener in _in_transaction_listeners:
        listener(event, user_ids, data)


def broadcast(event: str, *, ids: Iterable[int], messages_for: MessagesFor) -> None:
    """After commit, call `messages_for(ids)` for {group: data} (read then, so it sees the
    committed state) and send `event` with each data to its group."""
    ids = set(ids)

    def run():
        held = _held.get()
        if held is not None:
            held.merged.setdefault((event, messages_for), set()).update(ids)
        else:
            _deliver(_built(lambda: [(group, event, data) for group, data in messages_for(ids).items()]))

    if ids:
        transaction.on_commit(run)
