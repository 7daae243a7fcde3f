"""The live room in two real browsers (Chromium's fake camera and microphone), served by daphne:
a mentor and a learner with a confirmed booking meet in the lobby, the mentor goes live, the
call connects peer to peer and decodes video both ways; chat, whiteboard and checklist reach the
other side; a reload reconnects the call and replays the board; the mentor ends the session and
the learner's review lands in the database."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backend.marketplace.models import Booking, BookingState, Review, SessionState
from tests.backend.marketplace.factories import a_session
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_live_updates import DaphneBrowserCase, cast
from tests.conftest import PASSWORD

CONNECTED = """(peer) => [...(window.peerlearnRoom?.peers ?? new Map())]
  .some(([id, pc]) => (!peer || id === peer) && pc.connectionState === "connected")"""

# framesDecoded of the inbound video, per remote peer
DECODED = """async () => {
  const decoded = {};
  for (const [id, pc] of window.peerlearnRoom.peers) {
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") decoded[id] = (decoded[id] || 0) + (s.framesDecoded || 0);
    });
  }
  return decoded;
}"""


def sign_in(page, base: str, user, dashboard: str):
    page.goto(f"{base}/login/")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/dashboard/{dashboard}/")


def collect_errors(page, who: str, errors: list[str]):
    page.on("console", lambda message: message.type == "error" and errors.append(f"{who}: {message.text}"))
    page.on("pageerror", lambda error: errors.append(f"{who}: {error}"))


def assert_connected(page, peer: str | None = None):
    page.wait_for_function(CONNECTED, arg=peer, timeout=30000)


def assert_video_flows(page, peer: str | None = None):
    """Frames decoded rise between two readings a second apart (retried while the call settles)."""
    for _ in range(15):
        first = page.evaluate(DECODED)
        page.wait_for_timeout(1000)
        second = page.evaluate(DECODED)
        if any(second.get(id, 0) > count for id, count in first.items() if peer in (None, id)):
            return
    raise AssertionError(f"no video decoded: {first} then {second}")


def open_panel(page, name: str):
    control = page.locator(f'.call-control[data-panel="{name}"]')
    if control.get_attribute("aria-expanded") != "true":
        if page.locator("#room-panel").is_visible():
            page.get_by_role(
                "tab", name={"chat": "Chat", "board": "Whiteboard", "checklist": "Checklist"}[name]
            ).click()
        else:
            control.click()
    expect(page.locator(f"#panel-{name}")).to_be_visible()


@pytest.mark.browser
class RoomCallTest(DaphneBrowserCase):
    def test_mentor_and_learner_meet_teach_and_review(self):
        mentor, learner = cast("room")
        session = a_session(mentor, hours_ahead=5 / 60, topics=["Models", "Views"], title="Django models, live")
        Booking.objects.create(
            session=session, learner=learner, state=BookingState.CONFIRMED, confirmed_at=timezone.now()
        )
        room = f"{self.live_server_url}/room/{session.room_code}/"
        errors: list[str] = []
        artefacts = self._screenshots

        mentor_context = self.browser.new_context(viewport=DESKTOP)
        learner_context = self.browser.new_context(viewport=PHONE)
        try:
            teacher = mentor_context.new_page()
            student = learner_context.new_page()
            collect_errors(teacher, "mentor", errors)
            collect_errors(student, "learner", errors)
            sign_in(teacher, self.live_server_url, mentor, "mentor")
            sign_in(student, self.live_server_url, learner, "learner")

            # The lobby: both present; the learner waits for the mentor, who goes live.
            teacher.goto(room)
            student.goto(room)
            expect(student.get_by_text("Waiting for Room Mentor to start")).to_be_visible()
            expect(teacher.locator("#lobby-members")).to_contain_text("Room Learner")
            student.get_by_role("button", name="I'm ready").click()
            expect(teacher.locator("#lobby-members .chip-confirmed")).to_have_text("Ready")
            student.screenshot(path=str(artefacts / "room-lobby-phone.png"))
            teacher.screenshot(path=str(artefacts / "room-lobby-desktop.png"))
            go_live = teacher.get_by_role("button", name="Go live")
            expect(go_live).to_be_enabled()
            go_live.click()

            # The call: connected peer to peer, video decoded on both sides.
            for page in (teacher, student):
                expect(page.locator('#main[data-view="call"]')).to_be_visible()
                assert_connected(page)
            for page in (teacher, student):
                assert_video_flows(page)
            expect(teacher.locator("#call-timer")).to_have_attribute("data-running", "true")
            student.screenshot(path=str(artefacts / "room-call-phone.png"))
            teacher.screenshot(path=str(artefacts / "room-call-desktop.png"))

            # Chat: the learner writes; the mentor's closed chat shows it as unread.
            open_panel(student, "chat")
            student.get_by_label("Message", exact=True).fill("Hello from the learner")
            student.get_by_role("button", name="Send").click()
            expect(teacher.locator(".call-control [data-unread]")).to_have_text("1")
            open_panel(teacher, "chat")
            expect(teacher.locator("#chat-log")).to_contain_text("Hello from the learner")

            # The whiteboard: the mentor draws one stroke with the mouse; the learner gets it.
            open_panel(teacher, "board")
            box = teacher.locator("#board").bounding_box()
            teacher.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
            teacher.mouse.down()
            teacher.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6, steps=12)
            teacher.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.3, steps=12)
            teacher.mouse.up()
            student.wait_for_function("window.peerlearnRoom.strokes.length === 1", timeout=10000)
            teacher.wait_for_function("window.peerlearnRoom.strokes.length === 1", timeout=10000)
            teacher.screenshot(path=str(artefacts / "room-board-desktop.png"))

            # The learner reloads: a new socket and peer; the call reconnects, the board is replayed.
            student.reload()
            expect(student.locator('#main[data-view="call"]')).to_be_visible()
            student.wait_for_function("window.peerlearnRoom.state.peer !== null")
            new_peer = student.evaluate("window.peerlearnRoom.state.peer")
            assert_connected(student)
            assert_connected(teacher, new_peer)
            assert_video_flows(student)
            assert_video_flows(teacher, new_peer)
            assert student.evaluate("window.peerlearnRoom.strokes.length") >= 1

            # The checklist: the learner ticks a topic; the mentor sees it ticked.
            open_panel(student, "checklist")
            student.get_by_role("checkbox", name="Models").check()
            open_panel(teacher, "checklist")
            expect(teacher.get_by_role("checkbox", name="Models")).to_be_checked()
            expect(teacher.get_by_role("checkbox", name="Views")).not_to_be_checked()
            student.screenshot(path=str(artefacts / "room-checklist-phone.png"))

            # The mentor ends the session for everyone; the learner reviews it.
            teacher.locator('.call-control[data-action="end"]').click()
            teacher.get_by_role("button", name="End session for everyone").click()
            expect(teacher.get_by_role("heading", name="Session completed")).to_be_visible()
            expect(student.get_by_role("heading", name="The session has ended")).to_be_visible()
            student.get_by_label("5 stars", exact=True).check()
            student.get_by_label("What went well").fill("Clear and patient, thank you.")
            student.screenshot(path=str(artefacts / "room-review-phone.png"))
            student.get_by_role("button", name="Send review").click()
            student.wait_for_url("**/dashboard/learner/bookings/*/")

            review = Review.objects.get(booking__session=session, booking__learner=learner)
            assert (review.rating, review.comment) == (5, "Clear and patient, thank you.")
            session.refresh_from_db()
            assert session.state == SessionState.COMPLETED
            assert errors == []
        finally:
            mentor_context.close()
            learner_context.close()

    @pytest.fixture(autouse=True)
    def _artefacts(self, screenshot_dir):
        self._screenshots = screenshot_dir
