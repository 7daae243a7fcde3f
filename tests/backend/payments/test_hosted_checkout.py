"""Razorpay's hosted checkout (live mode): the checkout page is a plain form posted to Razorpay,
and Razorpay posts the result back cross-site to /payments/callback/. That POST carries no
session cookie and no CSRF token, so the callback trusts only the payment signature; it settles
through the same code as the other doors and says how it went in the redirect's query."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

import pytest
from django.db.models import Sum
from django.test import Client

from backend.accounts.models import AuditEvent
from backend.marketplace import services as marketplace
from backend.marketplace.models import BookingState
from backend.payments.models import LedgerEntry, OrderState, PaymentOrder
from tests.backend.marketplace.factories import a_session
from tests.backend.payments.test_webhooks import PRICE
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


class Forms(HTMLParser):
    """Every form on a page: its action and its named fields (inputs and the buttons' names)."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "attrs": attrs, "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name") and attrs.get("type") != "radio":
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def hosted_form(html: str) -> dict:
    [form] = [form for form in Forms(html).forms if "data-hosted-checkout" in form["attrs"]]
    return form


def standin_post(url: str, fields: dict) -> tuple[int, str, dict]:
    """POST a form to the stand-in like a browser, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


@pytest.fixture
def live_mode(razorpay, settings):
    settings.PAYMENTS_TEST_MODE = False
    return razorpay


@pytest.fixture
def held(mentor, learner):
    return marketplace.booking_create(learner=learner, session=a_session(mentor, price=PRICE, title="Hosted pay"))


@pytest.fixture
def order(live_mode, held, learner):
    assert client_for(learner).get(f"/payments/checkout/{held.pk}/").status_code == 200
    return PaymentOrder.objects.get(booking=held)


def cross_site() -> Client:
    """Razorpay's POST: no session cookie, and CSRF is enforced as for any anonymous POST."""
    return Client(enforce_csrf_checks=True)


def test_live_mode_renders_the_hosted_checkout_form(live_mode, held, learner, settings):
    response = client_for(learner).get(f"/payments/checkout/{held.pk}/")
    html = response.content.decode()
    assert response.status_code == 200 and "Test payment mode" not in html
    form = hosted_form(html)
    order = PaymentOrder.objects.get(booking=held)
    assert form["action"] == f"{settings.RAZORPAY_BASE_URL}/v1/checkout/embedded"
    assert form["fields"] == {
        "key_id": settings.RAZORPAY_KEY_ID,
        "order_id": order.gateway_order_id,
        "amount": str(PRICE),
        "currency": "INR",
        "name": "PeerLearn",
        "description": "Hosted pay",
        "prefill[name]": learner.full_name,
        "prefill[email]": learner.email,
        "callback_url": "http://testserver/payments/callback/",
        "cancel_url": f"http://testserver/payments/checkout/{held.pk}/?payment=cancelled",
    }
    # Our CSRF token must not travel to Razorpay, and no Razorpay script is loaded.
    assert "csrfmiddlewaretoken" not in form["fields"] and "checkout.razorpay.com" not in html


def test_a_signed_result_confirms_the_seat_without_a_session(live_mode, order, held):
    result = live_mode.pay(order.gateway_order_id)
    response = cross_site().post("/payments/callback/", result)
    assert response.status_code == 303
    assert response["Location"] == f"/dashboard/learner/bookings/{held.pk}/?payment=paid"
    held.refresh_from_db()
    order.refresh_from_db()
    assert held.state == BookingState.CONFIRMED and order.state == OrderState.PAID
    assert order.payment_id == result["razorpay_payment_id"]
    assert LedgerEntry.objects.aggregate(total=Sum("amount_paise"))["total"] == 0
    assert LedgerEntry.objects.filter(reference=order.payment_id).count() == 3


def test_the_booking_page_shows_the_outcome_from_the_query(live_mode, order, held, learner):
    cross_site().post("/payments/callback/", live_mode.pay(order.gateway_order_id))
    page = client_for(learner).get(f"/dashboard/learner/bookings/{held.pk}/?payment=paid").content.decode()
    assert "Payment received. Your seat is confirmed." in page


def test_a_tampered_signature_is_refused_and_audited(live_mode, order, held):
    result = {**live_mode.pay(order.gateway_order_id), "razorpay_signature": "f" * 64}
    response = cross_site().post("/payments/callback/", result)
    assert response.status_code == 303
    assert response["Location"] == f"/payments/checkout/{held.pk}/?payment=unverified"
    assert AuditEvent.objects.filter(action="payment.bad_checkout_signature", data__order=order.pk).exists()
    held.refresh_from_db()
    order.refresh_from_db()
    assert held.state == BookingState.HELD and order.state == OrderState.CREATED
    assert not LedgerEntry.objects.exists()


def test_a_signature_for_another_order_is_refused(live_mode, order, held, learner, mentor):
    other = marketplace.booking_create(learner=learner, session=a_session(mentor, price=PRICE, hours_ahead=96))
    client_for(learner).get(f"/payments/checkout/{other.pk}/")
    other_order = PaymentOrder.objects.get(booking=other)
    paid_other = live_mode.pay(other_order.gateway_order_id)
    # Another order's genuine payment and signature, relabelled as this order's.
    response = cross_site().post("/payments/callback/", {**paid_other, "razorpay_order_id": order.gateway_order_id})
    assert response["Location"].endswith("?payment=unverified")
    held.refresh_from_db()
    assert held.state == BookingState.HELD


def test_an_unknown_order_is_refused(live_mode, order):
    result = live_mode.pay(order.gateway_order_id)
    response = cross_site().post("/payments/callback/", {**result, "razorpay_order_id": "order_NotOursAtAll1"})
    assert response.status_code == 400
    assert "could not match that payment" in response.content.decode()
    assert AuditEvent.objects.filter(
        action="payment.callback_unknown_order", data__gateway_order="order_NotOursAtAll1"
    ).exists()
    assert PaymentOrder.objects.get().state == OrderState.CREATED


def test_failure_fields_keep_the_seat_held_and_offer_a_retry(live_mode, order, held, learner):
    failed = live_mode.pay(order.gateway_order_id, outcome="failure")["error"]
    fields = {f"error[{key}]": failed[key] for key in ("code", "description", "source", "step", "reason")}
    fields["error[metadata][payment_id]"] = failed["metadata"]["payment_id"]
    fields["error[metadata][order_id]"] = failed["metadata"]["order_id"]
    response = cross_site().post("/payments/callback/", fields)
    assert response.status_code == 303
    assert response["Location"] == f"/payments/checkout/{held.pk}/?payment=failed"
    assert AuditEvent.objects.filter(action="payment.checkout_failed", data__order=order.pk).exists()
    held.refresh_from_db()
    assert held.state == BookingState.HELD and PaymentOrder.objects.get().state == OrderState.CREATED
    page = client_for(learner).get(response["Location"]).content.decode()
    assert "The payment failed" in page and "Try again" in page
    assert "payment attempts left" in page
    # The JSON form of error[metadata] some integrations send works the same.
    json_fields = {
        "error[reason]": "payment_cancelled",
        "error[metadata]": json.dumps({"order_id": order.gateway_order_id}),
    }
    cancelled = cross_site().post("/payments/callback/", json_fields)
    assert cancelled["Location"] == f"/payments/checkout/{held.pk}/?payment=cancelled"
    # Failure fields for an order that is not ours.
    unknown = cross_site().post("/payments/callback/", {"error[metadata][order_id]": "order_Unknown000001"})
    assert unknown.status_code == 400


def test_the_callback_only_takes_posts(live_mode):
    assert Client().get("/payments/callback/").status_code == 405


def test_the_standin_hosted_checkout_pays_and_posts_back(live_mode, order, held, learner):
    page = client_for(learner).get(f"/payments/checkout/{held.pk}/").content.decode()
    form = hosted_form(page)
    status, html, _ = standin_post(form["action"], form["fields"])
    assert status == 200 and "Razorpay stand-in — test payments, no real money" in html
    assert "<script src" not in html and "<link" not in html  # no external assets
    [buttons] = Forms(html).forms
    status, html, _ = standin_post(f"{live_mode.base_url}{buttons['action']}", {**buttons["fields"], "action": "pay"})
    [back] = Forms(html).forms
    assert back["action"] == "http://testserver/payments/callback/"
    assert set(back["fields"]) == {"razorpay_payment_id", "razorpay_order_id", "razorpay_signature"}
    response = cross_site().post("/payments/callback/", back["fields"])
    assert response["Location"].endswith("?payment=paid")
    held.refresh_from_db()
    assert held.state == BookingState.CONFIRMED
    live_mode.inbox.wait_for(2)  # payment.captured and order.paid were sent as well


def test_the_standin_hosted_checkout_fails_and_cancels(live_mode, order, held, learner):
    form = hosted_form(client_for(learner).get(f"/payments/checkout/{held.pk}/").content.decode())
    _, html, _ = standin_post(form["action"], form["fields"])
    [buttons] = Forms(html).forms
    pay_url = f"{live_mode.base_url}{buttons['action']}"
    _, html, _ = standin_post(pay_url, {**buttons["fields"], "action": "fail"})
    [back] = Forms(html).forms
    assert back["fields"]["error[reason]"] == "payment_failed"
    assert back["fields"]["error[metadata][order_id]"] == order.gateway_order_id
    assert cross_site().post("/payments/callback/", back["fields"])["Location"].endswith("?payment=failed")
    status, _, headers = standin_post(pay_url, {**buttons["fields"], "action": "cancel"})
    assert status == 303 and headers["Location"] == form["fields"]["cancel_url"]
    # A wrong key is refused as Razorpay would.
    status, html, _ = standin_post(form["action"], {**form["fields"], "key_id": "rzp_test_wrong"})
    assert status == 400 and "api key" in html
    held.refresh_from_db()
    assert held.state == BookingState.HELD
