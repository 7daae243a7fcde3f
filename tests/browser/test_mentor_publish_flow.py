"""An approved mentor drafts a session and publishes it, a learner finds it by search and books
it, and the mentor's sessions tab shows the seat taken: the whole story through the UI, in
Chromium at phone and desktop sizes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.marketplace.models import Booking, BookingState, Domain, Session, SessionState
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import PASSWORD, make_user, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
IST = ZoneInfo("Asia/Kolkata")
LONDON = ZoneInfo("Europe/London")
TITLE = "Terraform state surgery"


def cast(label: str):
    mentor = make_user(f"maya.{label}@example.com", Role.MENTOR, full_name="Maya Mentor", timezone="Asia/Kolkata")
    profile = MentorProfile.objects.create(
        user=mentor, headline="Platform engineer", bio="Ten years of on-call.", approval_state=ApprovalState.APPROVED
    )
    profile.domains.set([Domain.objects.get(slug="cloud")])
    learner = make_user(f"lena.{label}@example.com", Role.LEARNER, full_name="Lena Learner", timezone="Europe/London")
    LearnerProfile.objects.create(user=learner)
    # Someone else's session, so the search has something to leave out.
    other = make_user(f"omar.{label}@example.com", Role.MENTOR, full_name="Omar Other")
    MentorProfile.objects.create(user=other, headline="Pythonista", bio="Web.", approval_state=ApprovalState.APPROVED)
    a_session(other, title="Python clinic", hours_ahead=30)
    return mentor, learner


def in_ist(days_ahead: int, hour: int, minute: int) -> datetime:
    day = (timezone.now() + timedelta(days=days_ahead)).astimezone(IST).date()
    return datetime.combine(day, time(hour, minute), tzinfo=IST)


def as_shown(value: datetime) -> str:
    """How the `local_time` tag writes a time already in the viewer's zone."""
    return f"{value:%a %-d %b, %-I:%M %p}".replace("AM", "am").replace("PM", "pm")


def sign_in(browser, live_server, user, viewport, zone: str, *, phone: bool):
    context = browser.new_context(
        viewport=viewport, timezone_id=zone, reduced_motion="reduce", is_mobile=phone, has_touch=phone
    )
    # Django's live_server speaks WSGI only, so /ws/updates/ would 404 and log a console error
    # on every page. Answer it with an open, silent socket (daphne serves it in production;
    # test_live_updates.py covers it there) so any other console error still fails the test.
    context.route_web_socket(re.compile(r"/ws/updates/$"), lambda socket: None)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/dashboard/{user.role}/")
    return context, page, errors


def tap(locator, phone: bool) -> None:
    # A touch on the phone (has_touch), a mouse click on the desktop.
    locator.tap() if phone else locator.click()


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_mentor_publishes_learner_books_mentor_sees_the_seat(browser, live_server, screenshot_dir, viewport, label):
    seed_domains()
    mentor, learner = cast(label)
    phone = label == "phone"
    starts = in_ist(3, 18, 30)  # Maya types it in her own time, India

    def shot(page, step: str, *, full_page: bool = True) -> None:
        page.screenshot(path=screenshot_dir / f"publish-flow-{step}-{label}.png", full_page=full_page)

    # 1. The mentor drafts the session from Dashboard → Sessions → New session, then publishes it.
    mentor_context, mentor_page, mentor_errors = sign_in(
        browser, live_server, mentor, viewport, "Asia/Kolkata", phone=phone
    )
    learner_context = None
    try:
        page = mentor_page
        tap(page.get_by_role("link", name="Sessions", exact=True), phone)
        page.wait_for_url("**/dashboard/mentor/sessions/")
        tap(page.get_by_role("main").get_by_role("link", name="New session").first, phone)
        page.wait_for_url("**/dashboard/mentor/sessions/new/")
        assert "Asia/Kolkata" in page.get_by_text("Your time (").inner_text()
        page.get_by_label("Title").fill(TITLE)
        page.get_by_label("Description").fill("Moving resources between states without a plan that destroys them.")
        page.get_by_label("Topics").fill("Terraform, State files, Refactoring")
        page.get_by_label("Category").select_option(label="Cloud & DevOps")
        page.get_by_label("Starts").fill(starts.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_label("Length").select_option("90")
        page.get_by_label("Price (₹)").fill("0")
        page.get_by_label("Seats").fill("2")
        shot(page, "1-form")
        save = page.get_by_role("button", name="Save as draft")
        save.scroll_into_view_if_needed()
        shot(page, "1-form-actions", full_page=False)  # what the phone really shows above its bottom nav
        tap(save, phone)
        page.wait_for_url("**/dashboard/mentor/sessions/?tab=drafts")
        page.get_by_text(f"Draft “{TITLE}” saved.").wait_for()
        draft = Session.objects.get(mentor=mentor)
        assert draft.state == SessionState.DRAFT
        shot(page, "2-draft")

        tap(page.get_by_role("button", name=f"Publish {TITLE}"), phone)
        page.get_by_text(f"“{TITLE}” is published. Learners can book it now.").wait_for()
        tap(page.get_by_role("link", name=re.compile(r"^Scheduled")), phone)
        page.wait_for_url("**/dashboard/mentor/sessions/?tab=scheduled")
        row = page.locator(".session-row", has_text=TITLE)
        assert "0/2 seats taken" in row.inner_text()
        assert f"{as_shown(starts)} IST" in row.inner_text()  # her own time, zone named
        shot(page, "3-scheduled")
        assert mentor_errors == []

        session = Session.objects.get(title=TITLE)
        assert session.mentor_id == mentor.pk and session.state == SessionState.SCHEDULED
        assert session.topics == ["Terraform", "State files", "Refactoring"]
        assert session.domain.slug == "cloud"
        assert session.starts_at == starts.astimezone(UTC)  # 18:30 IST is 13:00 UTC
        assert session.starts_at.astimezone(UTC).time() == time(13, 0)
        assert session.duration_minutes == 90
        assert session.price_paise == 0 and session.capacity == 2

        # 2. The learner, in London, searches for it, books it and finds it on her dashboard.
        learner_context, page, learner_errors = sign_in(
            browser, live_server, learner, viewport, "Europe/London", phone=phone
        )
        tap(page.get_by_role("link", name="Discover"), phone)
        page.wait_for_url("**/sessions/")
        cards = page.locator("[data-results] [data-result]")
        assert cards.count() == 2
        search = page.get_by_role("searchbox", name="Search sessions")
        search.fill("terraform")
        search.press("Enter")
        page.wait_for_url(re.compile(r".*/sessions/\?q=terraform.*"))
        assert cards.count() == 1
        shot(page, "4-search")
        tap(page.get_by_role("link", name=TITLE), phone)
        page.wait_for_url(f"**/sessions/{session.pk}/")
        london = starts.astimezone(LONDON)
        facts = page.locator(".facts").inner_text()
        assert f"{london:%-d %b}" in facts  # her own time (GMT or BST), zone named
        assert f"{london:%-I:%M} {london:%p}".lower() + f" {london:%Z}" in facts
        assert "2 of 2 left" in facts
        tap(page.get_by_role("button", name="Book this session"), phone)
        page.wait_for_url(f"**/sessions/{session.pk}/")
        page.get_by_text("You're booked", exact=True).wait_for()
        assert "1 of 2 left" in page.locator(".facts").inner_text()
        shot(page, "5-booked")

        tap(page.get_by_role("link", name="Dashboard"), phone)
        page.wait_for_url("**/dashboard/learner/")
        upcoming = page.get_by_role("region", name="Upcoming sessions").get_by_role("listitem").filter(has_text=TITLE)
        assert upcoming.locator(".chip-confirmed").inner_text() == "Confirmed"
        shot(page, "6-learner-home")
        tap(page.get_by_role("link", name="Bookings", exact=True), phone)
        page.wait_for_url("**/dashboard/learner/bookings/")
        booking_row = page.locator(".booking-row", has_text=TITLE)
        assert booking_row.locator(".chip-confirmed").inner_text() == "Confirmed"
        shot(page, "7-learner-bookings")
        assert learner_errors == []

        booking = Booking.objects.get(learner=learner)
        assert booking.session_id == session.pk and booking.state == BookingState.CONFIRMED

        # 3. Back on the mentor's still-open tab: a reload shows the seat taken.
        mentor_page.reload()
        row = mentor_page.locator(".session-row", has_text=TITLE)
        assert "1/2 seats taken" in row.inner_text()
        shot(mentor_page, "8-mentor-seat-taken")
        assert mentor_errors == []
    finally:
        if learner_context is not None:
            learner_context.close()
        mentor_context.close()
