"""Marketplace API latency benchmark (issue 3).

Loads 2,000 mentors, 100,000 sessions and 300,000 bookings into a fresh database, then
measures server-side latency (Django's handler, in process) and queries per request for:
  GET /api/sessions/ (search with filters), GET /api/dashboard/learner/, GET /api/dashboard/mentor/
For each it also times a naive baseline in the same run: the same JSON built the obvious way
(no select_related, seat counts per session, full-table GROUP BY), to show what the
optimised selectors buy.

Usage (the database is created from scratch; never point it at real data):
  python bench/marketplace_api.py                    # SQLite file in a temp folder
  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/peerlearn_bench python bench/marketplace_api.py
Options via environment: BENCH_REQUESTS (default 300), BENCH_SCALE (default 1.0),
BENCH_DATA_DIR (a folder for the SQLite database, kept afterwards), BENCH_REUSE=1 (measure the
data an earlier run loaded there, or in the PostgreSQL database, instead of reloading).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
MENTORS, SESSIONS, BOOKINGS, LEARNERS = (int(n * SCALE) for n in (2_000, 100_000, 300_000, 20_000))

REUSE = os.environ.get("BENCH_REUSE") == "1"
data_dir = os.environ.get("BENCH_DATA_DIR") or tempfile.mkdtemp(prefix="peerlearn-bench-")
os.environ["PEERLEARN_DATA_DIR"] = data_dir
os.environ.pop("REDIS_URL", None)
if os.environ.get("BENCH_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
else:
    os.environ.pop("DATABASE_URL", None)
os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")


def recreate_postgres_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


if os.environ.get("DATABASE_URL") and not REUSE:
    recreate_postgres_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

settings.ALLOWED_HOSTS = ["testserver"]
settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"auth": "100000/min", "email_code": "100000/min"}


def load() -> tuple[list[int], list[int]]:
    from django.contrib.auth.hashers import make_password

    from backend.accounts.models import LearnerProfile, MentorProfile, User
    from backend.marketplace.models import Booking, Domain, Session

    call_command("migrate", verbosity=0)
    if REUSE and User.objects.exists():
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"reusing {connection.settings_dict['NAME']}: {Session.objects.count():,} sessions, {Booking.objects.count():,} bookings"
        )
        return list(User.objects.filter(role="mentor").values_list("pk", flat=True)), list(
            User.objects.filter(role="learner").values_list("pk", flat=True)
        )
    rng = random.Random(7)
    domains = list(Domain.objects.all())
    password = make_password("bench-password-1")
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    with transaction.atomic():
        mentors = User.objects.bulk_create(
            [
                User(email=f"m{i}@bench.local", full_name=f"Mentor {i}", role="mentor", password=password)
                for i in range(MENTORS)
            ],
            batch_size=2000,
        )
        MentorProfile.objects.bulk_create(
            [
                MentorProfile(user=m, headline=f"Engineer {i}", bio="b", approval_state="approved")
                for i, m in enumerate(mentors)
            ],
            batch_size=2000,
        )
        learners = User.objects.bulk_create(
            [
                User(email=f"l{i}@bench.local", full_name=f"Learner {i}", role="learner", password=password)
                for i in range(LEARNERS)
            ],
            batch_size=5000,
        )
        LearnerProfile.objects.bulk_create([LearnerProfile(user=u) for u in learners], batch_size=5000)
        per_mentor = SESSIONS // MENTORS
        words = ["Django", "Kubernetes", "System design", "SQL", "Figma", "Interview", "Rust", "GATE", "Pitch", "Data"]
        sessions = []
        for i, mentor in enumerate(mentors):
            for j in range(per_mentor):
                # A third in the past (completed), the rest spread over the next months; one
                # mentor's sessions are 3 hours apart so they never overlap.
                starts = now + timedelta(hours=3 * (j - per_mentor // 3) + (i % 3))
                state = "completed" if starts < now else "scheduled"
                sessions.append(
                    Session(
                        mentor=mentor,
                        title=f"{words[(i + j) % len(words)]} session {i}-{j}",
                        description="d",
                        domain=domains[(i + j) % len(domains)],
                        starts_at=starts,
                        ends_at=starts + timedelta(minutes=60),
                        duration_minutes=60,
                        price_paise=rng.choice([0, 49900, 99900]),
                        capacity=5,
                        state=state,
                        room_code=f"r{i}x{j}",
                    )
                )
        Session.objects.bulk_create(sessions, batch_size=5000)
        # bulk_create skips Session.save(), which keeps the search index: build it here.
        from backend.marketplace.models import SessionSearchTerm
        from backend.marketplace.search import terms_for

        names = {m.pk: m.full_name for m in mentors}
        domain_names = {d.pk: d.name for d in domains}
        SessionSearchTerm.objects.bulk_create(
            (
                SessionSearchTerm(session_id=s.pk, term=t)
                for s in Session.objects.only(
                    "id", "title", "topics", "description", "mentor_id", "domain_id"
                ).iterator()
                for t in terms_for(s, names[s.mentor_id], domain_names[s.domain_id])
            ),
            batch_size=10000,
        )
        session_ids = list(Session.objects.values_list("id", flat=True))
        bookings, seen = [], set()
        while len(bookings) < BOOKINGS:
            pair = (rng.choice(session_ids), rng.randrange(LEARNERS))
            if pair in seen:
                continue
            seen.add(pair)
            bookings.append(Booking(session_id=pair[0], learner=learners[pair[1]], state="confirmed", confirmed_at=now))
        Booking.objects.bulk_create(bookings, batch_size=10000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as a live database has them
    print(
        f"loaded {MENTORS:,} mentors, {Session.objects.count():,} sessions, {Booking.objects.count():,} bookings, {LEARNERS:,} learners in {time.perf_counter() - started:.1f}s"
    )
    return [m.pk for m in mentors], [u.pk for u in learners]


def measure(label: str, calls) -> dict:
    durations, query_counts = [], set()
    for call in calls:
        connection.queries_log.clear()  # the log is a bounded deque: a full one miscounts
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            status = call()
            durations.append((time.perf_counter() - started) * 1000)
        assert status == 200, (label, status)
        query_counts.add(len(captured))
    durations.sort()
    p50 = statistics.median(durations)
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    return {"label": label, "p50": p50, "p99": p99, "queries": sorted(query_counts)}


def naive_search_json(params: dict) -> list[dict]:
    """The obvious version: filter, then look up mentor, profile, domain and seats per row."""
    from backend.marketplace.models import Session

    qs = Session.objects.filter(state__in=["scheduled", "live"], is_private=False, ends_at__gt=timezone.now())
    if params.get("q"):
        qs = qs.filter(title__icontains=params["q"])
    if params.get("domain"):
        qs = qs.filter(domain__slug=params["domain"])
    rows = []
    for session in qs.order_by("starts_at", "id")[:20]:
        taken = session.bookings.filter(state="confirmed").count()
        rows.append(
            {
                "id": session.pk,
                "mentor": session.mentor.full_name,
                "headline": session.mentor.mentor_profile.headline,
                "domain": session.domain.name,
                "seats_left": session.capacity - taken,
            }
        )
    return rows


def main():
    from backend.marketplace.models import Domain

    mentor_ids, learner_ids = load()
    rng = random.Random(11)
    domains = list(Domain.objects.values_list("slug", flat=True))
    queries = ["", "django", "design", "sql", "kubernetes", "interview"]

    def search_params():
        params = {"page_size": "20"}
        choice = rng.random()
        if choice < 0.4:
            params["q"] = rng.choice(queries[1:])
        if 0.3 < choice < 0.7:
            params["domain"] = rng.choice(domains)
        if choice > 0.8:
            params["free"] = "true"
        return params

    anonymous = Client()
    learner_clients = []
    mentor_clients = []
    from backend.accounts.models import User

    for pk in rng.sample(learner_ids, 20):
        client = Client()
        client.force_login(User.objects.get(pk=pk))
        learner_clients.append(client)
    for pk in rng.sample(mentor_ids, 20):
        client = Client()
        client.force_login(User.objects.get(pk=pk))
        mentor_clients.append(client)

    # Warm-up (connection, caches, first-request imports). Each search word's "common or rare"
    # verdict is cached after its first use (search._is_common), as in a running server.
    anonymous.get("/api/sessions/")
    for word in queries[1:]:
        anonymous.get("/api/sessions/", {"q": word})
    learner_clients[0].get("/api/dashboard/learner/")
    mentor_clients[0].get("/api/dashboard/mentor/")

    search_inputs = [search_params() for _ in range(REQUESTS)]
    results = [
        measure(
            "GET /api/sessions/ (search)",
            [lambda p=p: anonymous.get("/api/sessions/", p).status_code for p in search_inputs],
        ),
        measure(
            "naive search baseline",
            [lambda p=p: (naive_search_json(p), 200)[1] for p in search_inputs[: max(30, REQUESTS // 5)]],
        ),
        measure(
            "GET /api/dashboard/learner/",
            [
                lambda c=c: c.get("/api/dashboard/learner/").status_code
                for c in (learner_clients * (REQUESTS // 20 + 1))[:REQUESTS]
            ],
        ),
        measure(
            "GET /api/dashboard/mentor/",
            [
                lambda c=c: c.get("/api/dashboard/mentor/").status_code
                for c in (mentor_clients * (REQUESTS // 20 + 1))[:REQUESTS]
            ],
        ),
    ]
    print(f"\ndatabase: {connection.vendor}   requests per endpoint: {REQUESTS}")
    print(f"{'endpoint':34} {'p50 ms':>8} {'p99 ms':>8}  queries/request")
    for r in results:
        print(f"{r['label']:34} {r['p50']:8.2f} {r['p99']:8.2f}  {r['queries']}")
    search, naive = results[0], results[1]
    print(
        f"\nsearch API vs naive baseline: p50 {naive['p50'] / search['p50']:.1f}x faster, queries {naive['queries'][-1]} -> {search['queries'][-1]}"
    )
    # A constant query count: never more than a fixed number per request, whatever the data
    # size or page size (a search with an empty page skips the details query).
    bounds = {"GET /api/sessions/ (search)": 2, "GET /api/dashboard/learner/": 6, "GET /api/dashboard/mentor/": 10}
    goal = all(r["p99"] <= 50 and max(r["queries"]) <= bounds[r["label"]] for r in results if r["label"] in bounds)
    print(f"goal p99 <= 50 ms with at most {bounds} queries: {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
