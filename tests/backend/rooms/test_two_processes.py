"""Scale-out: a room whose two members are connected to two different daphne processes works
through the shared Redis channel layer — presence, signalling both ways, chat, going live."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect

from backend.marketplace.models import Booking, BookingState, SessionState
from tests.backend.marketplace.factories import a_session
from tests.processes import daphne_processes, scale_out_available

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not scale_out_available(), reason="needs PostgreSQL and Redis (CI's second run)"),
]


async def open_room(base: str, user, code: str):
    socket = await connect(
        base.replace("http", "ws", 1) + f"/ws/room/{code}/",
        origin=base,
        subprotocols=["peerlearn.bearer", str(AccessToken.for_user(user))],
        open_timeout=10,
    )
    return socket, json.loads(await asyncio.wait_for(socket.recv(), 10))


async def next_of(socket, kind: str) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if frame["type"] == kind:
            return frame


def test_members_on_two_processes_signal_chat_and_go_live(mentor, learner):
    session = a_session(mentor, hours_ahead=5 / 60)
    Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED, confirmed_at=timezone.now())
    offer = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
    answer = {"description": {"type": "answer", "sdp": "v=0\r\n"}}

    with daphne_processes(2) as (first, second):

        async def scenario():
            teacher, _ = await open_room(first, mentor, session.room_code)
            student, welcome = await open_room(second, learner, session.room_code)
            teacher_peer = welcome["members"][0]["peer"]
            student_peer = (await next_of(teacher, "member.joined"))["member"]["peer"]
            await student.send(json.dumps({"type": "signal", "to": teacher_peer, "seq": 1, "data": offer}))
            relayed = await next_of(teacher, "signal")
            assert (relayed["from"], relayed["n"], relayed["data"]) == (student_peer, 1, offer)
            await teacher.send(json.dumps({"type": "signal", "to": student_peer, "seq": 1, "data": answer}))
            assert (await next_of(student, "signal"))["data"] == answer
            await teacher.send(json.dumps({"type": "go_live"}))
            assert (await next_of(student, "session.state"))["state"] == "live"
            await student.send(json.dumps({"type": "chat", "body": "across processes"}))
            assert (await next_of(teacher, "chat"))["message"]["body"] == "across processes"
            await student.close()
            assert (await next_of(teacher, "member.left"))["peer"] == student_peer
            await teacher.close()

        # Its own thread and loop: no database work inside, and a browser test earlier in the run
        # may have left an event loop running in this thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, scenario()).result()
    session.refresh_from_db()
    assert session.state == SessionState.LIVE
