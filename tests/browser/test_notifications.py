"""Notifications in a real browser: the bell and a toast follow the updates socket live (daphne,
as in production); the notifications page is drawn from the offline store and a notification
marked read offline reaches the server once the connection is back; the push switch on the
profile page asks for permission only when clicked and says when push cannot work here.

Chromium cannot create a real push subscription here (it has to reach the browser vendor's push
service, and the network is closed), so the server's side of subscribing is exercised through
the same API calls the page makes, with a synthetic subscription."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from backend.marketplace.models import Booking, BookingState
from backend.notifications.models import Notification
from push.models import PushSubscription
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_live_updates import DaphneBrowserCase, cast, record_update_frames, wait_for_frame
from tests.browser.test_offline_views import DRAW, SETTLED, load_store, sign_in
from tests.conftest import PASSWORD, make_user


def bell_count(page) -> str:
    return page.locator("[data-bell-count]").inner_text()


@pytest.mark.browser
class BellLiveTest(DaphneBrowserCase):
    def test_a_mentors_reschedule_rings_the_learners_bell(self):
        mentor, learner = cast("bell")
        session = a_session(mentor, title="Bell ringing 101")
        Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
        token = str(RefreshToken.for_user(mentor).access_token)

        context = self.browser.new_context(viewport=PHONE)
        try:
            page = context.new_page()
            page.goto(f"{self.live_server_url}/login/")
            page.get_by_label("E-mail").fill(learner.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/dashboard/learner/")
            frames = record_update_frames(page)
            page.reload()
            wait_for_frame(page, frames, "hello")
            assert page.locator("[data-bell-badge]").is_hidden()

            response = page.request.post(
                f"{self.live_server_url}/api/mentor/sessions/{session.pk}/reschedule/",
                headers={"Authorization": f"Bearer {token}"},
                data={"starts_at": (session.starts_at + timedelta(days=1)).isoformat()},
            )
            assert response.status == 200, response.text()
            toast = page.locator(".toast-notification", has_text="New time: Bell ringing 101")
            toast.wait_for(timeout=10000)
            assert toast.get_by_role("link").get_attribute("href") == "/dashboard/learner/bookings/"
            page.wait_for_function("document.querySelector('[data-bell-count]').textContent === '1'", timeout=15_000)
            assert page.locator("[data-bell-label]").inner_text() == "1 unread notification"
            # One toast per change: the old per-event toast is gone.
            assert page.locator(".toast", has_text="was rescheduled").count() == 0

            # The menu lists it without a reload; opening the menu marks nothing read.
            page.locator(".bell > summary").click()
            item = page.locator(".bell-item.is-unread", has_text="New time: Bell ringing 101")
            item.wait_for()
            page.screenshot(path=self.artefacts / "bell-open-phone.png")
            notification = Notification.objects.get(user=learner)
            assert notification.read_at is None
            page.keyboard.press("Escape")
            assert page.locator(".bell").get_attribute("open") is None

            # Another tab (here: the API) marks it read: the count drops live.
            frames.clear()
            response = page.request.post(
                f"{self.live_server_url}/api/notifications/read/",
                headers={"Authorization": f"Bearer {str(RefreshToken.for_user(learner).access_token)}"},
                data={"ids": [notification.pk]},
            )
            assert response.status == 200, response.text()
            page.wait_for_function("document.querySelector('[data-bell-count]').textContent === '0'", timeout=10000)
            assert page.locator("[data-bell-badge]").is_hidden()
        finally:
            context.close()

    @pytest.fixture(autouse=True)
    def _artefacts(self, screenshot_dir):
        self.artefacts = screenshot_dir


pytestmark_db = pytest.mark.django_db(transaction=True)


def notifications_for(user, titles: list[str]) -> list[Notification]:
    return Notification.objects.bulk_create(
        Notification(
            user=user, event="booking.confirmed", category="bookings", title=t, body=f"About {t}", url="/dashboard/"
        )
        for t in titles
    )


@pytest.mark.browser
@pytestmark_db
@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_notifications_page_works_offline_and_marks_read_later(
    browser, live_server, screenshot_dir, viewport, label
):
    learner = make_user(f"nora.{label}@example.com", "learner", full_name="Nora Learner", timezone="Asia/Kolkata")
    first, second = notifications_for(learner, ["Seat confirmed: SQL", "Tip <b>received</b>"])
    context, page, errors = sign_in(browser, live_server, learner, viewport)
    try:
        page.goto(f"{live_server.url}/dashboard/notifications/")
        assert page.locator(".notification-row").count() == 2
        load_store(page, live_server)  # the visit's sync, finished
        assert page.evaluate("window.peerlearnTest.db.count('notifications')") == 2

        context.set_offline(True)
        page.evaluate("window.peerlearnTest.views.start(window.peerlearnTest.db)")
        assert page.evaluate(DRAW, "/dashboard/notifications/") is True
        main = page.locator("#main")
        assert "Last synced just now" in main.inner_text()
        assert "You're offline" in page.locator("[data-offline-banner]").inner_text()
        assert "Tip <b>received</b>" in main.inner_text()  # markup stays text
        assert main.locator(".notification-row.is-unread").count() == 2
        page.screenshot(path=screenshot_dir / f"offline-notifications-{label}.png", full_page=True)

        # Marked read offline: queued as "notifications.read", shown as waiting.
        row = page.locator(f"#notification-{first.pk}")
        row.get_by_role("button", name=re.compile("Mark read")).click()
        row.locator(".chip-waiting").wait_for()
        assert "waiting to sync" in row.inner_text()
        assert page.locator(f"#notification-{second.pk}.is-unread").count() == 1
        outbox = page.evaluate("window.peerlearnTest.Sync.outbox(window.peerlearnTest.db)")
        assert [(i["name"], i["args"]) for i in outbox] == [("notifications.read", {"ids": [first.pk]})]
        first.refresh_from_db()
        assert first.read_at is None

        # The unread filter counts what is still unread here.
        assert page.evaluate(DRAW, "/dashboard/notifications/?unread=1") is True
        assert page.locator(".tab[aria-current=page] .tab-count").inner_text() == "1"

        context.set_offline(False)
        page.evaluate(SETTLED)
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.read_at is not None and second.read_at is None
        assert not [e for e in errors if "favicon" not in e]
    finally:
        context.close()


def synthetic_keys() -> dict:
    """What a browser's PushSubscription.toJSON() carries: its P-256 public key and auth secret."""
    import base64
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return {"p256dh": b64(public), "auth": b64(os.urandom(16))}


# --- the push switch ----------------------------------------------------------------------------
COUNT_PERMISSION_REQUESTS = """
window.permissionRequests = 0;
if (window.Notification) {
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => { window.permissionRequests += 1; return ask(...args); };
}
"""


def profile_page(browser, live_server, user, *, init: str = ""):
    context, page, errors = sign_in(browser, live_server, user, DESKTOP)
    context.add_init_script(COUNT_PERMISSION_REQUESTS + init)
    page.goto(f"{live_server.url}/profile/")
    page.wait_for_function("document.querySelector('[data-push-settings]').dataset.pushState", timeout=10000)
    return context, page


@pytest.mark.browser
@pytestmark_db
def test_push_switch_says_when_the_browser_cannot_push(browser, live_server, screenshot_dir):
    learner = make_user("pia.learner@example.com", "learner", full_name="Pia Learner")
    context, page = profile_page(browser, live_server, learner, init="delete window.PushManager;")
    try:
        box = page.locator("[data-push-settings]")
        assert box.get_attribute("data-push-state") == "unsupported"
        assert "can't receive push notifications" in box.inner_text()
        assert page.get_by_label("Push notifications on this device").is_disabled()
        assert page.evaluate("window.permissionRequests") == 0
    finally:
        context.close()


@pytest.mark.browser
@pytestmark_db
def test_push_switch_explains_a_blocked_permission(browser, live_server, screenshot_dir):
    learner = make_user("pia.denied@example.com", "learner", full_name="Pia Learner")
    init = "Object.defineProperty(Notification, 'permission', { get: () => 'denied' });"
    context, page = profile_page(browser, live_server, learner, init=init)
    try:
        box = page.locator("[data-push-settings]")
        assert box.get_attribute("data-push-state") == "denied"
        assert "blocked for PeerLearn" in box.inner_text()
        assert page.get_by_label("Push notifications on this device").is_disabled()
        page.screenshot(path=screenshot_dir / "profile-push-denied-desktop.png", full_page=True)
    finally:
        context.close()


@pytest.mark.browser
@pytestmark_db
def test_push_permission_is_asked_only_on_click(browser, live_server):
    learner = make_user("pia.click@example.com", "learner", full_name="Pia Learner")
    context, page = profile_page(browser, live_server, learner)
    try:
        box = page.locator("[data-push-settings]")
        assert page.evaluate("window.permissionRequests") == 0  # loading the page asked nothing
        if box.get_attribute("data-push-state") != "off":
            pytest.skip(f"the service worker is not running here ({box.get_attribute('data-push-state')})")
        context.grant_permissions(["notifications"])
        page.get_by_label("Push notifications on this device").check()
        page.wait_for_function(
            "!['busy', 'off'].includes(document.querySelector('[data-push-settings]').dataset.pushState)",
            timeout=20000,
        )
        assert page.evaluate("window.permissionRequests") == 1
        # No push service is reachable from here, so subscribing fails, and the page says so.
        assert box.get_attribute("data-push-state") in ("error", "on")
    finally:
        context.close()


@pytest.mark.browser
@pytestmark_db
def test_the_subscription_calls_the_switch_makes(browser, live_server):
    """POST and DELETE /api/push/subscriptions/ with the page's session and CSRF token, as
    push-settings.js sends them, with a synthetic PushSubscription.toJSON()."""
    learner = make_user("pia.api@example.com", "learner", full_name="Pia Learner")
    context, page, _ = sign_in(browser, live_server, learner, DESKTOP)
    try:
        page.goto(f"{live_server.url}/profile/")
        csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
        headers = {"X-CSRFToken": csrf, "Content-Type": "application/json"}
        config = page.request.get(f"{live_server.url}/api/push/config/")
        assert config.status == 200 and "public_key" in config.json()
        endpoint = "https://93.184.216.34/push/send/abc123"  # a public address: no name to resolve offline
        subscription = {"endpoint": endpoint, "expirationTime": None, "keys": synthetic_keys()}
        created = page.request.post(f"{live_server.url}/api/push/subscriptions/", headers=headers, data=subscription)
        assert created.status == 201, created.text()
        assert PushSubscription.objects.filter(user=learner, endpoint=endpoint).exists()
        removed = page.request.delete(
            f"{live_server.url}/api/push/subscriptions/", headers=headers, data={"endpoint": endpoint}
        )
        assert removed.status == 204, removed.text()
        assert not PushSubscription.objects.filter(user=learner).exists()
    finally:
        context.close()


UPGRADE_FROM_V1 = """async () => {
  // A device that synced before notifications existed: version 1's stores, a change waiting.
  const name = self.PeerLearnSync.dbName("987654");
  const old = await idb.openDB(name, 1, {
    upgrade(db) {
      for (const store of ["bookings", "sessions", "requests"]) db.createObjectStore(store, { keyPath: "id" });
      db.createObjectStore("meta");
      db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
    },
  });
  await old.put("bookings", { id: 7, state: "confirmed" });
  await old.add("outbox", { name: "booking.cancel", args: { id: 7 }, state: "pending", mutationId: null });
  old.close();
  const db = await self.PeerLearnSync.open("987654");
  const result = {
    version: db.version,
    stores: [...db.objectStoreNames].sort(),
    outbox: (await db.getAll("outbox")).map((item) => item.name),
    bookings: await db.count("bookings"),
  };
  db.close();
  await idb.deleteDB(name);
  return result;
}"""


@pytest.mark.browser
@pytestmark_db
def test_a_version_1_store_upgrades_and_keeps_its_outbox(browser, live_server):
    learner = make_user("uma.upgrade@example.com", "learner", full_name="Uma Learner")
    context, page, _ = sign_in(browser, live_server, learner, DESKTOP)
    try:
        result = page.evaluate(UPGRADE_FROM_V1)
        assert result == {
            "version": 2,
            "stores": ["bookings", "meta", "notifications", "outbox", "requests", "sessions"],
            "outbox": ["booking.cancel"],
            "bookings": 1,
        }
    finally:
        context.close()
