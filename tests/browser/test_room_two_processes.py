"""Scale-out in real browsers: the mentor's page is served by one daphne process and the
learner's by another; the call connects through signalling carried by the shared Redis layer
and video is decoded on both sides. Runs on PostgreSQL + Redis (CI's second run)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backend.marketplace.models import Booking, BookingState, SessionState
from tests.backend.marketplace.factories import a_session
from tests.browser.test_live_updates import cast
from tests.browser.test_room_call import assert_connected, assert_video_flows, collect_errors, sign_in
from tests.processes import daphne_processes, scale_out_available

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not scale_out_available(), reason="needs PostgreSQL and Redis (CI's second run)"),
]


def test_a_call_between_pages_on_two_daphne_processes(browser):
    mentor, learner = cast("scaleout")
    session = a_session(mentor, hours_ahead=5 / 60, title="Across two processes")
    Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED, confirmed_at=timezone.now())
    errors: list[str] = []
    with daphne_processes(2) as (first, second):
        contexts = [browser.new_context(), browser.new_context()]
        try:
            teacher, student = contexts[0].new_page(), contexts[1].new_page()
            collect_errors(teacher, "mentor", errors)
            collect_errors(student, "learner", errors)
            sign_in(teacher, first, mentor, "mentor")
            sign_in(student, second, learner, "learner")
            teacher.goto(f"{first}/room/{session.room_code}/")
            student.goto(f"{second}/room/{session.room_code}/")
            expect(teacher.locator("#lobby-members")).to_contain_text("Scaleout Learner")
            teacher.get_by_role("button", name="Go live").click()
            for page in (teacher, student):
                expect(page.locator('#main[data-view="call"]')).to_be_visible()
                assert_connected(page)
            for page in (teacher, student):
                assert_video_flows(page)
        finally:
            for context in contexts:
                context.close()
    session.refresh_from_db()
    assert session.state == SessionState.LIVE
    assert errors == []
