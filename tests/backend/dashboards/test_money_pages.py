"""The money pages on the payments ledger: the mentor's balances, monthly earnings, activity and
CSV; withdrawals with payout methods; the learner's payment history and receipts. Money is made
through the real services (payment_settle, payment_refunded, ledger postings, withdrawals), and
each page's figures are checked against the ledger; refusals write nothing.

The clock is frozen on Wednesday 12 March 2025, 15:30 in Kolkata, where the mentor lives; one
payment sits on 1 March in Kolkata, still 28 February in UTC."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.db import connection
from django.db.models import Sum
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext

from backend.core.csv_export import csv_text
from backend.marketplace import services as marketplace
from backend.payments import ledger, services
from backend.payments import withdrawals as w
from backend.payments.models import (
    LedgerEntry,
    OrderPurpose,
    PaymentOrder,
    PayoutMethod,
    Refund,
    Wallet,
    Withdrawal,
)
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # Wed 12 Mar, 15:30 IST


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.PLATFORM_FEE_PERCENT = 10
    with time_machine.travel(NOW, tick=False):
        yield


def at(when: datetime):
    return time_machine.travel(when, tick=False)


def next_order_number() -> int:
    return PaymentOrder.objects.count() + 1


def paid_booking(learner, session, when: datetime) -> PaymentOrder:
    """Book a held seat and pay for it through payment_settle (as the webhook does)."""
    with at(when):
        booking = marketplace.booking_create(learner=learner, session=session)
        n = next_order_number()
        order = PaymentOrder.objects.create(
            booking=booking,
            payer=learner,
            mentor=session.mentor,
            amount_paise=session.price_paise,
            gateway_order_id=f"order_T{n:04d}",
        )
        services.payment_settle(
            gateway_order_id=order.gateway_order_id,
            payment_id=f"pay_T{n:04d}",
            amount_paise=order.amount_paise,
            currency="INR",
            source="test",
        )
    order.refresh_from_db()
    return order


def tip(learner, booking, amount: int, when: datetime) -> PaymentOrder:
    """A tip paid through the same settlement as a session payment."""
    n = next_order_number()
    with at(when):
        order = PaymentOrder.objects.create(
            booking=booking,
            purpose=OrderPurpose.TIP,
            payer=learner,
            mentor_id=booking.session.mentor_id,
            amount_paise=amount,
            gateway_order_id=f"order_T{n:04d}",
        )
        services.payment_settle(
            gateway_order_id=order.gateway_order_id,
            payment_id=f"pay_T{n:04d}",
            amount_paise=amount,
            currency="INR",
            source="test",
        )
    order.refresh_from_db()
    return order


def refunded(order: PaymentOrder, amount: int, gateway_id: str, when: datetime) -> Refund:
    """A refund decided, then reported processed by the gateway (which posts the ledger)."""
    with at(when):
        refund = services.refund_request(order=order, amount_paise=amount, reason="mentor_cancel")
        return services.refund_processed(
            gateway_refund_id=gateway_id, payment_id=order.payment_id, amount_paise=amount, our_id=str(refund.pk)
        )


@pytest.fixture
def books(mentor, learner, outsider):
    """Maya (Kolkata) earns in February and March; Lena and Oscar pay, tip, get refunds."""
    mentor.timezone = "Asia/Kolkata"
    mentor.save(update_fields=["timezone"])
    with at(datetime(2025, 2, 5, tzinfo=UTC)):
        deep_dive = a_session(mentor, hours_ahead=24 * 30, price=50_000, capacity=3, title="Django deep dive")
        risky = a_session(mentor, hours_ahead=24 * 8, price=30_000, title="=cmd|' /C calc'!A0")
    # 1 March 01:30 in Kolkata (28 February in UTC): a March payment for Maya. Share ₹450.
    lena_paid = paid_booking(learner, deep_dive, datetime(2025, 2, 28, 20, 0, tzinfo=UTC))
    # February: Oscar pays ₹300 (share ₹270), then it is refunded in full.
    oscar_paid = paid_booking(outsider, risky, datetime(2025, 2, 10, 12, 0, tzinfo=UTC))
    refunded(oscar_paid, 30_000, "rfnd_T0001", datetime(2025, 2, 12, 12, 0, tzinfo=UTC))
    # March: Lena tips ₹100 (share ₹90), and the deep dive's ₹450 is released.
    lena_tip = tip(learner, lena_paid.booking, 10_000, datetime(2025, 3, 5, 6, 0, tzinfo=UTC))
    with at(datetime(2025, 3, 9, 6, 0, tzinfo=UTC)):
        ledger.release(mentor_id=mentor.pk, amount_paise=45_000, booking=lena_paid.booking, reference="release:1")
    # Part of Lena's session payment is being refunded (the gateway has not confirmed it yet).
    services.refund_request(order=lena_paid, amount_paise=5_000, reason="admin")
    # A seat Lena holds now, with a checkout started but not paid.
    upcoming = a_session(mentor, hours_ahead=50, price=49_900, title="Career clinic")
    held = marketplace.booking_create(learner=learner, session=upcoming)
    PaymentOrder.objects.create(
        booking=held, payer=learner, mentor=mentor, amount_paise=49_900, gateway_order_id="order_OPEN"
    )
    return {"lena_paid": lena_paid, "oscar_paid": oscar_paid, "lena_tip": lena_tip, "held": held}


def text(response) -> str:
    return response.content.decode()


def stat(body: str, label: str) -> str:
    match = re.search(rf'<span class="stat-label">{label}</span><strong class="stat-value">([^<]*)<', body)
    assert match, label
    return match.group(1)


def mentor_lines(mentor):
    return LedgerEntry.objects.filter(account__startswith=f"mentor:{mentor.pk}:")


# --- mentor earnings --------------------------------------------------------------------------
def test_balances_come_from_the_wallet_and_match_the_ledger(mentor, books):
    body = text(client_for(mentor).get("/dashboard/mentor/earnings/"))
    wallet = Wallet.objects.get(mentor=mentor)
    assert (wallet.pending_paise, wallet.available_paise, wallet.withdrawing_paise) == (9_000, 45_000, 0)
    assert ledger.balance(ledger.pending(mentor.pk)) == 9_000
    assert ledger.balance(ledger.available(mentor.pk)) == 45_000
    assert stat(body, "Pending") == "₹90" and stat(body, "Available") == "₹450"
    assert stat(body, "Being withdrawn") == "₹0"
    assert "72 hours after the session" in body
    assert 'href="/dashboard/mentor/withdrawals/"' in body and "₹450 can be withdrawn now." in body


def test_months_are_the_mentors_share_in_her_zone(mentor, books):
    response = client_for(mentor).get("/dashboard/mentor/earnings/")
    months = {m["label"]: m for m in response.context["months"]}
    assert len(months) == 12 and list(months)[-1] == "Mar 2025"
    march, february = months["Mar 2025"], months["Feb 2025"]
    # 1 March in Kolkata counts in March although it was still February in UTC.
    assert (march["sessions_paise"], march["tips_paise"], march["refunds_paise"], march["net_paise"]) == (
        45_000,
        9_000,
        0,
        54_000,
    )
    assert march["payments"] == 2
    assert (february["sessions_paise"], february["refunds_paise"], february["net_paise"]) == (27_000, 27_000, 0)
    # The same as summing the mentor's ledger lines (releases move money, they earn nothing).
    earned = mentor_lines(mentor).filter(kind__in=["charge", "tip", "refund"]).aggregate(t=Sum("amount_paise"))
    assert sum(m["net_paise"] for m in months.values()) == earned["t"] == 54_000
    body = text(response)
    assert (
        '<th scope="row">Feb 2025</th><td class="num">1</td><td class="num">₹270</td><td class="num">₹0</td>'
        '<td class="num">₹270</td><td class="num">₹0</td>'
    ) in body
    assert '<th scope="row">Mar 2025</th><td class="num">2</td><td class="num">₹450</td>' in body
    chart = response.context["charts"]["earnings"]
    assert [d["label"] for d in chart["datasets"]] == ["Sessions", "Tips", "Refunded"]
    assert [d["data"][-2:] for d in chart["datasets"]] == [[270, 450], [0, 90], [-270, 0]]
    assert '<canvas data-chart="earnings"' in body
    assert "₹540 net over the last 12 months from 3 payments (₹90 in tips), after ₹270 refunded" in body


def test_recent_activity_lists_transactions_newest_first(mentor, books):
    activity = client_for(mentor).get("/dashboard/mentor/earnings/").context["activity"]
    assert [(a["kind"], a["change_paise"]) for a in activity] == [
        ("release", 0),
        ("tip", 9_000),
        ("charge", 45_000),
        ("refund", -27_000),
        ("charge", 27_000),
    ]
    release = activity[0]
    assert (release["from_bucket"], release["to_bucket"], release["moved_paise"]) == ("Pending", "Available", 45_000)
    assert activity[1]["booking"].session.title == "Django deep dive"


def test_activity_keeps_whole_transactions_at_the_limit(mentor, settings):
    for n in range(12):
        with at(NOW - timedelta(hours=30 - n)):
            ledger.charge(mentor_id=mentor.pk, gross_paise=10_000)
            ledger.release(mentor_id=mentor.pk, amount_paise=9_000)
    activity = client_for(mentor).get("/dashboard/mentor/earnings/").context["activity"]
    assert len(activity) == 10 and all(a["from_bucket"] == "Pending" for a in activity[::2])
    assert all(a["moved_paise"] == 9_000 for a in activity)


def test_new_mentor_sees_zero_balances_and_an_empty_state(mentor):
    body = text(client_for(mentor).get("/dashboard/mentor/earnings/"))
    assert stat(body, "Available") == "₹0" and stat(body, "Pending") == "₹0"
    assert "No earnings yet." in body and "<canvas" not in body and "chart.umd.min.js" not in body
    assert "Withdrawals open once ₹100 is available." in body
    assert not Wallet.objects.exists()  # reading never writes


def read_csv(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(raw)))


def test_csv_lists_ledger_lines_in_the_mentors_zone_with_formulas_defused(mentor, books):
    response = client_for(mentor).get("/dashboard/mentor/earnings.csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="peerlearn-earnings-2025-03-12.csv"'
    assert read_csv(response) == [
        ["Date (Asia/Kolkata)", "Kind", "Session", "Amount (INR)", "Balance", "Reference"],
        ["2025-02-10 17:30", "Session payment", "'=cmd|' /C calc'!A0", "270.00", "Pending", "pay_T0002"],
        ["2025-02-12 17:30", "Refund", "'=cmd|' /C calc'!A0", "-270.00", "Pending", "rfnd_T0001"],
        ["2025-03-01 01:30", "Session payment", "Django deep dive", "450.00", "Pending", "pay_T0001"],
        ["2025-03-05 11:30", "Tip", "Django deep dive", "90.00", "Pending", "pay_T0003"],
        ["2025-03-09 11:30", "Earnings released", "Django deep dive", "-450.00", "Pending", "release:1"],
        ["2025-03-09 11:30", "Earnings released", "Django deep dive", "450.00", "Available", "release:1"],
    ]


def test_csv_never_includes_another_mentors_lines(mentor, books, domains):
    other = make_user("omar.other@example.com", "mentor")
    ledger.charge(mentor_id=other.pk, gross_paise=70_000, reference="=HYPERLINK()")
    rows = read_csv(client_for(mentor).get("/dashboard/mentor/earnings.csv"))
    assert len(rows) == 7 and not any("HYPERLINK" in cell for row in rows for cell in row)
    other_rows = read_csv(client_for(other).get("/dashboard/mentor/earnings.csv"))
    assert other_rows[1][-1] == "'=HYPERLINK()" and len(other_rows) == 2


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+91", "'+91"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("a = b", "a = b"),
    ],
)
def test_csv_text_guards_formula_injection(cell, safe):
    assert csv_text(cell) == safe


def test_mentor_home_card_reads_the_ledger_and_wallet(mentor, books):
    body = text(client_for(mentor).get("/dashboard/mentor/"))
    assert re.search(r'href="/dashboard/mentor/earnings/".*?Earnings in March.*?₹540', body, re.S)
    assert "₹540 from 2 payments · ₹450 available to withdraw" in body
    data = client_for(mentor).get("/api/dashboard/mentor/").json()["earnings"]
    assert data == {
        "month": "2025-03-01",
        "gross_paise": 54_000,
        "refunds_paise": 0,
        "net_paise": 54_000,
        "seats": 2,
        "available_paise": 45_000,
    }


# --- withdrawals ------------------------------------------------------------------------------
@pytest.fixture
def upi(mentor, books):
    return w.payout_method_save(mentor=mentor, kind="upi", upi_vpa="ravi.kumar@okaxis")


def writes() -> tuple[int, int, int]:
    return Withdrawal.objects.count(), LedgerEntry.objects.count(), PayoutMethod.objects.count()


def wallet_of(mentor) -> tuple[int, int]:
    wallet = Wallet.objects.get(mentor=mentor)
    return wallet.available_paise, wallet.withdrawing_paise


def withdraw(mentor, **data):
    return client_for(mentor).post("/dashboard/mentor/withdrawals/", {f"withdraw-{k}": v for k, v in data.items()})


def test_withdrawals_page_shows_methods_masked_and_the_form(mentor, upi):
    body = text(client_for(mentor).get("/dashboard/mentor/withdrawals/"))
    assert stat(body, "Available") == "₹450"
    assert "UPI ra•••@okaxis" in body and "ravi.kumar" not in body
    assert 'name="withdraw-amount"' in body and f'value="{upi.pk}" checked' in body
    assert "Up to ₹450 available; at least ₹100." in body
    assert "No withdrawals yet." in body


def test_a_withdrawal_in_rupees_and_paise_holds_the_money(mentor, upi):
    response = withdraw(mentor, amount="150.50", method=upi.pk)
    assert response.status_code == 302 and response.url == "/dashboard/mentor/withdrawals/"
    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.mentor, withdrawal.amount_paise, withdrawal.method, withdrawal.state) == (
        mentor,
        15_050,
        upi,
        "requested",
    )
    assert wallet_of(mentor) == (45_000 - 15_050, 15_050)
    assert ledger.balance(ledger.withdrawing(mentor.pk)) == 15_050
    body = text(client_for(mentor).get("/dashboard/mentor/withdrawals/"))
    assert stat(body, "Being withdrawn") == "₹150.50" and '<span class="chip chip-requested">Requested</span>' in body


def test_the_success_toast_is_shown(mentor, upi):
    client = client_for(mentor)
    response = client.post(
        "/dashboard/mentor/withdrawals/", {"withdraw-amount": "100", "withdraw-method": upi.pk}, follow=True
    )
    assert "Withdrawal of ₹100 to UPI ra•••@okaxis requested." in text(response)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("451", "You can withdraw up to ₹450 right now."),
        ("99.99", "The smallest withdrawal is ₹100."),
        ("abc", "Enter a number."),
        ("100.005", "Use at most two decimals (paise)."),
        ("-5", "The amount cannot be negative."),
        ("0", "Enter an amount in rupees."),
        ("", "This field is required."),
    ],
)
def test_refused_withdrawals_write_nothing(mentor, upi, amount, message):
    before = writes()
    response = withdraw(mentor, amount=amount, method=upi.pk)
    assert response.status_code == 400
    assert message in text(response)
    assert writes() == before and wallet_of(mentor) == (45_000, 0)


def test_another_mentors_method_is_not_a_choice(mentor, upi, domains):
    other = make_user("omar.other@example.com", "mentor")
    theirs = w.payout_method_save(mentor=other, kind="upi", upi_vpa="omar@okhdfc")
    before = writes()
    response = withdraw(mentor, amount="200", method=theirs.pk)
    assert response.status_code == 400 and "Choose one of your payout methods." in text(response)
    assert "om•••@okhdfc" not in text(response)
    assert writes() == before and wallet_of(mentor) == (45_000, 0)


def test_paid_and_rejected_withdrawals_show_reference_and_reason(mentor, upi, admin_user):
    first = w.withdrawal_request(mentor=mentor, amount_paise=20_000, method=upi)
    second = w.withdrawal_request(mentor=mentor, amount_paise=10_000, method=upi)
    w.withdrawal_decide(admin=admin_user, withdrawal=first, approve=True)
    w.withdrawal_mark_paid(admin=admin_user, withdrawal=first, reference="UTR12345")
    w.withdrawal_decide(admin=admin_user, withdrawal=second, approve=False, reason="UPI ID did not resolve")
    body = text(client_for(mentor).get("/dashboard/mentor/withdrawals/"))
    assert '<span class="chip chip-paid">Paid</span>' in body and "<code>UTR12345</code>" in body
    assert '<span class="chip chip-rejected">Rejected</span>' in body and "UPI ID did not resolve" in body
    assert stat(body, "Available") == "₹250" and stat(body, "Being withdrawn") == "₹0"


def method(mentor, **data):
    return client_for(mentor).post(
        "/dashboard/mentor/withdrawals/methods/", {f"method-{k}": v for k, v in data.items()}
    )


def test_a_bank_account_is_saved_and_only_shown_masked(mentor, books):
    response = method(mentor, kind="bank", holder="Maya  Mentor", ifsc="hdfc0001234", account_number="1234 5678 4321")
    assert response.status_code == 302
    saved = PayoutMethod.objects.get(mentor=mentor)
    assert (saved.kind, saved.account_number, saved.ifsc, saved.display, saved.is_default) == (
        "bank",
        "123456784321",
        "HDFC0001234",
        "•••• 4321",
        True,
    )
    body = text(client_for(mentor).get("/dashboard/mentor/withdrawals/"))
    assert "•••• 4321" in body and "123456784321" not in body and "1234 5678" not in body


def test_a_refused_method_names_the_fields_and_never_echoes_the_account_number(mentor, books):
    response = method(mentor, kind="bank", holder="M", ifsc="nope", account_number="987654321012")
    body = text(response)
    assert response.status_code == 400
    assert "Enter the account holder&#x27;s name (2 to 100 characters)." in body
    assert "Enter an 11-character IFSC like HDFC0001234." in body
    assert "987654321012" not in body and "Some fields need attention." in body
    assert not PayoutMethod.objects.exists()
    upi = method(mentor, kind="upi", upi_vpa="not a vpa")
    assert upi.status_code == 400 and "Enter a UPI ID like name@bank." in text(upi)
    assert method(mentor, kind="cash").status_code == 400 and not PayoutMethod.objects.exists()


def test_a_upi_method_is_saved_masked(mentor, books):
    client = client_for(mentor)
    response = client.post(
        "/dashboard/mentor/withdrawals/methods/",
        {"method-kind": "upi", "method-upi_vpa": "Ravi.Kumar@OKAXIS"},
        follow=True,
    )
    body = text(response)
    assert "UPI ra•••@okaxis saved and set as your default payout method." in body
    assert "ravi.kumar@okaxis" not in body.lower().replace("ra•••@okaxis", "")
    assert PayoutMethod.objects.get().upi_vpa == "ravi.kumar@okaxis"


# --- learner payments and receipts ------------------------------------------------------------
def test_learner_payments_list_orders_refunds_and_held_seats(learner, books):
    response = client_for(learner).get("/dashboard/learner/payments/")
    body = text(response)
    orders = list(response.context["orders"])
    assert [(o.purpose, o.state, o.amount_paise) for o in orders] == [
        ("tip", "paid", 10_000),
        ("booking", "paid", 50_000),
    ]
    # The open checkout is not history; the held seat is at the top with a Pay link and its expiry.
    assert "order_OPEN" not in body and response.context["held"] == [books["held"]]
    assert f'href="/payments/checkout/{books["held"].pk}/"' in body and "Pay ₹499" in body
    assert "₹499 due · seat held until" in body and body.index("Awaiting payment") < body.index("Payment history")
    assert stat(body, "Due now") == "₹499" and stat(body, "Paid") == "₹600" and stat(body, "Refunded") == "₹0"
    assert "₹50 being refunded" in body
    assert f'href="/dashboard/learner/payments/{books["lena_paid"].pk}/receipt/"' in body
    assert "=cmd" not in body  # Oscar's payment is not Lena's


def test_refunded_order_shows_its_refund(outsider, books):
    body = text(client_for(outsider).get("/dashboard/learner/payments/"))
    assert '<span class="chip chip-refunded">Refunded</span>' in body and "₹300 refunded" in body
    assert stat(body, "Refunded") == "₹300" and stat(body, "Paid") == "₹300"


def test_receipt_for_the_payer(learner, books):
    order = books["lena_paid"]
    response = client_for(learner).get(f"/dashboard/learner/payments/{order.pk}/receipt/")
    body = text(response)
    assert response.status_code == 200
    assert f"PL-20250228-{order.pk:06d}" in body and "pay_T0001" in body and order.gateway_order_id in body
    assert "Django deep dive" in body and order.mentor.full_name in body and "₹500" in body
    assert "Refund on its way" in body and "−₹50" in body
    assert "fee" not in body.lower().replace("session fee", "")  # no platform fee or mentor share


def test_receipts_of_others_or_unpaid_orders_are_404(learner, outsider, mentor, books):
    oscar = books["oscar_paid"]
    assert client_for(learner).get(f"/dashboard/learner/payments/{oscar.pk}/receipt/").status_code == 404
    assert client_for(outsider).get(f"/dashboard/learner/payments/{oscar.pk}/receipt/").status_code == 200
    open_order = PaymentOrder.objects.get(gateway_order_id="order_OPEN")
    assert client_for(learner).get(f"/dashboard/learner/payments/{open_order.pk}/receipt/").status_code == 404
    assert client_for(learner).get("/dashboard/learner/payments/999999/receipt/").status_code == 404
    mentor_view = client_for(mentor).get(f"/dashboard/learner/payments/{books['lena_paid'].pk}/receipt/")
    assert mentor_view.status_code == 302 and mentor_view.url == "/dashboard/mentor/"


def test_learner_payments_empty_state(learner):
    body = text(client_for(learner).get("/dashboard/learner/payments/"))
    assert "No payments yet." in body and stat(body, "Paid") == "₹0" and "Awaiting payment" not in body


# --- access and navigation --------------------------------------------------------------------
MENTOR_PAGES = ["/dashboard/mentor/earnings/", "/dashboard/mentor/earnings.csv", "/dashboard/mentor/withdrawals/"]
LEARNER_PAGES = ["/dashboard/learner/payments/", "/dashboard/learner/payments/1/receipt/"]


@pytest.mark.parametrize("page", [*MENTOR_PAGES, *LEARNER_PAGES, "/dashboard/mentor/withdrawals/methods/"])
def test_anonymous_visitors_go_to_login(page, domains):
    response = client_for(None).get(page)
    assert response.status_code == 302 and response.url.startswith("/login/?next=")


@pytest.mark.parametrize("page", MENTOR_PAGES)
def test_mentor_pages_for_each_role(page, mentor, pending_mentor, learner, admin_user):
    assert client_for(mentor).get(page).status_code == 200
    assert client_for(pending_mentor).get(page).status_code == 200
    assert client_for(learner).get(page).url == "/dashboard/learner/"
    assert client_for(admin_user, verified=True).get(page).url == "/dashboard/admin/"


def test_learners_cannot_post_to_mentor_forms(learner, mentor, upi):
    before = writes()
    assert withdraw(learner, amount="100", method=upi.pk).url == "/dashboard/learner/"
    assert method(learner, kind="upi", upi_vpa="lena@okaxis").url == "/dashboard/learner/"
    assert writes() == before


def test_learner_pages_for_each_role(mentor, learner):
    assert client_for(learner).get("/dashboard/learner/payments/").status_code == 200
    assert client_for(mentor).get("/dashboard/learner/payments/").url == "/dashboard/mentor/"


def test_withdrawals_sit_next_to_earnings_in_both_navigations(mentor):
    body = text(client_for(mentor).get("/dashboard/mentor/withdrawals/"))
    assert len(re.findall(r'href="/dashboard/mentor/withdrawals/"\s+aria-current="page"', body)) == 2
    sidebar = body[body.index('class="sidebar-nav"') :]
    assert sidebar.index("/dashboard/mentor/earnings/") < sidebar.index("/dashboard/mentor/withdrawals/")
    assert '<details class="nav-more has-current">' in body


# --- pinned query counts ----------------------------------------------------------------------
def count_queries(client, page) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page)
        assert response.status_code == 200, page
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured)


def counts(mentor, learner, receipt_id) -> dict[str, int]:
    pages = {
        "mentor": [
            "/dashboard/mentor/earnings/",
            "/dashboard/mentor/earnings.csv",
            "/dashboard/mentor/withdrawals/",
            "/dashboard/mentor/",
        ],
        "learner": ["/dashboard/learner/payments/", f"/dashboard/learner/payments/{receipt_id}/receipt/"],
    }
    clients = {"mentor": client_for(mentor), "learner": client_for(learner)}
    return {page: count_queries(clients[who], page) for who, urls in pages.items() for page in urls}


def test_query_counts_do_not_grow_with_records(mentor, learner, upi, admin_user):
    receipt = PaymentOrder.objects.get(payer=learner, purpose="booking", state="paid")
    w.withdrawal_request(mentor=mentor, amount_paise=10_000, method=upi)
    few = counts(mentor, learner, receipt.pk)
    for n in range(6):
        order = paid_booking(learner, a_session(mentor, hours_ahead=80 + n, price=20_000), NOW - timedelta(days=9 * n))
        tip(learner, order.booking, 5_000, NOW - timedelta(days=9 * n - 1))
        services.refund_request(order=order, amount_paise=1_000, reason="admin")
        refunded(receipt, 100, f"rfnd_M{n}", NOW)
        w.payout_method_save(mentor=mentor, kind="upi", upi_vpa=f"maya{n}@okaxis")
        ledger.release(mentor_id=mentor.pk, amount_paise=18_000)
        w.withdrawal_request(mentor=mentor, amount_paise=10_000, method=upi)
        marketplace.booking_create(learner=learner, session=a_session(mentor, hours_ahead=90 + n, price=9_900))
    many = counts(mentor, learner, receipt.pk)
    assert few == many
    # Besides session, user and the profile reads of the page chrome: months, wallet and activity
    # for earnings; one streamed query for the CSV; history (count, page, refunds), held seats and
    # two totals for payments; the order and its refunds for a receipt.
    assert many == {
        "/dashboard/mentor/earnings/": 8,  # each page: its reads + the bell's 2
        "/dashboard/mentor/earnings.csv": 3,
        "/dashboard/mentor/withdrawals/": 9,
        "/dashboard/mentor/": 14,
        "/dashboard/learner/payments/": 12,
        f"/dashboard/learner/payments/{receipt.pk}/receipt/": 8,
    }


def test_a_failed_refund_is_shown_as_failed(learner, books):
    refund = Refund.objects.get(order=books["lena_paid"])
    services.refund_failed(refund=refund, failure="BAD_REQUEST_ERROR")
    body = text(client_for(learner).get("/dashboard/learner/payments/"))
    assert "₹50 refund failed" in body and "being refunded" not in body
    assert stat(body, "Refunded") == "₹0"
    receipt = text(client_for(learner).get(f"/dashboard/learner/payments/{books['lena_paid'].pk}/receipt/"))
    assert "Refund failed" in receipt


def test_csv_streams_asynchronously_under_asgi(mentor, books):
    # Under daphne a sync iterator would be buffered whole (with a warning); the view hands ASGI an
    # async one instead.
    client = AsyncClient()
    client.force_login(mentor)

    async def download():
        response = await client.get("/dashboard/mentor/earnings.csv")
        return response, [chunk async for chunk in response.streaming_content]

    response, chunks = async_to_sync(download)()
    assert response.status_code == 200 and response.is_async
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert len(rows) == 7 and rows[3][2] == "Django deep dive"
