"""A learner finds a session on /sessions/, books it, and sees it among their bookings, in Chromium."""

from __future__ import annotations

import re

import pytest

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.marketplace.models import Booking, BookingState, Domain
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import PASSWORD, make_user, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def cast(label: str):
    learner = make_user(f"lena.{label}@example.com", Role.LEARNER, full_name="Lena Learner")
    LearnerProfile.objects.create(user=learner)
    mentor = make_user(f"maya.{label}@example.com", Role.MENTOR, full_name="Maya Mentor")
    profile = MentorProfile.objects.create(
        user=mentor, headline="Platform engineer", bio="Ten years of on-call.", approval_state=ApprovalState.APPROVED
    )
    cloud = Domain.objects.get(slug="cloud")
    profile.domains.set([cloud])
    # One more than a page of results, so the list has to scroll in the rest.
    for index in range(24):
        a_session(mentor, title=f"Python clinic {index + 1}", hours_ahead=24 + index * 2)
    target = a_session(
        mentor,
        title="Kubernetes office hours",
        hours_ahead=24 * 5 + 1,
        domain=cloud,
        capacity=3,
        description="Bring your YAML.",
        topics=["Pods", "Helm"],
    )
    return learner, target


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_learner_searches_books_and_sees_the_booking(browser, live_server, screenshot_dir, viewport, label):
    seed_domains()
    learner, target = cast(label)
    context = browser.new_context(viewport=viewport, timezone_id="Asia/Kolkata", reduced_motion="reduce")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("E-mail").fill(learner.email)
        page.locator('input[name="password"]').fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard/learner/")

        # The whole list scrolls in: 20 cards from the server, the rest fetched near the bottom.
        page.goto(f"{live_server.url}/sessions/")
        cards = page.locator("[data-results] [data-result]")
        assert cards.count() == 20
        page.screenshot(path=screenshot_dir / f"sessions-{label}.png", full_page=True)
        page.locator("[data-more]").scroll_into_view_if_needed()
        page.wait_for_function("document.querySelectorAll('[data-results] [data-result]').length === 25")
        assert page.locator("[data-more]").count() == 0
        assert "every matching session" in page.locator("[data-results-status]").inner_text()

        page.evaluate("window.scrollTo(0, 0)")
        page.get_by_role("searchbox", name="Search sessions").fill("kubernetes")
        page.get_by_role("button", name="Search", exact=True).click()
        page.wait_for_url(re.compile(r".*/sessions/\?q=kubernetes.*"))
        assert cards.count() == 1
        page.screenshot(path=screenshot_dir / f"sessions-search-{label}.png", full_page=True)

        page.get_by_role("link", name="Kubernetes office hours").click()
        page.wait_for_url(f"**/sessions/{target.pk}/")
        assert "IST" in page.locator(".facts").inner_text()
        page.screenshot(path=screenshot_dir / f"session-detail-{label}.png", full_page=True)
        page.get_by_role("button", name="Book this session").click()
        page.wait_for_url(f"**/sessions/{target.pk}/")
        page.get_by_text("You're booked", exact=True).wait_for()
        assert page.get_by_role("link", name=re.compile("Add to calendar")).is_visible()
        page.screenshot(path=screenshot_dir / f"session-booked-{label}.png", full_page=True)

        page.get_by_role("link", name="Dashboard").click()
        page.wait_for_url("**/dashboard/learner/")
        page.get_by_role("link", name="Bookings").click()
        page.wait_for_url("**/dashboard/learner/bookings/")
        row = page.locator(".booking-row", has_text="Kubernetes office hours")
        assert row.locator(".chip-confirmed").inner_text() == "Confirmed"
        assert page.get_by_role("link", name="Bookings").get_attribute("aria-current") == "page"
        page.screenshot(path=screenshot_dir / f"learner-bookings-{label}.png", full_page=True)
        assert errors == []
    finally:
        context.close()

    booking = Booking.objects.get(learner=learner)
    assert booking.session_id == target.pk and booking.state == BookingState.CONFIRMED
