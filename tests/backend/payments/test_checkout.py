"""The checkout pages in test-payment mode: paying through the stand-in confirms the seat (the
callback is verified and the payment read back from the gateway); a failure or a cancel leaves
the seat held with a clear message; tampered results and other people's orders change nothing."""

from __future__ import annotations

import pytest

from backend.accounts.models import AuditEvent
from backend.marketplace import services as marketplace
from backend.marketplace.models import BookingState
from backend.payments import ledger
from backend.payments.models import OrderState, PaymentOrder
from tests.backend.marketplace.factories import a_session
from tests.backend.payments.test_webhooks import PRICE
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(mentor, learner):
    return marketplace.booking_create(learner=learner, session=a_session(mentor, price=PRICE))


def test_paying_in_test_mode_confirms_the_seat(razorpay, held, learner, mentor, settings):
    settings.PAYMENTS_TEST_MODE = True
    client = client_for(learner)
    page = client.get(f"/payments/checkout/{held.pk}/")
    assert page.status_code == 200 and "Test payment mode" in page.content.decode()
    order = PaymentOrder.objects.get(booking=held)
    response = client.post(
        f"/payments/orders/{order.pk}/test-pay/", {"outcome": "success", "method": "card"}, follow=True
    )
    assert "Your seat is confirmed" in response.content.decode()
    held.refresh_from_db()
    order.refresh_from_db()
    assert held.state == BookingState.CONFIRMED and order.state == OrderState.PAID
    assert ledger.balance(ledger.pending(mentor.pk)) == PRICE - 4_990
    # The webhooks arriving later find it settled: nothing is counted twice.
    assert client_for(learner).get(f"/payments/checkout/{held.pk}/").status_code == 302


def test_a_failed_or_cancelled_payment_keeps_the_seat_held(razorpay, held, learner, settings):
    settings.PAYMENTS_TEST_MODE = True
    client = client_for(learner)
    client.get(f"/payments/checkout/{held.pk}/")
    order = PaymentOrder.objects.get(booking=held)
    failed = client.post(f"/payments/orders/{order.pk}/test-pay/", {"outcome": "failure"}, follow=True)
    assert "The payment failed" in failed.content.decode()
    cancelled = client.post(f"/payments/orders/{order.pk}/test-pay/", {"outcome": "cancel"}, follow=True)
    assert "Payment cancelled" in cancelled.content.decode()
    held.refresh_from_db()
    assert held.state == BookingState.HELD
    # The failed attempt is closed; the checkout page opened the next one.
    states = list(PaymentOrder.objects.order_by("id").values_list("state", flat=True))
    assert states == [OrderState.FAILED, OrderState.CREATED]
    assert not ledger.balance(ledger.EXTERNAL)


def test_tampered_results_and_foreign_orders_change_nothing(razorpay, held, learner, outsider, settings):
    settings.PAYMENTS_TEST_MODE = True
    client = client_for(learner)
    client.get(f"/payments/checkout/{held.pk}/")
    order = PaymentOrder.objects.get(booking=held)
    paid = razorpay.pay(order.gateway_order_id)
    tampered = {**paid, "razorpay_signature": "0" * 64}
    client.post(f"/payments/orders/{order.pk}/verify/", tampered)
    assert AuditEvent.objects.filter(action="payment.bad_checkout_signature").exists()
    held.refresh_from_db()
    assert held.state == BookingState.HELD
    assert client_for(outsider).post(f"/payments/orders/{order.pk}/verify/", paid).status_code == 404
    assert client_for(outsider).get(f"/payments/checkout/{held.pk}/").status_code == 404
    # The genuine result settles it.
    client.post(f"/payments/orders/{order.pk}/verify/", paid)
    held.refresh_from_db()
    assert held.state == BookingState.CONFIRMED


def test_the_page_counts_the_hold_down_from_the_servers_clock(razorpay, held, learner, settings):
    settings.PAYMENTS_TEST_MODE = True
    settings.FULL_REFUND_HOURS_BEFORE = 2
    html = client_for(learner).get(f"/payments/checkout/{held.pk}/").content.decode()
    held.refresh_from_db()
    assert f'data-hold-expires="{held.hold_expires_at.isoformat()}"' in html
    assert "data-server-now=" in html and 'aria-live="polite"' in html
    assert "Full refund if you cancel at least 2 hours before the start." in html
    # Offline: the note is there for checkout.js to show, the Pay button marked as needing a network.
    assert "Payments need a connection." in html and "Your seat stays held" in html
    assert "data-needs-network" in html and 'src="/static/js/checkout.js"' in html


def test_after_a_failure_the_page_offers_a_retry_and_another_method(razorpay, held, learner, settings):
    settings.PAYMENTS_TEST_MODE = True
    client = client_for(learner)
    client.get(f"/payments/checkout/{held.pk}/")
    order = PaymentOrder.objects.get(booking=held)
    response = client.post(f"/payments/orders/{order.pk}/test-pay/", {"outcome": "failure", "method": "upi"})
    assert response["Location"] == f"/payments/checkout/{held.pk}/?payment=failed"
    html = client.get(response["Location"]).content.decode()
    assert "Try again: pay ₹499 (test)" in html and "Try another method" in html
    assert "2 payment attempts left for this booking." in html
    # The retry with another method pays the next order (the failed one is closed).
    retry = PaymentOrder.objects.get(booking=held, state=OrderState.CREATED)
    paid = client.post(f"/payments/orders/{retry.pk}/test-pay/", {"outcome": "success", "method": "netbanking"})
    assert paid["Location"] == f"/dashboard/learner/bookings/{held.pk}/?payment=paid"
    held.refresh_from_db()
    order.refresh_from_db()
    assert held.state == BookingState.CONFIRMED and order.state == OrderState.FAILED


def test_a_hold_that_ran_out_offers_booking_again(razorpay, held, learner, settings):
    settings.PAYMENTS_TEST_MODE = True
    type(held).objects.filter(pk=held.pk).update(hold_expires_at=held.created_at)
    html = client_for(learner).get(f"/payments/checkout/{held.pk}/").content.decode()
    assert "Book again" in html and "data-hold-expires" not in html
    assert not PaymentOrder.objects.exists()


def test_a_live_page_is_ready_to_turn_confirmed(razorpay, held, learner, settings):
    settings.PAYMENTS_TEST_MODE = True
    for path in (f"/payments/checkout/{held.pk}/", f"/dashboard/learner/bookings/{held.pk}/"):
        html = client_for(learner).get(path).content.decode()
        assert f'data-live-booking="{held.pk}"' in html and "data-when-confirmed hidden" in html
