"""The admin money pages: payments (totals, filters, a detail page with a refund form, CSV),
the refunds queue with "Try again", and the withdrawals queue. Only an admin with a verified
second factor gets in; money is made through the real services (checkout and payment through
the local Razorpay stand-in, ledger postings, withdrawals), every action is checked in the
database afterwards, refusals write nothing, and the ledger stays balanced."""

from __future__ import annotations

import csv
import io

import pytest
from django.db.models import Sum
from django.urls import reverse

from backend.accounts.models import AuditEvent, Role, User
from backend.marketplace import services as marketplace
from backend.payments import admin_selectors, ledger, services
from backend.payments import withdrawals as w
from backend.payments.models import (
    LedgerEntry,
    OrderState,
    PaymentOrder,
    Refund,
    RefundState,
    Wallet,
    Withdrawal,
    WithdrawalState,
)
from tests.backend.marketplace.factories import a_session
from tests.backend.payments.test_refunds_and_jobs import PRICE, assert_balanced, committed, pay
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
ACCOUNT = "123456789012"


@pytest.fixture
def admin(admin_user):
    return client_for(admin_user, verified=True)


def a_paid_order(razorpay, mentor, learner, *, title="Intro to Django", hours_ahead=5) -> PaymentOrder:
    session = a_session(mentor, price=PRICE, hours_ahead=hours_ahead, title=title)
    return pay(razorpay, learner, marketplace.booking_create(learner=learner, session=session))


@pytest.fixture
def order(razorpay, mentor, learner) -> PaymentOrder:
    order = a_paid_order(razorpay, mentor, learner)
    assert order.state == OrderState.PAID
    return order


@pytest.fixture
def funded(settings, mentor):
    """₹900 available to the mentor: a payment (less the 10 % fee) whose earnings were released."""
    settings.PLATFORM_FEE_PERCENT = 10
    posted = ledger.charge(mentor_id=mentor.pk, gross_paise=100_000)
    ledger.release(mentor_id=mentor.pk, amount_paise=posted.share_paise)
    return mentor


@pytest.fixture
def requested(funded) -> Withdrawal:
    method = w.payout_method_save(
        mentor=funded, kind="bank", holder="Maya Mentor", ifsc="HDFC0001234", account_number=ACCOUNT
    )
    return w.withdrawal_request(mentor=funded, amount_paise=50_000, method=method)


def toasts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- access ----------------------------------------------------------------------------------
GETS = [
    "/dashboard/admin/payments/",
    "/dashboard/admin/payments/export.csv",
    "/dashboard/admin/payments/1/",
    "/dashboard/admin/refunds/",
    "/dashboard/admin/refunds/export.csv",
    "/dashboard/admin/withdrawals/",
    "/dashboard/admin/withdrawals/export.csv",
    "/dashboard/admin/withdrawals/1/",
]
POSTS = [
    "/dashboard/admin/payments/1/",
    "/dashboard/admin/refunds/1/retry/",
    "/dashboard/admin/withdrawals/1/decide/",
    "/dashboard/admin/withdrawals/1/paid/",
]


@pytest.mark.parametrize(("method", "url"), [("get", u) for u in GETS] + [("post", u) for u in POSTS])
def test_only_a_verified_admin_gets_in(method, url, learner, mentor, admin_user):
    from urllib.parse import quote

    expected = {
        None: f"/login/?next={quote(url, safe='')}",
        learner: "/dashboard/learner/",
        mentor: "/dashboard/mentor/",
        admin_user: f"/account/2fa/?next={quote(url, safe='')}",
    }

    def writes():  # signing in is audited (auth.*); nothing else may be
        return (
            Refund.objects.count(),
            Withdrawal.objects.count(),
            AuditEvent.objects.exclude(action__startswith="auth.").count(),
        )

    before = writes()
    for user, target in expected.items():
        client = client_for(user)
        data = {"decision": "approve", "reference": "UTR1", "amount": "1", "note": "x"} if method == "post" else None
        response = getattr(client, method)(url, data)
        assert (response.status_code, response.url) == (302, target), user
    assert writes() == before


def test_a_verified_admin_sees_every_page(admin, order, requested):
    refund = services.refund_by_admin(admin=User.objects.get(role=Role.ADMIN), order=order, amount_paise=100, note="x")
    for url in (
        reverse("admin-payments"),
        reverse("admin-payments-csv"),
        reverse("admin-payment", args=[order.pk]),
        reverse("admin-refunds"),
        reverse("admin-withdrawals"),
        reverse("admin-withdrawal", args=[requested.pk]),
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    assert admin.get(reverse("admin-payment", args=[order.pk + 99])).status_code == 404
    assert admin.get(reverse("admin-withdrawal", args=[requested.pk + 99])).status_code == 404
    assert admin.post(reverse("admin-refund-retry", args=[refund.pk + 99])).status_code == 404


def test_selectors_refuse_anyone_but_an_admin(learner, mentor):
    from django.http import Http404

    for user in (learner, mentor):
        for read in (
            lambda u: admin_selectors.orders_for_admin(u, admin_selectors.OrderFilter()),
            lambda u: admin_selectors.refunds_for_admin(u),
            admin_selectors.withdrawal_queue,
            admin_selectors.money_counts,
            lambda u: admin_selectors.get_order_for_admin(u, 1),
        ):
            with pytest.raises(Http404):
                read(user)


# --- payments --------------------------------------------------------------------------------
def test_the_payments_list_filters_and_totals_come_from_the_ledger(
    razorpay, admin, admin_user, mentor, learner, outsider, django_assert_max_num_queries
):
    first = a_paid_order(razorpay, mentor, learner, title="Django deep dive", hours_ahead=5)
    second = a_paid_order(razorpay, mentor, outsider, title="Async Python", hours_ahead=8)
    unpaid = services.checkout_start(
        learner=learner, booking=marketplace.booking_create(learner=learner, session=a_session(mentor, price=20_000))
    )
    response = admin.post(reverse("admin-payment", args=[second.pk]), {"amount": "100", "note": "Audio was bad"})
    assert response.status_code == 302
    fees = ledger.balance(ledger.PLATFORM_FEES)
    assert fees == 2 * 4_990 - 1_000  # two fees, less the fee's share of the ₹100 refunded

    with django_assert_max_num_queries(11):  # 9 + the bell's 2
        page = admin.get(reverse("admin-payments"))
    body = page.content.decode()
    totals = page.context["totals"]
    assert totals == {"gross_label": "₹998", "refunded_label": "₹100", "fees_label": "₹89.80"}
    assert all(o.gateway_order_id in body for o in (first, second, unpaid))
    assert [o.pk for o in page.context["orders"]] == [unpaid.pk, second.pk, first.pk]  # newest first

    created = admin.get(reverse("admin-payments"), {"state": "created"})
    assert [o.pk for o in created.context["orders"]] == [unpaid.pk]
    assert created.context["totals"] == {"gross_label": "₹0", "refunded_label": "₹0", "fees_label": "₹0"}
    by_email = admin.get(reverse("admin-payments"), {"q": "OSCAR.outsider@"})
    assert [o.pk for o in by_email.context["orders"]] == [second.pk]
    assert by_email.context["totals"]["fees_label"] == "₹39.90"  # ₹49.90 fee less ₹10 given back
    by_payment = admin.get(reverse("admin-payments"), {"q": first.payment_id})
    assert [o.pk for o in by_payment.context["orders"]] == [first.pk]
    tips = admin.get(reverse("admin-payments"), {"purpose": "tip"})
    assert list(tips.context["orders"]) == []

    # More orders do not mean more queries.
    for n in range(3):
        a_paid_order(razorpay, mentor, learner, title=f"Extra {n}", hours_ahead=20 + 3 * n)
    with django_assert_max_num_queries(11):  # 9 + the bell's 2
        assert admin.get(reverse("admin-payments")).status_code == 200
    assert_balanced()


def test_an_admin_refund_goes_through_the_gateway_and_the_ledger_balances(razorpay, admin, admin_user, order, mentor):
    page = admin.get(reverse("admin-payment", args=[order.pk]))
    assert page.context["form"]["amount"].value() == "499"  # the whole payment is left
    assert order.payment_id in page.content.decode()

    response = admin.post(
        reverse("admin-payment", args=[order.pk]), {"amount": "120.50", "note": "  Late start  "}, follow=True
    )
    refund = Refund.objects.get(order=order)
    assert (refund.amount_paise, refund.reason, refund.note, refund.requested_by) == (
        12_050,
        "admin",
        "Late start",
        admin_user,
    )
    assert refund.state == RefundState.PROCESSED and refund.gateway_refund_id.startswith("rfnd_")
    order.refresh_from_db()
    assert (order.state, order.refunded_paise) == (OrderState.PAID, 12_050)
    assert f"Refund #{refund.pk} of ₹120.50 asked for." in toasts(response)
    event = AuditEvent.objects.get(action="payment.refund_requested")
    assert event.actor == admin_user and event.data["amount_paise"] == 12_050
    detail = admin.get(reverse("admin-payment", args=[order.pk]))
    assert detail.context["form"]["amount"].value() == "378.50"
    assert refund.gateway_refund_id in detail.content.decode()
    assert len(detail.context["detail"].entries) == 6  # the charge's three lines and the refund's three
    assert_balanced()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "500", "note": "Too much"}, None, "A refund cannot exceed what is left of the payment."),
        ({"amount": "10", "note": "   "}, "note", "This field is required."),
        ({"amount": "0", "note": "Zero"}, None, "A refund must be a positive number of paise."),
        ({"amount": "1.234", "note": "Paise"}, "amount", "Use at most two decimals (paise)."),
    ],
)
def test_a_refused_refund_shows_why_and_writes_nothing(razorpay, admin, order, data, field, message):
    audit_before, entries_before = AuditEvent.objects.count(), LedgerEntry.objects.count()
    response = admin.post(reverse("admin-payment", args=[order.pk]), data)
    assert response.status_code == 400
    form = response.context["form"]
    assert message in (form.errors[field] if field else form.non_field_errors())
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert not Refund.objects.exists()
    assert (AuditEvent.objects.count(), LedgerEntry.objects.count()) == (audit_before, entries_before)
    order.refresh_from_db()
    assert order.refunded_paise == 0


def test_an_unpaid_order_offers_no_refund(razorpay, admin, mentor, learner):
    unpaid = services.checkout_start(
        learner=learner, booking=marketplace.booking_create(learner=learner, session=a_session(mentor, price=PRICE))
    )
    page = admin.get(reverse("admin-payment", args=[unpaid.pk]))
    assert "nothing to refund" in page.content.decode()
    response = admin.post(reverse("admin-payment", args=[unpaid.pk]), {"amount": "10", "note": "Try"})
    assert response.status_code == 400 and not Refund.objects.exists()


def test_the_csv_streams_the_filtered_orders_and_defuses_formulas(razorpay, admin, mentor, learner, outsider):
    risky = a_paid_order(razorpay, mentor, learner, title='=HYPERLINK("http://evil")', hours_ahead=5)
    other = a_paid_order(razorpay, mentor, outsider, title="Plain", hours_ahead=8)
    response = admin.get(reverse("admin-payments-csv"), {"q": learner.email})
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="peerlearn-payments-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Created (UTC)", "Paid (UTC)", "Learner"]
    assert len(rows) == 2  # the header and the one order of that learner
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Session"] == '\'=HYPERLINK("http://evil")'
    assert (row["Amount (INR)"], row["Fee (INR)"], row["Refunded (INR)"]) == ("499.00", "49.90", "0.00")
    assert (row["Gateway order"], row["Payment"], row["State"]) == (risky.gateway_order_id, risky.payment_id, "Paid")
    everything = admin.get(reverse("admin-payments-csv"))
    text = b"".join(everything.streaming_content).decode("utf-8-sig")
    assert other.gateway_order_id in text and risky.gateway_order_id in text
    exports = AuditEvent.objects.filter(action="export.payments").order_by("id")
    assert [e.data["filters"] for e in exports] == [{"q": learner.email}, {}]


def csv_rows(response) -> list[dict]:
    assert response.streaming and "no-store" in response["Cache-Control"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_refunds_and_withdrawals_export_as_audited_csv(razorpay, admin, admin_user, order, requested):
    with committed():
        services.refund_by_admin(admin=admin_user, order=order, amount_paise=1_000, note="=cmd|' /C calc'!A0")
    refunds = csv_rows(admin.get(reverse("admin-refunds-csv"), {"state": "processed"}))
    assert [(r["Amount (INR)"], r["State"], r["Asked by"]) for r in refunds] == [
        ("10.00", "Refunded", admin_user.email)
    ]
    assert refunds[0]["Note"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert csv_rows(admin.get(reverse("admin-refunds-csv"), {"state": "failed"})) == []

    withdrawals = csv_rows(admin.get(reverse("admin-withdrawals-csv")))
    assert [(w["Mentor"], w["State"]) for w in withdrawals] == [(requested.mentor.email, "Requested")]
    assert withdrawals[0]["Method"] == requested.method_display and "•" in withdrawals[0]["Method"]
    actions = list(AuditEvent.objects.filter(action__startswith="export.").values_list("action", flat=True))
    assert sorted(actions) == ["export.refunds", "export.refunds", "export.withdrawals"]


# --- refunds ---------------------------------------------------------------------------------
def test_a_failed_refund_comes_first_and_can_be_tried_again_once(
    razorpay, admin, admin_user, order, mentor, django_assert_max_num_queries
):
    with committed():
        services.refund_by_admin(admin=admin_user, order=order, amount_paise=1_000, note="Fine one")
    razorpay.fail_next_refund()
    admin.post(reverse("admin-payment", args=[order.pk]), {"amount": "20", "note": "Goodwill"})
    failed = Refund.objects.get(note="Goodwill")
    assert failed.state == RefundState.FAILED and failed.failure
    assert admin_selectors.money_counts(admin_user)["failed_refunds"] == 1
    assert "1 failed" in admin.get(reverse("dashboard-admin")).content.decode()

    with django_assert_max_num_queries(9):  # 7 + the bell's 2
        page = admin.get(reverse("admin-refunds"))
    listed = list(page.context["refunds"])
    assert listed[0].pk == failed.pk and len(listed) == 2
    assert reverse("admin-refund-retry", args=[failed.pk]) in page.content.decode()

    response = admin.post(reverse("admin-refund-retry", args=[failed.pk]), follow=True)
    retry = Refund.objects.get(retry_of=failed)
    assert retry.note == f"Retry of refund #{failed.pk}"
    assert (retry.amount_paise, retry.state, retry.requested_by) == (2_000, RefundState.PROCESSED, admin_user)
    assert f"Refund #{failed.pk} asked for again as refund #{retry.pk}." in toasts(response)
    order.refresh_from_db()
    assert order.refunded_paise == 3_000
    assert admin_selectors.money_counts(admin_user)["failed_refunds"] == 0
    after = admin.get(reverse("admin-refunds"), {"state": "failed"})
    assert [r.pk for r in after.context["refunds"]] == [failed.pk]
    assert reverse("admin-refund-retry", args=[failed.pk]) not in after.content.decode()

    again = admin.post(reverse("admin-refund-retry", args=[failed.pk]), follow=True)
    assert Refund.objects.count() == 3
    assert "Only a failed refund not yet retried can be asked for again." in toasts(again)
    processed = admin.post(reverse("admin-refund-retry", args=[retry.pk]), follow=True)
    assert Refund.objects.count() == 3 and "Only a failed refund" in toasts(processed)[0]
    assert_balanced()


# --- withdrawals -----------------------------------------------------------------------------
def test_approve_then_mark_paid(admin, admin_user, requested, funded, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):  # 8 + the bell's 2
        queue = admin.get(reverse("admin-withdrawals"))
    body = queue.content.decode()
    assert queue.context["queue"] == [requested]
    assert "•••• 9012" in body and ACCOUNT not in body and "HDFC0001234" not in body
    assert "1 waiting" in admin.get(reverse("dashboard-admin")).content.decode()

    response = admin.post(
        reverse("admin-withdrawal-decide", args=[requested.pk]),
        {"decision": "approve", "next": reverse("admin-withdrawals")},
    )
    assert response.url == reverse("admin-withdrawals")
    requested.refresh_from_db()
    assert (requested.state, requested.decided_by) == (WithdrawalState.APPROVED, admin_user)
    assert AuditEvent.objects.get(action="withdrawal.approved").actor == admin_user

    detail = admin.get(reverse("admin-withdrawal", args=[requested.pk]))
    assert ACCOUNT in detail.content.decode() and "HDFC0001234" in detail.content.decode()
    assert AuditEvent.objects.filter(action="withdrawal.details_viewed", actor=admin_user).count() == 1

    refused = admin.post(reverse("admin-withdrawal-paid", args=[requested.pk]), {"reference": "x"}, follow=True)
    assert "Enter the transfer reference" in toasts(refused)[0]
    requested.refresh_from_db()
    assert requested.state == WithdrawalState.APPROVED

    paid = admin.post(reverse("admin-withdrawal-paid", args=[requested.pk]), {"reference": "UTR2025031200042"})
    assert paid.url == reverse("admin-withdrawal", args=[requested.pk])
    requested.refresh_from_db()
    assert (requested.state, requested.reference) == (WithdrawalState.PAID, "UTR2025031200042")
    assert AuditEvent.objects.get(action="withdrawal.paid").data["reference"] == "UTR2025031200042"
    wallet = Wallet.objects.get(mentor=funded)
    assert (wallet.available_paise, wallet.withdrawing_paise) == (40_000, 0)

    done = admin.get(reverse("admin-withdrawal", args=[requested.pk])).content.decode()
    assert ACCOUNT not in done and "UTR2025031200042" in done  # paid: the full number is gone
    past = admin.get(reverse("admin-withdrawals"))
    assert past.context["queue"] == [] and list(past.context["past"]) == [requested]
    assert ACCOUNT not in past.content.decode()
    assert_balanced()


def test_reject_needs_a_reason_and_returns_the_money(admin, admin_user, requested, funded):
    url = reverse("admin-withdrawal-decide", args=[requested.pk])
    refused = admin.post(url, {"decision": "reject", "reason": " "}, follow=True)
    assert "Tell the mentor why (3 to 500 characters)." in toasts(refused)
    requested.refresh_from_db()
    assert requested.state == WithdrawalState.REQUESTED
    assert not AuditEvent.objects.filter(action="withdrawal.rejected").exists()

    admin.post(url, {"decision": "reject", "reason": "The account name does not match."})
    requested.refresh_from_db()
    assert (requested.state, requested.reason) == (WithdrawalState.REJECTED, "The account name does not match.")
    assert AuditEvent.objects.get(action="withdrawal.rejected").actor == admin_user
    wallet = Wallet.objects.get(mentor=funded)
    assert (wallet.available_paise, wallet.withdrawing_paise) == (90_000, 0)
    unknown = admin.post(url, {"decision": "maybe"}, follow=True)
    assert "Choose to approve or reject." in toasts(unknown)
    assert_balanced()


def test_an_admin_cannot_decide_their_own_withdrawal(requested, funded):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    # A mentor made admin later still cannot approve or pay out their own withdrawal.
    User.objects.filter(pk=funded.pk).update(role=Role.ADMIN)
    TOTPDevice.objects.create(user=funded, name="phone", confirmed=True)
    own = client_for(User.objects.get(pk=funded.pk), verified=True)
    page = own.get(reverse("admin-withdrawal", args=[requested.pk])).content.decode()
    assert ACCOUNT not in page and "This is your own withdrawal" in page
    refused = own.post(reverse("admin-withdrawal-decide", args=[requested.pk]), {"decision": "approve"}, follow=True)
    assert "Another admin must handle your own withdrawal." in toasts(refused)
    requested.refresh_from_db()
    assert requested.state == WithdrawalState.REQUESTED and requested.decided_by is None
    assert not AuditEvent.objects.filter(action__in=["withdrawal.approved", "withdrawal.details_viewed"]).exists()


def test_past_withdrawals_list_in_bounded_queries(admin, admin_user, funded, django_assert_max_num_queries):
    method = w.payout_method_save(mentor=funded, kind="upi", upi_vpa="maya.m@okaxis")
    for n in range(4):
        made = w.withdrawal_request(mentor=funded, amount_paise=10_000, method=method)
        w.withdrawal_decide(admin=admin_user, withdrawal=made, approve=bool(n % 2), reason="Wrong UPI ID")
    with django_assert_max_num_queries(10):  # 8 + the bell's 2
        page = admin.get(reverse("admin-withdrawals"))
    assert len(page.context["queue"]) == 2 and len(page.context["past"]) == 2
    assert "maya.m@okaxis" not in page.content.decode()
    assert (LedgerEntry.objects.aggregate(total=Sum("amount_paise"))["total"] or 0) == 0


def test_the_admin_home_links_the_money_pages(admin):
    body = admin.get(reverse("dashboard-admin")).content.decode()
    for name in ("admin-payments", "admin-refunds", "admin-withdrawals"):
        assert reverse(name) in body
    assert "none failed" in body and "none waiting" in body
