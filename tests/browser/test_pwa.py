"""The installable, offline-capable app in Chromium: installability, the service worker's caches
offline, per-user caches wiped at sign-out, Background Sync, and the "update available" prompt."""

from __future__ import annotations

import re

import pytest

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.core import pwa
from backend.marketplace import services
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE
from tests.conftest import PASSWORD, make_user, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CACHE_NAMES = "caches.keys()"
USER_CACHES = "async () => (await caches.keys()).filter((name) => /^(pages|api)-/.test(name))"


def cast(label: str):
    learner = make_user(f"lena.{label}@example.com", Role.LEARNER, full_name="Lena Learner")
    LearnerProfile.objects.create(user=learner)
    mentor = make_user(f"maya.{label}@example.com", Role.MENTOR, full_name="Maya Mentor")
    MentorProfile.objects.create(
        user=mentor, headline="Platform engineer", bio="Ten years of on-call.", approval_state=ApprovalState.APPROVED
    )
    session = a_session(mentor, title="Kubernetes office hours", hours_ahead=30)
    services.booking_create(learner=learner, session=session)
    return learner


def new_context(browser, viewport, *, phone: bool):
    context = browser.new_context(
        viewport=viewport, timezone_id="Asia/Kolkata", reduced_motion="reduce", is_mobile=phone, has_touch=phone
    )
    # Django's live_server speaks WSGI only; answer /ws/updates/ with a silent socket (see
    # test_mentor_publish_flow.py) so that a console error means something.
    context.route_web_socket(re.compile(r"/ws/updates/$"), lambda socket: None)
    return context


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    return errors


def worker_ready(page) -> None:
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def version_of_worker() -> str:
    return re.search(r'const VERSION = "(\w+)"', pwa.render_service_worker()).group(1)


def test_chromium_finds_the_app_installable(browser, live_server, tmp_path, screenshot_dir):
    # Chromium never offers installation in an off-the-record profile, which is what
    # browser.new_context() creates; a persistent profile is an ordinary one.
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport=DESKTOP
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        worker_ready(page)
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getAppManifest")["errors"] == []
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []

        # The browser offered installation (beforeinstallprompt): our button shows.
        install = page.get_by_role("button", name="Install app")
        install.wait_for()
        page.screenshot(path=screenshot_dir / "pwa-install-desktop.png")
        page.set_viewport_size(PHONE)
        assert install.is_visible()
        page.screenshot(path=screenshot_dir / "pwa-install-phone.png")
        page.evaluate("dispatchEvent(new Event('appinstalled'))")
        assert install.is_hidden()
    finally:
        context.close()


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_pages_opened_before_work_offline_and_sign_out_wipes_them(
    browser, live_server, screenshot_dir, viewport, label
):
    seed_domains()
    learner = cast(label)
    context = new_context(browser, viewport, phone=label == "phone")
    page = context.new_page()
    errors = watch_errors(page)
    try:
        page.goto(f"{live_server.url}/")
        worker_ready(page)
        page.goto(f"{live_server.url}/login/")
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        assert page.evaluate(USER_CACHES) == []  # anonymous pages are not kept
        page.get_by_label("E-mail").fill(learner.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard/learner/")
        page.get_by_role("link", name="Bookings").first.click()
        page.wait_for_url("**/dashboard/learner/bookings/")
        # The worker stores pages after answering; wait until both are in this user's cache.
        page.wait_for_function(
            """async (name) => (await caches.has(name)) &&
                 (await (await caches.open(name)).keys()).length >= 2""",
            arg=f"pages-{version_of_worker()}-u{learner.pk}",
        )
        page.locator("[data-last-synced]", has_text="Synced just now").wait_for()  # the offline store too
        assert errors == []

        context.set_offline(True)
        page.reload()
        assert page.title() == "Bookings · PeerLearn"
        assert page.locator(".booking-row", has_text="Kubernetes office hours").is_visible()
        # Drawn from the offline store, which says so (instead of the generic offline banner).
        page.get_by_text("You're offline — showing what was synced").wait_for()
        page.screenshot(path=screenshot_dir / f"pwa-offline-bookings-{label}.png", full_page=True)

        # The app's start URL redirects to the user's dashboard online; offline it is that page.
        page.goto(f"{live_server.url}/dashboard/")
        assert page.title() == "Home · PeerLearn"

        page.goto(f"{live_server.url}/dashboard/learner/progress/")  # never opened
        page.get_by_role("heading", name="This page needs a connection").wait_for()
        assert page.url.endswith("/dashboard/learner/progress/")
        page.screenshot(path=screenshot_dir / f"pwa-offline-{label}.png", full_page=True)

        context.set_offline(False)  # the offline page retries by itself
        page.wait_for_function("document.title === 'Progress · PeerLearn'")

        # Sign out: this user's caches and IndexedDB databases go; the shell and the worker stay.
        page.evaluate(
            """(name) => new Promise((done) => {
                 const open = indexedDB.open(name);
                 open.onsuccess = () => { open.result.close(); done(); };
               })""",
            f"peerlearn-{learner.pk}",
        )
        sign_out = page.locator("form[action='/logout/'] button:visible").first
        sign_out.click()
        page.wait_for_url(f"{live_server.url}/")
        assert page.evaluate(USER_CACHES) == []
        assert page.evaluate("indexedDB.databases()") == []
        assert any(name.startswith("shell-") for name in page.evaluate(CACHE_NAMES))
        assert page.evaluate("navigator.serviceWorker.getRegistration().then((r) => !!r && !!r.active)")
    finally:
        context.close()


def test_background_sync_asks_pages_to_replay_the_outbox(browser, live_server):
    context = new_context(browser, DESKTOP, phone=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/")
        worker_ready(page)
        page.evaluate(
            """() => { window.swMessages = [];
                 navigator.serviceWorker.addEventListener("message", (e) => window.swMessages.push(e.data)); }"""
        )
        cdp = context.new_cdp_session(page)
        registrations = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
        cdp.send("ServiceWorker.enable")
        for _ in range(100):  # the registration arrives as an event right after enable
            if registrations:
                break
            page.wait_for_timeout(50)
        registration = next(r for r in registrations if r["scopeURL"] == f"{live_server.url}/")
        cdp.send(
            "ServiceWorker.dispatchSyncEvent",
            {
                "origin": live_server.url,
                "registrationId": registration["registrationId"],
                "tag": "outbox",
                "lastChance": False,
            },
        )
        page.wait_for_function("window.swMessages.some((m) => m.type === 'replay-outbox')")
    finally:
        context.close()


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_a_new_version_waits_for_the_user_then_takes_over(
    browser, live_server, settings, screenshot_dir, viewport, label
):
    seed_domains()
    context = new_context(browser, viewport, phone=label == "phone")
    page = context.new_page()
    errors = watch_errors(page)
    try:
        page.goto(f"{live_server.url}/")
        worker_ready(page)
        page.reload()
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        old = version_of_worker()

        settings.PWA_SW_VERSION_SALT = "next-deploy"  # /sw.js is now a different script
        new = version_of_worker()
        assert new != old
        page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
        prompt = page.locator("[data-update-toast]")
        prompt.wait_for()
        assert "A new version of PeerLearn is ready" in prompt.inner_text()
        page.screenshot(path=screenshot_dir / f"pwa-update-{label}.png")

        # Nothing swapped yet: the new worker waits, the old one still serves this page.
        assert page.evaluate("navigator.serviceWorker.getRegistration().then((r) => !!r.waiting)")
        assert f"shell-{old}" in page.evaluate(CACHE_NAMES)

        with page.expect_navigation():  # one reload, on controllerchange
            prompt.get_by_role("button", name="Reload").click()
        worker_ready(page)
        names = page.evaluate(CACHE_NAMES)
        assert f"shell-{new}" in names and not any(old in name for name in names)
        assert page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.waiting === null)")
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        assert page.locator("[data-update-toast]").count() == 0
        assert errors == []
    finally:
        context.close()
