"""A learner signs up through the wizard in Chromium and lands on their dashboard."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from backend.accounts.models import User
from backend.marketplace.models import Domain
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import png_bytes, seed_domains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_learner_registers_through_the_wizard(browser, live_server, screenshot_dir, tmp_path, viewport, label):
    seed_domains()
    email = f"browser.{label}@example.com"
    # Reduced motion turns transitions off, so colours can be read right after a click.
    context = browser.new_context(viewport=viewport, timezone_id="Asia/Kolkata", reduced_motion="reduce")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server.url}/")
        page.screenshot(path=screenshot_dir / f"landing-{label}.png", full_page=True)
        page.goto(f"{live_server.url}/register/")
        page.get_by_role("link", name=re.compile("Sign up as a learner")).click()
        page.wait_for_url("**/register/learner/basic/")

        page.get_by_label("Full name").fill("Browser Learner")
        page.get_by_label("E-mail").fill(email)
        password = page.locator('input[name="password"]')
        password.fill("abc")
        password.blur()
        # As-you-type validation comes from the server's own password rules.
        page.wait_for_function(
            "document.querySelector('[data-field=\"password\"] .field-error').textContent.includes('too short')"
        )
        assert page.locator('[data-field="password"] .field-error').is_visible()
        assert page.locator("[data-strength-text]").inner_text().startswith("Strength:")
        password.fill("Sunny-meadow-48")
        page.wait_for_function("document.querySelector('[data-field=\"password\"] .field-error').hidden")
        assert page.locator('input[name="timezone"]').input_value() in {"Asia/Kolkata", "Asia/Calcutta"}
        page.screenshot(path=screenshot_dir / f"register-basic-{label}.png", full_page=True)
        page.get_by_role("button", name=re.compile("Continue")).click()

        page.wait_for_url("**/register/learner/verify/")
        code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
        page.get_by_label("Verification code").fill(code)
        page.get_by_role("button", name=re.compile("Verify")).click()

        page.wait_for_url("**/register/learner/interests/")
        first_domain = Domain.objects.order_by("position").first()
        page.locator("label", has_text=first_domain.name).first.click()
        assert page.get_by_label(first_domain.name).is_checked()
        page.screenshot(path=screenshot_dir / f"register-interests-{label}.png", full_page=True)
        page.get_by_role("button", name=re.compile("Continue")).click()

        page.wait_for_url("**/register/learner/goal/")
        page.locator("label", has_text="Switch careers").first.click()
        page.get_by_role("button", name=re.compile("Continue")).click()

        page.wait_for_url("**/register/learner/photo/")
        photo = tmp_path / "me.png"
        photo.write_bytes(png_bytes())
        page.locator('input[name="photo"]').set_input_files(str(photo))
        page.get_by_role("button", name=re.compile("Create my account")).click()

        page.wait_for_url("**/dashboard/learner/")
        assert "Welcome to PeerLearn, Browser!" in page.content()
        page.screenshot(path=screenshot_dir / f"dashboard-learner-{label}.png", full_page=True)
        # The theme toggle saves the choice on the account, so it follows the user.
        before = page.evaluate("getComputedStyle(document.body).backgroundColor")
        with page.expect_response(lambda r: r.url.endswith("/api/auth/me/") and r.request.method == "PATCH") as saved:
            page.locator("[data-theme-toggle]").first.click()
        assert saved.value.status == 200
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != before
        page.screenshot(path=screenshot_dir / f"dashboard-learner-{label}-toggled.png", full_page=True)
        assert errors == []
    finally:
        context.close()

    user = User.objects.get(email=email)
    assert user.role == "learner" and user.timezone == "Asia/Kolkata"
    assert user.theme in {"dark", "light"}
    assert list(user.learner_profile.interests.values_list("name", flat=True)) == [first_domain.name]
    assert user.learner_profile.career_goal == "switch" and user.learner_profile.photo
