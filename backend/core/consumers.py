"""/ws/updates/: one socket per open page, carrying the signed-in user's events live.

Authenticated by the session cookie (pages) or by a JWT access token sent as the second
WebSocket subprotocol, `["peerlearn.bearer", "<token>"]` (API clients; keeps tokens out of
URLs and logs). Events come from backend.core.events.publish after commit.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from backend.core.events import user_group

BEARER = "peerlearn.bearer"
MAX_INBOUND_BYTES = 1024
CLOSE_UNAUTHENTICATED = 4401


@database_sync_to_async
def _user_from_token(raw: str):
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    auth = JWTAuthentication()
    try:
        user = auth.get_user(auth.get_validated_token(raw.encode()))
    except (InvalidToken, TokenError, Exception):
        return None
    return user if user.is_active else None


class UpdatesConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        protocols = self.scope.get("subprotocols") or []
        subprotocol = None
        user = self.scope.get("user")
        if len(protocols) == 2 and protocols[0] == BEARER:
            user = await _user_from_token(protocols[1])
            subprotocol = BEARER
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol=subprotocol)
        await self.send(json.dumps({"type": "hello", "user": user.pk}))

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # Nothing is sent to the server on this socket but keep-alive pings.
        if bytes_data is not None or text_data is None or len(text_data) > MAX_INBOUND_BYTES:
            await self.send(json.dumps({"type": "error", "code": "bad_frame"}))
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("type") == "ping":
            await self.send(json.dumps({"type": "pong"}))
        else:
            await self.send(json.dumps({"type": "error", "code": "unknown_message"}))

    async def event_message(self, event):
        await self.send(json.dumps({"type": "event", "event": event["event"], "data": event["data"]}))
