"""Money after the payment: refunds from the cancellation policy, a mentor's cancel, a mentor's
no-show and an admin; earnings released after the dispute window; tips; and the reconciliation
jobs that settle what a lost webhook or a dead task left unknown. Real razorpay client against
the local stand-in; every test ends with the ledger balanced."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db.models import Sum
from django.test import TestCase
from django.utils import timezone

from backend.accounts.models import AuditEvent
from backend.core.errors import DomainError
from backend.marketplace import services as marketplace
from backend.marketplace.models import Booking, BookingState, SessionState
from backend.payments import jobs, ledger, services
from backend.payments import withdrawals as w
from backend.payments.models import (
    EntryKind,
    LedgerEntry,
    OrderPurpose,
    OrderState,
    PaymentOrder,
    PayoutKind,
    Refund,
    RefundState,
    Wallet,
)
from backend.rooms import services as rooms
from backend.rooms.models import Presence
from tests.backend.marketplace.factories import a_session
from tests.backend.payments.test_webhooks import deliver

pytestmark = pytest.mark.django_db
PRICE = 49_900
FEE, SHARE = 4_990, 44_910


def committed():
    """Run what services leave for after commit (huey is immediate under test settings)."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def deliver_all(razorpay, count: int, *, kinds: tuple[str, ...] | None = None) -> list[dict]:
    events = razorpay.inbox.wait_for(count)
    answers = []
    for raw, headers in events[razorpay.delivered :]:
        if kinds is None or json.loads(raw)["event"] in kinds:
            answers.append(deliver(raw, headers).json())
    razorpay.delivered = len(events)
    return answers


def assert_balanced():
    assert (LedgerEntry.objects.aggregate(total=Sum("amount_paise"))["total"] or 0) == 0
    for wallet in Wallet.objects.all():
        assert wallet.pending_paise == ledger.balance(ledger.pending(wallet.mentor_id))
        assert wallet.available_paise == ledger.balance(ledger.available(wallet.mentor_id))
        assert wallet.withdrawing_paise == ledger.balance(ledger.withdrawing(wallet.mentor_id))


def pay(razorpay, learner, booking) -> PaymentOrder:
    """Checkout and pay through the stand-in; its webhooks settle the order."""
    razorpay.delivered = getattr(razorpay, "delivered", 0)
    order = services.checkout_start(learner=learner, booking=booking)
    razorpay.pay(order.gateway_order_id)
    with committed():
        deliver_all(razorpay, razorpay.delivered + 2)
    order.refresh_from_db()
    return order


@pytest.fixture
def paid(razorpay, mentor, learner):
    session = a_session(mentor, price=PRICE, hours_ahead=5)
    booking = marketplace.booking_create(learner=learner, session=session)
    order = pay(razorpay, learner, booking)
    booking.refresh_from_db()
    assert booking.state == BookingState.CONFIRMED and order.state == OrderState.PAID
    return booking, order


def test_a_learner_cancelling_in_time_gets_everything_back(razorpay, paid, learner, mentor):
    booking, order = paid
    with committed():
        marketplace.booking_cancel(learner=learner, booking=booking)
    refund = Refund.objects.get(order=order)
    assert (refund.reason, refund.amount_paise, refund.requested_by) == ("learner_cancel", PRICE, learner)
    assert refund.state == RefundState.PROCESSED and refund.gateway_refund_id.startswith("rfnd_")
    assert deliver_all(razorpay, razorpay.delivered + 1, kinds=("refund.processed",)) == [{"status": "refund_posted"}]
    order.refresh_from_db()
    assert (order.state, order.refunded_paise) == (OrderState.REFUNDED, PRICE)
    assert ledger.balance(ledger.pending(mentor.pk)) == 0 and ledger.balance(ledger.EXTERNAL) == 0
    assert LedgerEntry.objects.filter(kind=EntryKind.REFUND).count() == 3  # once, though told twice
    assert_balanced()


def test_a_late_cancel_refunds_nothing(razorpay, paid, learner, mentor):
    booking, order = paid
    with time_machine.travel(booking.session.starts_at - timedelta(minutes=30), tick=False), committed():
        marketplace.booking_cancel(learner=learner, booking=booking)
    assert not Refund.objects.exists()
    assert ledger.balance(ledger.pending(mentor.pk)) == SHARE
    assert_balanced()


def test_a_mentor_cancelling_refunds_every_paid_seat_and_releases_holds(razorpay, mentor, learner, outsider):
    from tests.conftest import make_user

    session = a_session(mentor, price=PRICE, capacity=3)
    order = pay(razorpay, learner, marketplace.booking_create(learner=learner, session=session))
    second = make_user("second@example.com", "learner")
    held = marketplace.booking_create(learner=second, session=session)  # never paid
    with committed():
        marketplace.session_cancel(mentor=mentor, session=session, reason="Ill")
    assert list(Refund.objects.values_list("order", "reason", "amount_paise")) == [(order.pk, "mentor_cancel", PRICE)]
    held.refresh_from_db()
    assert (held.state, held.refund_paise, held.cancelled_by) == (BookingState.CANCELLED, 0, "mentor")
    deliver_all(razorpay, razorpay.delivered + 1, kinds=("refund.processed",))
    assert ledger.balance(ledger.EXTERNAL) == 0
    assert_balanced()


def test_a_mentor_who_never_comes_is_a_no_show_once(razorpay, paid, mentor, learner):
    booking, order = paid
    session = booking.session
    with time_machine.travel(session.starts_at + timedelta(minutes=9), tick=False):
        assert rooms.cancel_no_shows() == 0  # still in time
    with time_machine.travel(session.starts_at + timedelta(minutes=11), tick=False), committed():
        assert rooms.cancel_no_shows() == 1
        assert rooms.cancel_no_shows() == 0  # the job again: nothing more
    session.refresh_from_db()
    booking.refresh_from_db()
    assert session.state == SessionState.CANCELLED
    assert (booking.cancelled_by, booking.refund_paise) == ("no_show", PRICE)
    assert Refund.objects.get().reason == "no_show"
    assert_balanced()


def test_a_mentor_in_the_lobby_is_not_a_no_show(razorpay, paid, mentor):
    booking, _ = paid
    session = booking.session
    now = session.starts_at - timedelta(minutes=5)
    Presence.objects.create(
        session=session, user=mentor, role="mentor", peer="p1", channel_name="c", joined_at=now, last_seen_at=now
    )
    with time_machine.travel(session.starts_at + timedelta(minutes=30), tick=False):
        assert rooms.cancel_no_shows() == 0
    session.refresh_from_db()
    assert session.state == SessionState.SCHEDULED and not Refund.objects.exists()


def complete(session):
    session.state = SessionState.COMPLETED
    session.save(update_fields=["state"])


def test_earnings_become_available_72_hours_after_the_session_once(razorpay, paid, mentor, settings):
    booking, _ = paid
    session = booking.session
    complete(session)
    with time_machine.travel(session.ends_at + timedelta(hours=71), tick=False):
        assert jobs.release_matured_earnings() == 0
    with time_machine.travel(session.ends_at + timedelta(hours=73), tick=False):
        assert jobs.release_matured_earnings() == 1
        assert jobs.release_matured_earnings() == 0
    wallet = Wallet.objects.get(mentor=mentor)
    assert (wallet.pending_paise, wallet.available_paise) == (0, SHARE)
    assert_balanced()


def test_a_refund_after_the_money_left_is_owed_by_the_mentor(razorpay, paid, mentor, admin_user):
    booking, order = paid
    complete(booking.session)
    with time_machine.travel(booking.session.ends_at + timedelta(hours=73), tick=False):
        jobs.release_matured_earnings()
    method = w.payout_method_save(mentor=mentor, kind=PayoutKind.UPI, upi_vpa="mentor@okaxis")
    w.withdrawal_request(mentor=mentor, amount_paise=SHARE, method=method)
    with committed():
        services.refund_by_admin(admin=admin_user, order=order, amount_paise=10_000, note="Audio failed for half")
    order.refresh_from_db()
    assert order.refunded_paise == 10_000 and order.state == OrderState.PAID
    share_back = 10_000 - FEE * 10_000 // PRICE
    assert ledger.balance(ledger.owed(mentor.pk)) == -share_back  # the payer is refunded regardless
    assert AuditEvent.objects.filter(action="payment.refund_requested", actor=admin_user).exists()
    assert_balanced()


def test_refunds_that_cannot_be_are_refused_and_write_nothing(razorpay, paid, learner, admin_user):
    _, order = paid
    with pytest.raises(DomainError) as too_large:
        services.refund_by_admin(admin=admin_user, order=order, amount_paise=PRICE + 1, note="x")
    assert too_large.value.code == "refund_too_large"
    with pytest.raises(DomainError) as no_note:
        services.refund_by_admin(admin=admin_user, order=order, amount_paise=100, note="  ")
    assert no_note.value.code == "note_required"
    with pytest.raises(DomainError) as not_admin:
        services.refund_by_admin(admin=learner, order=order, amount_paise=100, note="please")
    assert not_admin.value.code == "wrong_role"
    with pytest.raises(DomainError) as zero:
        services.refund_by_admin(admin=admin_user, order=order, amount_paise=0, note="x")
    assert zero.value.code == "invalid_amount"
    assert not Refund.objects.exists()


def test_a_refund_the_gateway_refuses_is_marked_failed_and_leaves_the_ledger(razorpay, paid, admin_user, mentor):
    _, order = paid
    razorpay.fail_next_refund()
    with committed():
        refund = services.refund_by_admin(admin=admin_user, order=order, amount_paise=PRICE, note="Dispute")
    refund.refresh_from_db()
    assert refund.state == RefundState.FAILED and refund.failure
    assert ledger.balance(ledger.pending(mentor.pk)) == SHARE
    assert AuditEvent.objects.filter(action="payment.refund_failed").exists()
    # A failed refund does not count against what is left: it can be asked again.
    with committed():
        again = services.refund_by_admin(admin=admin_user, order=order, amount_paise=PRICE, note="Dispute, again")
    again.refresh_from_db()
    assert again.state == RefundState.PROCESSED
    assert_balanced()


def test_reconciliation_settles_a_payment_whose_webhook_was_lost(razorpay, mentor, learner, settings):
    session = a_session(mentor, price=PRICE)
    booking = marketplace.booking_create(learner=learner, session=session)
    order = services.checkout_start(learner=learner, booking=booking)
    razorpay.pay(order.gateway_order_id)  # its webhooks are never delivered
    assert jobs.reconcile_orders() == {"settled": 0, "abandoned": 0, "unreachable": 0}  # too soon to ask
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.PAYMENTS_RECONCILE_AFTER_MINUTES + 1)):
        # The hold (15 min) has lapsed by now, so the payment came too late: settled and refunded.
        with committed():
            assert jobs.reconcile_orders()["settled"] == 1
        assert jobs.reconcile_orders()["settled"] == 0  # nothing left to ask about
    order.refresh_from_db()
    assert order.state == OrderState.REFUNDED and order.outcome == "refund_due_hold_expired"
    assert Refund.objects.get().reason == "hold_expired"
    assert_balanced()


def test_reconciliation_closes_orders_nobody_paid(razorpay, mentor, learner, settings):
    session = a_session(mentor, price=PRICE)
    booking = marketplace.booking_create(learner=learner, session=session)
    order = services.checkout_start(learner=learner, booking=booking)
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.PAYMENTS_RECONCILE_AFTER_MINUTES + 1)):
        assert jobs.reconcile_orders()["abandoned"] == 1
    order.refresh_from_db()
    assert (order.state, order.outcome) == (OrderState.FAILED, "abandoned")


def test_reconciliation_asks_again_for_a_refund_whose_task_died(razorpay, paid, admin_user, settings):
    _, order = paid
    refund = services.refund_by_admin(admin=admin_user, order=order, amount_paise=PRICE, note="x")  # never enqueued
    assert Refund.objects.get().gateway_refund_id == ""
    later = timezone.now() + timedelta(minutes=settings.PAYMENTS_RECONCILE_AFTER_MINUTES + 1)
    with time_machine.travel(later):
        assert jobs.reconcile_refunds()["requeued"] == 1
        assert jobs.reconcile_refunds() == {"requeued": 0, "processed": 0, "failed": 0}
    refund.refresh_from_db()
    assert refund.state == RefundState.PROCESSED
    assert_balanced()


def test_a_tip_after_the_session_goes_to_the_mentor_less_the_fee(razorpay, paid, mentor, learner, outsider):
    booking, _ = paid
    with pytest.raises(DomainError) as early:
        services.tip_start(learner=learner, booking=booking, amount_paise=10_000)
    assert early.value.code == "not_tippable"  # the session has not happened yet
    complete(booking.session)
    for amount in (999, 1_000_001, "100", True):
        with pytest.raises(DomainError) as bad:
            services.tip_start(learner=learner, booking=booking, amount_paise=amount)
        assert bad.value.code == "invalid_amount"
    with pytest.raises(DomainError):
        services.tip_start(learner=outsider, booking=booking, amount_paise=10_000)
    tip = services.tip_start(learner=learner, booking=booking, amount_paise=10_000)
    assert tip.purpose == OrderPurpose.TIP
    razorpay.pay(tip.gateway_order_id)
    with committed():
        assert deliver_all(razorpay, razorpay.delivered + 2) == [{"status": "tipped"}, {"status": "already_settled"}]
    tip.refresh_from_db()
    assert (tip.state, tip.fee_paise) == (OrderState.PAID, 1_000)
    entry = LedgerEntry.objects.get(kind=EntryKind.TIP, account=ledger.pending(mentor.pk))
    assert (entry.amount_paise, entry.booking_id) == (9_000, booking.pk)
    with time_machine.travel(booking.session.ends_at + timedelta(days=8), tick=False), pytest.raises(DomainError):
        services.tip_start(learner=learner, booking=booking, amount_paise=10_000)  # too long after
    with time_machine.travel(booking.session.ends_at + timedelta(hours=73), tick=False):
        jobs.release_matured_earnings()  # the tip is released with the session's money
    assert Wallet.objects.get(mentor=mentor).available_paise == SHARE + 9_000
    assert Booking.objects.get(pk=booking.pk).state == BookingState.CONFIRMED
    assert_balanced()
