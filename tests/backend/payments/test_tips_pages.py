"""The tip pages: a learner tips the mentor of their own confirmed booking after (or during) the
session, choosing a preset or their own amount, and pays the tip order through the same checkout
as a seat, against the local Razorpay stand-in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.marketplace.models import Booking, BookingState, SessionState
from backend.payments import ledger
from backend.payments.models import EntryKind, LedgerEntry, OrderPurpose, OrderState, PaymentOrder
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def attended(mentor, learner, razorpay, settings):
    settings.PAYMENTS_TEST_MODE = True
    session = a_session(mentor, price=49_900, hours_ahead=-2, state=SessionState.COMPLETED, title="Done deal")
    return Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)


def test_only_the_bookings_learner_sees_the_tip_page(attended, learner, outsider, mentor):
    html = client_for(learner).get(f"/payments/tips/{attended.pk}/").content.decode()
    for preset in ("₹50", "₹100", "₹200", "Other amount"):
        assert preset in html
    assert client_for(outsider).get(f"/payments/tips/{attended.pk}/").status_code == 404
    assert client_for(learner).get("/payments/tips/999999/").status_code == 404
    assert client_for(mentor).get(f"/payments/tips/{attended.pk}/").status_code == 302  # learners only


def test_a_preset_tip_goes_to_checkout_and_thanks_after_paying(attended, learner, mentor):
    client = client_for(learner)
    response = client.post(f"/payments/tips/{attended.pk}/", {"amount": "200"})
    order = PaymentOrder.objects.get(purpose=OrderPurpose.TIP)
    assert order.amount_paise == 20_000 and order.state == OrderState.CREATED
    assert response["Location"] == f"/payments/orders/{order.pk}/"
    html = client.get(response["Location"]).content.decode()
    assert "Tip ₹200" in html and "Test payment mode" in html and "data-hold-expires" not in html
    paid = client.post(f"/payments/orders/{order.pk}/test-pay/", {"outcome": "success", "method": "upi"})
    assert paid["Location"] == f"/dashboard/learner/bookings/{attended.pk}/?payment=tipped"
    assert "Thank you!" in client.get(paid["Location"]).content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    tip = LedgerEntry.objects.get(kind=EntryKind.TIP, account=ledger.pending(mentor.pk))
    assert tip.amount_paise == 18_000  # less the 10 % fee
    # A paid tip's page goes back to the booking.
    assert client.get(f"/payments/orders/{order.pk}/")["Location"] == f"/dashboard/learner/bookings/{attended.pk}/"


def test_a_failed_tip_payment_comes_back_to_the_tip_checkout(attended, learner):
    client = client_for(learner)
    client.post(f"/payments/tips/{attended.pk}/", {"amount": "custom", "custom_amount": "75"})
    order = PaymentOrder.objects.get(purpose=OrderPurpose.TIP, amount_paise=7_500)
    failed = client.post(f"/payments/orders/{order.pk}/test-pay/", {"outcome": "failure"})
    assert failed["Location"] == f"/payments/orders/{order.pk}/?payment=failed"
    again = client.get(failed["Location"], follow=True)
    assert again.redirect_chain[-1][0] == f"/payments/tips/{attended.pk}/?payment=failed"
    assert "The payment failed" in again.content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.FAILED  # the next tip opens a new order


@pytest.mark.parametrize("fields", [{"amount": "custom", "custom_amount": "5"}, {"amount": "custom"}, {"amount": "x"}])
def test_bad_amounts_are_refused_before_any_order(attended, learner, fields):
    response = client_for(learner).post(f"/payments/tips/{attended.pk}/", fields)
    assert response.status_code == 400 and "whole rupees" in response.content.decode()
    assert not PaymentOrder.objects.exists()


def test_the_services_refusal_is_shown(attended, learner):
    from datetime import timedelta

    import time_machine

    with time_machine.travel(attended.session.ends_at + timedelta(days=8), tick=False):
        response = client_for(learner).post(f"/payments/tips/{attended.pk}/", {"amount": "50"})
    assert response.status_code == 409 and "up to a week afterwards" in response.content.decode()
    assert not PaymentOrder.objects.exists()


def test_someone_elses_tip_order_is_not_found(attended, learner, outsider):
    client_for(learner).post(f"/payments/tips/{attended.pk}/", {"amount": "50"})
    order = PaymentOrder.objects.get()
    assert client_for(outsider).get(f"/payments/orders/{order.pk}/").status_code == 404


def test_the_booking_page_offers_a_tip_after_the_session_only(attended, learner, mentor):
    client = client_for(learner)
    assert "Tip your mentor" in client.get(f"/dashboard/learner/bookings/{attended.pk}/").content.decode()
    import time_machine

    with time_machine.travel(attended.session.ends_at + timedelta(days=8), tick=False):
        late = client.get(f"/dashboard/learner/bookings/{attended.pk}/").content.decode()
    assert "Tip your mentor" not in late  # a week after, the button goes
    upcoming = Booking.objects.create(session=a_session(mentor), learner=learner, state=BookingState.CONFIRMED)
    assert "Tip your mentor" not in client.get(f"/dashboard/learner/bookings/{upcoming.pk}/").content.decode()


def test_the_room_offers_the_learner_a_tip_in_a_new_tab(mentor, learner):
    from django.utils import timezone

    session = a_session(mentor, hours_ahead=5 / 60)
    booking = Booking.objects.create(
        session=session, learner=learner, state=BookingState.CONFIRMED, confirmed_at=timezone.now()
    )
    html = client_for(learner).get(f"/room/{session.room_code}/").content.decode()
    assert f'href="/payments/tips/{booking.pk}/" target="_blank" rel="noopener"' in html
    assert "/payments/tips/" not in client_for(mentor).get(f"/room/{session.room_code}/").content.decode()
