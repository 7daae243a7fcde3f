"""Light and dark mode: the device's preference applies until the visitor picks one."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_system_theme_follows_the_device_and_the_toggle_overrides_it(browser, live_server, scheme):
    context = browser.new_context(color_scheme=scheme, reduced_motion="reduce")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        page.locator("[data-theme-toggle]").first.click()
        flipped = "light" if scheme == "dark" else "dark"
        assert page.evaluate("document.documentElement.dataset.theme") == flipped
        page.reload()
        assert page.evaluate("document.documentElement.dataset.theme") == flipped  # kept on this device
    finally:
        context.close()
