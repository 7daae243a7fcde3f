"""The admin overview (KPIs and charts from the payments ledger), the audit log (filters, keyset
pages, CSV, read-only) and the monthly revenue report (page, CSV, PDF). Money is made through
the payments services (payment_settle as the webhook calls it, refunds the gateway confirms,
releases, withdrawals approved and marked paid) and, once, through the local Razorpay stand-in;
each figure is checked against a ledger worked out by hand.

The clock is frozen on Wednesday 12 March 2025, 15:30 in Kolkata (the reporting zone); one
payment sits on 1 March in Kolkata, still 28 February in UTC."""

from __future__ import annotations

import csv
import io
import re
import zlib
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum
from django.http import Http404, StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backend.accounts.audit import audit_record
from backend.accounts.models import ApprovalState, AuditEvent, MentorProfile, Role, User
from backend.dashboards import admin_reports_selectors as reports
from backend.dashboards import selectors
from backend.dashboards.admin_reports import compact_data, short_user_agent
from backend.dashboards.revenue_pdf import latin1
from backend.marketplace import services as marketplace
from backend.marketplace.models import Session, SessionState
from backend.payments import ledger
from backend.payments import withdrawals as w
from backend.payments.models import LedgerEntry, PaymentOrder
from tests.backend.dashboards.test_money_pages import at, paid_booking, refunded, tip
from tests.backend.marketplace.factories import a_session
from tests.backend.payments.conftest import razorpay  # noqa: F401 (the gateway stand-in fixture)
from tests.backend.payments.test_refunds_and_jobs import pay
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # Wed 12 Mar, 15:30 IST
ADMIN_URLS = [
    "/dashboard/admin/",
    "/dashboard/admin/audit/",
    "/dashboard/admin/audit/export.csv",
    "/dashboard/admin/reports/revenue/",
    "/dashboard/admin/reports/revenue.csv",
    "/dashboard/admin/reports/revenue.pdf",
]


@pytest.fixture
def frozen(settings):
    settings.PLATFORM_FEE_PERCENT = 10
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin(admin_user):
    client = client_for(admin_user, verified=True)
    # Signing in is audited; the tests' own sign-in is not part of the log they read.
    AuditEvent.objects.filter(action="auth.login", actor=admin_user).delete()
    return client


def approved_mentor(email: str, name: str, domains) -> User:
    user = make_user(email, Role.MENTOR, full_name=name)
    profile = MentorProfile.objects.create(
        user=user, headline="Engineer", bio="Bio " * 30, skills=["Go"], approval_state=ApprovalState.APPROVED
    )
    profile.domains.set(domains[:1])
    return user


def session_at(mentor, starts: datetime, **extra) -> Session:
    with at(starts - timedelta(hours=1)):
        return a_session(mentor, hours_ahead=1, **extra)


@pytest.fixture
def books(frozen, admin_user, mentor, learner, outsider, pending_mentor, domains):
    """A month of money, worked out by hand (fee 10 %, rounded half up):

    February (Kolkata days)
      10 Feb  Lena pays Maya ₹500          fee  50.00  share 450.00
      11 Feb  Oscar pays Maya ₹300         fee  30.00  share 270.00
      12 Feb  … refunded in full: ₹300     fee back 30, share back 270
      15 Feb  Lena pays Ravi ₹199          fee  19.90  share 179.10
      20 Feb  Lena tips Maya ₹100          fee  10.00  share  90.00
      20 Feb  Maya's ₹450 released; 25 Feb ₹400 withdrawn, approved and paid
    March
       1 Mar  Lena pays Ravi ₹999 (28 Feb 20:00 UTC)  fee 99.90
      10 Mar  Lena pays Maya ₹250          fee  25.00
    """
    ravi = approved_mentor("ravi.rao@example.com", "@Ravi Rao", domains)
    olga = approved_mentor("olga.old@example.com", "Olga Old", domains)
    feb = datetime(2025, 2, 1, tzinfo=UTC)
    deep_dive = session_at(mentor, datetime(2025, 2, 25, 6, tzinfo=UTC), price=50_000, title="Django deep dive")
    risky = session_at(mentor, datetime(2025, 2, 20, 6, tzinfo=UTC), price=30_000, title="Testing")
    go_basics = session_at(ravi, datetime(2025, 2, 22, 6, tzinfo=UTC), price=19_900, title="Go basics")
    go_deep = session_at(ravi, datetime(2025, 3, 7, 0, tzinfo=UTC), price=99_900, title="Go deep")
    clinic = session_at(mentor, datetime(2025, 3, 20, 6, tzinfo=UTC), price=25_000, capacity=2, title="Career clinic")
    session_at(olga, datetime(2025, 1, 20, 6, tzinfo=UTC), state=SessionState.COMPLETED, title="Old")
    lena_paid = paid_booking(learner, deep_dive, feb.replace(day=10, hour=6))
    oscar_paid = paid_booking(outsider, risky, feb.replace(day=11, hour=6))
    refunded(oscar_paid, 30_000, "rfnd_T0001", feb.replace(day=12, hour=6))
    paid_booking(learner, go_basics, feb.replace(day=15, hour=6))
    tip(learner, lena_paid.booking, 10_000, feb.replace(day=20, hour=5))
    with at(feb.replace(day=20, hour=6)):
        ledger.release(mentor_id=mentor.pk, amount_paise=45_000, booking=lena_paid.booking, reference="release:1")
        method = w.payout_method_save(mentor=mentor, kind="upi", upi_vpa="maya@okaxis")
        withdrawal = w.withdrawal_request(mentor=mentor, amount_paise=40_000, method=method)
    with at(feb.replace(day=25, hour=6)):
        w.withdrawal_decide(admin=admin_user, withdrawal=withdrawal, approve=True)
        w.withdrawal_mark_paid(admin=admin_user, withdrawal=withdrawal, reference="UTR0001")
    paid_booking(learner, go_deep, datetime(2025, 2, 28, 20, tzinfo=UTC))
    paid_booking(learner, clinic, datetime(2025, 3, 10, 6, tzinfo=UTC))
    # A checkout started and never paid: not money.
    held = marketplace.booking_create(learner=outsider, session=clinic)
    PaymentOrder.objects.create(
        booking=held, payer=outsider, mentor=mentor, amount_paise=25_000, gateway_order_id="o_X"
    )
    return {"ravi": ravi, "olga": olga}


@pytest.fixture
def this_week(books, mentor, pending_mentor):
    """Sessions around now: this week runs Monday 10 to Sunday 16 March in Kolkata."""
    ravi = books["ravi"]
    a_session(mentor, hours_ahead=-20, state=SessionState.COMPLETED, title="Yesterday")  # 11 Mar
    a_session(ravi, hours_ahead=2, title="Today")  # 12 Mar
    a_session(ravi, hours_ahead=24 * 3, title="Saturday")  # 15 Mar: ahead, still this week
    a_session(mentor, hours_ahead=5, state=SessionState.CANCELLED, title="Called off")  # 12 Mar
    a_session(mentor, hours_ahead=10, state=SessionState.DRAFT, title="Draft")  # never counts
    a_session(ravi, hours_ahead=24 * 6, title="Next week")  # 18 Mar
    a_session(pending_mentor, hours_ahead=24 * 8, title="Not approved yet")  # 20 Mar


def ledger_total(**filters) -> int:
    return LedgerEntry.objects.filter(**filters).aggregate(t=Sum("amount_paise"))["t"] or 0


def stat(body: str, label: str) -> str:
    match = re.search(rf'<span class="stat-label">{label}</span><strong class="stat-value">([^<]*)<', body)
    assert match, label
    return match.group(1)


def toasts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- access -------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ADMIN_URLS)
def test_only_a_verified_admin_gets_in(url, learner, mentor, admin_user):
    expected = {
        None: f"/login/?next={quote(url, safe='')}",
        learner: "/dashboard/learner/",
        mentor: "/dashboard/mentor/",
        admin_user: f"/account/2fa/?next={quote(url, safe='')}",
    }
    before = AuditEvent.objects.exclude(action__startswith="auth.").count()
    for user, target in expected.items():
        response = client_for(user).get(url)
        assert (response.status_code, response.url) == (302, target), user
    assert AuditEvent.objects.exclude(action__startswith="auth.").count() == before
    response = client_for(admin_user, verified=True).get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("url", ADMIN_URLS)
def test_every_admin_report_is_read_only(url, admin, admin_user):
    before = AuditEvent.objects.count()
    assert admin.post(url, {"action": "x"}).status_code == 405
    assert admin.delete(url).status_code == 405
    assert AuditEvent.objects.count() == before


def test_selectors_refuse_anyone_but_an_admin(learner, mentor):
    for user in (learner, mentor):
        for read in (
            reports.overview,
            lambda u: reports.audit_events(u, reports.AuditFilter()),
            lambda u: reports.revenue_report(u, date(2025, 2, 1)),
        ):
            with pytest.raises(Http404):
                read(user)


# --- overview -----------------------------------------------------------------------------------
def test_overview_kpis_match_the_ledger(admin, admin_user, books, this_week, mentor, pending_mentor):
    response = admin.get(reverse("dashboard-admin"))
    assert response.status_code == 200
    c = response.context
    # Lena, Oscar; Maya, Pete (pending), Ravi, Olga; Ada.
    assert c["users"] == {"learners": 2, "mentors": 4, "admins": 1, "blocked": 0, "new_7d": 7}
    # Maya and Ravi taught or are booked since 10 Feb; Olga's last session was in January; Pete is
    # not approved although he has a session ahead.
    assert c["mentor_counts"] == {"approved": 3, "pending": 1, "active": 2}
    assert c["sessions_this_week"] == {"held": 3, "cancelled": 1}
    # March: Ravi ₹999 (1 March in Kolkata) + Maya ₹250.
    assert c["money_month"] == {"gross": 124_900, "refunded": 0, "fee": 12_490, "payments": 2}
    # 11 Feb – 12 Mar: everything but Lena's ₹500 of 10 Feb; the ₹300 refund gave its fee back.
    assert c["money_30d"] == {"gross": 184_800, "refunded": 30_000, "fee": 15_480, "payments": 5}
    assert c["refund_rate_30d"] == 16.2  # 300 / 1848
    body = response.content.decode()
    assert stat(body, "Revenue this month") == "₹1,249"
    assert stat(body, "Platform fee this month") == "₹124.90"
    assert stat(body, "Refund rate, 30 days") == "16.2%"
    assert stat(body, "Users") == "6"
    assert stat(body, "Active mentors") == "2"
    assert stat(body, "Sessions this week") == "3"
    assert stat(body, "Withdrawals waiting") == "0" and stat(body, "Failed refunds") == "0"
    assert "none failed" in body and "none waiting" in body
    assert pending_mentor.full_name in body and 'action="/dashboard/admin/mentors/' in body
    # All-time fee kept = the platform:fees balance, the same sum the charts are made of.
    weeks = c["money_by_week"]
    assert len(weeks) == 12 and weeks[-1]["week"] == date(2025, 3, 10) and weeks[0]["week"] == date(2024, 12, 23)
    assert sum(wk["fee"] for wk in weeks) == ledger.balance(ledger.PLATFORM_FEES) == 20_480
    assert sum(wk["gross"] for wk in weeks) == -ledger_total(account="external", kind__in=["charge", "tip"])
    by_week = {wk["week"]: wk for wk in weeks}
    assert by_week[date(2025, 2, 24)]["gross"] == 99_900  # 1 March in Kolkata is in the week of 24 Feb
    assert by_week[date(2025, 2, 10)] == {
        "week": date(2025, 2, 10),
        "gross": 99_900,  # ₹500 + ₹300 + ₹199
        "refunded": 30_000,
        "fee": 5_000 + 3_000 - 3_000 + 1_990,
        "payments": 3,
    }


def test_overview_charts_are_drawn_locally_with_a_table_of_numbers(admin, books, this_week):
    response = admin.get(reverse("dashboard-admin"))
    body = response.content.decode()
    charts = response.context["charts"]
    assert set(charts) == {"revenue", "sessions", "signups"}
    revenue = charts["revenue"]
    assert [d["label"] for d in revenue["datasets"]] == ["Gross captured", "Refunded", "Platform fee"]
    assert revenue["money"] is True and revenue["labels"][-1] == "10 Mar"
    assert revenue["datasets"][0]["data"][-1] == 250 and revenue["datasets"][0]["data"][-3] == 999
    sessions = charts["sessions"]
    assert len(sessions["labels"]) == 14 and sessions["labels"][-1] == "12 Mar"
    assert sessions["datasets"][0]["data"][-2:] == [1, 1] and sessions["datasets"][1]["data"][-1] == 1
    assert sum(sessions["datasets"][0]["data"]) == 3  # 7 Mar (Go deep), 11 and 12 Mar
    signups = charts["signups"]
    assert signups["datasets"][0]["data"][-1] == 2 and signups["datasets"][1]["data"][-1] == 4
    # Vendored Chart.js and the shared drawing module; no asset from another origin.
    assert '/static/vendor/chartjs/chart.umd.min.js"' in body and "/static/js/analytics.js" in body
    assert not re.search(r'(src|href)="https?://', body)
    assert '<canvas data-chart="revenue"' in body and 'id="chart-data"' in body
    assert "Show the numbers" in body and '<td class="num">₹999</td>' in body


def test_overview_signups_are_bucketed_by_week_in_kolkata(admin, frozen, learner, mentor):
    # Sunday 9 March 20:00 UTC is Monday 10 March 01:30 in Kolkata: this week, not last.
    User.objects.filter(pk=learner.pk).update(date_joined=datetime(2025, 3, 9, 20, tzinfo=UTC))
    User.objects.filter(pk=mentor.pk).update(date_joined=datetime(2025, 3, 9, 18, tzinfo=UTC))  # 23:30 Sunday
    weeks = {wk["week"]: wk for wk in admin.get(reverse("dashboard-admin")).context["signups_by_week"]}
    assert weeks[date(2025, 3, 10)]["learner"] == 1 and weeks[date(2025, 3, 10)]["mentor"] == 0
    assert weeks[date(2025, 3, 3)]["mentor"] == 1


def test_an_empty_platform_shows_zeros_and_no_charts(admin, frozen):
    response = admin.get(reverse("dashboard-admin"))
    body = response.content.decode()
    assert response.context["charts"] == {} and response.context["refund_rate_30d"] is None
    assert stat(body, "Revenue this month") == "₹0" and stat(body, "Refund rate, 30 days") == "—"
    assert "No payments over the last 12 weeks." in body and "chart.umd.min.js" not in body


def test_overview_counts_failed_refunds_and_waiting_withdrawals(admin, admin_user, frozen, mentor):
    ledger.release(mentor_id=mentor.pk, amount_paise=ledger.charge(mentor_id=mentor.pk, gross_paise=50_000).share_paise)
    method = w.payout_method_save(mentor=mentor, kind="upi", upi_vpa="maya@okaxis")
    w.withdrawal_request(mentor=mentor, amount_paise=20_000, method=method)
    body = admin.get(reverse("dashboard-admin")).content.decode()
    assert stat(body, "Withdrawals waiting") == "1" and "1 to decide · 0 to pay" in body
    assert "1 waiting" in body


def test_overview_is_a_fixed_number_of_queries(
    admin, admin_user, books, this_week, domains, django_assert_num_queries, django_assert_max_num_queries
):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin.get(reverse("dashboard-admin")).status_code == 200
        return len(captured)

    few = count()
    # More people, sessions and money: the same number of queries.
    for n in range(30):
        learner = make_user(f"l{n}@example.com", Role.LEARNER)
        mentor = approved_mentor(f"m{n}@example.com", f"M{n}", domains)
        session = a_session(mentor, hours_ahead=30 + n, price=10_000 + n)
        paid_booking(learner, session, NOW - timedelta(days=n))
        make_user(f"p{n}@example.com", Role.MENTOR)
    assert count() == few
    # The overview's own reads: five aggregates (ledger, sessions, sign-ups, users, active
    # mentors), the two money queues, the pending mentors with their domains, the audit tail.
    with django_assert_num_queries(10):
        selectors.admin_home(admin_user)
    # The page: those, plus what every dashboard page costs (session, user, 2FA device, the
    # sidebar's avatar and the notification bell).
    with django_assert_max_num_queries(17):
        admin.get(reverse("dashboard-admin"))


def test_a_payment_through_the_gateway_stand_in_counts(razorpay, admin, mentor, learner):  # noqa: F811
    session = a_session(mentor, price=49_900, hours_ahead=5)
    order = pay(razorpay, learner, marketplace.booking_create(learner=learner, session=session))
    assert order.state == "paid"
    c = admin.get(reverse("dashboard-admin")).context
    assert c["money_month"]["gross"] == 49_900 and c["money_month"]["fee"] == 4_990
    assert c["money_30d"]["payments"] == 1


# --- audit log ----------------------------------------------------------------------------------
@pytest.fixture
def log(frozen, admin_user, mentor, learner):
    """Entries in Kolkata days: 1 March (a login), 5 March (a block), 12 March (a refund)."""
    with at(datetime(2025, 3, 1, 4, tzinfo=UTC)):
        audit_record(action="auth.login", actor=learner, ip="x")
    with at(datetime(2025, 3, 5, 4, tzinfo=UTC)):
        audit_record(action="user.blocked", actor=admin_user, target=learner, reason="Spam, again")
    with at(datetime(2025, 3, 11, 20, tzinfo=UTC)):  # 12 March 01:30 in Kolkata
        audit_record(action="payment.refund_requested", actor=admin_user, target=mentor, order=7, amount_paise=500)
    AuditEvent.objects.filter(action="auth.login").update(
        ip_address="203.0.113.9",
        user_agent="Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/122.0 Mobile Safari/537.36",
    )
    return AuditEvent.objects.order_by("created_at")


def actions(response) -> list[str]:
    return [event.action for event in response.context["events"]]


def test_audit_log_lists_newest_first_with_who_what_where(admin, log, learner):
    response = admin.get(reverse("admin-audit"))
    assert actions(response)[:3] == ["payment.refund_requested", "user.blocked", "auth.login"]
    body = response.content.decode()
    assert "203.0.113.9" in body and "Chrome 122 on Android" in body
    assert "amount_paise: 500, order: 7" in body and "reason: Spam, again" in body
    assert 'user <span class="muted">#' in body and learner.email in body
    assert '<form method="post"' not in body.split('id="main"')[1]  # nothing to change here


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "auth.login"}, ["auth.login"]),
        ({"action": "auth.*"}, ["auth.login"]),
        ({"action": "payment."}, ["payment.refund_requested"]),
        ({"action": "auth"}, []),  # exact unless it ends with * or .
        ({"actor": "ADA.ADMIN@example.com"}, ["payment.refund_requested", "user.blocked"]),
        ({"actor": "nobody@example.com"}, []),
        ({"target_type": "User"}, ["payment.refund_requested", "user.blocked"]),
        ({"date_from": "2025-03-05", "date_to": "2025-03-11"}, ["user.blocked"]),
        ({"date_from": "2025-03-12"}, ["payment.refund_requested"]),  # 01:30 on the 12th in Kolkata
        ({"date_to": "2025-03-01"}, ["auth.login"]),
    ],
)
def test_audit_filters(admin, log, query, expected):
    response = admin.get(reverse("admin-audit"), query)
    assert response.status_code == 200
    assert [a for a in actions(response) if not a.startswith("export.")] == expected


def test_audit_filter_by_target_id(admin, log, learner):
    response = admin.get(reverse("admin-audit"), {"target_type": "user", "target_id": str(learner.pk)})
    assert actions(response) == ["user.blocked"]


@pytest.mark.parametrize(
    "query",
    [{"action": "DROP TABLE;"}, {"actor": "not-an-email"}, {"date_from": "2025-03-05", "date_to": "2025-03-01"}],
)
def test_bad_audit_filters_say_what_is_wrong(admin, log, query):
    response = admin.get(reverse("admin-audit"), query)
    assert response.status_code == 400
    assert response.context["events"] == [] and response.context["form"].errors
    assert "has-error" in response.content.decode()
    csv_response = admin.get(reverse("admin-audit-csv"), query)
    assert csv_response.status_code == 302 and csv_response.url.startswith(reverse("admin-audit"))
    assert not AuditEvent.objects.filter(action="export.audit").exists()


def test_audit_pages_by_keyset_without_counting(admin, frozen, admin_user):
    base = datetime(2025, 3, 1, tzinfo=UTC)
    # 120 entries; pairs share a timestamp, so the id breaks ties.
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                action="auth.login", actor=admin_user, created_at=base + timedelta(minutes=n // 2), data={"n": n}
            )
            for n in range(120)
        ]
    )
    seen, url, pages = [], reverse("admin-audit"), 0
    response = admin.get(url)
    while True:
        pages += 1
        seen += [e.data["n"] for e in response.context["events"]]
        older = response.context["older"]
        if not older:
            break
        with CaptureQueriesContext(connection) as captured:
            response = admin.get(url, {"older": older})
        log_reads = [q["sql"].upper() for q in captured.captured_queries if "ACCOUNTS_AUDITEVENT" in q["sql"].upper()]
        assert len(log_reads) == 1 and "COUNT(" not in log_reads[0] and "OFFSET" not in log_reads[0]
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120
    assert seen == sorted(seen, reverse=True)
    # "Newer" from the last page comes back to the page before it, then to the top.
    newer = response.context["newer"]
    back = admin.get(url, {"newer": newer})
    assert [e.data["n"] for e in back.context["events"]] == seen[50:100]
    top = admin.get(url, {"newer": back.context["newer"]})
    assert [e.data["n"] for e in top.context["events"]] == seen[:50] and top.context["newer"] == ""
    assert admin.get(url, {"older": "garbage"}).context["events"][0].data["n"] == seen[0]


def test_audit_page_is_a_fixed_number_of_queries(admin, log, admin_user, django_assert_max_num_queries):
    AuditEvent.objects.bulk_create([AuditEvent(action="auth.login", actor=admin_user) for _ in range(80)])
    with CaptureQueriesContext(connection) as captured:
        admin.get(reverse("admin-audit"), {"actor": "ada.admin@example.com"})
    with django_assert_max_num_queries(len(captured)):
        admin.get(reverse("admin-audit"), {"actor": "ada.admin@example.com", "action": "auth.*"})
    with django_assert_max_num_queries(10):
        admin.get(reverse("admin-audit"))


def read_csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_audit_csv_is_filtered_streamed_guarded_and_audited(admin, admin_user, log):
    AuditEvent.objects.filter(action="auth.login").update(user_agent='=HYPERLINK("http://evil")')
    response = admin.get(reverse("admin-audit-csv"), {"action": "auth.*"})
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    rows = read_csv(response)
    assert rows[0] == ["When (UTC)", "Who", "Action", "Target type", "Target id", "IP address", "User agent", "Details"]
    assert rows[1][:3] == ["2025-03-01 04:00:00", "lena.learner@example.com", "auth.login"]
    assert rows[1][6] == '\'=HYPERLINK("http://evil")'  # never a formula in a spreadsheet
    assert rows[1][5] == "203.0.113.9" and rows[1][7] == '{"ip": "x"}'
    assert len(rows) == 2
    export = AuditEvent.objects.get(action="export.audit")
    assert export.actor == admin_user and export.data == {"filters": {"action": "auth.*"}}
    # The whole log, the export entry included.
    everything = read_csv(admin.get(reverse("admin-audit-csv")))
    # Every entry, the two exports included (each is recorded before its rows are read).
    assert len(everything) == 1 + AuditEvent.objects.count()
    assert AuditEvent.objects.filter(action="export.audit").count() == 2


def test_audit_details_are_compact():
    assert compact_data({}) == ""
    assert compact_data({"b": [1, 2], "a": "x", "c": {"k": None}}) == 'a: x, b: [1, 2], c: {"k": null}'
    assert short_user_agent("") == ""
    assert short_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Version/17.4 Safari/604.1") == (
        "Safari 17 on iOS"
    )
    assert (
        short_user_agent("Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36 Edg/120.0") == "Edge 120 on Windows"
    )
    assert short_user_agent("curl/8.5.0") == "curl 8"
    assert short_user_agent("x" * 60) == "x" * 40 + "…"


# --- monthly revenue report ---------------------------------------------------------------------
FEBRUARY = {
    "gross": 109_900,
    "sessions_gross": 99_900,
    "tips": 10_000,
    "share": 98_910,
    "fee": 10_990,
    "refunds": 30_000,
    "share_back": 27_000,
    "fee_back": 3_000,
    "net": 79_900,
    "net_share": 71_910,
    "net_fee": 7_990,
    "payouts": 40_000,
    "payments": 3,
    "sessions": 3,
    "tip_count": 1,
    "payout_count": 1,
    "mentors_paid": 2,
    "refund_rate": 27.3,
}


def test_revenue_report_adds_up_for_a_month(admin, books, mentor):
    response = admin.get(reverse("admin-revenue"), {"month": "2025-02"})
    assert response.status_code == 200
    report = response.context["report"]
    assert report.totals == FEBRUARY
    t = report.totals
    assert t["share"] + t["fee"] == t["gross"] and t["share_back"] + t["fee_back"] == t["refunds"]
    assert t["net_share"] + t["net_fee"] == t["net"] == t["gross"] - t["refunds"]
    assert t["sessions_gross"] + t["tips"] == t["gross"]
    maya, ravi = report.mentors
    assert (maya["name"], maya["gross"], maya["share"], maya["fee"], maya["refunds"], maya["payouts"]) == (
        "Maya Mentor",
        90_000,
        81_000,
        9_000,
        30_000,
        40_000,
    )
    assert (ravi["name"], ravi["gross"], ravi["fee"], ravi["share"], ravi["payments"]) == (
        "@Ravi Rao",
        19_900,
        1_990,
        17_910,
        1,
    )
    for row in report.mentors:
        assert row["share"] + row["fee"] == row["gross"]
    body = response.content.decode()
    assert stat(body, "Gross captured") == "₹1,099" and stat(body, "Platform fee") == "₹79.90"
    assert stat(body, "Mentor shares") == "₹719.10" and stat(body, "Paid sessions") == "3"
    assert 'data-label="Payouts" class="num">₹400</td>' in body  # payouts made
    assert 'data-key="net"' in body and "₹799" in body
    assert "February 2025" in body and "Asia/Kolkata" in body


def test_revenue_report_puts_money_in_its_kolkata_month(admin, books):
    march = admin.get(reverse("admin-revenue"), {"month": "2025-03"})
    assert march.status_code == 200
    t = march.context["report"].totals
    assert (t["gross"], t["fee"], t["payments"]) == (124_900, 12_490, 2)  # 1 March in Kolkata + 10 March
    assert not march.context["report"].complete and "month to date" in march.content.decode()
    january = admin.get(reverse("admin-revenue"), {"month": "2025-01"}).context["report"]
    assert january.totals["gross"] == 0 and january.mentors == []


def test_revenue_report_defaults_to_the_last_complete_month(admin, books):
    response = admin.get(reverse("admin-revenue"))
    assert response.context["report"].month == date(2025, 2, 1)
    assert response.context["next_month"] == date(2025, 3, 1) and response.context["previous_month"] == date(2025, 1, 1)
    assert 'value="2025-02"' in response.content.decode() and 'max="2025-03"' in response.content.decode()


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2025-13", "Choose a month as YYYY-MM"),
        ("banana", "Choose a month as YYYY-MM"),
        ("2025-3", "Choose a month as YYYY-MM"),
        ("1999-12", "from January 2000 on"),
        ("2025-04", "April 2025 has not started yet"),
        ("2031-01", "January 2031 has not started yet"),
    ],
)
def test_a_bad_or_future_month_is_explained_not_a_500(admin, frozen, month, message):
    response = admin.get(reverse("admin-revenue"), {"month": month})
    assert response.status_code == 400
    assert message in response.content.decode() and "report" not in response.context
    for name in ("admin-revenue-csv", "admin-revenue-pdf"):
        download = admin.get(reverse(name), {"month": month})
        assert download.status_code == 302 and download.url == f"/dashboard/admin/reports/revenue/?month={quote(month)}"
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


def test_revenue_csv_matches_the_page(admin, admin_user, books):
    page = admin.get(reverse("admin-revenue"), {"month": "2025-02"}).context["report"]
    response = admin.get(reverse("admin-revenue-csv"), {"month": "2025-02"})
    assert response["Content-Disposition"] == 'attachment; filename="peerlearn-revenue-2025-02.csv"'
    rows = read_csv(response)
    header, maya, ravi, total = rows
    assert header[:4] == ["Month", "Mentor id", "Mentor", "E-mail"]
    assert maya[2:4] == ["Maya Mentor", "maya.mentor@example.com"]
    assert ravi[2] == "'@Ravi Rao"  # a name is never a formula
    column = dict(zip(header, total, strict=True))
    assert total[2] == "All mentors"
    assert column["Gross captured (INR)"] == "1099.00" and column["Platform fee (INR)"] == "109.90"
    assert column["Mentor share (INR)"] == "989.10" and column["Refunds (INR)"] == "300.00"
    assert column["Net revenue (INR)"] == "799.00" and column["Net platform fee (INR)"] == "79.90"
    assert column["Payouts made (INR)"] == "400.00" and column["Session payments"] == "3"
    for key, label in (("gross", "Gross captured (INR)"), ("net_share", "Net mentor share (INR)")):
        assert column[label] == f"{page.totals[key] / 100:.2f}"
    entry = AuditEvent.objects.get(action="export.revenue_csv")
    assert entry.actor == admin_user and entry.data == {"month": "2025-02"}


def pdf_text(document: bytes) -> str:
    """The text drawn on the pages: fpdf2 deflates each page's content stream."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", document, re.S)
    out = []
    for stream in streams:
        try:
            out.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return "".join(out).replace("\\(", "(").replace("\\)", ")")


def test_revenue_pdf_is_an_a4_attachment_with_the_figures(admin, admin_user, books):
    response = admin.get(reverse("admin-revenue-pdf"), {"month": "2025-02"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="peerlearn-revenue-2025-02.pdf"'
    document = response.content
    assert document.startswith(b"%PDF")
    assert b"/Title (PeerLearn revenue report, February 2025)" in document
    assert b"/MediaBox [0 0 595.28 841.89]" in document  # A4
    assert document.count(b"/Type /Page\n") == 1
    text = pdf_text(document)
    for figure in ("Revenue report: February 2025", "INR 1,099.00", "INR 989.10", "INR 109.90", "INR 799.00"):
        assert figure in text, figure
    assert "Maya Mentor" in text and "All mentors" in text and "INR 400.00" in text
    assert AuditEvent.objects.get(action="export.revenue_pdf").data == {"month": "2025-02"}


def test_revenue_pdf_stays_within_two_pages_with_many_mentors(admin, books, domains, learner):
    for n in range(45):
        m = approved_mentor(f"m{n}@example.com", f"Mentor Łukasz {n}", domains)
        paid_booking(learner, a_session(m, hours_ahead=24 * 40 + n, price=10_000 + n), datetime(2025, 2, 3, tzinfo=UTC))
    document = admin.get(reverse("admin-revenue-pdf"), {"month": "2025-02"}).content
    assert document.count(b"/Type /Page\n") == 2
    text = pdf_text(document)
    assert "Mentor Lukasz" in text and "17 other mentors" in text and "All mentors" in text
    assert latin1("Łódź – “x” देव") == 'Lódz - "x" ???'


# --- navigation ---------------------------------------------------------------------------------
def test_admin_navigation_links_every_area(admin, frozen):
    """Depends on the users, sessions and feedback modules (admin_users.py, admin_sessions.py)."""
    body = admin.get(reverse("admin-audit")).content.decode()
    sidebar = body.split('<nav class="sidebar-nav"')[1].split("</nav>")[0]
    for href in (
        "/dashboard/admin/",
        "/dashboard/admin/users/",
        "/dashboard/admin/sessions/",
        "/dashboard/admin/payments/",
        "/dashboard/admin/refunds/",
        "/dashboard/admin/withdrawals/",
        "/dashboard/admin/feedback/",
        "/dashboard/admin/audit/",
        "/dashboard/admin/reports/revenue/",
        "/dashboard/admin/health/",
        "/dashboard/admin/recommendations/",
        "/admin/",
    ):
        assert f'href="{href}"' in sidebar, href
    assert 'href="/dashboard/admin/audit/" aria-current="page"' in sidebar
    phone = body.split('<nav class="bottom-nav"')[1].split("</nav>")[0]
    top_level = re.sub(r"<details.*?</details>", "", phone, flags=re.S)
    assert top_level.count("<a ") == 4 and "<summary>" in phone  # Home, Users, Sessions, Payments + More
    assert 'class="nav-more has-current"' in phone
    home = admin.get(reverse("dashboard-admin")).content.decode()
    for href in ("/dashboard/admin/users/", "/dashboard/admin/sessions/", "/dashboard/admin/feedback/"):
        assert f'href="{href}"' in home.split('class="admin-areas"')[1].split("</nav>")[0]


def test_health_page_highlights_its_own_link(admin, frozen):
    body = admin.get(reverse("admin-health")).content.decode()
    sidebar = body.split('<nav class="sidebar-nav"')[1].split("</nav>")[0]
    assert 'href="/dashboard/admin/health/" aria-current="page"' in sidebar


@pytest.mark.parametrize("zone_name", ["Asia/Kolkata", "Europe/London", "America/St_Johns"])
def test_sign_ups_fall_on_the_local_day_across_offset_changes(zone_name, db):
    """The overview groups by the reporting zone's day on both databases; on SQLite that is done
    per stretch of one UTC offset, so the days either side of a clock change must come out as
    Python's zone conversion says (St John's: a half-hour zone with daylight saving)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    moments = [
        datetime(2026, 3, 7, 23, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 4, 15, tzinfo=UTC),
        datetime(2026, 3, 8, 6, 45, tzinfo=UTC),
        datetime(2026, 3, 28, 18, 45, tzinfo=UTC),
        datetime(2026, 3, 28, 23, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 23, 30, tzinfo=UTC),
    ]
    for n, moment in enumerate(moments):
        User.objects.create_user(f"tz{n}@example.com", "pw-long-enough-1", role=Role.LEARNER, date_joined=moment)
    periods = reports.Periods.at(datetime(2026, 4, 8, 12, 0, tzinfo=UTC), zone)
    expected: dict = {}
    for moment in moments:
        expected[moment.astimezone(zone).date()] = expected.get(moment.astimezone(zone).date(), 0) + 1
    days = reports._signups_by_day(periods)
    assert {day: row[Role.LEARNER] for day, row in days.items() if row[Role.LEARNER]} == expected
