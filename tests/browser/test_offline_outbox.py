"""Offline end to end in Chromium, with the real service worker and sync API: a learner browses
their bookings offline, cancels one, sends a request and books a session while offline ("3
changes waiting"); meanwhile the last seat of that session goes to someone else. Back online,
the outbox replays once: the cancel and the request are applied, the booking is refused with
its reason and a next step, and the server holds each change exactly once."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.marketplace import services
from backend.marketplace.models import AvailabilityWindow, Booking, BookingState, Domain, SessionRequest
from sync.models import SyncMutation
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import PASSWORD, make_user, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
IST = ZoneInfo("Asia/Kolkata")
PAGES_CACHED = """async (count) => {
  const names = (await caches.keys()).filter((name) => name.startsWith("pages-"));
  let total = 0;
  for (const name of names) total += (await (await caches.open(name)).keys()).length;
  return total >= count;
}"""


def cast(label: str):
    learner = make_user(f"lena.{label}@example.com", Role.LEARNER, full_name="Lena Learner", timezone="Asia/Kolkata")
    LearnerProfile.objects.create(user=learner)
    rival = make_user(f"rita.{label}@example.com", Role.LEARNER, full_name="Rita Rival")
    LearnerProfile.objects.create(user=rival)
    mentor = make_user(f"maya.{label}@example.com", Role.MENTOR, full_name="Maya Mentor", timezone="Asia/Kolkata")
    profile = MentorProfile.objects.create(
        user=mentor, headline="Django consultant", bio="Ten years of Django.", approval_state=ApprovalState.APPROVED
    )
    profile.domains.set([Domain.objects.order_by("position").first()])
    for weekday in range(7):
        AvailabilityWindow.objects.create(mentor=mentor, weekday=weekday, start_time=time(8), end_time=time(22))
    booked = a_session(mentor, title="Kubernetes office hours", hours_ahead=30, capacity=3)
    booking = services.booking_create(learner=learner, session=booked)
    last_seat = a_session(mentor, title="Postgres tuning clinic", hours_ahead=60, capacity=1)
    return learner, rival, mentor, booking, last_seat


def badge(page) -> str:
    return page.locator("#outbox-badge").inner_text()


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_changes_made_offline_replay_once_with_a_refusal_explained(
    browser, live_server, screenshot_dir, viewport, label
):
    seed_domains()
    learner, rival, mentor, booking, last_seat = cast(label)
    phone = label == "phone"
    context = browser.new_context(
        viewport=viewport, timezone_id="Asia/Kolkata", reduced_motion="reduce", is_mobile=phone, has_touch=phone
    )
    context.route_web_socket(re.compile(r"/ws/updates/$"), lambda socket: None)  # live_server has no sockets
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    try:
        # Online: sign in and open the pages to use later; the store fills from /api/sync/pull.
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("E-mail").fill(learner.email)
        page.locator('input[name="password"]').fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard/learner/")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        for path in ("/dashboard/learner/bookings/", f"/mentors/{mentor.pk}/", f"/sessions/{last_seat.pk}/"):
            page.goto(f"{live_server.url}{path}")
        page.wait_for_function(PAGES_CACHED, arg=4)
        page.goto(f"{live_server.url}/dashboard/learner/")
        page.locator("[data-last-synced]", has_text="Synced just now").wait_for()

        context.set_offline(True)

        # Bookings and a booking's detail, drawn from the store.
        page.goto(f"{live_server.url}/dashboard/learner/bookings/")
        page.get_by_text("You're offline — showing what was synced").wait_for()
        page.get_by_role("link", name="Kubernetes office hours").first.click()
        page.wait_for_url(f"**/dashboard/learner/bookings/{booking.pk}/")
        page.get_by_text("You're offline — showing what was synced").wait_for()
        page.screenshot(path=screenshot_dir / f"outbox-booking-offline-{label}.png", full_page=True)

        # 1. Cancel it.
        page.get_by_role("button", name="Cancel booking").click()
        page.wait_for_function("document.querySelector('#outbox-badge')?.textContent === '1 change waiting'")
        page.get_by_text("Cancellation waiting to sync").wait_for()

        # 2. Send a request from the mentor's profile (the page the worker kept).
        page.goto(f"{live_server.url}/mentors/{mentor.pk}/")
        day = (timezone.now() + timedelta(days=3)).astimezone(IST).date()
        wanted = datetime.combine(day, time(18), tzinfo=IST)
        page.get_by_label("What do you want help with?").fill("Plan my Postgres upgrade")
        page.get_by_label("First choice").fill(wanted.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Send request").click()
        page.wait_for_function("document.querySelector('#outbox-badge')?.textContent === '2 changes waiting'")

        # 3. Book the last seat of a session, which someone else takes meanwhile.
        page.goto(f"{live_server.url}/sessions/{last_seat.pk}/")
        page.get_by_role("button", name="Book this session").click()
        page.wait_for_function("document.querySelector('#outbox-badge')?.textContent === '3 changes waiting'")
        page.screenshot(path=screenshot_dir / f"outbox-waiting-{label}.png", full_page=True)
        page.locator("#outbox-badge").click()
        panel = page.locator("#outbox-panel")
        panel.get_by_text("Cancel booking").wait_for()
        assert panel.get_by_text("Request: Plan my Postgres upgrade").is_visible()
        assert panel.locator(".chip", has_text="Waiting").count() == 3
        page.screenshot(path=screenshot_dir / f"outbox-panel-offline-{label}.png")
        panel.get_by_role("button", name="Close").click()
        services.booking_create(learner=rival, session=last_seat)
        assert Booking.objects.get(pk=booking.pk).state == BookingState.CONFIRMED  # nothing sent yet

        # Back online: the outbox replays, in order, once.
        context.set_offline(False)
        page.wait_for_function("document.querySelector('#outbox-badge')?.textContent === '1 not applied'")
        page.get_by_text("2 changes made offline were applied.").wait_for()
        assert Booking.objects.get(pk=booking.pk).state == BookingState.CANCELLED
        assert SessionRequest.objects.filter(learner=learner, topic="Plan my Postgres upgrade").count() == 1
        sent = SessionRequest.objects.get(learner=learner)
        assert [t for t in sent.preferred_times] == [wanted.astimezone(ZoneInfo("UTC")).isoformat()]
        assert not Booking.objects.filter(session=last_seat, learner=learner).exists()
        outcomes = list(SyncMutation.objects.order_by("mutation_id").values_list("name", "outcome", "error_code"))
        assert outcomes == [
            ("booking.cancel", "applied", ""),
            ("request.create", "applied", ""),
            ("booking.create", "refused", "session_full"),
        ]

        page.locator("#outbox-badge").click()
        refused = panel.locator(".outbox-item-refused")
        assert "This session is full" in refused.inner_text()
        assert (
            refused.get_by_role("link", name="Join the waitlist").get_attribute("href") == f"/sessions/{last_seat.pk}/"
        )
        page.screenshot(path=screenshot_dir / f"outbox-refused-{label}.png")
        refused.get_by_role("button", name="Dismiss").click()
        page.wait_for_function("document.querySelector('#outbox-badge')?.hidden === true")

        # Another replay (the "online" event again) changes nothing on the server.
        page.evaluate("dispatchEvent(new Event('online'))")
        page.wait_for_timeout(500)
        assert SyncMutation.objects.count() == 3
        assert SessionRequest.objects.filter(learner=learner).count() == 1

        # The UI follows the server: the bookings page lists the booking as cancelled.
        page.goto(f"{live_server.url}/dashboard/learner/bookings/?when=past")
        page.goto(f"{live_server.url}/dashboard/learner/bookings/{booking.pk}/")
        page.get_by_text("Cancelled").first.wait_for()
        assert errors == []
    finally:
        context.close()
