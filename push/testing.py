"""TEST STAND-IN for a browser push service (FCM, Mozilla autopush, Apple) on 127.0.0.1.

Never used by the running app: tests and bench/push_fanout.py point subscriptions at it, since
they never reach the internet. It speaks the real protocol and checks what a push service checks:
`POST /push/<id>` with `Authorization: vapid t=<ES256 JWT>, k=<public key>` (signature, aud = this
origin, exp in the future and at most 24 h away, sub present), TTL, Urgency and Topic headers and
an aes128gcm body, which it decrypts with the subscription's private key and auth secret the way
the browser would. Subscriptions are made like a browser makes them (`subscribe()`: a P-256 key
pair and 16 random bytes). Each delivery is recorded; the answer is programmable per subscription
(201 by default; 404, 410, 429 with Retry-After, 500, or hang for some seconds first).

    with PushServiceStandIn() as service:
        browser = service.subscribe()         # browser.as_json() is PushSubscription.toJSON()
        service.program(browser.id, Reply(429, retry_after="7"))
        ...
        service.received[0].payload
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

MAX_TOKEN_LIFETIME = 24 * 3600
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
URGENCIES = {"very-low", "low", "normal", "high"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserSubscription:
    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        return _b64(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return _b64(self.auth_secret)

    def as_json(self) -> dict:
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True)
class Reply:
    status: int = 201
    retry_after: str | None = None
    hang_seconds: float = 0.0


@dataclass
class Delivery:
    subscription_id: str
    payload: dict
    ttl: int
    urgency: str
    topic: str | None
    vapid_claims: dict
    vapid_key: str
    status: int


@dataclass
class PushServiceStandIn:
    keep_payloads: bool = True  # the benchmark only counts
    tls: ssl.SSLContext | None = None  # https, as real push services (the benchmark's handshakes)
    subscriptions: dict[str, BrowserSubscription] = field(default_factory=dict)
    received: list[Delivery] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (subscription id, reason)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def __post_init__(self):
        self._lock = threading.Lock()
        self._replies: dict[str, deque[Reply]] = defaultdict(deque)
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self
        if self.tls is not None:
            # The handshake happens on first read, in the connection's thread, not in accept().
            self._server.socket = self.tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        scheme = "https" if self.tls is not None else "http"
        self.origin = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    # --- set-up ----------------------------------------------------------------------------
    def subscribe(self) -> BrowserSubscription:
        sub_id = _b64(os.urandom(12))
        browser = BrowserSubscription(
            id=sub_id,
            endpoint=f"{self.origin}/push/{sub_id}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        self.subscriptions[sub_id] = browser
        return browser

    def program(self, subscription_id: str, *replies: Reply) -> None:
        """The next answers for this subscription, in order; 201 once they are used up."""
        with self._lock:
            self._replies[subscription_id].extend(replies)

    def for_subscription(self, subscription_id: str) -> list[Delivery]:
        return [d for d in self.received if d.subscription_id == subscription_id]

    # --- running ---------------------------------------------------------------------------
    def start(self) -> PushServiceStandIn:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self._stopping.set()  # ends hanging replies
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- the protocol ----------------------------------------------------------------------
    def handle_push(self, sub_id: str, headers, body: bytes) -> tuple[int, dict[str, str], str]:
        browser = self.subscriptions.get(sub_id)
        if browser is None:
            return 404, {}, "unknown subscription"
        with self._lock:
            reply = self._replies[sub_id].popleft() if self._replies[sub_id] else Reply()
        if reply.hang_seconds:
            self._stopping.wait(reply.hang_seconds)
        try:
            claims, key = self._check_vapid(headers.get("Authorization", ""))
            ttl, urgency, topic = self._check_headers(headers)
            payload = self._decrypt(browser, headers, body)
        except _Refused as refused:
            with self._lock:
                self.rejected.append((sub_id, refused.reason))
                self.counts["rejected"] += 1
            return refused.status, {}, refused.reason
        with self._lock:
            self.counts[str(reply.status)] += 1
            if self.keep_payloads:
                self.received.append(Delivery(sub_id, payload, ttl, urgency, topic, claims, key, reply.status))
        extra = {"Retry-After": reply.retry_after} if reply.retry_after else {}
        if 300 <= reply.status < 400:  # a redirect to itself: a client that follows it delivers twice
            extra["Location"] = f"{self.origin}/push/{sub_id}"
        if reply.status == 201:
            extra["Location"] = f"{self.origin}/message/{_b64(os.urandom(9))}"
        return reply.status, extra, ""

    def _check_vapid(self, authorization: str) -> tuple[dict, str]:
        match = re.fullmatch(r"vapid\s+(.+)", authorization.strip(), re.IGNORECASE)
        if not match:
            raise _Refused(401, "missing vapid authorization")
        params = dict(part.strip().split("=", 1) for part in match.group(1).split(",") if "=" in part)
        token, key = params.get("t"), params.get("k")
        if not token or not key:
            raise _Refused(401, "vapid t= and k= required")
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
            claims = jwt.decode(
                token,
                key=public_key,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["exp", "aud", "sub"]},
            )
        except (ValueError, jwt.PyJWTError) as exc:
            raise _Refused(403, f"vapid token refused: {exc}")
        if claims["exp"] - time.time() > MAX_TOKEN_LIFETIME:
            raise _Refused(403, "vapid exp more than 24 hours ahead")
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            raise _Refused(403, "vapid sub must be mailto: or https:")
        return claims, key

    def _check_headers(self, headers) -> tuple[int, str, str | None]:
        ttl = headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            raise _Refused(400, "TTL header required")
        urgency = headers.get("Urgency", "normal")
        if urgency not in URGENCIES:
            raise _Refused(400, f"bad Urgency {urgency!r}")
        topic = headers.get("Topic")
        if topic is not None and not TOPIC.match(topic):
            raise _Refused(400, f"bad Topic {topic!r}")
        if headers.get("Content-Encoding") != "aes128gcm":
            raise _Refused(415, "Content-Encoding must be aes128gcm")
        return int(ttl), urgency, topic

    def _decrypt(self, browser: BrowserSubscription, headers, body: bytes) -> dict:
        if len(body) > 4096:
            raise _Refused(413, "payload too large")
        try:
            plain = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth_secret, version="aes128gcm"
            )
            return json.loads(plain)
        except Exception as exc:
            raise _Refused(400, f"payload does not decrypt: {type(exc).__name__}")


class _Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real push services
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def setup(self):
        super().setup()
        standin = self.server.standin
        with standin._lock:
            standin.counts["connections"] += 1

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = re.fullmatch(r"/push/([A-Za-z0-9_-]+)", self.path)
        if not match:
            status, extra, text = 404, {}, "not found"
        else:
            status, extra, text = self.server.standin.handle_push(match.group(1), self.headers, body)
        self._answer(status, extra, text)

    def do_GET(self):  # noqa: N802
        if self.path == "/_counts":
            self._answer(200, {"Content-Type": "application/json"}, json.dumps(self.server.standin.counts))
        else:
            self._answer(404, {}, "not found")

    def _answer(self, status: int, extra: dict[str, str], text: str) -> None:
        data = text.encode()
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):  # the client gave up (a timeout test)
            self.close_connection = True

    def log_message(self, format, *args):
        pass
