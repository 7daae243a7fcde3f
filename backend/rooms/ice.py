"""The STUN/TURN servers a member's browser is given (RTCIceServer dictionaries).

TURN uses time-limited credentials from a shared secret (coturn's `use-auth-secret`): the
username is "<unix expiry>:<user id>" and the password base64(HMAC-SHA1(secret, username)), so
the TURN server checks them without a database and a leaked one stops working on its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from django.conf import settings


def turn_credentials(user_id: int, *, now: float | None = None) -> tuple[str, str]:
    expiry = int((now if now is not None else time.time()) + settings.ROOM_TURN_TTL_SECONDS)
    username = f"{expiry}:{user_id}"
    digest = hmac.new(settings.ROOM_TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def servers_for(user) -> list[dict]:
    servers: list[dict] = []
    if settings.ROOM_STUN_URLS:
        servers.append({"urls": list(settings.ROOM_STUN_URLS)})
    if settings.ROOM_TURN_URLS and settings.ROOM_TURN_SECRET:
        username, credential = turn_credentials(user.pk)
        servers.append({"urls": list(settings.ROOM_TURN_URLS), "username": username, "credential": credential})
    return servers
