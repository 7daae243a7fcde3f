"""Payments end to end on loopback: the real razorpay client against the local stand-in, whose
signed webhooks are delivered to POST /api/payments/webhook/. A captured payment confirms the
held seat once, however often or in whatever order its events arrive; a late payment is refunded
automatically; forged, foreign or mismatched events change nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backend.accounts.models import AuditEvent
from backend.marketplace import services as marketplace
from backend.marketplace.models import BookingState
from backend.payments import ledger, services
from backend.payments.models import OrderState, PaymentOrder, WebhookEvent
from tests.backend.marketplace.factories import a_session
from tests.conftest import Client

pytestmark = pytest.mark.django_db
PRICE = 49_900


def deliver(raw: bytes, headers: dict):
    return Client().post(
        "/api/payments/webhook/",
        raw,
        content_type="application/json",
        HTTP_X_RAZORPAY_SIGNATURE=headers.get("X-Razorpay-Signature", ""),
        HTTP_X_RAZORPAY_EVENT_ID=headers.get("X-Razorpay-Event-Id", ""),
    )


@pytest.fixture
def held(mentor, learner):
    session = a_session(mentor, price=PRICE)
    return marketplace.booking_create(learner=learner, session=session)


def test_a_captured_payment_confirms_the_seat_once(razorpay, held, learner, mentor):
    order = services.checkout_start(learner=learner, booking=held)
    assert services.checkout_start(learner=learner, booking=held) == order  # the open order again
    result = razorpay.pay(order.gateway_order_id)
    captured, paid = razorpay.inbox.wait_for(2)
    assert json.loads(captured[0])["event"] == "payment.captured"
    assert deliver(*captured).json() == {"status": "confirmed"}
    assert deliver(*paid).json() == {"status": "already_settled"}  # order.paid for the same payment
    assert deliver(*captured).json() == {"status": "duplicate"}  # the same event again
    held.refresh_from_db()
    order.refresh_from_db()
    assert held.state == BookingState.CONFIRMED
    assert (order.state, order.payment_id) == (OrderState.PAID, result["razorpay_payment_id"])
    assert ledger.balance(ledger.pending(mentor.pk)) == PRICE - 4_990
    assert ledger.balance(ledger.PLATFORM_FEES) == 4_990
    assert ledger.balance(ledger.EXTERNAL) == -PRICE
    assert WebhookEvent.objects.count() == 2


def test_a_payment_after_the_hold_ran_out_is_refunded_automatically(razorpay, held, learner, mentor):
    order = services.checkout_start(learner=learner, booking=held)
    razorpay.pay(order.gateway_order_id)
    captured, _ = razorpay.inbox.wait_for(2)
    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=True):
        assert deliver(*captured).json() == {"status": "refund_due"}  # huey runs the refund inline here
    refunded = [e for e in razorpay.inbox.wait_for(3) if json.loads(e[0])["event"] == "refund.processed"]
    assert deliver(*refunded[0]).json() == {"status": "refund_posted"}
    assert deliver(*refunded[0]).json() == {"status": "duplicate"}
    order.refresh_from_db()
    held.refresh_from_db()
    assert order.state == OrderState.REFUNDED and order.refunded_paise == PRICE
    assert held.state != BookingState.CONFIRMED
    for account in (ledger.EXTERNAL, ledger.PLATFORM_FEES, ledger.pending(mentor.pk)):
        assert ledger.balance(account) == 0  # no money created or lost
    assert AuditEvent.objects.filter(action="payment.after_hold").exists()


def signed(body: dict, secret: str = "webhook-secret-for-tests", event_id: str = "evt_forged000001"):
    raw = json.dumps(body).encode()
    return raw, {
        "X-Razorpay-Signature": hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
        "X-Razorpay-Event-Id": event_id,
    }


def captured_event(order_id: str, amount: int, payment_id: str = "pay_forged0000001") -> dict:
    return {
        "event": "payment.captured",
        "payload": {
            "payment": {
                "entity": {
                    "id": payment_id,
                    "order_id": order_id,
                    "amount": amount,
                    "currency": "INR",
                    "status": "captured",
                }
            }
        },
    }


def test_forged_mismatched_and_unknown_events_change_nothing(razorpay, held, learner):
    order = services.checkout_start(learner=learner, booking=held)
    raw, headers = signed(captured_event(order.gateway_order_id, PRICE), secret="not-the-secret")
    response = deliver(raw, headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    assert deliver(raw, {"X-Razorpay-Event-Id": "evt_x"}).status_code == 400  # no signature at all
    raw, headers = signed(captured_event(order.gateway_order_id, 100), event_id="evt_cheap0000001")
    assert deliver(raw, headers).json() == {"status": "amount_mismatch"}
    raw, headers = signed(captured_event("order_unknown000001", PRICE), event_id="evt_unknown000001")
    assert deliver(raw, headers).json() == {"status": "unknown_order"}
    raw, headers = signed(captured_event(order.gateway_order_id, PRICE))
    headers.pop("X-Razorpay-Event-Id")
    assert deliver(raw, headers).json()["error"]["code"] == "missing_event_id"
    held.refresh_from_db()
    order.refresh_from_db()
    assert held.state == BookingState.HELD and order.state == OrderState.CREATED
    assert not ledger.balance(ledger.EXTERNAL)
    assert AuditEvent.objects.filter(action="payment.webhook_bad_signature").count() == 2
    refused = AuditEvent.objects.filter(action="payment.webhook_refused").values_list("data", flat=True)
    assert {d["code"] for d in refused} == {"amount_mismatch", "unknown_order"}


def test_checkout_refuses_what_cannot_be_paid(razorpay, held, learner, outsider):
    from backend.core.errors import DomainError

    with pytest.raises(DomainError) as foreign:
        services.checkout_start(learner=outsider, booking=held)
    assert foreign.value.code == "not_found"
    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False), pytest.raises(DomainError) as late:
        services.checkout_start(learner=learner, booking=held)
    assert late.value.code == "not_payable"
    assert not PaymentOrder.objects.exists()


def test_a_failed_attempt_closes_the_order_but_a_later_payment_on_it_still_counts(razorpay, held, learner):
    order = services.checkout_start(learner=learner, booking=held)
    razorpay.pay(order.gateway_order_id, outcome="failure")
    (failed,) = razorpay.inbox.wait_for(1)
    assert json.loads(failed[0])["event"] == "payment.failed"
    assert deliver(*failed).json() == {"status": "failed_noted"}
    order.refresh_from_db()
    assert order.state == OrderState.FAILED and AuditEvent.objects.filter(action="payment.failed").exists()
    retry = services.checkout_start(learner=learner, booking=held)
    assert retry != order  # the next attempt is a new order
    # Checkout on the old order was still open at the gateway: its payment confirms the seat.
    razorpay.pay(order.gateway_order_id)
    captured = razorpay.inbox.wait_for(3)[1]
    assert deliver(*captured).json() == {"status": "confirmed"}
    held.refresh_from_db()
    assert held.state == BookingState.CONFIRMED
