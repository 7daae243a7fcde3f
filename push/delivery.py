"""Web Push delivery: encrypt (aes128gcm), sign (VAPID) and POST to each device's push service.

`push_to_user` is what the notification fan-out calls (inside its huey job). The first attempt
runs right there, on one shared keep-alive `requests.Session`, the user's devices in parallel
threads so a hanging push service costs one timeout, not one per device. Only the network part
runs in those threads; the database is written from the caller's thread. A push service that is
busy (429, 5xx, timeout, connection error) gets the message again later from the `push_retry`
huey task, at most RETRY_DELAYS more times, honouring Retry-After, and never after the message's
TTL has run out.

Why not one huey task per device with `retries=3`: huey's RetryTask (the only way to pick the
delay, i.e. Retry-After) does not count against `retries`, and a queue round-trip per device per
message buys nothing when the push service answers in milliseconds. So the attempt number
travels in the task's arguments and each retry schedules the next.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from pywebpush import WebPushException, webpush
from requests.adapters import HTTPAdapter

from push.models import PushSubscription
from push.vapid import VapidSigner

log = logging.getLogger(__name__)

MIN_TTL_SECONDS = 60  # pywebpush's default of 0 means "drop unless the phone is online right now"
MAX_TTL_SECONDS = 28 * 24 * 3600  # what push services keep at most
URGENCIES = ("very-low", "low", "normal", "high")
RETRY_DELAYS = (30, 120, 600)  # seconds before retries 1, 2 and 3 (plus jitter)
MAX_RETRY_AFTER_SECONDS = 3600
# A record of aes128gcm carries at most 4096 bytes: 86 of header and padding, so keep under 3800.
MAX_PAYLOAD_BYTES = 3800
MAX_PARALLEL_DEVICES = 8
# Consecutive refusals (403: the subscription was made for another key, 400, 413…) after which a
# subscription is treated as dead.
MAX_FAILURES = 10

SUCCESS = {200, 201, 202}
GONE = {404, 410}


@dataclass(frozen=True)
class Message:
    data: str  # the JSON payload
    ttl: int
    urgency: str
    topic: str  # the Topic header, already safe; "" for none
    expires_at: float  # epoch seconds after which no retry makes sense


@dataclass(frozen=True)
class Outcome:
    subscription_id: int
    status: int | None  # None: timeout or connection error
    retry_after: str | None = None
    seconds: float = 0.0

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


def push_to_user(user_id: int, *, payload: dict, ttl_seconds: int, urgency: str = "normal", topic: str = "") -> int:
    """Send `payload` to every device of the user; the number of devices whose push service took
    it. Never raises for a device: dead ones are deleted, busy ones retried later."""
    subscriptions = list(PushSubscription.objects.filter(user_id=user_id))
    if not subscriptions:
        return 0
    message = build_message(payload=payload, ttl_seconds=ttl_seconds, urgency=urgency, topic=topic)
    return deliver(subscriptions, message, session=shared_session())


def build_message(*, payload: dict, ttl_seconds: int, urgency: str = "normal", topic: str = "") -> Message:
    ttl = min(max(int(ttl_seconds or 0), MIN_TTL_SECONDS), MAX_TTL_SECONDS)
    return Message(
        data=_fit(payload),
        ttl=ttl,
        urgency=urgency if urgency in URGENCIES else "normal",
        topic=topic_header(topic) if topic else "",
        expires_at=time.time() + ttl,
    )


def topic_header(topic: str) -> str:
    """A Topic header (≤ 32 characters of base64url) for a free-form topic. Keyed, because the
    header travels unencrypted to the push service and "booking-123" should not."""
    digest = hmac.new(settings.SECRET_KEY.encode(), b"push-topic:" + topic.encode(), hashlib.sha256).digest()
    return digest[:24].hex()[:32]


def _fit(payload: dict) -> str:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if len(data.encode()) <= MAX_PAYLOAD_BYTES or not isinstance(payload.get("body"), str):
        return data
    over = len(data.encode()) - MAX_PAYLOAD_BYTES
    body = payload["body"].encode()[: max(0, len(payload["body"].encode()) - over - 3)].decode(errors="ignore")
    return json.dumps({**payload, "body": body + "…"}, separators=(",", ":"), ensure_ascii=False)


def deliver(subscriptions: list[PushSubscription], message: Message, *, session) -> int:
    """One attempt to every subscription; outcomes written back; busy ones scheduled for retry.
    `session=None` lets pywebpush open a connection per message (the benchmark's baseline)."""
    outcomes = send_all(subscriptions, message, session=session)
    record(outcomes, message, attempt=0)
    return sum(1 for o in outcomes if o.status in SUCCESS)


def send_all(subscriptions: list[PushSubscription], message: Message, *, session) -> list[Outcome]:
    infos = [(s.pk, s.as_subscription_info()) for s in subscriptions]
    if len(infos) == 1:
        return [send_one(*infos[0], message, session=session)]
    return list(_pool().map(lambda info: send_one(*info, message, session=session), infos))


def send_one(subscription_id: int, info: dict, message: Message, *, session) -> Outcome:
    """POST one message; no database access here (it runs in worker threads)."""
    parts = urlsplit(info["endpoint"])
    headers = {"Authorization": signer().authorization(f"{parts.scheme}://{parts.netloc}"), "Urgency": message.urgency}
    if message.topic:
        headers["Topic"] = message.topic
    started = time.perf_counter()
    try:
        response = webpush(
            info,
            data=message.data,
            headers=headers,
            ttl=message.ttl,
            timeout=settings.PUSH_TIMEOUT_SECONDS,
            content_encoding="aes128gcm",
            requests_session=session,
        )
        return Outcome(subscription_id, response.status_code, seconds=time.perf_counter() - started)
    except WebPushException as exc:
        if exc.response is None:
            log.warning("push %s: %s", subscription_id, exc.message)
            return Outcome(subscription_id, 400, seconds=time.perf_counter() - started)
        return Outcome(subscription_id, exc.status_code, exc.retry_after, time.perf_counter() - started)
    except requests.RequestException as exc:
        log.info("push %s: %s", subscription_id, type(exc).__name__)
        return Outcome(subscription_id, None, seconds=time.perf_counter() - started)
    except Exception:  # a stored key that no longer decodes, say: this device only
        log.exception("push %s: not sent", subscription_id)
        return Outcome(subscription_id, 400, seconds=time.perf_counter() - started)


def record(outcomes: list[Outcome], message: Message, *, attempt: int) -> None:
    ok = [o.subscription_id for o in outcomes if o.status in SUCCESS]
    gone = [o.subscription_id for o in outcomes if o.status in GONE]
    refused = [o.subscription_id for o in outcomes if o.status not in SUCCESS | GONE and not o.retryable]
    if ok:
        PushSubscription.objects.filter(pk__in=ok).update(last_success_at=timezone.now(), failures=0)
    if gone:
        PushSubscription.objects.filter(pk__in=gone).delete()
    if refused:
        log.warning("push: refused by the push service for subscriptions %s", refused)
        PushSubscription.objects.filter(pk__in=refused).update(failures=F("failures") + 1)
        PushSubscription.objects.filter(pk__in=refused, failures__gte=MAX_FAILURES).delete()
    for outcome in outcomes:
        if outcome.retryable:
            _schedule_retry(outcome, message, attempt=attempt + 1)


def retry_delay(attempt: int, retry_after: str | None) -> float:
    """Seconds before retry number `attempt` (1-based): the push service's Retry-After when it
    gave one (seconds or an HTTP date, capped), else RETRY_DELAYS with ±20 % jitter."""
    if retry_after:
        try:
            seconds = float(retry_after)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(retry_after).timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = None
        if seconds is not None:
            return min(max(seconds, 1.0), MAX_RETRY_AFTER_SECONDS)
    return RETRY_DELAYS[attempt - 1] * random.uniform(0.8, 1.2)


def _schedule_retry(outcome: Outcome, message: Message, *, attempt: int) -> None:
    from push.tasks import push_retry

    if attempt > len(RETRY_DELAYS):
        log.warning("push %s: giving up after %s attempts (%s)", outcome.subscription_id, attempt, outcome.status)
        PushSubscription.objects.filter(pk=outcome.subscription_id).update(failures=F("failures") + 1)
        return
    delay = retry_delay(attempt, outcome.retry_after)
    if time.time() + delay >= message.expires_at:
        log.info("push %s: not retried, the message expires first", outcome.subscription_id)
        return
    push_retry.schedule(args=(outcome.subscription_id, asdict(message), attempt), delay=delay)


def retry_one(subscription_id: int, message: Message, attempt: int) -> None:
    """Retry `attempt` (1-based) of one message to one device (the push_retry task)."""
    subscription = PushSubscription.objects.filter(pk=subscription_id).first()
    remaining = int(message.expires_at - time.time())
    if subscription is None or remaining <= 0:
        return
    # The TTL counts from when the push service takes the message: only what is left of it.
    message = Message(**{**asdict(message), "ttl": max(remaining, MIN_TTL_SECONDS)})
    outcome = send_one(subscription.pk, subscription.as_subscription_info(), message, session=shared_session())
    record([outcome], message, attempt=attempt)


# --- shared HTTP session and VAPID signer ----------------------------------------------------
class _NoRedirectSession(requests.Session):
    """A push service answers, it never redirects; following one would let an endpoint steer
    the server's POST somewhere else."""

    def request(self, *args, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


_lock = threading.Lock()
_session: requests.Session | None = None
_executor: ThreadPoolExecutor | None = None
_signer: tuple[tuple[str, str], VapidSigner] | None = None


def shared_session() -> requests.Session:
    """One keep-alive session per process: TLS handshakes to FCM/Mozilla/Apple happen once per
    connection, not once per message. urllib3's pool is thread-safe."""
    global _session
    with _lock:
        if _session is None:
            session = _NoRedirectSession()
            adapter = HTTPAdapter(pool_connections=16, pool_maxsize=MAX_PARALLEL_DEVICES * 4, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _session = session
        return _session


def _pool() -> ThreadPoolExecutor:
    """Threads for the network part of a fan-out, kept for the process (starting threads per
    message cost more than the sends, measured by bench/push_fanout.py)."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=MAX_PARALLEL_DEVICES, thread_name_prefix="push-send")
        return _executor


def signer() -> VapidSigner:
    global _signer
    key = (settings.VAPID_PRIVATE_KEY, settings.VAPID_SUBJECT)
    current = _signer
    if current is None or current[0] != key:
        current = (key, VapidSigner(private_key=key[0], subject=key[1]))
        _signer = current
    return current[1]
