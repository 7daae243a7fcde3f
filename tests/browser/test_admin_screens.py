"""The admin area in Chromium on the demo data: signing in with the second factor, the overview
with its figures and charts, and the users table with a search, at phone and desktop sizes
(screenshots land in test-artefacts/)."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from backend.accounts.management.commands.demo_data import demo_email
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import seed_domains

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
DEMO_PASSWORD = "learn-together-2026"


def sign_in_admin(browser, live_server, viewport, *, backup_code: str, phone: bool):
    context = browser.new_context(viewport=viewport, reduced_motion="reduce", is_mobile=phone, has_touch=phone)
    # Django's live server speaks WSGI only: answer the live-updates socket with a silent one.
    context.route_web_socket(re.compile(r"/ws/updates/$"), lambda socket: None)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("E-mail").fill(demo_email("Admin Demo"))
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # An admin is asked for the second factor before any admin page.
    page.get_by_label("Code").fill(backup_code)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/dashboard/admin/")
    return context, page, errors


@pytest.mark.parametrize(
    ("viewport", "label", "code"), [(PHONE, "phone", "demo0000"), (DESKTOP, "desktop", "demo0001")]
)
def test_admin_overview_and_users_pages(browser, live_server, screenshot_dir, viewport, label, code):
    seed_domains()  # a transactional test's flush removed the migration's categories
    call_command("demo_data", quiet_logins=True, force=True)
    context, page, errors = sign_in_admin(browser, live_server, viewport, backup_code=code, phone=label == "phone")
    try:
        page.get_by_role("heading", name="Admin overview").wait_for()
        assert page.get_by_text("Refund rate").first.is_visible()
        page.screenshot(path=screenshot_dir / f"admin-overview-{label}.png", full_page=True)

        page.goto(f"{live_server.url}/dashboard/admin/users/")
        table = page.locator("table")
        table.first.wait_for()
        assert page.get_by_text(demo_email("Admin Demo")).count() >= 1
        page.screenshot(path=screenshot_dir / f"admin-users-{label}.png", full_page=True)

        search = page.get_by_role("searchbox").first
        search.fill("pending")
        search.press("Enter")
        page.wait_for_url(re.compile(r"q=pending"))
        page.screenshot(path=screenshot_dir / f"admin-users-search-{label}.png", full_page=True)
        # The page fits the phone: nothing wider than the viewport but the table's own scroller.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1
        assert errors == []
    finally:
        context.close()
