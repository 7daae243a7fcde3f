"""A learner requests a session from a mentor's profile, the mentor counter-offers from their
requests tab, and the learner accepts it from theirs, in Chromium at phone and desktop sizes."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.marketplace.models import AvailabilityWindow, Booking, BookingState, Domain, RequestState, SessionRequest
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import PASSWORD, make_user, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
IST = ZoneInfo("Asia/Kolkata")
LONDON = ZoneInfo("Europe/London")


def cast(label: str):
    learner = make_user(f"lena.{label}@example.com", Role.LEARNER, full_name="Lena Learner", timezone="Asia/Kolkata")
    LearnerProfile.objects.create(user=learner)
    mentor = make_user(f"maya.{label}@example.com", Role.MENTOR, full_name="Maya Mentor", timezone="Europe/London")
    profile = MentorProfile.objects.create(
        user=mentor, headline="Django consultant", bio="Ten years of Django.", approval_state=ApprovalState.APPROVED
    )
    profile.domains.set([Domain.objects.order_by("position").first()])
    for weekday in range(7):  # 08:00–20:00 in London, every day
        AvailabilityWindow.objects.create(mentor=mentor, weekday=weekday, start_time=time(8), end_time=time(20))
    return learner, mentor


def london(days_ahead: int, hour: int) -> datetime:
    day = (timezone.now() + timedelta(days=days_ahead)).astimezone(LONDON).date()
    return datetime.combine(day, time(hour), tzinfo=LONDON)


def sign_in(browser, live_server, user, viewport, zone: str):
    context = browser.new_context(viewport=viewport, timezone_id=zone, reduced_motion="reduce")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("E-mail").fill(user.email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/dashboard/{user.role}/")
    return context, page, errors


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_request_counter_offer_and_accept(browser, live_server, screenshot_dir, viewport, label):
    seed_domains()
    learner, mentor = cast(label)
    wanted = london(2, 10)  # inside Maya's hours; Lena types it in her own time (15:30 or 14:30 IST)
    counter = london(3, 11)

    # 1. The learner asks from the profile, picking a time in her own zone next to Maya's hours.
    context, page, errors = sign_in(browser, live_server, learner, viewport, "Asia/Kolkata")
    try:
        page.goto(f"{live_server.url}/mentors/{mentor.pk}/")
        page.get_by_role("link", name="Request a session").click()
        assert "Asia/Kolkata" in page.locator(".availability-card").inner_text()
        page.get_by_label("What do you want help with?").fill("Review my Django project")
        page.get_by_label("Details (optional)").fill("Mostly the models and the admin.")
        page.get_by_label("First choice").fill(wanted.astimezone(IST).strftime("%Y-%m-%dT%H:%M"))
        page.get_by_label("Length").select_option("60")
        page.screenshot(path=screenshot_dir / f"request-form-{label}.png", full_page=True)
        page.get_by_role("button", name="Send request").click()
        page.wait_for_url(re.compile(r".*/dashboard/learner/requests/(#request)?$"))
        page.get_by_text("Request sent to Maya Mentor", exact=False).wait_for()
        assert page.locator(".request-card .chip-pending").count() == 1
        page.screenshot(path=screenshot_dir / f"learner-requests-sent-{label}.png", full_page=True)
        assert errors == []
    finally:
        context.close()
    request = SessionRequest.objects.get(learner=learner)
    assert request.preferred_times == [wanted.astimezone(ZoneInfo("UTC")).isoformat()]

    # 2. The mentor sees it in London time and proposes another time and a price.
    context, page, errors = sign_in(browser, live_server, mentor, viewport, "Europe/London")
    try:
        page.get_by_role("link", name="Requests").first.click()
        page.wait_for_url("**/dashboard/mentor/requests/")
        card = page.locator(".request-card", has_text="Review my Django project")
        accept = card.get_by_role("button", name=re.compile("^Accept"))
        assert accept.count() == 1 and "10:00 am" in accept.inner_text()
        page.screenshot(path=screenshot_dir / f"mentor-requests-{label}.png", full_page=True)
        card.locator("summary", has_text="Counter-offer").click()
        card.get_by_label(re.compile("^Time, yours")).fill(counter.strftime("%Y-%m-%dT%H:%M"))
        card.get_by_label("Price (₹)").fill("499")
        page.screenshot(path=screenshot_dir / f"mentor-counter-offer-{label}.png", full_page=True)
        card.get_by_role("button", name="Send counter-offer").click()
        page.wait_for_url("**/dashboard/mentor/requests/")
        page.get_by_text("Counter-offer sent to Lena Learner", exact=False).wait_for()
        assert page.locator(".chip-countered").count() == 1
        assert errors == []
    finally:
        context.close()

    # 3. The learner accepts the counter-offer; the private session and a held seat are made.
    context, page, errors = sign_in(browser, live_server, learner, viewport, "Asia/Kolkata")
    try:
        page.get_by_role("link", name="Requests").first.click()
        page.wait_for_url("**/dashboard/learner/requests/")
        offer = page.locator(".counter-offer")
        assert "₹499" in offer.inner_text() and "IST" in offer.inner_text()
        page.screenshot(path=screenshot_dir / f"learner-counter-offer-{label}.png", full_page=True)
        page.get_by_role("button", name="Accept offer").click()
        page.get_by_text("Accepted. Your seat is held", exact=False).wait_for()
        assert page.locator(".chip-accepted").count() == 1
        page.screenshot(path=screenshot_dir / f"learner-request-accepted-{label}.png", full_page=True)
        page.get_by_role("link", name="Open the session").click()
        page.wait_for_url(re.compile(r".*/sessions/\d+/$"))
        assert "Review my Django project" in page.locator("h1").inner_text()
        assert errors == []
    finally:
        context.close()

    request.refresh_from_db()
    assert request.state == RequestState.ACCEPTED and request.session.starts_at == counter
    booking = Booking.objects.get(session=request.session)
    assert booking.learner == learner and booking.state == BookingState.HELD
    assert request.session.price_paise == 49_900 and request.session.is_private
