"""Events reach the users they concern over /ws/updates/, after commit, and nobody else."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import RefreshToken

from backend.asgi import application
from backend.marketplace import services
from tests.backend.marketplace.factories import a_session
from tests.sockets import Communicator

# Transactional: channels' database_sync_to_async closes connections that sit inside the
# test's wrapping transaction, and on_commit should fire for real here anyway.
pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://testserver")]


def bearer(user):
    return ["peerlearn.bearer", str(RefreshToken.for_user(user).access_token)]


async def connect(protocols):
    communicator = Communicator(application, "/ws/updates/", headers=ORIGIN, subprotocols=protocols)
    connected, detail = await communicator.connect()
    return communicator, connected, detail


def test_forged_tokens_are_closed_and_anonymous_sockets_carry_no_user_events(domains, mentor, learner):
    session = a_session(mentor)

    async def scenario():
        forged, connected, code = await connect(["peerlearn.bearer", "forged.token.value"])
        assert not connected and code == 4401
        await forged.disconnect()
        anonymous, connected, _ = await connect(None)
        assert connected
        assert json.loads(await anonymous.receive_from()) == {"type": "hello", "user": None}
        await database_sync_to_async(services.booking_create)(learner=learner, session=session)
        assert await anonymous.receive_nothing(timeout=0.3)
        await anonymous.disconnect()

    async_to_sync(scenario)()


def test_anyone_watching_a_public_session_hears_its_free_seats(domains, mentor, learner, outsider):
    session = a_session(mentor, capacity=3)
    private = a_session(mentor, hours_ahead=60, is_private=True)
    draft = a_session(mentor, hours_ahead=90, state="draft")

    async def scenario():
        watcher, connected, _ = await connect(None)
        assert connected
        await watcher.receive_from()
        await watcher.send_to(text_data=json.dumps({"type": "watch", "sessions": [session.pk, private.pk, draft.pk]}))
        # Only the public, published session is watchable.
        assert json.loads(await watcher.receive_from()) == {"type": "watching", "sessions": 1}

        booking = await database_sync_to_async(services.booking_create)(learner=learner, session=session)
        assert json.loads(await watcher.receive_from()) == {
            "type": "event",
            "event": "session.seats",
            "data": {"session": session.pk, "capacity": 3, "seats_left": 2, "state": "scheduled"},
        }
        await database_sync_to_async(services.booking_cancel)(learner=learner, booking=booking)
        message = json.loads(await watcher.receive_from())
        assert message["data"]["seats_left"] == 3

        # Watching replaces the earlier list: nothing more arrives for the first session.
        await watcher.send_to(text_data=json.dumps({"type": "watch", "sessions": []}))
        assert json.loads(await watcher.receive_from()) == {"type": "watching", "sessions": 0}
        await database_sync_to_async(services.booking_create)(learner=outsider, session=session)
        assert await watcher.receive_nothing(timeout=0.3)
        await watcher.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    "sessions",
    [None, "1,2", [True], [0], [-3], ["7"], [1.5], list(range(1, 62)), [2**70]],
)
def test_bad_watch_lists_get_an_error_frame(domains, sessions):
    async def scenario():
        watcher, connected, _ = await connect(None)
        assert connected
        await watcher.receive_from()
        await watcher.send_to(text_data=json.dumps({"type": "watch", "sessions": sessions}))
        frame = json.loads(await watcher.receive_from())
        assert frame["type"] == "error" and frame["code"] == "bad_watch"
        await watcher.send_to(text_data=json.dumps({"type": "ping"}))  # still open and usable
        assert json.loads(await watcher.receive_from()) == {"type": "pong"}
        await watcher.disconnect()

    async_to_sync(scenario)()


def test_watching_is_rate_limited_per_connection(domains):
    async def scenario():
        watcher, connected, _ = await connect(None)
        assert connected
        await watcher.receive_from()
        codes = []
        for _ in range(22):
            await watcher.send_to(text_data=json.dumps({"type": "watch", "sessions": []}))
            frame = json.loads(await watcher.receive_from())
            codes.append(frame.get("code", frame["type"]))
        assert codes[:20] == ["watching"] * 20 and codes[20:] == ["rate_limited"] * 2
        await watcher.disconnect()

    async_to_sync(scenario)()


def test_foreign_origin_is_refused(learner):
    protocols = bearer(learner)

    async def scenario():
        communicator = Communicator(
            application, "/ws/updates/", headers=[(b"origin", b"https://evil.example")], subprotocols=protocols
        )
        connected, _ = await communicator.connect()
        assert not connected
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_booking_event_reaches_learner_and_mentor_only(domains, mentor, learner, outsider):
    session = a_session(mentor)
    tokens = {name: bearer(user) for name, user in (("mentor", mentor), ("learner", learner), ("outsider", outsider))}
    users = {"mentor": mentor, "learner": learner, "outsider": outsider}

    async def scenario():
        sockets = {}
        for name, user in users.items():
            communicator, connected, _ = await connect(tokens[name])
            assert connected
            hello = json.loads(await communicator.receive_from())
            assert hello == {"type": "hello", "user": user.pk}
            sockets[name] = communicator

        @database_sync_to_async
        def book():
            return services.booking_create(learner=learner, session=session)

        booking = await book()
        for name in ("mentor", "learner"):
            message = json.loads(await sockets[name].receive_from())
            assert message == {
                "type": "event",
                "event": "booking.created",
                "data": {
                    "booking": booking.pk,
                    "session": session.pk,
                    "state": "confirmed",
                    "learner": learner.pk,
                    "mentor": mentor.pk,
                    "actor": learner.pk,
                },
            }
        # The mentor is also notified (the learner did it, so is not).
        notified = json.loads(await sockets["mentor"].receive_from())
        assert (notified["event"], notified["data"]["title"]) == (
            "notification.created",
            "New booking: Intro to Django",
        )
        assert await sockets["outsider"].receive_nothing(timeout=0.3)
        assert await sockets["learner"].receive_nothing(timeout=0.1)

        await sockets["learner"].send_to(text_data=json.dumps({"type": "ping"}))
        assert json.loads(await sockets["learner"].receive_from()) == {"type": "pong"}
        await sockets["learner"].send_to(text_data="x" * 5000)
        assert json.loads(await sockets["learner"].receive_from()) == {"type": "error", "code": "bad_frame"}
        for communicator in sockets.values():
            await communicator.disconnect()

    async_to_sync(scenario)()


def test_nothing_is_sent_when_the_transaction_rolls_back(domains, mentor, learner):
    session = a_session(mentor)
    protocols = bearer(mentor)

    async def scenario():
        communicator, connected, _ = await connect(protocols)
        assert connected
        await communicator.receive_from()

        @database_sync_to_async
        def book_then_fail():
            from django.db import transaction

            try:
                with transaction.atomic():
                    services.booking_create(learner=learner, session=session)
                    raise RuntimeError("payment page crashed")
            except RuntimeError:
                pass

        await book_then_fail()
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_a_blocked_users_open_socket_is_told_and_closed(learner, admin_user):
    from backend.accounts import services as accounts

    token = bearer(learner)

    async def scenario():
        socket, connected, _ = await connect(token)
        assert connected
        assert json.loads(await socket.receive_from()) == {"type": "hello", "user": learner.pk}

        @database_sync_to_async
        def block():
            accounts.user_set_blocked(admin=admin_user, user=learner, blocked=True, reason="Spam")

        await block()
        told = json.loads(await socket.receive_from())
        assert (told["type"], told["event"]) == ("event", "user.blocked")
        assert await socket.receive_output() == {"type": "websocket.close", "code": 4401}
        await socket.disconnect()

    async_to_sync(scenario)()
