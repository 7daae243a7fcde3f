"""Payments webhook benchmark (issue: webhook handling throughput and p99), over real HTTP
against daphne.

1. Loads paid sessions (49,900 paise, scheduled, in the future) and learners holding a seat on each
   (HELD bookings, hold_expires_at two days ahead), and opens a PaymentOrder for every booking
   through payments.services.checkout_start, which creates the order on the Razorpay test
   stand-in (backend/payments/standin.py) through the real razorpay client.
2. Pays every order on the stand-in (StandIn.pay), which signs Razorpay-shaped `payment.captured`
   and `order.paid` events. The stand-in runs in this process with webhook_url=None: its
   delivery thread then skips those events without recording them (sent_webhooks stays empty),
   so the bench takes each event's exact raw body and headers (X-Razorpay-Signature,
   X-Razorpay-Event-Id) from `standin._events` and delivers them itself. Nothing is re-signed.
3. Starts daphne with the same settings (database, RAZORPAY_* keys, RAZORPAY_BASE_URL = the
   stand-in) and POSTs 1,000 webhooks to /api/payments/webhook/: 900 distinct events (one
   `payment.captured` per order) plus 100 repeats of event ids already in the list, each placed at
   a random point after its original, sent by BENCH_CONCURRENCY threads, each on its own
   keep-alive http.client connection. Counts responses by HTTP status and by {"status": ...}.
4. Baseline in the same run: the same number of GET /offline/ (the app has no /healthz; the
   offline page is a static template with no database access; STATIC_FROM_SOURCE=1 so it renders
   without collectstatic) through the same daphne, same concurrency and connections. Prints both
   and the ratio.
5. Checks the database afterwards and asserts it (correctness, never timing): every order PAID
   once with the stand-in's payment id, every booking CONFIRMED, the ledger sums to zero, one
   charge per order, wallets equal their ledger accounts, WebhookEvent rows == distinct events.

Usage (the database is created from scratch; never point it at real data):
  python bench/payments_webhooks.py          # SQLite in a temp folder
  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/peerlearn_webhook_bench python bench/payments_webhooks.py
Options: BENCH_WEBHOOKS (default 1000), BENCH_DUPLICATE_PERCENT (default 10), BENCH_CONCURRENCY
(default 8), BENCH_EVENTS=captured (default: one payment.captured per order) or both
(payment.captured and order.paid per order, half as many orders; the second settles nothing and
answers "already_settled"), BENCH_SEED (default 1).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WEBHOOKS = int(os.environ.get("BENCH_WEBHOOKS", "1000"))
DUPLICATES = round(WEBHOOKS * float(os.environ.get("BENCH_DUPLICATE_PERCENT", "10")) / 100)
DISTINCT = WEBHOOKS - DUPLICATES
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
EVENTS = os.environ.get("BENCH_EVENTS", "captured")
if EVENTS not in ("captured", "both"):
    sys.exit("BENCH_EVENTS must be captured or both")
ORDERS = DISTINCT if EVENTS == "captured" else DISTINCT // 2
DISTINCT = ORDERS * (1 if EVENTS == "captured" else 2)
WEBHOOKS = DISTINCT + DUPLICATES
SEED = int(os.environ.get("BENCH_SEED", "1"))
PRICE = 49_900
KEY_ID, KEY_SECRET, WEBHOOK_SECRET = "rzp_test_bench", "bench-key-secret", "bench-webhook-secret"

data_dir = tempfile.mkdtemp(prefix="peerlearn-webhook-bench-")
os.environ["PEERLEARN_DATA_DIR"] = data_dir
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("STATIC_FROM_SOURCE", "1")  # pages name static files; no collectstatic here
if os.environ.get("BENCH_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
else:
    os.environ.pop("DATABASE_URL", None)

# The stand-in first: settings read RAZORPAY_BASE_URL at import. It records, the bench delivers.
from backend.payments.standin import StandIn, sign  # noqa: E402  (standard library only)

standin = StandIn(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, webhook_url=None)
os.environ.update(
    RAZORPAY_BASE_URL=standin.start(),
    RAZORPAY_KEY_ID=KEY_ID,
    RAZORPAY_KEY_SECRET=KEY_SECRET,
    RAZORPAY_WEBHOOK_SECRET=WEBHOOK_SECRET,
    PLATFORM_FEE_PERCENT="10",
    DJANGO_SETTINGS_MODULE="backend.settings",
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402
from django.utils import timezone  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load():
    """Mentors, paid sessions, learners with a held seat on each, and one gateway order per
    booking opened through checkout_start (a real call to the stand-in each)."""
    from django.contrib.auth.hashers import make_password

    from backend.accounts.models import LearnerProfile, MentorProfile, User
    from backend.marketplace.models import Booking, BookingState, Domain, Session
    from backend.payments import services

    call_command("migrate", verbosity=0)
    password = make_password("bench-password-1")
    domain = Domain.objects.order_by("position").first()
    now = timezone.now().replace(microsecond=0)
    mentor_count, learner_count = max(1, ORDERS // 3), max(1, ORDERS // 3)
    with transaction.atomic():
        mentors = User.objects.bulk_create(
            [
                User(email=f"m{i}@bench.local", full_name=f"Mentor {i}", role="mentor", password=password)
                for i in range(mentor_count)
            ]
        )
        MentorProfile.objects.bulk_create([MentorProfile(user=m, approval_state="approved") for m in mentors])
        learners = User.objects.bulk_create(
            [
                User(email=f"l{i}@bench.local", full_name=f"Learner {i}", role="learner", password=password)
                for i in range(learner_count)
            ]
        )
        LearnerProfile.objects.bulk_create([LearnerProfile(user=u) for u in learners])
        # Each mentor's sessions 3 hours apart from tomorrow on: no overlaps.
        sessions = Session.objects.bulk_create(
            [
                Session(
                    mentor=mentors[i % mentor_count],
                    title=f"Paid session {i}",
                    domain=domain,
                    starts_at=now + timedelta(hours=24 + 3 * (i // mentor_count)),
                    ends_at=now + timedelta(hours=24 + 3 * (i // mentor_count), minutes=60),
                    duration_minutes=60,
                    capacity=1,
                    price_paise=PRICE,
                    state="scheduled",
                    room_code=f"pay{i}",
                )
                for i in range(ORDERS)
            ],
            batch_size=2000,
        )
        bookings = Booking.objects.bulk_create(
            [
                Booking(
                    session=s,
                    learner=learners[i % learner_count],
                    state=BookingState.HELD,
                    hold_expires_at=now + timedelta(days=2),
                    created_at=now,
                )
                for i, s in enumerate(sessions)
            ],
            batch_size=2000,
        )
    started = time.perf_counter()
    orders = [services.checkout_start(learner=b.learner, booking=b) for b in bookings]
    checkout_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return orders, checkout_seconds


def signed_events(orders) -> list[tuple[str, bytes, dict[str, str]]]:
    """Pay every order on the stand-in and take the events it signed: (event id, raw, headers)."""
    from backend.payments import gateway

    for order in orders:
        result = standin.pay(order.gateway_order_id)
        assert "razorpay_payment_id" in result, result
    wanted = {"payment.captured"} if EVENTS == "captured" else {"payment.captured", "order.paid"}
    with standin._lock:
        recorded = list(standin._events.items())
    events = []
    for event_id, (raw, headers) in recorded:
        if json.loads(raw)["event"] in wanted:
            assert gateway.verify_webhook_signature(raw, headers["X-Razorpay-Signature"])
            assert headers["X-Razorpay-Event-Id"] == event_id
            events.append((event_id, raw, dict(headers)))
    assert len(events) == DISTINCT, (len(events), DISTINCT)
    return events


def schedule(events, rng: random.Random) -> list[tuple[str, bytes, dict[str, str]]]:
    """The distinct events in random order, plus DUPLICATES repeats of distinct event ids, each
    placed at a random point after its original."""
    events = list(events)
    rng.shuffle(events)
    keyed = [(float(i), e) for i, e in enumerate(events)]
    for i in rng.sample(range(len(events)), DUPLICATES):
        keyed.append((rng.uniform(i + 0.01, len(events)), events[i]))
    keyed.sort(key=lambda pair: pair[0])
    return [e for _, e in keyed]


def send_all(port: int, requests: list[tuple[str, str, bytes | None, dict]]):
    """Send `requests` (method, path, body, headers) with CONCURRENCY threads, each on one
    keep-alive connection. Returns (wall seconds, [(status, body, ms)] in request order, errors)."""
    results: list = [None] * len(requests)
    errors: list[str] = []
    position = iter(range(len(requests)))
    take = threading.Lock()
    start = threading.Barrier(CONCURRENCY + 1)

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        start.wait()
        while True:
            with take:
                index = next(position, None)
            if index is None:
                break
            method, path, body, headers = requests[index]
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{index}: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            results[index] = (response.status, data, (time.perf_counter() - t0) * 1000)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t0, results, errors


def percentiles(results) -> tuple[float, float, float]:
    ms = sorted(r[2] for r in results if r is not None)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))], ms[-1]


def wait_for_port(port: int, server: subprocess.Popen, log_path: Path) -> None:
    for _ in range(200):
        if server.poll() is not None:
            sys.exit(f"daphne exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("daphne did not start listening")


def verify(orders, event_ids: set[str]) -> list[tuple[str, bool, str]]:
    """The database after the run: (check, passed, detail)."""
    from backend.marketplace.models import Booking, BookingState
    from backend.payments import ledger
    from backend.payments.models import EntryKind, LedgerEntry, OrderState, PaymentOrder, Wallet, WebhookEvent

    checks = []
    order_ids = [o.pk for o in orders]
    with standin._lock:
        paid_on_gateway = {p["order_id"]: p["id"] for p in standin._payments.values() if p["status"] == "captured"}
    rows = list(PaymentOrder.objects.filter(pk__in=order_ids).values_list("gateway_order_id", "state", "payment_id"))
    paid = [r for r in rows if r[1] == OrderState.PAID]
    matching = sum(1 for gateway_id, _, payment_id in paid if paid_on_gateway.get(gateway_id) == payment_id)
    checks.append(
        (
            "orders PAID with the stand-in's payment id",
            len(paid) == matching == len(orders),
            f"{matching}/{len(orders)}",
        )
    )
    states = Counter(Booking.objects.filter(payment_orders__in=order_ids).values_list("state", flat=True))
    checks.append(
        ("bookings CONFIRMED", states.get(BookingState.CONFIRMED, 0) == len(orders), json.dumps(dict(states)))
    )
    total = LedgerEntry.objects.aggregate(s=Sum("amount_paise"))["s"] or 0
    checks.append(("ledger balanced (sum of entries == 0)", total == 0, f"sum {total}"))
    charges = LedgerEntry.objects.filter(kind=EntryKind.CHARGE, account=ledger.EXTERNAL)
    per_payment = Counter(charges.values_list("reference", flat=True))
    once = len(per_payment) == len(orders) and set(per_payment.values()) == {1}
    once = once and set(per_payment) == {r[2] for r in paid}
    checks.append(("one charge per order (by payment id)", once, f"{charges.count()} charges, {len(orders)} orders"))
    txns = LedgerEntry.objects.filter(kind=EntryKind.CHARGE).values("txn").distinct().count()
    gross = -(charges.aggregate(s=Sum("amount_paise"))["s"] or 0)
    checks.append(
        (
            "charge transactions == orders, gross == orders x price",
            txns == len(orders) and gross == len(orders) * PRICE,
            f"{txns} txns, {gross:,} paise",
        )
    )
    pending_entries = LedgerEntry.objects.filter(account__endswith=":pending").aggregate(s=Sum("amount_paise"))["s"]
    pending_wallets = Wallet.objects.aggregate(s=Sum("pending_paise"))["s"]
    checks.append(
        ("wallets == their ledger accounts", pending_entries == pending_wallets, f"pending {pending_wallets:,} paise")
    )
    stored = WebhookEvent.objects.count()
    outcomes = dict(WebhookEvent.objects.values_list("outcome").annotate(n=Count("id")).order_by("outcome"))
    same_ids = set(WebhookEvent.objects.values_list("event_id", flat=True)) == event_ids
    checks.append(
        ("WebhookEvent rows == distinct events", stored == len(event_ids) and same_ids, f"{stored} {outcomes}")
    )
    return checks


def main():
    orders, checkout_seconds = load()
    events = signed_events(orders)
    plan = schedule(events, random.Random(SEED))
    webhook_requests = [("POST", "/api/payments/webhook/", raw, headers) for _, raw, headers in plan]
    page_requests = [("GET", "/offline/", None, {})] * len(webhook_requests)
    connection.close()

    port = free_port()
    log_path = Path(data_dir) / "daphne.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "backend.asgi:application"],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, server, log_path)
        # Warm-up: imports, templates, the view. A signed body without an event id is refused
        # after the signature check and before any database write.
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(5):
            warm.request("GET", "/offline/")
            response = warm.getresponse()
            assert response.status == 200, response.read()[:300]
            response.read()
        body = b'{"event":"warm.up"}'
        warm.request(
            "POST",
            "/api/payments/webhook/",
            body=body,
            headers={"X-Razorpay-Signature": sign(WEBHOOK_SECRET, body)},
        )
        response = warm.getresponse()
        assert response.status == 400 and b"missing_event_id" in response.read()
        warm.close()

        hook_seconds, hook_results, hook_errors = send_all(port, webhook_requests)
        page_seconds, page_results, page_errors = send_all(port, page_requests)
    finally:
        server.terminate()
        server.wait(timeout=10)
        standin.stop()

    assert not hook_errors and not page_errors, (hook_errors[:5], page_errors[:5])
    http_status = Counter(r[0] for r in hook_results)
    answers = Counter(json.loads(r[1]).get("status", "?") if r[0] == 200 else f"HTTP {r[0]}" for r in hook_results)
    page_status = Counter(r[0] for r in page_results)
    expected = {"confirmed": ORDERS, "duplicate": DUPLICATES}
    if EVENTS == "both":
        expected["already_settled"] = ORDERS
    checks = [
        ("every webhook answered 200", http_status == Counter({200: WEBHOOKS}), json.dumps(dict(http_status))),
        ("answers as expected", answers == Counter(expected), json.dumps(dict(answers))),
        ("baseline answered 200", page_status == Counter({200: len(page_requests)}), json.dumps(dict(page_status))),
    ] + verify(orders, {event_id for event_id, _, _ in events})

    hook_p50, hook_p99, hook_max = percentiles(hook_results)
    page_p50, page_p99, page_max = percentiles(page_results)
    hook_rate, page_rate = WEBHOOKS / hook_seconds, len(page_requests) / page_seconds
    vendor = connection.vendor
    if vendor == "postgresql":
        vendor += f" {connection.cursor().connection.info.server_version}"
    print(
        f"\ndatabase: {vendor}   server: daphne over HTTP   senders: {CONCURRENCY} threads (keep-alive)   "
        f"orders: {ORDERS} (checkout_start {checkout_seconds / ORDERS * 1000:.1f} ms each)"
    )
    print(
        f"webhooks: {WEBHOOKS} = {DISTINCT} distinct ({EVENTS}) + {DUPLICATES} duplicates   "
        f"answers: {', '.join(f'{k} {v}' for k, v in sorted(answers.items()))}"
    )
    print(
        f"POST /api/payments/webhook/   {hook_rate:8.1f} webhooks/s  ({hook_seconds:.2f} s)   "
        f"p50 {hook_p50:.1f} ms   p99 {hook_p99:.1f} ms   max {hook_max:.1f} ms"
    )
    print(
        f"baseline GET /offline/        {page_rate:8.1f} req/s       ({page_seconds:.2f} s)   "
        f"p50 {page_p50:.1f} ms   p99 {page_p99:.1f} ms   max {page_max:.1f} ms"
    )
    print(
        f"webhook vs baseline           {hook_rate / page_rate:8.2f}x throughput   "
        f"{hook_p50 / page_p50:.1f}x p50   {hook_p99 / page_p99:.1f}x p99"
    )
    print("checks:")
    for name, passed, detail in checks:
        print(f"  [{'ok' if passed else 'FAIL'}] {name}: {detail}")
    failed = [name for name, passed, _ in checks if not passed]
    assert not failed, f"failed: {failed}"


if __name__ == "__main__":
    main()
