"""Offline, the dashboards are drawn from the IndexedDB store (offline-views.js): a learner's home,
bookings (upcoming and past), one booking and requests, and a mentor's home, with times in the
user's own zone, an offline banner, and changes queued in the outbox shown at once.

The module is driven directly: the page loads the store as offline.js does (a pull from the
server), the connection is cut, and each route is drawn in place (history.pushState)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.marketplace.models import Booking, BookingState, Domain, SessionRequest, SessionState
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import PASSWORD, make_user, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
IST = ZoneInfo("Asia/Kolkata")
TOPIC = "Review <em>my</em> portfolio"  # markup in user text must come out as text


def shown(value: datetime, *, year: bool = False) -> str:
    """How the server's `local_time` tag (and the offline views) write a time in IST."""
    local = value.astimezone(IST)
    fmt = "%a %-d %b %Y, %-I:%M %p" if year else "%a %-d %b, %-I:%M %p"
    return f"{local.strftime(fmt).replace('AM', 'am').replace('PM', 'pm')} IST"


def cast(label: str):
    mentor = make_user(f"maya.{label}@example.com", Role.MENTOR, full_name="Maya Mentor", timezone="Europe/London")
    profile = MentorProfile.objects.create(
        user=mentor, headline="Django consultant", bio="Ten years of Django.", approval_state=ApprovalState.APPROVED
    )
    profile.domains.set([Domain.objects.order_by("position").first()])
    learner = make_user(f"lena.{label}@example.com", Role.LEARNER, full_name="Lena Learner", timezone="Asia/Kolkata")
    LearnerProfile.objects.create(user=learner)
    upcoming = a_session(mentor, title="Django deep dive", hours_ahead=50, minutes=90, price=49_900)
    past = a_session(mentor, title="Pandas basics", hours_ahead=-72, state=SessionState.COMPLETED)
    coming = Booking.objects.create(
        session=upcoming, learner=learner, state=BookingState.CONFIRMED, confirmed_at=timezone.now()
    )
    done = Booking.objects.create(session=past, learner=learner, state=BookingState.CONFIRMED, attended=True)
    asked = upcoming.starts_at + timedelta(days=1)
    request = SessionRequest.objects.create(
        learner=learner,
        mentor=mentor,
        topic=TOPIC,
        description="Two Django apps.\nMostly the models.",
        preferred_times=[asked.isoformat()],
        duration_minutes=60,
        budget_paise=30_000,
        expires_at=timezone.now() + timedelta(hours=40),
    )
    return learner, mentor, coming, done, request


def sign_in(browser, live_server, user, viewport):
    # The browser's own zone is New York: what the views show must follow the profile's zone.
    context = browser.new_context(viewport=viewport, timezone_id="America/New_York", reduced_motion="reduce")
    # Django's live server speaks WSGI only: answer the live-updates socket with a silent one.
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
    page.evaluate("document.querySelectorAll('#toasts .toast').forEach((t) => t.remove())")  # clear screenshots
    return context, page, errors


# base.html loads the sync scripts and app.js starts offline.js; the test takes that store (or
# starts it) and makes sure a real pull has filled it.
LOAD_STORE = """async () => {
  if (!self.PeerLearnSync) throw new Error("sync-engine.js is not loaded");
  const offline = await import("/static/js/offline.js");
  const db = offline.database() || (await offline.start(() => {}));
  await offline.settled(); // app.js's own first sync may still be under way
  await self.PeerLearnSync.pull(db);
  const views = await import("/static/js/offline-views.js");
  window.peerlearnTest = { db, views, Sync: self.PeerLearnSync };
  return (await db.getAll("bookings")).length;
}"""

# app.js also redraws on the "offline" event: whichever render starts last wins, so wait for the
# drawn view rather than for this call's own answer.
DRAW = """async (path) => {
  history.pushState({}, "", path);
  delete document.getElementById("main").dataset.offlineView;
  if (await window.peerlearnTest.views.renderOffline(window.peerlearnTest.db)) return true;
  for (let i = 0; i < 50 && !document.getElementById("main").dataset.offlineView; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !!document.getElementById("main").dataset.offlineView;
}"""

QUEUE = """async (mutation) => {
  const { db, Sync } = window.peerlearnTest;
  await Sync.enqueue(db, mutation);
  // What offline.js tells the page after every outbox change.
  document.dispatchEvent(new CustomEvent("peerlearn:outbox", { detail: { items: await Sync.outbox(db) } }));
}"""

# Resolves once nothing in the outbox is pending (offline.js tells the page after every sync).
SETTLED = """async () => {
  const { db, Sync } = window.peerlearnTest;
  for (;;) {
    const next = new Promise((resolve) => document.addEventListener("peerlearn:outbox", resolve, { once: true }));
    if (!(await Sync.outbox(db)).some((item) => item.state === "pending")) return;
    await next;
  }
}"""


def load_store(page, live_server) -> int:
    """Fills the store with a pull; returns how many bookings it holds."""
    if not page.evaluate("!!self.PeerLearnSync"):
        page.add_script_tag(url=f"{live_server.url}/static/vendor/idb/idb.umd.js")
        page.add_script_tag(url=f"{live_server.url}/static/js/sync-engine.js")
    return page.evaluate(LOAD_STORE)


def draw(page, path: str) -> str:
    assert page.evaluate(DRAW, path) is True
    return page.locator("#main").inner_text()


def offline_banner(page) -> str:
    return page.locator("[data-offline-banner]").inner_text()


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_learner_pages_drawn_from_the_store(browser, live_server, screenshot_dir, viewport, label):
    seed_domains()
    learner, mentor, coming, done, request = cast(label)
    context, page, errors = sign_in(browser, live_server, learner, viewport)
    try:
        # The server's page for one booking, which the offline view mirrors.
        page.goto(f"{live_server.url}/dashboard/learner/bookings/{coming.pk}/")
        assert shown(coming.session.starts_at, year=True) in page.locator("#main").inner_text()
        assert page.get_by_role("link", name=re.compile("Add to calendar")).is_visible()
        page.screenshot(path=screenshot_dir / f"offline-online-booking-{label}.png", full_page=True)

        assert load_store(page, live_server) == 2
        # Online, the server's page stays as it is.
        assert page.evaluate(DRAW, "/dashboard/learner/") is False
        assert page.locator("[data-offline-banner]").count() == 0

        context.set_offline(True)
        page.evaluate("window.peerlearnTest.views.start(window.peerlearnTest.db)")

        # Home: upcoming bookings with their state, open requests, a way to all bookings.
        home = draw(page, "/dashboard/learner/")
        assert offline_banner(page).startswith("You're offline — showing what was synced just now")
        assert page.title() == "Home · PeerLearn"
        upcoming = page.get_by_role("region", name="Upcoming sessions")
        row = upcoming.get_by_role("listitem").filter(has_text="Django deep dive")
        assert row.locator(".chip-confirmed").inner_text() == "Confirmed"
        assert shown(coming.session.starts_at) in row.inner_text()
        assert "Pandas basics" not in upcoming.inner_text()
        assert row.get_by_role("link", name="Django deep dive").get_attribute("href") == (
            f"/dashboard/learner/bookings/{coming.pk}/"
        )
        requests = page.get_by_role("region", name="Open requests")
        assert TOPIC in requests.inner_text() and "Waiting for the mentor" in requests.inner_text()
        assert page.locator("#main em").count() == 0  # the topic's markup stayed text
        assert upcoming.get_by_role("link", name="All bookings").get_attribute("href") == "/dashboard/learner/bookings/"
        assert "1.0" in home  # hours learned from the completed session
        page.screenshot(path=screenshot_dir / f"offline-learner-home-{label}.png", full_page=True)

        # Bookings: upcoming, then past (?when=past), each row opening its booking.
        bookings = draw(page, "/dashboard/learner/bookings/")
        assert "Django deep dive" in bookings and "Pandas basics" not in bookings
        assert (
            page.locator(".bottom-nav a[aria-current=page], .sidebar-nav a[aria-current=page]")
            .first.inner_text()
            .strip()
            == "Bookings"
        )
        past = draw(page, "/dashboard/learner/bookings/?when=past")
        assert "Pandas basics" in past and "Django deep dive" not in past
        past_row = page.locator(".booking-row", has_text="Pandas basics")
        assert past_row.locator(".chip-confirmed").count() == 1
        assert past_row.get_by_role("link").get_attribute("href") == f"/dashboard/learner/bookings/{done.pk}/"
        assert page.locator(".tab[aria-current=page]").inner_text().strip() == "Past"
        page.screenshot(path=screenshot_dir / f"offline-learner-bookings-past-{label}.png", full_page=True)

        # One booking: the session, its time with the zone, what cancelling gives back, a form.
        detail = draw(page, f"/dashboard/learner/bookings/{coming.pk}/")
        assert page.title() == "Django deep dive · Booking · PeerLearn"
        assert shown(coming.session.starts_at, year=True) in detail
        assert "with Maya Mentor · Django consultant" in detail and "1 h 30 min" in detail and "₹499" in detail
        assert "The room opens 10 minutes before the start" in detail
        assert "Cancel now and get ₹499 back" in detail
        assert page.locator("#main a[href$='.ics']").count() == 0  # the invite needs the server
        form = page.locator(f"#main form[action='/bookings/{coming.pk}/cancel/']")
        assert form.get_attribute("method") == "post"
        assert form.locator("input[name=csrfmiddlewaretoken]").input_value() != ""
        page.screenshot(path=screenshot_dir / f"offline-learner-booking-{label}.png", full_page=True)

        # A cancel queued offline shows at once, here and in the lists.
        page.evaluate(QUEUE, {"name": "booking.cancel", "args": {"id": coming.pk}, "label": "Cancel booking"})
        page.get_by_text("Cancellation waiting to sync").wait_for()
        assert page.locator("#main .chip-waiting").inner_text().strip() == "Waiting to sync"
        assert form.count() == 0
        page.screenshot(path=screenshot_dir / f"offline-learner-booking-queued-{label}.png", full_page=True)
        draw(page, "/dashboard/learner/bookings/")
        queued_row = page.locator(".booking-row", has_text="Django deep dive")
        assert queued_row.locator(".chip-waiting").inner_text().strip() == "Waiting to sync"
        page.screenshot(path=screenshot_dir / f"offline-learner-bookings-{label}.png", full_page=True)

        # Requests: the synced one with its state, and one sent offline waiting to go.
        page.evaluate(
            QUEUE,
            {
                "name": "request.create",
                "label": "Request: Mock interview",
                "args": {
                    "mentor": mentor.pk,
                    "topic": "Mock interview",
                    "description": "",
                    "preferred_times": [(coming.session.starts_at + timedelta(days=2)).isoformat()],
                    "duration_minutes": 45,
                    "budget_paise": 0,
                },
            },
        )
        listing = draw(page, "/dashboard/learner/requests/")
        sending = page.locator(".request-card", has_text="Mock interview")
        assert sending.locator(".chip-waiting").inner_text().strip() == "Waiting to send"
        assert "to Maya Mentor" in sending.inner_text() and "45 min · budget ₹0 (free)" in sending.inner_text()
        card = page.locator(f"#request-{request.pk}")
        assert card.locator(".chip-pending").inner_text() == "Waiting for the mentor"
        assert TOPIC in card.inner_text() and "Two Django apps.\nMostly the models." in card.inner_text()
        assert shown(datetime.fromisoformat(request.preferred_times[0])) in listing
        assert card.locator(f"form[action='/dashboard/learner/requests/{request.pk}/withdraw/']").count() == 1
        page.screenshot(path=screenshot_dir / f"offline-learner-requests-{label}.png", full_page=True)

        draw(page, "/dashboard/learner/")
        assert "Waiting to send" in page.get_by_role("region", name="Open requests").inner_text()

        # Pages the store does not hold are left as they are.
        page.evaluate("history.pushState({}, '', '/dashboard/learner/progress/')")
        assert page.evaluate("window.peerlearnTest.views.renderOffline(window.peerlearnTest.db)") is False

        # Nothing left the device while offline.
        coming.refresh_from_db()
        assert coming.state == BookingState.CONFIRMED

        # Back online: offline.js replays the outbox, and the drawn page offers the server's.
        context.set_offline(False)
        page.get_by_role("button", name="Refresh").wait_for()
        assert "You're back online." in offline_banner(page)
        page.evaluate(SETTLED)
        assert errors == []
    finally:
        context.close()
    coming.refresh_from_db()
    assert coming.state == BookingState.CANCELLED and coming.refund_paise == 49_900


def test_mentor_home_drawn_from_the_store(browser, live_server, screenshot_dir):
    seed_domains()
    learner, mentor, coming, _, request = cast("mentor")
    mentor.timezone = "Asia/Kolkata"
    mentor.save(update_fields=["timezone"])
    now = timezone.now()
    hours_ahead = 0.5 if (now + timedelta(hours=0.5)).astimezone(IST).date() == now.astimezone(IST).date() else -1.5
    today = a_session(mentor, title="Office hours", hours_ahead=hours_ahead, capacity=4)  # today in India
    Booking.objects.create(session=today, learner=learner, state=BookingState.CONFIRMED)
    context, page, errors = sign_in(browser, live_server, mentor, DESKTOP)
    try:
        assert load_store(page, live_server) == 0  # a mentor's store holds sessions and requests
        context.set_offline(True)
        text = draw(page, "/dashboard/mentor/")
        assert offline_banner(page).startswith("You're offline")
        pending = page.get_by_role("region", name="Pending requests")
        assert TOPIC in pending.inner_text() and "from Lena Learner · 1 h · ₹300" in pending.inner_text()
        accept = pending.locator(f"form[action='/dashboard/mentor/requests/{request.pk}/accept/']")
        assert accept.locator("input[name=starts_at]").input_value() == request.preferred_times[0]
        assert shown(datetime.fromisoformat(request.preferred_times[0])) in accept.inner_text()
        todays = page.get_by_role("region", name="Today")
        assert "Office hours" in todays.inner_text() and "1/4 booked" in todays.inner_text()
        coming_up = page.get_by_role("region", name="Coming up")
        assert "Django deep dive" in coming_up.inner_text() and "₹499 · 1/1 booked" in coming_up.inner_text()
        assert shown(coming.session.starts_at) in text
        page.screenshot(path=screenshot_dir / "offline-mentor-home-desktop.png", full_page=True)

        # An answer queued offline replaces the form at once.
        page.evaluate("window.peerlearnTest.views.start(window.peerlearnTest.db)")
        page.evaluate(
            QUEUE,
            {
                "name": "request.answer",
                "label": "Accept request",
                "args": {"request": request.pk, "action": "accept", "starts_at": request.preferred_times[0]},
            },
        )
        pending.locator(".chip-waiting").wait_for()
        assert accept.count() == 0
        assert errors == []
    finally:
        context.close()


def test_holds_refunds_and_counter_offers_drawn_from_the_store(browser, live_server, screenshot_dir):
    seed_domains()
    learner, mentor, coming, _, request = cast("states")
    until = timezone.now() + timedelta(minutes=12)
    held = Booking.objects.create(
        session=a_session(mentor, title="Paid clinic", hours_ahead=80, price=29_900),
        learner=learner,
        state=BookingState.HELD,
        hold_expires_at=until,
    )
    coming.state, coming.cancelled_at, coming.refund_paise = BookingState.CANCELLED, timezone.now(), 49_900
    coming.save()
    offer = (timezone.now() + timedelta(days=4)).replace(microsecond=0)
    SessionRequest.objects.filter(pk=request.pk).update(
        state="countered", counter_starts_at=offer, counter_price_paise=59_900, version=2
    )
    context, page, errors = sign_in(browser, live_server, learner, DESKTOP)
    try:
        assert load_store(page, live_server) == 3
        context.set_offline(True)

        detail = draw(page, f"/dashboard/learner/bookings/{held.pk}/")
        assert page.locator("#main .chip-held").first.inner_text() == "Awaiting payment"
        assert f"Complete payment by {shown(until)} to confirm your seat" in detail
        assert "You have not paid, so nothing is charged." in detail

        cancelled = draw(page, f"/dashboard/learner/bookings/{coming.pk}/")
        assert "₹499 refunded to how you paid." in cancelled
        assert page.locator("#main form").count() == 0
        page.screenshot(path=screenshot_dir / "offline-learner-booking-cancelled-desktop.png", full_page=True)

        draw(page, "/dashboard/learner/requests/")
        card = page.locator(f"#request-{request.pk}")
        assert card.locator(".chip-countered").count() == 1
        assert f"Maya proposed {shown(offer)} for ₹599." in card.inner_text()
        # One form per answer, each saying which: a queued form is read without its button.
        answers = card.locator(f"form[action='/dashboard/learner/requests/{request.pk}/answer/']")
        assert [answers.nth(i).locator("input[name=answer]").input_value() for i in range(2)] == ["accept", "decline"]
        assert answers.first.locator("input[name=version]").input_value() == "2"
        page.screenshot(path=screenshot_dir / "offline-learner-requests-countered-desktop.png", full_page=True)

        bookings = draw(page, "/dashboard/learner/bookings/")
        assert "Paid clinic" in bookings
        hold = page.locator(".booking-row", has_text="Paid clinic").locator(".hold-note").inner_text()
        assert " ".join(hold.split()) == f"Complete payment by {shown(until)}"
        assert "Django deep dive" not in bookings  # cancelled: past
        assert errors == []
    finally:
        context.close()
