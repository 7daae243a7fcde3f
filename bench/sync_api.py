"""Offline sync benchmark (issue 4), over real HTTP against daphne.

1. Replays 1,000 queued mutations (bookings, cancellations, follows, unfollows, profile edits)
   two ways against the same server in one run: as batches of 100 through POST /api/sync/push,
   and as one REST request per mutation (how a plain background-sync queue replays them).
   Each way gets its own learner and sessions, loaded identically. Prints ops/s for both, the
   ratio (goal >= 10x) and the latency of a 100-mutation batch (goal p99 <= 300 ms).
2. Times a full pull (GET /api/sync/pull without a cursor) for a learner with 5,000 bookings
   (goal <= 500 ms), and an incremental pull after a few changes.

Usage (the database is created from scratch; never point it at real data):
  python bench/sync_api.py                   # SQLite in a temp folder
  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/peerlearn_sync_bench python bench/sync_api.py
Options: BENCH_MUTATIONS (default 1000), BENCH_BATCH (default 100), BENCH_PULL_BOOKINGS (default 5000),
BENCH_RTT_MS (default 60: the round trip used for the modelled phone figure printed last).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MUTATIONS = int(os.environ.get("BENCH_MUTATIONS", "1000"))
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
PULL_BOOKINGS = int(os.environ.get("BENCH_PULL_BOOKINGS", "5000"))

data_dir = tempfile.mkdtemp(prefix="peerlearn-sync-bench-")
os.environ["PEERLEARN_DATA_DIR"] = data_dir
os.environ.pop("REDIS_URL", None)
os.environ["SYNC_MAX_BATCH"] = str(BATCH)
os.environ.setdefault("LOG_LEVEL", "WARNING")
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
os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load():
    from django.contrib.auth.hashers import make_password

    from backend.accounts.models import LearnerProfile, MentorProfile, User
    from backend.marketplace.models import Booking, Domain, Session

    call_command("migrate", verbosity=0)
    password = make_password("bench-password-1")
    domain = Domain.objects.order_by("position").first()
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        mentors = User.objects.bulk_create(
            [
                User(email=f"m{i}@bench.local", full_name=f"Mentor {i}", role="mentor", password=password)
                for i in range(300)
            ]
        )
        MentorProfile.objects.bulk_create([MentorProfile(user=m, approval_state="approved") for m in mentors])
        learners = User.objects.bulk_create(
            [
                User(email=f"l{i}@bench.local", full_name=f"Learner {i}", role="learner", password=password)
                for i in range(3)
            ]
        )
        LearnerProfile.objects.bulk_create([LearnerProfile(user=u) for u in learners])

        def sessions_for(tag: str, count: int, offset_hours: int):
            # Spread over mentors, each mentor's sessions 3 hours apart: no overlaps.
            return Session.objects.bulk_create(
                [
                    Session(
                        mentor=mentors[i % len(mentors)],
                        title=f"{tag} session {i}",
                        domain=domain,
                        starts_at=now + timedelta(hours=offset_hours + 3 * (i // len(mentors))),
                        ends_at=now + timedelta(hours=offset_hours + 3 * (i // len(mentors)), minutes=60),
                        duration_minutes=60,
                        capacity=3,
                        state="scheduled",
                        room_code=f"{tag}{i}",
                    )
                    for i in range(count)
                ],
                batch_size=2000,
            )

        # Per replay style: sessions to book, and sessions already booked (to cancel).
        replay = {}
        for style, learner, offset in (("rest", learners[0], 24), ("sync", learners[1], 25)):
            to_book = sessions_for(f"{style}-book", MUTATIONS, offset)
            to_cancel = sessions_for(f"{style}-cancel", MUTATIONS, offset + 1500)
            booked = Booking.objects.bulk_create(
                [Booking(session=s, learner=learner, state="confirmed", confirmed_at=now) for s in to_cancel]
            )
            replay[style] = (learner, to_book, booked)
        heavy = learners[2]
        many = sessions_for("pull", PULL_BOOKINGS, 26)
        Booking.objects.bulk_create(
            [Booking(session=s, learner=heavy, state="confirmed", confirmed_at=now) for s in many], batch_size=5000
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return mentors, replay, heavy


def queue_for(mentors, to_book, booked) -> list[tuple[str, dict]]:
    """1,000 offline actions in a realistic mix: 40% book, 20% cancel, 30% follow/unfollow, 10% profile."""
    actions = []
    for i in range(MUTATIONS):
        kind = i % 10
        if kind < 4:
            actions.append(("booking.create", {"session": to_book[i].pk}))
        elif kind < 6:
            actions.append(("booking.cancel", {"id": booked[i].pk}))
        elif kind < 9:
            mentor = mentors[(i // 10) % len(mentors)]
            actions.append(("mentor.follow" if (i // 10) % 2 == 0 else "mentor.unfollow", {"mentor": mentor.pk}))
        else:
            actions.append(("profile.update", {"full_name": f"Learner renamed {i}"}))
    return actions


class Http:
    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def rest_call(http: Http, name: str, args: dict) -> int:
    if name == "booking.create":
        return http.call("POST", "/api/bookings/", {"session": args["session"]})[0]
    if name == "booking.cancel":
        return http.call("POST", f"/api/bookings/{args['id']}/cancel/", {})[0]
    if name == "mentor.follow":
        return http.call("PUT", f"/api/mentors/{args['mentor']}/follow/")[0]
    if name == "mentor.unfollow":
        return http.call("DELETE", f"/api/mentors/{args['mentor']}/follow/")[0]
    return http.call("PATCH", "/api/auth/me/", args)[0]


def main():
    mentors, replay, heavy = load()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "backend.asgi:application"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        tokens = {style: str(RefreshToken.for_user(replay[style][0]).access_token) for style in replay}

        # Warm-up: the first request pays for imports and connections.
        warm = Http(port, tokens["rest"])
        warm.call("GET", "/api/sync/pull?cursor=")
        Http(port, tokens["sync"]).call("GET", "/api/auth/me/")

        rest_http = Http(port, tokens["rest"])
        learner, to_book, booked = replay["rest"]
        started = time.perf_counter()
        bad = [
            s for name, args in queue_for(mentors, to_book, booked) if (s := rest_call(rest_http, name, args)) >= 300
        ]
        rest_seconds = time.perf_counter() - started
        assert not bad, f"REST replay failed: {bad[:5]}"

        sync_http = Http(port, tokens["sync"])
        learner, to_book, booked = replay["sync"]
        queue = queue_for(mentors, to_book, booked)
        client_id, batch_ms, refused = str(uuid.uuid4()), [], 0
        started = time.perf_counter()
        for first in range(0, len(queue), BATCH):
            mutations = [
                {"id": first + i + 1, "name": name, "args": args}
                for i, (name, args) in enumerate(queue[first : first + BATCH])
            ]
            t0 = time.perf_counter()
            status, body = sync_http.call("POST", "/api/sync/push", {"client_id": client_id, "mutations": mutations})
            batch_ms.append((time.perf_counter() - t0) * 1000)
            assert status == 200, body[:300]
            results = json.loads(body)["results"]
            assert len(results) == len(mutations) and all(r["status"] in ("applied", "refused") for r in results)
            refused += sum(r["status"] == "refused" for r in results)
        sync_seconds = time.perf_counter() - started
        assert refused == 0, f"{refused} mutations refused"

        heavy_http = Http(port, str(RefreshToken.for_user(heavy).access_token))
        pulls = []
        for _ in range(10):
            t0 = time.perf_counter()
            status, body = heavy_http.call("GET", "/api/sync/pull")
            pulls.append((time.perf_counter() - t0) * 1000)
            assert status == 200
        snapshot = json.loads(body)
        assert len(snapshot["changes"]["bookings"]["upsert"]) == PULL_BOOKINGS
        cursor = snapshot["cursor"]
        some = snapshot["changes"]["bookings"]["upsert"][:5]
        for row in some:
            heavy_http.call("POST", f"/api/bookings/{row['id']}/cancel/", {})
        t0 = time.perf_counter()
        status, body = heavy_http.call("GET", f"/api/sync/pull?cursor={cursor}")
        incremental_ms = (time.perf_counter() - t0) * 1000
        assert status == 200 and not json.loads(body)["reset"]
    finally:
        server.terminate()
        server.wait(timeout=10)

    rest_ops, sync_ops = MUTATIONS / rest_seconds, MUTATIONS / sync_seconds
    batch_ms.sort()
    p99 = batch_ms[min(len(batch_ms) - 1, int(len(batch_ms) * 0.99))]
    pulls.sort()
    print(f"\ndatabase: {connection.vendor}   mutations: {MUTATIONS}   batch size: {BATCH}   server: daphne over HTTP")
    print(f"one REST request per mutation   {rest_ops:8.1f} ops/s   ({rest_seconds:.2f} s)")
    print(f"batched /api/sync/push          {sync_ops:8.1f} ops/s   ({sync_seconds:.2f} s)")
    print(f"ratio                           {sync_ops / rest_ops:8.1f}x   (goal >= 10x)")
    print(
        f"batch of {BATCH} latency          p50 {statistics.median(batch_ms):.1f} ms   p99 {p99:.1f} ms   (goal p99 <= 300 ms)"
    )
    print(
        f"full pull, {PULL_BOOKINGS:,} bookings    p50 {statistics.median(pulls):.1f} ms   max {pulls[-1]:.1f} ms   "
        f"({len(json.dumps(snapshot)) / 1e6:.1f} MB JSON; goal <= 500 ms)"
    )
    print(f"incremental pull after 5 cancels {incremental_ms:.1f} ms")
    # Loopback has no round trip; a phone does. Modelled, not measured: each request adds one RTT.
    rtt = float(os.environ.get("BENCH_RTT_MS", "60")) / 1000
    batches = -(-MUTATIONS // BATCH)
    rest_phone = MUTATIONS / (rest_seconds + MUTATIONS * rtt)
    sync_phone = MUTATIONS / (sync_seconds + batches * rtt)
    print(
        f"with a {rtt * 1000:.0f} ms round trip per request (modelled): one per mutation {rest_phone:.1f} ops/s, "
        f"batched {sync_phone:.1f} ops/s, ratio {sync_phone / rest_phone:.1f}x"
    )


if __name__ == "__main__":
    main()
