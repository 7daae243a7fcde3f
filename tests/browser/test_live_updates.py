"""A learner's open page hears about a mentor's reschedule live, over the updates socket,
served by daphne as in production (channels' live server runs daphne in a subprocess)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from channels.testing import ChannelsLiveServerTestCase
from rest_framework_simplejwt.tokens import RefreshToken

from backend.marketplace.models import Booking, BookingState
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import PASSWORD, make_user, seed_domains


@pytest.mark.browser
class LiveUpdatesTest(ChannelsLiveServerTestCase):
    serve_static = True

    def test_reschedule_toast_reaches_an_open_dashboard(self):
        from playwright.sync_api import sync_playwright

        from backend.accounts.models import LearnerProfile, MentorProfile

        seed_domains()
        mentor = make_user("live.mentor@example.com", "mentor", full_name="Live Mentor")
        MentorProfile.objects.create(user=mentor, headline="h", bio="b", approval_state="approved")
        learner = make_user("live.learner@example.com", "learner", full_name="Live Learner")
        LearnerProfile.objects.create(user=learner)
        session = a_session(mentor)
        Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
        token = str(RefreshToken.for_user(mentor).access_token)

        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(f"{self.live_server_url}/login/")
                page.get_by_label("E-mail").fill(learner.email)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/dashboard/learner/")
                with page.expect_websocket(lambda ws: ws.url.endswith("/ws/updates/")) as socket_info:
                    page.reload()
                socket = socket_info.value
                socket.expect_event("framereceived", lambda frame: "hello" in str(frame), timeout=10000)
                # The mentor reschedules through the API, so the event starts in daphne's process.
                response = page.request.post(
                    f"{self.live_server_url}/api/mentor/sessions/{session.pk}/reschedule/",
                    headers={"Authorization": f"Bearer {token}"},
                    data={"starts_at": (session.starts_at + timedelta(days=1)).isoformat()},
                )
                assert response.status == 200, response.text()
                toast = page.locator(".toast", has_text="was rescheduled")
                toast.wait_for(timeout=10000)
                browser.close()
        finally:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
