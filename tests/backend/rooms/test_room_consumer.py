"""/ws/room/<code>/ through Channels' WebsocketCommunicator: who gets in and when, signalling
relayed only between members with replays refused and losses recovered, what the room keeps
for a (re)joiner, the clock, going live and ending, and bad frames."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from backend.asgi import application
from backend.marketplace.models import Booking, BookingState, SessionState
from backend.rooms.models import ChatMessage, ChecklistMark, Presence, RoomState, Stroke
from tests.backend.marketplace.factories import a_session
from tests.conftest import make_user
from tests.sockets import Communicator

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://testserver")]
OFFER = {"description": {"type": "offer", "sdp": "v=0\r\n"}}


def booked(session, learner, state=BookingState.CONFIRMED):
    return Booking.objects.create(session=session, learner=learner, state=state, confirmed_at=timezone.now())


@pytest.fixture
def session(mentor, learner):
    """Starts in five minutes: the room is open."""
    s = a_session(mentor, hours_ahead=5 / 60, topics=["Models", "Views", "Templates"])
    booked(s, learner)
    return s


async def enter(user, code, *, protocols=None):
    """(communicator, first frame): `welcome` for a member, `refused` for anyone else."""
    if protocols is None and user is not None:
        protocols = ["peerlearn.bearer", str(AccessToken.for_user(user))]
    communicator = Communicator(application, f"/ws/room/{code}/", headers=ORIGIN, subprotocols=protocols)
    connected, _ = await communicator.connect()
    assert connected
    return communicator, json.loads(await communicator.receive_from())


async def refused_with(user, code, **kwargs) -> tuple[dict, int]:
    communicator, frame = await enter(user, code, **kwargs)
    closed = await communicator.receive_output()
    assert closed["type"] == "websocket.close"
    await communicator.disconnect()
    return frame, closed["code"]


async def send(communicator, kind, **body):
    await communicator.send_to(text_data=json.dumps({"type": kind, **body}))


async def next_of(communicator, kind, limit=50, **fields):
    """The next frame of `kind` (and with these `fields`), skipping others: presence and clock
    frames come and go, and waiting for a named frame beats waiting for a quiet moment, which a
    loaded machine can make at any time."""
    for _ in range(limit):
        frame = json.loads(await communicator.receive_from())
        if frame["type"] == kind and all(frame.get(k) == v for k, v in fields.items()):
            return frame
    raise AssertionError(f"no {kind} frame with {fields}")


async def until_closed(communicator) -> tuple[list[dict], int]:
    """(frames before the close, close code): waits for the close however slow the machine is."""
    frames = []
    while (output := await communicator.receive_output())["type"] != "websocket.close":
        frames.append(json.loads(output["text"]))
    return frames, output["code"]


def run(scenario):
    async_to_sync(scenario)()


# --- who gets in, and when --------------------------------------------------------------------------
def test_only_the_mentor_and_confirmed_learners_enter(session, mentor, learner, outsider, admin_user, domains):
    other_mentor = make_user("omar.mentor@example.com", "mentor")
    held, cancelled = make_user("held@example.com", "learner"), make_user("gone@example.com", "learner")
    session.capacity = 5
    session.save()
    booked(session, held, BookingState.HELD)
    booked(session, cancelled, BookingState.CANCELLED)

    async def scenario():
        for user in (mentor, learner):
            communicator, welcome = await enter(user, session.room_code)
            assert welcome["type"] == "welcome" and welcome["you"]["user"] == user.pk
            await communicator.disconnect()
        for user in (outsider, admin_user, other_mentor, held, cancelled):
            frame, code = await refused_with(user, session.room_code)
            assert (frame["type"], frame["code"], code) == ("refused", "not_member", 4403), user.email
            assert "opens_at" not in frame  # an outsider learns nothing about the room
        frame, code = await refused_with(None, session.room_code, protocols=[])
        assert (frame["code"], code) == ("unauthenticated", 4401)
        frame, code = await refused_with(None, session.room_code, protocols=["peerlearn.bearer", "forged"])
        assert code == 4401
        frame, code = await refused_with(mentor, "no-such-room")
        assert (frame["code"], code) == ("not_found", 4404)

    run(scenario)
    assert not Presence.objects.exclude(user__in=[mentor, learner]).exists()


def test_the_room_opens_ten_minutes_before_and_closes_fifteen_after(mentor, learner, domains):
    session = a_session(mentor, hours_ahead=2, minutes=60)
    booked(session, learner)

    async def at(moment):
        with time_machine.travel(moment, tick=True):
            return await refused_with(learner, session.room_code)

    async def scenario():
        frame, code = await at(session.starts_at - timedelta(minutes=11))
        assert (frame["code"], code) == ("too_early", 4408)
        assert frame["opens_at"] == (session.starts_at - timedelta(minutes=10)).isoformat()
        with time_machine.travel(session.starts_at - timedelta(minutes=9), tick=True):
            communicator, welcome = await enter(learner, session.room_code)
            assert welcome["type"] == "welcome"
            await communicator.disconnect()
        with time_machine.travel(session.ends_at + timedelta(minutes=14), tick=True):
            communicator, welcome = await enter(learner, session.room_code)
            assert welcome["type"] == "welcome"
            await communicator.disconnect()
        frame, code = await at(session.ends_at + timedelta(minutes=15))
        assert (frame["code"], code) == ("too_late", 4408)

    run(scenario)


def test_a_cancelled_session_has_no_room(session, learner):
    session.state = SessionState.CANCELLED
    session.save()

    async def scenario():
        frame, code = await refused_with(learner, session.room_code)
        assert (frame["code"], code) == ("cancelled", 4410)

    run(scenario)


def test_a_socket_still_open_when_the_room_closes_is_told_and_closed(session, learner):
    async def scenario():
        communicator, _ = await enter(learner, session.room_code)
        with time_machine.travel(session.ends_at + timedelta(minutes=16), tick=True):
            await send(communicator, "ping")
            frame = await next_of(communicator, "refused")
            assert frame["code"] == "too_late"
            assert (await communicator.receive_output())["code"] == 4408
        await communicator.disconnect()

    run(scenario)


# --- signalling -----------------------------------------------------------------------------------
def test_signals_are_relayed_between_members_only_numbered_and_replays_refused(session, mentor, learner, domains):
    other_mentor = make_user("omar.mentor@example.com", "mentor")
    other_learner = make_user("olga.learner@example.com", "learner")
    other = a_session(other_mentor, hours_ahead=5 / 60)
    booked(other, other_learner)

    async def scenario():
        teacher, _ = await enter(mentor, session.room_code)
        student, welcome = await enter(learner, session.room_code)
        stranger, _ = await enter(other_learner, other.room_code)
        assert [m["user"] for m in welcome["members"]] == [mentor.pk]
        teacher_peer = welcome["members"][0]["peer"]
        joined = await next_of(teacher, "member.joined")
        student_peer = joined["member"]["peer"]
        assert joined["member"]["user"] == learner.pk and "channel" not in joined["member"]

        await send(student, "signal", to=teacher_peer, seq=1, data=OFFER)
        await send(
            student,
            "signal",
            to=teacher_peer,
            seq=2,
            data={
                "candidate": {
                    "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
                    "sdpMid": "0",
                    "sdpMLineIndex": 0,
                }
            },
        )
        first, second = await next_of(teacher, "signal"), await next_of(teacher, "signal")
        assert (first["from"], first["n"], first["data"]) == (student_peer, 1, OFFER)
        assert second["n"] == 2 and second["data"]["candidate"]["sdpMid"] == "0"

        await send(student, "signal", to=teacher_peer, seq=2, data=OFFER)  # the same seq again
        refused = await next_of(student, "error")
        assert (refused["code"], refused["ref"]) == ("replayed", "signal")
        assert await teacher.receive_nothing(timeout=0.2)

        # A peer of another room cannot be reached from here, nor this room from there.
        await send(stranger, "signal", to=teacher_peer, seq=1, data=OFFER)
        assert (await next_of(stranger, "error"))["code"] == "unknown_peer"
        assert await teacher.receive_nothing(timeout=0.2)
        for communicator in (teacher, student, stranger):
            await communicator.disconnect()

    run(scenario)


def test_a_lost_relay_is_sent_again_and_one_too_old_is_reported_lost(session, mentor, learner):
    async def scenario():
        teacher, _ = await enter(mentor, session.room_code)
        student, welcome = await enter(learner, session.room_code)
        teacher_peer = welcome["members"][0]["peer"]
        student_peer = (await next_of(teacher, "member.joined"))["member"]["peer"]
        for seq in (1, 2, 3):
            await send(student, "signal", to=teacher_peer, seq=seq, data=OFFER)
        assert [(await next_of(teacher, "signal"))["n"] for _ in range(3)] == [1, 2, 3]
        # The teacher's page missed n=2 (say the layer dropped it): it asks from 2 and gets 2 and 3.
        await send(teacher, "resend", peer=student_peer, **{"from": 2})
        again = [await next_of(teacher, "signal"), await next_of(teacher, "signal")]
        assert [(f["n"], f["from"]) for f in again] == [(2, student_peer), (3, student_peer)]
        # Only the latest relays are kept: asking for one long gone says so instead.
        for seq in range(4, 140):
            await send(student, "signal", to=teacher_peer, seq=seq, data=OFFER)
        await next_of(teacher, "signal", limit=200, n=139)  # every relay is in before asking
        await send(teacher, "resend", peer=student_peer, **{"from": 1})
        assert (await next_of(teacher, "signal.lost"))["from"] == student_peer
        await teacher.disconnect()
        await student.disconnect()

    run(scenario)


# --- what the room keeps ------------------------------------------------------------------------------
def test_chat_strokes_and_checklist_are_saved_and_replayed_to_a_rejoiner(session, mentor, learner):
    stroke = {"color": "#FF0000", "width": 4, "points": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.5]]}

    async def scenario():
        teacher, _ = await enter(mentor, session.room_code)
        student, _ = await enter(learner, session.room_code)
        await send(student, "chat", body="  Hello from Lena  ")
        message = (await next_of(teacher, "chat"))["message"]
        assert (message["body"], message["user"], message["name"]) == ("Hello from Lena", learner.pk, "Lena Learner")
        await send(teacher, "stroke", data=stroke)
        drawn = (await next_of(student, "stroke"))["stroke"]
        assert drawn["data"]["color"] == "#ff0000" and drawn["user"] == mentor.pk
        await send(student, "checklist", index=1, done=True)
        item = (await next_of(teacher, "checklist"))["item"]
        assert item == {"index": 1, "label": "Views", "done": True, "by": learner.pk}
        await send(student, "checklist", index=7, done=True)
        assert (await next_of(student, "error"))["code"] == "invalid"

        await student.disconnect()  # the learner reloads
        student, welcome = await enter(learner, session.room_code)
        assert [m["body"] for m in welcome["chat"]] == ["Hello from Lena"]
        assert [s["data"]["points"] for s in welcome["strokes"]] == [stroke["points"]]
        assert [(i["label"], i["done"]) for i in welcome["checklist"]] == [
            ("Models", False),
            ("Views", True),
            ("Templates", False),
        ]
        await send(teacher, "clear_board")
        assert (await next_of(student, "board.cleared"))["by"] == mentor.pk
        await teacher.disconnect()
        await student.disconnect()

    run(scenario)
    assert ChatMessage.objects.get().body == "Hello from Lena"
    assert not Stroke.objects.exists()
    assert ChecklistMark.objects.get(index=1).done


# --- going live, the clock, ending -------------------------------------------------------------------
def test_the_clock_runs_only_while_both_sides_are_present(session, mentor, learner):
    start = timezone.now()

    async def scenario():
        with time_machine.travel(start, tick=False) as clock:
            teacher, _ = await enter(mentor, session.room_code)
            student, _ = await enter(learner, session.room_code)
            await send(student, "go_live")
            assert (await next_of(student, "error"))["code"] == "not_mentor"
            await send(teacher, "go_live")
            assert (await next_of(student, "session.state"))["state"] == "live"
            assert (await next_of(student, "timer"))["running"] is True
            await next_of(teacher, "timer", running=True)
            clock.shift(timedelta(seconds=50))
            await student.disconnect()  # the learner drops out: the clock pauses at 0:50
            timer = await next_of(teacher, "timer")
            assert timer == {"type": "timer", "elapsed": 50, "running": False}
            clock.shift(timedelta(seconds=30))  # nobody counts this
            student, welcome = await enter(learner, session.room_code)
            assert welcome["timer"] == {"elapsed": 50, "running": True}
            clock.shift(timedelta(seconds=20))
            await teacher.disconnect()
            assert (await next_of(student, "timer", running=False)) == {
                "type": "timer",
                "elapsed": 70,
                "running": False,
            }
            await student.disconnect()

    run(scenario)
    state = RoomState.objects.get(session=session)
    assert (state.elapsed_seconds, state.running_since) == (70, None)


def test_going_live_reaches_learners_dashboards_and_ending_completes_the_session(session, mentor, learner):
    async def scenario():
        dashboard = Communicator(
            application,
            "/ws/updates/",
            headers=ORIGIN,
            subprotocols=["peerlearn.bearer", str(AccessToken.for_user(learner))],
        )
        assert (await dashboard.connect())[0]
        await dashboard.receive_from()  # hello
        teacher, _ = await enter(mentor, session.room_code)
        student, _ = await enter(learner, session.room_code)
        # The mentor's arrival is news for the learner: the event, then its notification.
        arrived = await next_of(dashboard, "event")
        assert (arrived["event"], arrived["data"]) == ("room.mentor_ready", {"session": session.pk})
        notified = await next_of(dashboard, "event")
        assert notified["event"] == "notification.created"
        assert notified["data"]["title"].startswith("Your mentor is in the room")
        await send(teacher, "go_live")
        event = await next_of(dashboard, "event")
        assert (event["event"], event["data"]) == ("session.live", {"session": session.pk})
        await send(student, "end")
        assert (await next_of(student, "error"))["code"] == "not_mentor"
        await send(teacher, "end")
        assert (await next_of(student, "ended"))["by"] == mentor.pk
        await send(student, "chat", body="too late")
        assert (await next_of(student, "error"))["code"] == "room_closed"
        for communicator in (teacher, student, dashboard):
            await communicator.disconnect()
        frame, code = await refused_with(learner, session.room_code)
        assert (frame["code"], code) == ("ended", 4410)

    run(scenario)
    session.refresh_from_db()
    assert session.state == SessionState.COMPLETED
    assert Booking.objects.get(session=session, learner=learner).attended is True
    assert RoomState.objects.get(session=session).ended_by == mentor
    assert not Presence.objects.filter(left_at__isnull=True).exists()


def test_a_learner_who_never_came_is_not_marked_attended(session, mentor, learner):
    async def scenario():
        teacher, _ = await enter(mentor, session.room_code)
        await send(teacher, "go_live")
        await next_of(teacher, "session.state")
        await send(teacher, "end")
        await next_of(teacher, "ended")
        await teacher.disconnect()

    run(scenario)
    assert Booking.objects.get(session=session, learner=learner).attended is False


# --- bad frames --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "bad_frame"),
        (json.dumps(["a list"]), "unknown_type"),
        (json.dumps({"type": "teleport"}), "unknown_type"),
        (json.dumps({"type": "chat", "body": "x" * 2001}), "invalid"),
        (json.dumps({"type": "chat", "body": "   "}), "invalid"),
        (json.dumps({"type": "ready", "ready": "yes"}), "invalid"),
        (json.dumps({"type": "signal", "to": "abc", "seq": 1, "data": OFFER}), "invalid"),
        (json.dumps({"type": "signal", "to": "abcdefgh", "seq": True, "data": OFFER}), "invalid"),
        (json.dumps({"type": "signal", "to": "abcdefgh", "seq": 1, "data": {"sdp": "x"}}), "invalid"),
        (json.dumps({"type": "stroke", "data": {"color": "red", "width": 2, "points": [[0, 0], [1, 1]]}}), "invalid"),
        (
            json.dumps({"type": "stroke", "data": {"color": "#000000", "width": 2, "points": [[0, 0], [2, 1]]}}),
            "invalid",
        ),
        (
            json.dumps({"type": "stroke", "data": {"color": "#000000", "width": 2, "points": [[0, 0]] * 1001}}),
            "invalid",
        ),
        (json.dumps({"type": "chat", "body": "x" * 40000}), "too_large"),
    ],
)
def test_malformed_frames_get_an_error_frame_and_change_nothing(session, learner, raw, code):
    async def scenario():
        communicator, _ = await enter(learner, session.room_code)
        await communicator.send_to(text_data=raw)
        assert (await next_of(communicator, "error"))["code"] == code
        await send(communicator, "ping")
        assert (await next_of(communicator, "pong"))["type"] == "pong"  # still serving
        await communicator.disconnect()

    run(scenario)
    assert not ChatMessage.objects.exists() and not Stroke.objects.exists()


def test_a_flood_is_rate_limited_then_closed_while_another_room_carries_on(session, mentor, learner, domains):
    other_mentor = make_user("omar.mentor@example.com", "mentor")
    other_learner = make_user("olga.learner@example.com", "learner")
    other = a_session(other_mentor, hours_ahead=5 / 60)
    booked(other, other_learner)

    async def scenario():
        flooder, _ = await enter(learner, session.room_code)
        calm_teacher, _ = await enter(other_mentor, other.room_code)
        calm_student, _ = await enter(other_learner, other.room_code)
        for _ in range(400):
            await send(flooder, "chat", body="spam")
        frames, closed = await until_closed(flooder)
        codes = [f.get("code") for f in frames if f["type"] in ("error", "refused")]
        assert "rate_limited" in codes and codes[-1] == "flooding" and closed == 4429
        await send(calm_student, "chat", body="still here")
        assert (await next_of(calm_teacher, "chat"))["message"]["body"] == "still here"
        for communicator in (flooder, calm_teacher, calm_student):
            await communicator.disconnect()

    run(scenario)
    assert ChatMessage.objects.filter(session=session).count() <= 12  # the chat bucket's burst, no more


def test_a_learner_blocked_mid_call_is_put_out_of_the_room_at_once(session, mentor, learner, admin_user):
    from backend.accounts import services as accounts

    async def scenario():
        teacher, _ = await enter(mentor, session.room_code)
        student, _ = await enter(learner, session.room_code)
        student_peer = (await next_of(teacher, "member.joined"))["member"]["peer"]
        await db_follow()  # the mentor's other news goes to their dashboards and leaves the call be
        await send(teacher, "ping")
        assert (await next_of(teacher, "pong"))["type"] == "pong"
        await db_block(learner)
        refused = await next_of(student, "refused")
        assert refused["code"] == "blocked"
        assert (await student.receive_output())["code"] == 4401
        await student.disconnect()  # what the server hears once the browser has closed its end
        assert (await next_of(teacher, "member.left"))["peer"] == student_peer
        await send(teacher, "ping")
        assert (await next_of(teacher, "pong"))["type"] == "pong"  # the mentor's call goes on
        await teacher.disconnect()

    @database_sync_to_async
    def db_follow():
        from django.test import TestCase

        from backend.marketplace import services as market

        with TestCase.captureOnCommitCallbacks(execute=True):
            market.follow(learner=learner, mentor_id=mentor.pk)

    @database_sync_to_async
    def db_block(user):
        accounts.user_set_blocked(admin=admin_user, user=user, blocked=True, reason="Harassment in chat")

    run(scenario)
    assert not Presence.objects.filter(user=learner, left_at__isnull=True).exists()


def test_an_admin_stopping_a_live_call_ends_it_for_both_and_closes_attendance(session, mentor, learner, admin_user):
    from backend.marketplace import services as market

    async def scenario():
        teacher, _ = await enter(mentor, session.room_code)
        student, _ = await enter(learner, session.room_code)
        await send(teacher, "go_live")
        assert (await next_of(student, "session.state"))["state"] == "live"
        await cancel()
        for communicator in (teacher, student):
            refused = await next_of(communicator, "refused")
            assert refused["code"] == "cancelled" and "Abusive language" in refused["message"]
            assert (await communicator.receive_output())["code"] == 4410
            await communicator.disconnect()

    @database_sync_to_async
    def cancel():
        market.session_cancel_by_admin(admin=admin_user, session=session, reason="Abusive language on the call")

    run(scenario)
    session.refresh_from_db()
    assert session.state == SessionState.CANCELLED
    assert Presence.objects.filter(session=session).count() == 2
    assert not Presence.objects.filter(session=session, left_at__isnull=True).exists()


def test_a_socket_from_a_foreign_origin_is_not_accepted(session, learner):
    async def scenario():
        communicator = Communicator(
            application,
            f"/ws/room/{session.room_code}/",
            headers=[(b"origin", b"https://evil.example")],
            subprotocols=["peerlearn.bearer", str(AccessToken.for_user(learner))],
        )
        connected, _ = await communicator.connect()
        assert not connected
        await communicator.disconnect()

    run(scenario)
    assert not Presence.objects.exists()


def test_a_relay_the_layer_cannot_take_is_dropped_and_recovered_not_fatal(session, mentor, learner, monkeypatch):
    from channels.exceptions import ChannelFull
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    real_send = layer.send
    dropped = []

    async def full_once(channel, message):
        if message["type"] == "room.signal" and message["n"] == 2 and not dropped:
            dropped.append(message)
            raise ChannelFull(channel)
        return await real_send(channel, message)

    async def scenario():
        teacher, _ = await enter(mentor, session.room_code)
        student, welcome = await enter(learner, session.room_code)
        teacher_peer = welcome["members"][0]["peer"]
        student_peer = (await next_of(teacher, "member.joined"))["member"]["peer"]
        monkeypatch.setattr(layer, "send", full_once)
        for seq in (1, 2, 3):
            await send(student, "signal", to=teacher_peer, seq=seq, data=OFFER)
        assert [(await next_of(teacher, "signal"))["n"] for _ in range(2)] == [1, 3]  # 2 was dropped
        await send(teacher, "resend", peer=student_peer, **{"from": 2})
        assert [(await next_of(teacher, "signal"))["n"] for _ in range(2)] == [2, 3]
        await send(student, "ping")
        assert (await next_of(student, "pong"))["type"] == "pong"  # the sender's socket lives on
        await teacher.disconnect()
        await student.disconnect()

    run(scenario)
    assert dropped
