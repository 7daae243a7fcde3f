"""The money pages in Chromium on a phone: the mentor's earnings and withdrawals (adding a payout
method and asking for a withdrawal through the forms), the learner's payments and a receipt.
Nothing overflows a 390px screen, nothing logs an error; screenshots for review."""

from __future__ import annotations

import pytest

from backend.marketplace import services as marketplace
from backend.payments import ledger, services
from backend.payments.models import PaymentOrder, Withdrawal
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_mentor_analytics import sign_in
from tests.conftest import make_user, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def people():
    seed_domains()
    mentor = make_user("maya.money@example.com", "mentor", full_name="Maya Mentor", timezone="Asia/Kolkata")
    from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile

    MentorProfile.objects.create(user=mentor, headline="Django", bio="Bio", approval_state=ApprovalState.APPROVED)
    learner = make_user("lena.money@example.com", "learner", full_name="Lena Learner", timezone="Asia/Kolkata")
    LearnerProfile.objects.create(user=learner)
    booking = marketplace.booking_create(
        learner=learner, session=a_session(mentor, price=150_000, title="Django deep dive")
    )
    order = PaymentOrder.objects.create(
        booking=booking, payer=learner, mentor=mentor, amount_paise=150_000, gateway_order_id="order_B1"
    )
    services.payment_settle(
        gateway_order_id="order_B1", payment_id="pay_B1", amount_paise=150_000, currency="INR", source="test"
    )
    ledger.release(mentor_id=mentor.pk, amount_paise=135_000, booking=booking, reference="release:B1")
    marketplace.booking_create(
        learner=learner, session=a_session(mentor, hours_ahead=72, price=49_900, title="Career clinic")
    )
    return mentor, learner, order


def no_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_mentor_money_pages(browser, live_server, screenshot_dir, viewport):
    mentor, _, _ = people()
    size = "phone" if viewport is PHONE else "desktop"
    context, page, problems = sign_in(browser, live_server, mentor, viewport)
    try:
        page.goto(f"{live_server.url}/dashboard/mentor/earnings/")
        page.wait_for_function("window.Chart && Chart.getChart(document.querySelector('canvas[data-chart=earnings]'))")
        assert no_overflow(page)
        page.screenshot(path=screenshot_dir / f"mentor-earnings-ledger-{size}.png", full_page=True)
        page.get_by_role("link", name="Withdraw", exact=True).click()
        page.wait_for_url("**/dashboard/mentor/withdrawals/")
        page.get_by_label("Bank account").check()
        page.get_by_label("Account holder's name").fill("Maya Mentor")
        page.get_by_label("IFSC").fill("HDFC0001234")
        page.get_by_label("Account number").fill("1234 5678 4321")
        page.get_by_role("button", name="Save payout method").click()
        page.wait_for_url("**/dashboard/mentor/withdrawals/")
        assert "•••• 4321" in page.content() and "123456784321" not in page.content()
        page.get_by_label("Amount (₹)").fill("500.50")
        page.get_by_role("button", name="Request withdrawal").click()
        page.wait_for_url("**/dashboard/mentor/withdrawals/")
        assert Withdrawal.objects.get().amount_paise == 50_050
        assert no_overflow(page)
        page.screenshot(path=screenshot_dir / f"mentor-withdrawals-{size}.png", full_page=True)
        assert problems == []
    finally:
        context.close()


def test_learner_payments_and_receipt_on_a_phone(browser, live_server, screenshot_dir):
    _, learner, order = people()
    context, page, problems = sign_in(browser, live_server, learner, PHONE)
    try:
        page.goto(f"{live_server.url}/dashboard/learner/payments/")
        assert page.get_by_role("link", name="Pay ₹499 for Career clinic").is_visible()
        assert no_overflow(page)
        page.screenshot(path=screenshot_dir / "learner-payments-phone.png", full_page=True)
        page.get_by_role("link", name="Receipt for Django deep dive").click()
        page.wait_for_url(f"**/dashboard/learner/payments/{order.pk}/receipt/")
        assert "pay_B1" in page.content() and no_overflow(page)
        page.screenshot(path=screenshot_dir / "learner-receipt-phone.png", full_page=True)
        assert problems == []
    finally:
        context.close()
