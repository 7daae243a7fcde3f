"""Paying for a seat in Chromium against daphne, with the Razorpay stand-in on loopback sending
its signed webhooks to the live server: the learner reserves, pays on the checkout page and sees
the seat confirmed; a booking page left open turns "Confirmed" live when the webhook (not the
browser) settles the payment; and Razorpay's hosted checkout posts back cross-site.

Settings reach daphne because channels' live server forks it in setUpClass: whatever
django.conf.settings says at that moment (here: the stand-in's URL and keys) is what the
subprocess reads. The stand-in itself runs in this process; its webhook URL is set once the
server's port is known."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone

from backend.marketplace import services as marketplace
from backend.marketplace.models import Booking, BookingState, SessionState
from backend.payments import jobs, services
from backend.payments.models import LedgerEntry, OrderState, PaymentOrder
from backend.payments.standin import StandIn
from backend.rooms import services as rooms
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import ARTEFACTS, DESKTOP, PHONE
from tests.browser.test_live_updates import DaphneBrowserCase, cast, record_update_frames, wait_for_frame
from tests.conftest import PASSWORD

PRICE = 49_900
KEYS = {
    "RAZORPAY_KEY_ID": "rzp_test_browser",
    "RAZORPAY_KEY_SECRET": "browser-key-secret",
    "RAZORPAY_WEBHOOK_SECRET": "browser-webhook-secret",
}


class PaymentServerCase(DaphneBrowserCase):
    """Daphne whose settings point at a Razorpay stand-in this process runs."""

    test_mode = True

    @classmethod
    def setUpClass(cls):
        cls.standin = StandIn(KEYS["RAZORPAY_KEY_ID"], KEYS["RAZORPAY_KEY_SECRET"], KEYS["RAZORPAY_WEBHOOK_SECRET"])
        base_url = cls.standin.start()
        cls._payment_settings = override_settings(
            RAZORPAY_BASE_URL=base_url, RAZORPAY_TIMEOUT_SECONDS=5, PAYMENTS_TEST_MODE=cls.test_mode, **KEYS
        )
        cls._payment_settings.enable()
        try:
            super().setUpClass()  # forks daphne: it reads the settings above
        except BaseException:
            cls._payment_settings.disable()
            cls.standin.stop()
            raise
        # live_server_url is an instance property; the class knows the host and the port.
        cls.standin.webhook_url = f"http://{cls.host}:{cls._port}/api/payments/webhook/"

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls._payment_settings.disable()
            cls.standin.stop()

    def sign_in(self, context, learner):
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{self.live_server_url}/login/")
        page.get_by_label("E-mail").fill(learner.email)
        page.locator('input[name="password"]').fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard/learner/")
        return page, errors

    def assert_paid(self, booking: Booking) -> None:
        booking.refresh_from_db()
        assert booking.state == BookingState.CONFIRMED
        order = PaymentOrder.objects.get(booking=booking)
        assert order.state == OrderState.PAID and order.amount_paise == PRICE
        entries = LedgerEntry.objects.filter(booking=booking)
        assert entries.count() >= 3 and entries.aggregate(total=Sum("amount_paise"))["total"] == 0


@pytest.mark.browser
class CheckoutInTestModeTest(PaymentServerCase):
    def test_learner_reserves_pays_and_sees_the_seat_confirmed(self):
        ARTEFACTS.mkdir(exist_ok=True)
        for viewport, label in ((PHONE, "phone"), (DESKTOP, "desktop")):
            mentor, learner = cast(f"pay{label}")
            session = a_session(mentor, price=PRICE, title=f"Paid clinic ({label})")
            context = self.browser.new_context(viewport=viewport, timezone_id="Asia/Kolkata", reduced_motion="reduce")
            try:
                page, errors = self.sign_in(context, learner)
                page.goto(f"{self.live_server_url}/sessions/{session.pk}/")
                page.get_by_role("button", name="Reserve and pay").click()
                page.get_by_role("link", name="Pay ₹499").click()
                booking = Booking.objects.get(session=session, learner=learner)
                page.wait_for_url(f"**/payments/checkout/{booking.pk}/")

                # The hold counts down from the server's clock, in words for screen readers.
                clock = page.locator("[data-countdown-clock]")
                assert re.fullmatch(r"1[45]:\d\d", clock.inner_text()), clock.inner_text()
                spoken = page.locator("[data-countdown-minutes]")
                assert re.fullmatch(r"1[45] minutes left to pay\.", spoken.inner_text()), spoken.inner_text()
                page.screenshot(path=ARTEFACTS / f"checkout-{label}.png", full_page=True)

                # Offline, payments wait: the note shows and Pay is disabled; back online, it returns.
                pay = page.get_by_role("button", name="Pay ₹499 (test)")
                context.set_offline(True)
                page.locator("[data-offline-note]").wait_for(state="visible")
                assert pay.is_disabled()
                page.screenshot(path=ARTEFACTS / f"checkout-offline-{label}.png", full_page=True)
                context.set_offline(False)
                page.locator("[data-offline-note]").wait_for(state="hidden")
                assert pay.is_enabled()

                page.get_by_label("Card").check()
                pay.click()
                page.wait_for_url(f"**/dashboard/learner/bookings/{booking.pk}/**")
                page.get_by_text("Payment received. Your seat is confirmed.").wait_for()
                assert page.locator("[data-booking-chip]").inner_text() == "Confirmed"
                assert "payment=" not in page.url  # shown once, not on a reload
                page.screenshot(path=ARTEFACTS / f"checkout-paid-{label}.png", full_page=True)
                self.assert_paid(booking)
                assert errors == []
            finally:
                context.close()
        # payment.captured and order.paid for each of the two payments reached daphne and changed nothing.
        sent = self.standin.wait_for_webhooks(4, timeout=10)
        assert [status for *_, status in sent] == [200, 200, 200, 200]

        # The mentor's share waits as pending until the session is over and the dispute window
        # has passed (time moved explicitly), then it is available to withdraw.
        self.assert_earnings(mentor, pending="₹449.10", available="₹0")
        session.state = SessionState.LIVE
        session.save(update_fields=["state"])
        rooms.session_complete(session=session)  # ended now: the window runs from here
        with time_machine.travel(timezone.now() + timedelta(hours=71), tick=False):
            assert jobs.release_matured_earnings() == 0
        self.assert_earnings(mentor, pending="₹449.10", available="₹0")
        with time_machine.travel(timezone.now() + timedelta(hours=73), tick=False):
            assert jobs.release_matured_earnings() == 1
        self.assert_earnings(mentor, pending="₹0", available="₹449.10")

    def assert_earnings(self, mentor, *, pending: str, available: str) -> None:
        context = self.browser.new_context(viewport=DESKTOP)
        try:
            page = context.new_page()
            page.goto(f"{self.live_server_url}/login/")
            page.get_by_label("E-mail").fill(mentor.email)
            page.locator('input[name="password"]').fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/dashboard/mentor/")
            page.goto(f"{self.live_server_url}/dashboard/mentor/earnings/")
            stats = {
                card.locator(".stat-label").inner_text(): card.locator(".stat-value").inner_text()
                for card in page.locator(".card.stat").all()
            }
            assert (stats["Pending"], stats["Available"]) == (pending, available), stats
        finally:
            context.close()


@pytest.mark.browser
class ConfirmedByWebhookTest(PaymentServerCase):
    def test_an_open_booking_page_turns_confirmed_when_the_webhook_lands(self):
        mentor, learner = cast("webhook")
        booking = marketplace.booking_create(learner=learner, session=a_session(mentor, price=PRICE))
        order = services.checkout_start(learner=learner, booking=booking)
        context = self.browser.new_context(viewport=PHONE, timezone_id="Asia/Kolkata", reduced_motion="reduce")
        try:
            page, errors = self.sign_in(context, learner)
            frames = record_update_frames(page)
            page.goto(f"{self.live_server_url}/dashboard/learner/bookings/{booking.pk}/")
            wait_for_frame(page, frames, "hello")
            assert page.locator("[data-booking-chip]").inner_text() == "Awaiting payment"
            page.evaluate("window.__stillThisPage = true")

            # Paid outside the browser (as if in another app): only the webhook tells daphne.
            self.standin.pay(order.gateway_order_id, method="upi")
            page.locator("[data-when-confirmed]").wait_for(state="visible", timeout=10000)
            assert page.locator("[data-booking-chip]").inner_text() == "Confirmed"
            assert page.get_by_text("Seat held for you").is_hidden()
            assert page.get_by_role("link", name="Pay ₹499").is_hidden()
            assert page.evaluate("window.__stillThisPage") is True  # no reload
            page.screenshot(path=ARTEFACTS / "booking-confirmed-live-phone.png", full_page=True)
            assert errors == []
        finally:
            context.close()
        assert self.standin.wait_for_webhooks(2, timeout=10)[0][3] == 200
        self.assert_paid(booking)


@pytest.mark.browser
class HostedCheckoutTest(PaymentServerCase):
    """Live mode: the stand-in's hosted checkout (on 127.0.0.1, another site than the app on
    localhost) posts the result back cross-site, where the session cookie is not sent."""

    test_mode = False

    def test_hosted_checkout_posts_back_and_confirms(self):
        mentor, learner = cast("hosted")
        session = a_session(mentor, price=PRICE, title="Hosted checkout clinic")
        context = self.browser.new_context(viewport=DESKTOP, timezone_id="Asia/Kolkata", reduced_motion="reduce")
        try:
            page, errors = self.sign_in(context, learner)
            page.goto(f"{self.live_server_url}/sessions/{session.pk}/")
            page.get_by_role("button", name="Reserve and pay").click()
            page.get_by_role("link", name="Pay ₹499").click()
            booking = Booking.objects.get(session=session, learner=learner)
            page.wait_for_url(f"**/payments/checkout/{booking.pk}/")
            assert page.locator("#test-mode-note").count() == 0
            page.screenshot(path=ARTEFACTS / "checkout-hosted-desktop.png", full_page=True)
            page.get_by_role("button", name="Pay ₹499").click()
            page.wait_for_url(f"{self.standin.base_url}/v1/checkout/embedded")
            page.get_by_text("Razorpay stand-in — test payments, no real money").wait_for()
            page.get_by_role("button", name="Pay ₹499").click()
            page.wait_for_url(f"**/dashboard/learner/bookings/{booking.pk}/**")
            page.get_by_text("Payment received. Your seat is confirmed.").wait_for()
            assert errors == []
        finally:
            context.close()
        self.assert_paid(booking)
        self.standin.wait_for_webhooks(2, timeout=10)
