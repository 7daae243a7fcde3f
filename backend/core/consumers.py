"""/ws/updates/: one socket per open page, carrying live events.

A signed-in user's own events (bookings, requests, …) come from backend.core.events.publish
after commit. The user is known from the session cookie (pages) or from a JWT access token sent
as the second WebSocket subprotocol, `["peerlearn.bearer", "<token>"]` (API clients; keeps tokens
out of URLs and logs); a token that does not verify closes the socket with 4401.

Anyone, signed in or not, may also watch public sessions' free seats: the page sends
`{"type": "watch", "sessions": [ids]}` (replacing what it watched before) and then receives
`session.seats` events for those sessions.
"""

from __future__ import annotations

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from backend.core.events import user_group
from backend.marketplace.live import MAX_WATCHED, session_group, watchable_ids

BEARER = "peerlearn.bearer"
MAX_INBOUND_BYTES = 2048
CLOSE_UNAUTHENTICATED = 4401
WATCHES_PER_MINUTE = 20  # each watch costs a query; a page sends one per load or scroll


@database_sync_to_async
def user_from_token(raw: str):
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    auth = JWTAuthentication()
    try:
        user = auth.get_user(auth.get_validated_token(raw.encode()))
    except (InvalidToken, TokenError, Exception):
        return None
    return user if user.is_active else None


async def socket_user(scope) -> tuple[object, str | None, bool]:
    """(user, subprotocol to accept, token_refused). A client that offers the bearer
    subprotocol is whoever its token names; otherwise the page's session user."""
    protocols = scope.get("subprotocols") or []
    if len(protocols) == 2 and protocols[0] == BEARER:
        user = await user_from_token(protocols[1])
        return user, BEARER, user is None
    return scope.get("user"), None, False


class UpdatesConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.group: str | None = None
        self.watched: list[str] = []
        self.watch_times: list[float] = []
        user, subprotocol, refused = await socket_user(self.scope)
        if refused:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        signed_in = user is not None and user.is_authenticated
        self.group = user_group(user.pk) if signed_in else None
        if self.group:
            await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol=subprotocol)
        await self.send(json.dumps({"type": "hello", "user": user.pk if signed_in else None}))

    async def disconnect(self, code):
        for group in [getattr(self, "group", None), *getattr(self, "watched", [])]:
            if group:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # Clients send keep-alive pings and the list of sessions they show.
        if bytes_data is not None or text_data is None or len(text_data) > MAX_INBOUND_BYTES:
            await self._error("bad_frame")
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            await self.send(json.dumps({"type": "pong"}))
        elif kind == "watch":
            await self._watch(message.get("sessions"))
        else:
            await self._error("unknown_message")

    async def _watch(self, ids) -> None:
        valid = (
            isinstance(ids, list)
            and len(ids) <= MAX_WATCHED
            and all(type(i) is int and 0 < i < 2**63 for i in ids)  # bools are ints: excluded
        )
        if not valid:
            await self._error("bad_watch", f"sessions: a list of at most {MAX_WATCHED} ids")
            return
        now = time.monotonic()
        self.watch_times = [t for t in self.watch_times if now - t < 60]
        if len(self.watch_times) >= WATCHES_PER_MINUTE:
            await self._error("rate_limited")
            return
        self.watch_times.append(now)
        groups = [session_group(pk) for pk in await database_sync_to_async(watchable_ids)(sorted(set(ids)))]
        for group in set(self.watched) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(groups) - set(self.watched):
            await self.channel_layer.group_add(group, self.channel_name)
        self.watched = groups
        await self.send(json.dumps({"type": "watching", "sessions": len(groups)}))

    async def _error(self, code: str, message: str = "") -> None:
        frame = {"type": "error", "code": code}
        if message:
            frame["message"] = message
        await self.send(json.dumps(frame))

    async def event_message(self, event):
        await self.send(json.dumps({"type": "event", "event": event["event"], "data": event["data"]}))
        if event["event"] == "user.blocked":
            # Sent only to the blocked account's own group: its open sockets end now, not when
            # they next reconnect, and 4401 tells the page not to try again.
            await self.close(code=CLOSE_UNAUTHENTICATED)
