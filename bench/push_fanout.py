"""Web Push fan-out benchmark: connection reuse in push.delivery, over real HTTPS.

Sends BENCH_MESSAGES (default 10,000) push messages through push.delivery.push_to_user — the
function the notification fan-out calls: VAPID signing, aes128gcm encryption per device, the POST,
outcomes written back to the database — to the local push-service stand-in (push/testing.py, a
TEST stand-in that verifies every VAPID token and decrypts every payload), two ways in one run:

1. shared: push_to_user as shipped, one keep-alive requests.Session for the process;
2. fresh: the same path with the shared session swapped for None, which is pywebpush's default:
   `requests.post` per message, so a new TCP connection and TLS handshake every message.

The stand-in runs in a forked process (its own core and GIL) and speaks HTTPS with a
self-signed P-256 certificate made here (BENCH_TLS=0 for plain HTTP); real push services are
HTTPS, and the handshake is most of what reuse saves. Loopback has no network round trip: against
FCM or Mozilla (tens of ms away) the fresh path also pays 1-2 extra round trips per message.

The stand-in turns Nagle off: http.server writes headers and body separately, and with Nagle on
a fresh connection stalls on the client's delayed ACK, which made the baseline look 4x slower
than it is. Prints messages/s, p50/p99 per message (the time of one POST, pywebpush encrypt included) and the
ratio; checks afterwards that the stand-in accepted every message and how many connections it saw.

Usage: python bench/push_fanout.py
Options: BENCH_MESSAGES (10000), BENCH_SUBSCRIPTIONS (2000), BENCH_DEVICES_PER_USER (4),
BENCH_FRESH_MESSAGES (default BENCH_MESSAGES; measure the baseline on a subset), BENCH_TLS (1),
BENCH_RTT_MS (30: the round trip used only for the modelled figure printed last).
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import ssl
import statistics
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "2000"))
DEVICES_PER_USER = int(os.environ.get("BENCH_DEVICES_PER_USER", "4"))
FRESH_MESSAGES = int(os.environ.get("BENCH_FRESH_MESSAGES", str(MESSAGES)))
TLS = os.environ.get("BENCH_TLS", "1") != "0"
RTT_MS = float(os.environ.get("BENCH_RTT_MS", "30"))
if MESSAGES % SUBSCRIPTIONS or FRESH_MESSAGES % SUBSCRIPTIONS or SUBSCRIPTIONS % DEVICES_PER_USER:
    sys.exit("BENCH_MESSAGES and BENCH_FRESH_MESSAGES must be multiples of BENCH_SUBSCRIPTIONS, and that of devices")

data_dir = Path(tempfile.mkdtemp(prefix="peerlearn-push-bench-"))
os.environ["PEERLEARN_DATA_DIR"] = str(data_dir)
for name in ("DATABASE_URL", "REDIS_URL", "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"):
    os.environ.pop(name, None)
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["PUSH_ALLOW_PRIVATE_ENDPOINTS"] = "true"  # the stand-in is on 127.0.0.1
os.environ["HUEY_IMMEDIATE"] = "true"  # a retry, if any, would wait in memory (none expected)
os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings"


def self_signed_tls() -> ssl.SSLContext:
    """A certificate for 127.0.0.1; requests trusts it through REQUESTS_CA_BUNDLE (both paths)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "push stand-in")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = data_dir / "standin-cert.pem", data_dir / "standin-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


# The stand-in is made, and forked, before Django opens anything.
from push.testing import PushServiceStandIn  # noqa: E402

standin = PushServiceStandIn(keep_payloads=False, tls=self_signed_tls() if TLS else None)
browsers = [standin.subscribe() for _ in range(SUBSCRIPTIONS)]
server = multiprocessing.get_context("fork").Process(target=standin.serve_forever, daemon=True)
server.start()

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from backend.accounts.models import User  # noqa: E402
from push import delivery  # noqa: E402
from push.models import PushSubscription  # noqa: E402

PAYLOAD = {"id": 1, "title": "Session in 10 minutes", "body": "Python basics with Maya Mentor", "url": "/room/x/"}


def load() -> list[int]:
    call_command("migrate", verbosity=0)
    users = User.objects.bulk_create(
        User(email=f"bench{n}@example.com", full_name=f"Bench {n}", role="learner", password="!")
        for n in range(SUBSCRIPTIONS // DEVICES_PER_USER)
    )
    PushSubscription.objects.bulk_create(
        PushSubscription(user=users[n // DEVICES_PER_USER], endpoint=b.endpoint, p256dh=b.p256dh, auth=b.auth)
        for n, b in enumerate(browsers)
    )
    return [u.pk for u in users]


def run(user_ids: list[int], messages: int) -> tuple[float, list[float], int]:
    """Push to every user's devices until `messages` were sent; (seconds, per-message s, reached)."""
    times: list[float] = []
    send_one = delivery.send_one

    def timed(*args, **kwargs):
        outcome = send_one(*args, **kwargs)
        times.append(outcome.seconds)
        return outcome

    delivery.send_one = timed
    reached = 0
    started = time.perf_counter()
    try:
        for round_ in range(messages // SUBSCRIPTIONS):
            for user_id in user_ids:
                reached += delivery.push_to_user(
                    user_id, payload={**PAYLOAD, "id": round_}, ttl_seconds=600, urgency="high", topic="bench"
                )
    finally:
        delivery.send_one = send_one
    return time.perf_counter() - started, times, reached


def counts() -> dict:
    return requests.get(f"{standin.origin}/_counts", timeout=10).json()


def line(label: str, seconds: float, times: list[float], messages: int) -> float:
    rate = messages / seconds
    cuts = statistics.quantiles(times, n=100)
    print(f"{label:<34} {rate:9.0f} {cuts[49] * 1000:9.2f} {cuts[98] * 1000:9.2f} {seconds:9.2f}")
    return rate


def main() -> None:
    user_ids = load()
    warm = delivery.push_to_user(user_ids[0], payload=PAYLOAD, ttl_seconds=600)  # imports, first connections
    before = counts()
    shared_seconds, shared_times, shared_reached = run(user_ids, MESSAGES)
    middle = counts()
    real_shared_session = delivery.shared_session
    delivery.shared_session = lambda: None  # pywebpush then calls requests.post: a connection per message
    try:
        fresh_seconds, fresh_times, fresh_reached = run(user_ids, FRESH_MESSAGES)
    finally:
        delivery.shared_session = real_shared_session
    after = counts()

    scheme = "HTTPS (TLS, self-signed P-256)" if TLS else "plain HTTP"
    print(
        f"\npush fan-out   database: {connection.vendor}   to the push stand-in over {scheme} on 127.0.0.1"
        f" (its own process)\n{SUBSCRIPTIONS} subscriptions ({len(user_ids)} users x {DEVICES_PER_USER} devices);"
        f" shared: {MESSAGES} messages, fresh: {FRESH_MESSAGES} messages"
        + ("" if FRESH_MESSAGES == MESSAGES else " (a subset, BENCH_FRESH_MESSAGES)")
    )
    print(f"{'':<34} {'msgs/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'wall s':>9}")
    shared = line("shared keep-alive session", shared_seconds, shared_times, MESSAGES)
    fresh = line("fresh connection per message", fresh_seconds, fresh_times, FRESH_MESSAGES)
    print(f"{'ratio shared / fresh':<34} {shared / fresh:9.2f}x")
    # Each interval also holds the one connection of the /_counts request that closes it.
    shared_conns = middle.get("connections", 0) - before.get("connections", 0) - 1
    fresh_conns = after.get("connections", 0) - middle.get("connections", 0) - 1
    print(f"new connections to the push service: shared {shared_conns}, fresh {fresh_conns}")
    shared_p50, fresh_p50 = statistics.median(shared_times) * 1000, statistics.median(fresh_times) * 1000
    print(
        f"modelled at a {RTT_MS} ms round trip to the push service (BENCH_RTT_MS): p50 per message shared"
        f" {shared_p50 + RTT_MS:.0f} ms (1 round trip), fresh {fresh_p50 + 3 * RTT_MS:.0f} ms (TCP + TLS 1.3 + request)"
    )
    accepted = after.get("201", 0) - before.get("201", 0)
    print(
        f"stand-in accepted {accepted} of {MESSAGES + FRESH_MESSAGES} (VAPID verified, payload decrypted),"
        f" rejected {after.get('rejected', 0)}; push_to_user reported {shared_reached + fresh_reached} reached"
    )
    assert warm == DEVICES_PER_USER
    assert accepted == shared_reached + fresh_reached == MESSAGES + FRESH_MESSAGES, after
    assert after.get("rejected", 0) == 0
    assert PushSubscription.objects.count() == SUBSCRIPTIONS


if __name__ == "__main__":
    try:
        main()
    finally:
        server.terminate()
