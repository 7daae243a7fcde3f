"""/ws/room/<code>/: one socket per member's open room page. See backend/rooms/protocol.py for
the frames.

Each socket is a member ("peer") of its room's group. Signalling goes peer to peer through the
channel layer: the sending socket numbers its relays to each peer (n = 1, 2, …) and keeps the
last few, so the receiving page can notice one the layer dropped (Channels delivers at most
once) and ask for it again. Everything else the room keeps (chat, strokes, checklist, the clock)
is written through backend.rooms.services and sent to the group after it commits.
"""

from __future__ import annotations

import collections
import json
import logging
import secrets
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from backend.core.consumers import socket_user
from backend.core.errors import DomainError
from backend.rooms import ice, protocol, selectors, services

log = logging.getLogger(__name__)

RELAYS_KEPT = 128  # per peer: enough for a renegotiation's offer and its burst of candidates
TOUCH_EVERY = 25  # seconds between presence writes; pings come every 20 s


class Bucket:
    """A token bucket: `rate` frames a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


# Per socket. ICE gathering sends a few dozen candidates at once, hence the burst; chat and
# strokes are human-paced; a resend replays up to RELAYS_KEPT frames, so it is rationed hardest.
LIMITS = {"all": (60, 200), "chat": (2, 10), "stroke": (15, 60), "resend": (1, 5)}
STRIKES_BEFORE_CLOSE = 50  # frames refused for rate or shape within STRIKE_WINDOW seconds
STRIKE_WINDOW = 10

db = database_sync_to_async


class RoomConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message):
        # Channels closes stale database connections before every message, which is a hop to
        # the one database thread per relayed signal; under load relays queued behind presence
        # writes. The database work here goes through database_sync_to_async, which does that
        # housekeeping itself around each call.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.access = None
        self.closing = False
        self.member_group = None
        user, subprotocol, token_refused = await socket_user(self.scope)
        await self.accept(subprotocol=subprotocol)
        if getattr(user, "is_authenticated", False) and not token_refused:
            # Before the access check: a block or a cancellation committed from here on is heard
            # (event_message), however the rest of the entry interleaves with it.
            self.member_group = services.member_group(user.pk)
            await self.channel_layer.group_add(self.member_group, self.channel_name)
        if token_refused:
            await self._refuse(
                selectors.RoomRefused("unauthenticated", "Sign in again.", protocol.CLOSE_UNAUTHENTICATED)
            )
            return
        code = self.scope["url_route"]["kwargs"]["code"]
        try:
            self.access = await db(selectors.room_access)(user, code)
        except selectors.RoomRefused as refused:
            log.info("room %s refused user %s: %s", code, getattr(user, "pk", None), refused.code)
            await self._refuse(refused)
            return
        self.user = user
        self.session = self.access.session
        self.group = self.access.group
        self.peer = secrets.token_urlsafe(12)
        self.peers: dict[str, str] = {}  # peer -> channel name, for this room's members only
        self.last_seq = 0
        self.relayed: dict[str, int] = collections.defaultdict(int)
        self.kept: dict[str, collections.deque] = collections.defaultdict(lambda: collections.deque(maxlen=RELAYS_KEPT))
        self.buckets = {name: Bucket(*limit) for name, limit in LIMITS.items()}
        self.strikes: collections.deque = collections.deque()
        self.touched = time.monotonic()
        # Order matters: present in the database and in the group before reading who is here,
        # and announced before this page hears "welcome" and starts signalling, so every other
        # socket learns of this peer before its first signal arrives.
        timer = await db(services.presence_join)(
            session=self.session, user=user, role=self.access.role, peer=self.peer, channel_name=self.channel_name
        )
        await self.channel_layer.group_add(self.group, self.channel_name)
        present, history = await db(self._entry_snapshot)()
        me = None
        for member, channel in present:
            if member["peer"] == self.peer:
                me = member
            else:
                self.peers[member["peer"]] = channel
        me = me or {"peer": self.peer, "user": user.pk, "name": user.full_name, "role": self.access.role}
        await self._to_room("member.joined", {"member": me}, channel=self.channel_name)
        await self._to_room("timer", timer)
        await self._send(
            {
                "type": "welcome",
                "you": me,
                "session": selectors.session_summary(self.session),
                "members": [m for m, _ in present if m["peer"] != self.peer],
                **history,
                "timer": timer,
                "ice_servers": ice.servers_for(user),
            }
        )

    def _entry_snapshot(self):
        return selectors.members(self.session.pk), selectors.history(self.session)

    async def disconnect(self, code):
        if getattr(self, "member_group", None):
            await self._leave_group(self.member_group)
        if getattr(self, "access", None) is None or not hasattr(self, "peer"):
            return
        # The presence row first: if the layer is in trouble, the member must still leave.
        timer = await db(services.presence_leave)(peer=self.peer)
        await self._leave_group(self.group)
        await self._to_room("member.left", {"peer": self.peer, "user": self.user.pk})
        if timer is not None:
            await self._to_room("timer", timer)

    async def _leave_group(self, group: str) -> None:
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:  # the layer in trouble: the group's expiry cleans up after it
            log.warning("room socket %s: group_discard of %s failed", self.channel_name, group, exc_info=True)

    # --- inbound -----------------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if self.access is None or self.closing:
            return  # refused and closing
        if not self.buckets["all"].take():
            await self._strike("rate_limited", "Too many messages; slow down.", None)
            return
        try:
            frame = protocol.parse(text_data if bytes_data is None else None)
        except protocol.Invalid as invalid:
            await self._strike(invalid.code, invalid.message, None)
            return
        handler = getattr(self, f"on_{frame.type}")
        try:
            await handler(frame.body)
        except DomainError as refused:
            await self._error(refused.code, refused.message, frame.type)

    async def on_ping(self, body):
        now = time.monotonic()
        if now - self.touched >= TOUCH_EVERY:
            self.touched = now
            await db(services.presence_touch)(peer=self.peer)
        if timezone.now() >= selectors.window(self.session)[1]:
            await self._refuse(
                selectors.RoomRefused("too_late", "This room has closed.", protocol.CLOSE_OUTSIDE_WINDOW)
            )
            return
        await self._send({"type": "pong"})

    async def on_ready(self, body):
        await db(services.presence_update)(peer=self.peer, ready=body["ready"])
        await self._to_room("member.ready", {"peer": self.peer, "ready": body["ready"]})

    async def on_media(self, body):
        await db(services.presence_update)(peer=self.peer, **body)
        await self._to_room("member.media", {"peer": self.peer, **body})

    async def on_go_live(self, body):
        self._mentor_only()
        timer = await db(services.session_go_live)(mentor=self.user, session=self.session)
        self.session.state = "live"
        await self._to_room("session.state", {"state": "live"})
        await self._to_room("timer", timer)

    async def on_end(self, body):
        self._mentor_only()
        await db(services.session_complete)(session=self.session, by=self.user)
        self.session.state = "completed"
        await self._to_room("ended", {"by": self.user.pk})

    async def on_signal(self, body):
        target = self.peers.get(body["to"])
        if target is None:
            await self._strike("unknown_peer", "That peer is not in this room.", "signal")
            return
        if body["seq"] <= self.last_seq:
            log.warning("room %s: peer %s replayed signal seq %s", self.session.pk, self.peer, body["seq"])
            await self._strike("replayed", "This signal was already sent.", "signal")
            return
        self.last_seq = body["seq"]
        self.relayed[body["to"]] += 1
        n = self.relayed[body["to"]]
        self.kept[body["to"]].append((n, body["data"]))
        # A relay the layer cannot take is not the sender's fault: the receiving page sees the
        # gap at the next relay and asks for it again from what is kept here.
        await self._relay(
            target,
            {"type": "room.signal", "from": self.peer, "channel": self.channel_name, "n": n, "data": body["data"]},
        )

    async def on_resend(self, body):
        if not self.buckets["resend"].take():
            await self._strike("rate_limited", "Too many resend requests.", "resend")
            return
        target = self.peers.get(body["peer"])
        if target is None:
            await self._strike("unknown_peer", "That peer is not in this room.", "resend")
            return
        await self._relay(
            target, {"type": "room.resend", "peer": self.peer, "channel": self.channel_name, "from": body["from"]}
        )

    async def on_chat(self, body):
        if not self.buckets["chat"].take():
            await self._strike("rate_limited", "You are sending messages too fast.", "chat")
            return
        message = await db(services.chat_post)(session=self.session, user=self.user, body=body["body"])
        await self._to_room("chat", {"message": selectors.chat_message(message, self.user.full_name)})

    async def on_stroke(self, body):
        if not self.buckets["stroke"].take():
            await self._strike("rate_limited", "You are drawing too fast.", "stroke")
            return
        stroke = await db(services.stroke_add)(session=self.session, user=self.user, data=body["data"])
        await self._to_room("stroke", {"stroke": {"id": stroke.pk, "user": self.user.pk, "data": stroke.data}})

    async def on_clear_board(self, body):
        await db(services.board_clear)(session=self.session, user=self.user)
        await self._to_room("board.cleared", {"by": self.user.pk})

    async def on_checklist(self, body):
        item = await db(services.checklist_mark)(
            session=self.session, user=self.user, index=body["index"], done=body["done"]
        )
        await self._to_room("checklist", {"item": item})

    def _mentor_only(self):
        if self.access.role != "mentor":
            raise DomainError("not_mentor", "Only the mentor can do this.")

    # --- from the channel layer ------------------------------------------------------------------
    async def room_frame(self, event):
        frame = event["frame"]
        if frame["type"] == "member.joined" and frame["member"]["peer"] != self.peer:
            self.peers[frame["member"]["peer"]] = event["channel"]
        elif frame["type"] == "member.left":
            self.peers.pop(frame["peer"], None)
            self.kept.pop(frame["peer"], None)
        if frame["type"].startswith("member.") and frame.get("peer", frame.get("member", {}).get("peer")) == self.peer:
            return  # a page knows its own comings and goings
        await self._send(frame)

    async def room_signal(self, event):
        # Only sockets of this room know this channel's name, so `from` is a member; it may be
        # one whose "joined" is still on its way.
        self.peers.setdefault(event["from"], event["channel"])
        await self._send({"type": "signal", "from": event["from"], "n": event["n"], "data": event["data"]})

    async def room_resend(self, event):
        kept = self.kept.get(event["peer"])
        if not kept or kept[0][0] > event["from"]:
            await self._relay(event["channel"], {"type": "room.lost", "from": self.peer})
            return
        for n, data in kept:
            if n >= event["from"]:
                await self._relay(
                    event["channel"],
                    {"type": "room.signal", "from": self.peer, "channel": self.channel_name, "n": n, "data": data},
                )

    async def room_lost(self, event):
        await self._send({"type": "signal.lost", "from": event["from"]})

    async def event_message(self, event):
        # services.CALL_ENDERS, sent to the account's room sockets: the account blocked, or this
        # session cancelled (an admin stopping a live call). The page hangs up on the refusal, and
        # leaving closes the attendance record.
        if self.closing or getattr(self, "access", None) is None:
            return
        if event["event"] == "user.blocked":
            log.info("room %s: closing the socket of blocked user %s", self.session.pk, self.user.pk)
            await self._refuse(
                selectors.RoomRefused("blocked", "This account has been blocked.", protocol.CLOSE_UNAUTHENTICATED)
            )
        elif event["event"] == "session.cancelled" and event["data"].get("session") == self.session.pk:
            reason = event["data"].get("reason") or ""
            message = f"This session was cancelled: {reason}" if reason else "This session was cancelled."
            await self._refuse(selectors.RoomRefused("cancelled", message, protocol.CLOSE_GONE))

    # --- outbound ----------------------------------------------------------------------------------
    async def _relay(self, channel: str, message: dict) -> None:
        try:
            await self.channel_layer.send(channel, message)
        except ChannelFull:
            log.warning("room %s: %s to a full channel dropped", self.session.pk, message["type"])
        except Exception:  # the layer's backend is down or out of connections: keep the socket
            log.warning("room %s: %s not relayed", self.session.pk, message["type"], exc_info=True)

    async def _to_room(self, kind: str, body: dict, *, channel: str | None = None):
        try:
            await self.channel_layer.group_send(
                self.group, {"type": "room.frame", "frame": {"type": kind, **body}, "channel": channel}
            )
        except Exception:
            log.warning("room %s: %s not sent to the room", self.session.pk, kind, exc_info=True)

    async def _send(self, frame: dict):
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))

    async def _error(self, code: str, message: str, ref: str | None):
        frame = {"type": "error", "code": code, "message": message}
        if ref:
            frame["ref"] = ref
        await self._send(frame)

    async def _strike(self, code: str, message: str, ref: str | None):
        """Refuse one frame; a socket that keeps earning refusals is closed so it cannot keep a
        process busy at the other rooms' expense."""
        now = time.monotonic()
        self.strikes.append(now)
        while self.strikes and now - self.strikes[0] > STRIKE_WINDOW:
            self.strikes.popleft()
        if len(self.strikes) > STRIKES_BEFORE_CLOSE:
            log.warning("room %s: closing peer %s of user %s for flooding", self.session.pk, self.peer, self.user.pk)
            await self._refuse(selectors.RoomRefused("flooding", "Too many refused messages.", protocol.CLOSE_FLOODING))
            return
        await self._error(code, message, ref)

    async def _refuse(self, refused: selectors.RoomRefused):
        self.closing = True
        await self._send(refused.frame())
        await self.close(code=refused.close_code)
