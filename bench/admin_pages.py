"""Admin pages benchmark (issue 9): the overview and the users page at 100,000 accounts.

Loads the Marketplace benchmark data (bench/marketplace_api.py: 2,000 approved mentors, 20,000
learners, 100,000 sessions, 300,000 bookings), then tops the accounts up to 100,000 with a
realistic mix (about 95 % learners, 5 % mentors of whom some await approval or were rejected,
a few admins, 1 % blocked, joined over three years, most signed in at some point) and 100,000
audit entries. Then, with Django's test client and an admin signed in with a verified second
factor, it measures server-side latency (in process) and queries per request for:
  /dashboard/admin/                       the overview
  /dashboard/admin/users/                 first page, filtered pages, searches, a deep page
  /dashboard/admin/users/<id>/            one account's page
and, in the same run, a naive users page (Django's Paginator: an exact COUNT(*) and OFFSET
per request, the mentor profile read per row) rendering the same template, for a ratio.

Usage (the database is created from scratch; never point it at real data):
  python bench/admin_pages.py                    # SQLite file in a temp folder
  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/peerlearn_admin_bench python bench/admin_pages.py
Options via environment: BENCH_REQUESTS (default 100 per page), BENCH_USERS (default 100000),
BENCH_SCALE (the Marketplace data's scale, default 1.0; 0 skips it), BENCH_DATA_DIR (a folder
for the SQLite database, kept afterwards), BENCH_REUSE=1 (measure what an earlier run loaded there,
or in the PostgreSQL database, instead of reloading).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import types
from datetime import timedelta
from pathlib import Path

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "100"))
TOTAL_USERS = int(os.environ.get("BENCH_USERS", "100000"))
REUSE = os.environ.get("BENCH_REUSE") == "1"
os.environ["BENCH_REQUESTS"] = str(REQUESTS)
os.environ.setdefault("STATIC_FROM_SOURCE", "true")  # pages are rendered: no collectstatic manifest needed
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The Marketplace benchmark prepares the environment and the (fresh) database on import, and
# its loader and timer are reused as they are, so both benchmarks measure the same data.
import marketplace_api as market  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.paginator import Paginator  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402

from backend.core.access import Rule, page  # noqa: E402

FIRST = ["Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Meera", "Arjun", "Kavya", "Ishaan", "Diya", "Kabir", "Sara"]
LAST = ["Sharma", "Iyer", "Patel", "Reddy", "Nair", "Gupta", "Das", "Khan", "Menon", "Singh", "Rao", "Joshi"]


# --- data -------------------------------------------------------------------------------------
def top_up_users() -> dict:
    """Accounts beyond the Marketplace data up to TOTAL_USERS, with profiles, spread join dates,
    sign-ins, blocked accounts and audit entries. Returns a few of them for the measurements."""
    from django.contrib.auth.hashers import make_password
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from backend.accounts.models import AuditEvent, LearnerProfile, MentorProfile, User

    rng = random.Random(23)
    now = timezone.now()
    started = time.perf_counter()
    market_ids = list(User.objects.values_list("pk", flat=True))
    existing = len(market_ids)
    admins, mentors = 20, max(TOTAL_USERS // 20 - User.objects.filter(role="mentor").count(), 0)
    learners = max(TOTAL_USERS - existing - admins - mentors, 0)
    password = make_password("bench-password-1")

    def person(i: int, role: str) -> User:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        joined = now - timedelta(seconds=rng.randrange(3 * 365 * 86_400))
        seen = joined + timedelta(seconds=rng.randrange(max(int((now - joined).total_seconds()), 1)))
        return User(
            email=f"{first}.{last}.{role[0]}{i}@bench.local".lower(),
            full_name=f"{first} {last}",
            role=role,
            password=password,
            date_joined=joined,
            last_login=seen if rng.random() < 0.7 else None,
            is_active=rng.random() >= 0.01,
        )

    with transaction.atomic():
        User.objects.bulk_create([person(i, "admin") for i in range(admins)], batch_size=5000)
        made = User.objects.bulk_create([person(i, "mentor") for i in range(mentors)], batch_size=5000)
        states = ["approved"] * 7 + ["pending"] * 2 + ["rejected"]
        MentorProfile.objects.bulk_create(
            [MentorProfile(user=m, headline="Engineer", bio="b", approval_state=rng.choice(states)) for m in made],
            batch_size=5000,
        )
        made = User.objects.bulk_create([person(i, "learner") for i in range(learners)], batch_size=5000)
        LearnerProfile.objects.bulk_create([LearnerProfile(user=u) for u in made], batch_size=5000)
        # The Marketplace accounts joined "now": spread them over the same three years, a join
        # date per block of 500 (ties on date_joined are part of what the pages must handle).
        for start in range(0, len(market_ids), 500):
            joined = now - timedelta(seconds=rng.randrange(3 * 365 * 86_400))
            User.objects.filter(pk__in=market_ids[start : start + 500]).update(date_joined=joined, last_login=joined)
        all_ids = list(User.objects.values_list("pk", flat=True))
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    action="auth.login",
                    actor_id=pk,
                    target_type="user",
                    target_id=str(pk),
                    ip_address="10.0.0.1",
                    created_at=now - timedelta(seconds=rng.randrange(365 * 86_400)),
                )
                for pk in (rng.choice(all_ids) for _ in range(100_000))
            ],
            batch_size=10_000,
        )
        admin = User.objects.create_user(
            "bench.admin@bench.local", "bench-password-1", full_name="Bench Admin", role="admin"
        )
        device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    roles = dict(User.objects.order_by().values_list("role").annotate(n=Count("id")))
    blocked = User.objects.filter(is_active=False).count()
    print(
        f"topped up to {sum(roles.values()):,} accounts {roles}, {blocked:,} blocked, in {time.perf_counter() - started:.1f}s"
    )
    sample = User.objects.filter(role="mentor", mentor_profile__approval_state="pending").order_by("pk").first()
    emails = list(User.objects.filter(role="learner").order_by("?").values_list("email", flat=True)[:20])
    return {"admin": admin, "device": device, "mentor": sample, "emails": emails}


def admin_client(admin, device) -> Client:
    client = Client()
    client.force_login(admin)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


# --- the naive users page ---------------------------------------------------------------------
@page(Rule.ADMIN)
def naive_users(request):
    """The users page written the obvious way: Paginator (an exact COUNT(*), then OFFSET),
    icontains on both columns, the mentor profile read per row."""
    from django.db.models import Q

    from backend.accounts.models import User
    from backend.dashboards.admin_users import UserFilterForm
    from backend.dashboards.admin_users_selectors import UserState

    form = UserFilterForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    users = User.objects.all()
    if data.get("role"):
        users = users.filter(role=data["role"])
    if data.get("state") in UserState.APPROVALS:
        users = users.filter(mentor_profile__approval_state=UserState.APPROVALS[data["state"]])
    elif data.get("state"):
        users = users.filter(is_active=data["state"] == UserState.ACTIVE)
    if q := data.get("q"):
        users = users.filter(Q(full_name__icontains=q) | Q(email__icontains=q))
    paginator = Paginator(users.order_by("-date_joined", "-id"), 25)
    current = paginator.get_page(request.GET.get("page"))
    rows = list(current)
    for user in rows:
        try:
            user.approval = user.mentor_profile.approval_state
        except User.mentor_profile.RelatedObjectDoesNotExist:
            user.approval = None
    listing = types.SimpleNamespace(
        rows=rows,
        newer=str(current.number - 1) if current.has_previous() else "",
        older=str(current.number + 1) if current.has_next() else "",
        count_label=f"{paginator.count:,}",
    )
    context = {"nav": "users", "form": form, "users": listing, "query": "", "this_page": request.get_full_path()}
    return render(request, "dashboards/admin_users.html", context)


def mount_naive_page() -> None:
    urls = types.ModuleType("bench_admin_urls")
    urls.urlpatterns = [path("bench/naive-users/", naive_users), path("", include(settings.ROOT_URLCONF))]
    sys.modules["bench_admin_urls"] = urls
    settings.ROOT_URLCONF = "bench_admin_urls"
    from django.urls import clear_url_caches

    clear_url_caches()


# --- measuring --------------------------------------------------------------------------------
def measure(label: str, calls) -> dict:
    """Server time per request (Django's handler, in process), the part of it spent in the
    database (every query timed as it runs), and the queries per request."""
    durations, in_database, query_counts = [], [], set()
    for call in calls:
        spent = []

        def timed(execute, sql, params, many, context, spent=spent):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent.append(time.perf_counter() - started)

        with connection.execute_wrapper(timed):
            started = time.perf_counter()
            status = call()
            durations.append((time.perf_counter() - started) * 1000)
        assert status == 200, (label, status)
        in_database.append(sum(spent) * 1000)
        query_counts.add(len(spent))
    durations.sort()
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    return {
        "label": label,
        "p50": statistics.median(durations),
        "p99": p99,
        "db": statistics.median(in_database),
        "queries": sorted(query_counts),
    }


def deep_cursor(offset: int) -> str:
    from backend.accounts.models import User
    from backend.dashboards.admin_users_selectors import Cursor

    user = User.objects.order_by("-date_joined", "-id").only("id", "date_joined")[offset]
    return str(Cursor.of(user))


def loaded() -> dict | None:
    """What an earlier run loaded, when asked to reuse it."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from backend.accounts.models import User

    admin = User.objects.filter(email="bench.admin@bench.local").first() if REUSE else None
    if admin is None:
        return None
    print(f"reusing {connection.settings_dict['NAME']}: {User.objects.count():,} accounts")
    return {
        "admin": admin,
        "device": TOTPDevice.objects.get(user=admin),
        "mentor": User.objects.filter(role="mentor", mentor_profile__approval_state="pending").order_by("pk").first(),
        "emails": list(User.objects.filter(role="learner").order_by("pk").values_list("email", flat=True)[::5000]),
    }


def main():
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    picked = loaded()
    if picked is None:
        if market.SCALE > 0:
            market.load()
        picked = top_up_users()
    mount_naive_page()
    client = admin_client(picked["admin"], picked["device"])
    users_url = "/dashboard/admin/users/"
    deep = deep_cursor(50_000)
    names = [f"{first} {last}" for first in FIRST for last in LAST]
    prefixes = [email.split("@")[0] + "@" for email in picked["emails"]]
    pages = {
        "overview /dashboard/admin/": ["/dashboard/admin/"],
        "users: first page": [users_url],
        "users: filtered (role, state)": [
            f"{users_url}?role=mentor&state=mentor_pending",
            f"{users_url}?state=blocked",
            f"{users_url}?role=admin",
            f"{users_url}?role=learner&state=active",
        ],
        "users: search e-mail from start": [f"{users_url}?q={p}" for p in prefixes],
        "users: search name contains": [f"{users_url}?q={n.replace(' ', '+')}" for n in names[:24]]
        + [f"{users_url}?q=zzqx"],  # a rare word: every row is read
        "users: deep page (50,000 in)": [f"{users_url}?after={deep}"],
        "user detail": [f"{users_url}{picked['mentor'].pk}/"],
        "naive: first page": ["/bench/naive-users/"],
        "naive: filtered (role, state)": [
            "/bench/naive-users/?role=mentor&state=mentor_pending",
            "/bench/naive-users/?state=blocked",
            "/bench/naive-users/?role=admin",
            "/bench/naive-users/?role=learner&state=active",
        ],
        "naive: search name contains": [f"/bench/naive-users/?q={n.replace(' ', '+')}" for n in names[:24]]
        + ["/bench/naive-users/?q=zzqx"],
        "naive: deep page (50,000 in)": ["/bench/naive-users/?page=2001"],
    }
    for urls in pages.values():  # warm-up: connections, template loading, first-request imports
        client.get(urls[0])
    results = []
    for label, urls in pages.items():
        count = REQUESTS if not label.startswith("naive") else max(REQUESTS // 4, 20)
        cycle = [urls[i % len(urls)] for i in range(count)]
        calls = [lambda u=u: client.get(u).status_code for u in cycle]
        results.append(measure(label, calls))
    print(f"\ndatabase: {connection.vendor}   accounts: {TOTAL_USERS:,}   requests per page: {REQUESTS}")
    print(f"{'page':36} {'p50 ms':>8} {'p99 ms':>8} {'db p50':>8}  queries/request")
    for r in results:
        print(f"{r['label']:36} {r['p50']:8.2f} {r['p99']:8.2f} {r['db']:8.2f}  {r['queries']}")
    by_label = {r["label"]: r for r in results}
    print()
    for what in ("first page", "filtered (role, state)", "search name contains", "deep page (50,000 in)"):
        ours, naive = by_label[f"users: {what}"], by_label[f"naive: {what}"]
        print(
            f"users {what:22} vs naive: p50 {naive['p50'] / ours['p50']:4.1f}x, p99 {naive['p99'] / ours['p99']:4.1f}x, "
            f"database {naive['db'] / max(ours['db'], 0.01):5.1f}x faster; queries {max(naive['queries'])} -> {max(ours['queries'])}"
        )


if __name__ == "__main__":
    main()
