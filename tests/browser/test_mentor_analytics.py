"""A mentor with a few weeks of real bookings, follows and reviews opens analytics and earnings in
Chromium: the charts draw (and redraw in the other theme), the numbers are there as tables, nothing
logs an error, and on a phone the "More" menu of the bottom navigation opens and navigates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.marketplace.models import Booking, BookingState, Domain, Follow, Review, Session, SessionState
from backend.payments import ledger
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import PASSWORD, make_user, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHART_KEYS = ["bookings", "followers", "ratings", "stars", "topics"]


def cast():
    seed_domains()
    mentor = make_user("maya.charts@example.com", Role.MENTOR, full_name="Maya Mentor", timezone="Asia/Kolkata")
    profile = MentorProfile.objects.create(
        user=mentor, headline="Django consultant", bio="Ten years of Django.", approval_state=ApprovalState.APPROVED
    )
    domain = Domain.objects.order_by("position").first()
    profile.domains.set([domain])
    learners = []
    for n in range(5):
        learner = make_user(f"learner{n}@example.com", Role.LEARNER, full_name=f"Learner {n}")
        LearnerProfile.objects.create(user=learner)
        learners.append(learner)
    now = timezone.now().replace(microsecond=0)
    topics = [["Django", "ORM"], ["django", "Testing"], ["Career"], ["Django", "Deployment"]]
    for n in range(8):  # one session every ten days, the newest a few days ago
        starts = now - timedelta(days=3 + 10 * n)
        session = Session.objects.create(
            mentor=mentor,
            title=f"Django clinic {n + 1}",
            domain=domain,
            starts_at=starts,
            duration_minutes=60,
            price_paise=49_900 if n % 3 else 0,
            capacity=4,
            state=SessionState.COMPLETED,
            topics=topics[n % len(topics)],
        )
        for index, learner in enumerate(learners[: 1 + n % 4]):
            booking = Booking.objects.create(
                session=session, learner=learner, state=BookingState.CONFIRMED, confirmed_at=starts - timedelta(days=1)
            )
            Review.objects.create(booking=booking, rating=5 - (index + n) % 3, created_at=starts + timedelta(hours=2))
            if session.price_paise:  # the earnings page reads the ledger
                ledger.charge(
                    mentor_id=mentor.pk, gross_paise=session.price_paise, booking=booking, reference=f"pay_{booking.pk}"
                )
    for n, learner in enumerate(learners):
        Follow.objects.create(learner=learner, mentor=mentor, created_at=now - timedelta(days=4 + 13 * n))
    return mentor


def is_problem(message) -> bool:
    # Django's plain live server speaks no WebSocket; live updates are covered by test_live_updates
    # under daphne. Anything else logged as an error is a problem.
    text = message.text
    return message.type == "error" and not ("WebSocket" in text or "/ws/updates/" in text)


def sign_in(browser, live_server, user, viewport):
    context = browser.new_context(viewport=viewport, timezone_id="Asia/Kolkata", reduced_motion="reduce")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda message: problems.append(message.text) if is_problem(message) else None)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("E-mail").fill(user.email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/dashboard/{user.role}/")
    return context, page, problems


def wait_for_charts(page, keys):
    page.wait_for_function(
        """keys => window.Chart && keys.every(key => {
            const canvas = document.querySelector(`canvas[data-chart="${key}"]`);
            return canvas && Chart.getChart(canvas) && canvas.width > 0 && canvas.height > 0;
        })""",
        arg=keys,
    )


def chart_sizes(page) -> dict[str, list[int]]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("canvas[data-chart]")].map(c => {
            const box = c.getBoundingClientRect();
            return [c.dataset.chart, [Math.round(box.width), Math.round(box.height)]];
        }))"""
    )


def tick_colour(page) -> str:
    return page.evaluate("""() => Chart.getChart(document.querySelector('canvas[data-chart="bookings"]'))
        .options.scales.y.ticks.color""")


def test_analytics_on_desktop(browser, live_server, screenshot_dir):
    mentor = cast()
    context, page, problems = sign_in(browser, live_server, mentor, DESKTOP)
    try:
        page.get_by_role("link", name="Analytics").first.click()
        page.wait_for_url("**/dashboard/mentor/analytics/")
        wait_for_charts(page, CHART_KEYS)
        sizes = chart_sizes(page)
        assert sorted(sizes) == sorted(CHART_KEYS)
        assert all(width > 300 and height > 150 for width, height in sizes.values()), sizes
        assert page.evaluate("Chart.getChart(document.querySelector('canvas')).options.animation") is False
        summary = page.locator("#bookings-summary").inner_text()
        assert summary.startswith("20 confirmed bookings over the last 12 weeks"), summary
        page.screenshot(path=screenshot_dir / "mentor-analytics-desktop.png", full_page=True)

        # Another theme: the charts are drawn again in its colours (and back again).
        light = tick_colour(page)
        toggle = page.locator("[data-theme-toggle]").first
        toggle.click()
        page.wait_for_function(
            "c => Chart.getChart(document.querySelector('canvas')).options.scales.y.ticks.color !== c", arg=light
        )
        assert tick_colour(page) == page.evaluate(
            "getComputedStyle(document.documentElement).getPropertyValue('--muted').trim()"
        )
        page.screenshot(path=screenshot_dir / "mentor-analytics-desktop-dark.png", full_page=True)
        toggle.click()
        page.wait_for_function(
            "c => Chart.getChart(document.querySelector('canvas')).options.scales.y.ticks.color === c", arg=light
        )

        # The fallback table holds the same numbers as the chart.
        page.locator(".chart-card", has_text="Topic popularity").locator("summary").click()
        assert page.get_by_role("rowheader", name="Django", exact=True).is_visible()

        page.get_by_role("link", name="Last 4 weeks").click()
        page.wait_for_url("**/dashboard/mentor/analytics/?weeks=4")
        wait_for_charts(page, CHART_KEYS)

        page.get_by_role("link", name="Earnings").first.click()
        page.wait_for_url("**/dashboard/mentor/earnings/")
        wait_for_charts(page, ["earnings"])
        page.screenshot(path=screenshot_dir / "mentor-earnings-desktop.png", full_page=True)
        assert problems == []
    finally:
        context.close()


def test_analytics_on_a_phone_and_the_more_menu(browser, live_server, screenshot_dir):
    mentor = cast()
    context, page, problems = sign_in(browser, live_server, mentor, PHONE)
    try:
        nav = page.locator("nav.bottom-nav")
        more = nav.locator("details.nav-more")
        # Every place in the bar is a comfortable target on a 390px phone.
        for box in [item.bounding_box() for item in nav.locator(":scope > a, :scope > details > summary").all()]:
            assert box["width"] >= 44 and box["height"] >= 44, box
        more.locator("summary").click()
        menu = more.locator(".nav-more-menu")
        assert menu.is_visible()
        page.screenshot(path=screenshot_dir / "mentor-more-menu-phone.png")
        # A tap outside the menu closes it.
        page.mouse.click(195, 300)
        assert not menu.is_visible()

        more.locator("summary").click()
        menu.get_by_role("link", name="Analytics").click()
        page.wait_for_url("**/dashboard/mentor/analytics/")
        assert page.locator("nav.bottom-nav details.nav-more.has-current").count() == 1
        assert nav.get_by_role("link", name="Analytics", include_hidden=True).get_attribute("aria-current") == "page"
        wait_for_charts(page, CHART_KEYS)
        sizes = chart_sizes(page)
        assert all(0 < width <= 390 and height > 150 for width, height in sizes.values()), sizes
        page.screenshot(path=screenshot_dir / "mentor-analytics-phone.png", full_page=True)

        nav.get_by_role("link", name="Earnings").click()
        page.wait_for_url("**/dashboard/mentor/earnings/")
        wait_for_charts(page, ["earnings"])
        page.screenshot(path=screenshot_dir / "mentor-earnings-phone.png", full_page=True)
        assert problems == []
    finally:
        context.close()
