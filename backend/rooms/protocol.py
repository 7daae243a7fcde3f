"""The live room's WebSocket protocol, `/ws/room/<code>/`, and the schema of every inbound frame.

Connecting. The page's session cookie signs the socket in (API clients send a JWT access token
as the second subprotocol, `["peerlearn.bearer", "<token>"]`, as on /ws/updates/). The origin
must be one of ALLOWED_HOSTS. Someone who may not enter is accepted only long enough to read
why: one `{"type": "refused", "code", "message"}` frame, then the socket closes with:
  4401 not signed in, or a token that does not verify
  4403 not a member: only the session's mentor and learners with a confirmed booking
  4404 no room with that code
  4408 outside the window (code `too_early` with `opens_at`, or `too_late`)
  4410 the session was cancelled or has ended
  4429 flooding (too many frames over the rate limits)

Server to client (JSON text frames):
  welcome         {you: member, session: {id, title, state, starts_at, ends_at, closes_at},
                   members: [member], timer, chat: [message], strokes: [stroke],
                   checklist: [item], ice_servers: [RTCIceServer]}
                  member = {peer, user, name, role: "mentor"|"learner", ready, audio, video}
                  timer = {elapsed: seconds, running: bool}
  member.joined   {member}          member.left {peer, user}
  member.ready    {peer, ready}     member.media {peer, audio, video}
  session.state   {state}           "live" after the mentor's go_live
  timer           {elapsed, running}
  signal          {from: peer, n, data}   n numbers the relays from one peer to you, 1, 2, 3…
  signal.lost     {from: peer}     a gap could not be filled: renegotiate with that peer
  chat            {message: {id, user, name, body, at}}
  stroke          {stroke: {id, user, data}}      board.cleared {by}
  checklist       {item: {index, label, done, by}}
  ended           {by}              the mentor ended the session (now completed)
  pong            {}
  error           {code, message, ref?}   a refused frame; `ref` echoes its type. Nothing happened.

Client to server:
  ping            {}                      keeps presence fresh (send every 20 s)
  ready           {ready: bool}
  media           {audio: bool, video: bool}
  go_live         {}                      mentor only, once the room is open
  signal          {to: peer, seq, data}   seq: an integer that grows with every signal this
                                          socket sends (to anyone); a seq not above the last one
                                          is refused as `replayed`. data: {description: {type,
                                          sdp}} or {candidate: {...}} or {candidate: null}
  resend          {peer, from: n}         you saw relay n+k from `peer` before n: the server
                                          sends that peer's relays to you again from n (or
                                          `signal.lost` when they are no longer kept)
  chat            {body: 1-2000 chars}
  stroke          {data: {color: "#rrggbb", width: 1-40, points: [[x, y], …]}}  x, y in 0…1;
                                          2-1000 points
  clear_board     {}
  checklist       {index, done: bool}    index into the session's topics
  end             {}                      mentor only: the session is completed

Limits: a frame is at most MAX_FRAME_BYTES; each socket has a token bucket for all frames and
tighter ones for chat and strokes; a socket that keeps going over them is closed with 4429.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

MAX_FRAME_BYTES = 32 * 1024  # an SDP offer with simulcast and screen share stays well under this
MAX_CHAT_CHARS = 2000
MAX_STROKE_POINTS = 1000
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
PEER = re.compile(r"^[A-Za-z0-9_-]{6,32}$")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_OUTSIDE_WINDOW = 4408
CLOSE_GONE = 4410
CLOSE_FLOODING = 4429


class Invalid(Exception):
    """An inbound frame that does not match its schema."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Frame:
    type: str
    body: dict


def _bool(body: dict, key: str) -> bool:
    value = body.get(key)
    if type(value) is not bool:
        raise Invalid("invalid", f"{key}: true or false")
    return value


def _int(body: dict, key: str, low: int, high: int) -> int:
    value = body.get(key)
    if type(value) is not int or not low <= value <= high:  # bools are ints: excluded
        raise Invalid("invalid", f"{key}: a whole number from {low} to {high}")
    return value


def _peer(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not PEER.match(value):
        raise Invalid("invalid", f"{key}: a peer id")
    return value


def _number(value) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= 1:
        raise Invalid("invalid", "points: [x, y] pairs between 0 and 1")
    return round(float(value), 4)


def _signal_data(data) -> dict:
    if not isinstance(data, dict) or len(data) != 1:
        raise Invalid("invalid", "data: {description} or {candidate}")
    if "description" in data:
        description = data["description"]
        if (
            not isinstance(description, dict)
            or description.get("type") not in ("offer", "answer", "pranswer", "rollback")
            or not isinstance(description.get("sdp", ""), str)
        ):
            raise Invalid("invalid", "description: {type, sdp}")
        return {"description": {"type": description["type"], "sdp": description.get("sdp", "")}}
    if "candidate" in data:
        candidate = data["candidate"]
        if candidate is None:  # end of candidates
            return {"candidate": None}
        if not isinstance(candidate, dict) or not isinstance(candidate.get("candidate"), str):
            raise Invalid("invalid", "candidate: {candidate, sdpMid, sdpMLineIndex}")
        mid, index, fragment = (
            candidate.get("sdpMid"),
            candidate.get("sdpMLineIndex"),
            candidate.get("usernameFragment"),
        )
        if mid is not None and not isinstance(mid, str):
            raise Invalid("invalid", "candidate.sdpMid: text")
        if index is not None and (type(index) is not int or not 0 <= index < 64):
            raise Invalid("invalid", "candidate.sdpMLineIndex: a small whole number")
        if fragment is not None and not isinstance(fragment, str):
            raise Invalid("invalid", "candidate.usernameFragment: text")
        return {
            "candidate": {
                "candidate": candidate["candidate"],
                "sdpMid": mid,
                "sdpMLineIndex": index,
                "usernameFragment": fragment,
            }
        }
    raise Invalid("invalid", "data: {description} or {candidate}")


def _stroke(data) -> dict:
    if not isinstance(data, dict):
        raise Invalid("invalid", "data: {color, width, points}")
    color = data.get("color")
    if not isinstance(color, str) or not COLOR.match(color):
        raise Invalid("invalid", "color: #rrggbb")
    width = data.get("width")
    if type(width) not in (int, float) or not math.isfinite(width) or not 1 <= width <= 40:
        raise Invalid("invalid", "width: 1 to 40")
    points = data.get("points")
    if not isinstance(points, list) or not 2 <= len(points) <= MAX_STROKE_POINTS:
        raise Invalid("invalid", f"points: 2 to {MAX_STROKE_POINTS} [x, y] pairs")
    clean = []
    for point in points:
        if not isinstance(point, list) or len(point) != 2:
            raise Invalid("invalid", "points: [x, y] pairs between 0 and 1")
        clean.append([_number(point[0]), _number(point[1])])
    return {"color": color.lower(), "width": round(float(width), 1), "points": clean}


def _chat(body: dict) -> dict:
    text = body.get("body")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CHAT_CHARS:
        raise Invalid("invalid", f"body: 1 to {MAX_CHAT_CHARS} characters")
    return {"body": text.strip()}


# Each inbound type and how its body is checked; the result is all the consumer ever reads.
SCHEMAS = {
    "ping": lambda b: {},
    "ready": lambda b: {"ready": _bool(b, "ready")},
    "media": lambda b: {"audio": _bool(b, "audio"), "video": _bool(b, "video")},
    "go_live": lambda b: {},
    "signal": lambda b: {"to": _peer(b, "to"), "seq": _int(b, "seq", 1, 2**53), "data": _signal_data(b.get("data"))},
    "resend": lambda b: {"peer": _peer(b, "peer"), "from": _int(b, "from", 1, 2**53)},
    "chat": _chat,
    "stroke": lambda b: {"data": _stroke(b.get("data"))},
    "clear_board": lambda b: {},
    "checklist": lambda b: {"index": _int(b, "index", 0, 99), "done": _bool(b, "done")},
    "end": lambda b: {},
}


def parse(raw: str | None) -> Frame:
    """The frame's type and checked body, or Invalid."""
    if raw is None:
        raise Invalid("bad_frame", "Send JSON text frames.")
    if len(raw) > MAX_FRAME_BYTES or len(raw.encode()) > MAX_FRAME_BYTES:
        raise Invalid("too_large", f"Frames are at most {MAX_FRAME_BYTES} bytes.")
    try:
        message = json.loads(raw)
    except ValueError:
        raise Invalid("bad_frame", "Send JSON text frames.") from None
    kind = message.get("type") if isinstance(message, dict) else None
    schema = SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise Invalid("unknown_type", "Unknown message type.")
    return Frame(kind, schema(message))
