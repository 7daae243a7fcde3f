"""Resilience: with Redis gone, pages and the API still serve and live updates come back when it
does; with a database connection killed, the request on it fails cleanly and the next succeeds.

The machine's Redis is shared (CI), so it is never stopped here: "Redis down" is a Redis URL on
a port where nothing listens, and the stop/start cycle uses a throwaway redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import TestCase, override_settings
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect

from backend.core.events import publish
from tests.backend.marketplace.factories import a_session
from tests.conftest import Client
from tests.processes import ROOT, _database_url, _free_port, _wait_for

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="runs daphne processes on the test database and kills PostgreSQL backends (CI's PostgreSQL run)",
)
REDIS_SERVER = shutil.which("redis-server")


def _dead_redis_url() -> str:
    return f"redis://127.0.0.1:{_free_port()}/0"


@contextlib.contextmanager
def daphne(*, redis_url: str | None, db_pool: bool = False, application_name: str = "") -> Iterator[str]:
    """One daphne process on the test database, as production runs it (no inline jobs)."""
    database_url = _database_url() + (f"?application_name={application_name}" if application_name else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.test_settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PEERLEARN_DATA_DIR": tempfile.mkdtemp(prefix="peerlearn-resilience-"),
        "STATIC_FROM_SOURCE": "true",
        "DB_POOL": "true" if db_pool else "false",
        "DB_POOL_MIN": "1",
        "HUEY_IMMEDIATE": "false",
        "HUEY_NAME": f"peerlearn-resilience-{uuid.uuid4().hex[:8]}",
        "CHANNEL_LAYER_PREFIX": f"peerlearn-resilience-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "backend.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
        assert process.poll() is None, "daphne exited"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class ThrowawayRedis:
    """A redis-server of the test's own, stopped and started again on the same port."""

    def __init__(self):
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def book(base: str, learner, session) -> requests.Response:
    return requests.post(f"{base}/api/bookings/", json={"session": session.pk}, headers=bearer(learner), timeout=20)


def run_in_own_loop(coroutine):
    # Its own thread and loop: a browser test earlier in the run may have left a loop running here.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def open_updates(base: str, user):
    socket = await connect(
        base.replace("http", "ws", 1) + "/ws/updates/",
        origin=base,
        subprotocols=["peerlearn.bearer", str(AccessToken.for_user(user))],
        open_timeout=10,
    )
    assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "hello"
    return socket


async def next_event(socket, name: str, timeout: float = 15) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if frame.get("type") == "event" and frame["event"] == name:
            return frame["data"]


# --- Redis down, in process (both databases) ---------------------------------------------------
def test_publish_swallows_an_unreachable_channel_layer(db, learner, caplog):
    dead = _dead_redis_url()
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}}
    with override_settings(CHANNEL_LAYERS=layers), TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
        publish("booking.created", to=[learner], data={"booking": 1})
    assert callbacks  # the delivery ran after "commit", met the dead layer, and did not raise
    assert any("not delivered" in r.getMessage() for r in caplog.records)


def test_the_production_cache_acts_as_empty_while_redis_is_unreachable(caplog):
    from backend.core.cache import TolerantRedisCache

    cache = TolerantRedisCache(_dead_redis_url(), {})
    assert cache.get("k", "fallback") == "fallback"
    cache.set("k", 1)
    assert cache.add("k", 1) is False and cache.get_many(["k"]) == {} and cache.has_key("k") is False
    cache.delete("k")
    cache.delete_many(["k"])
    assert cache.get_or_set("k", lambda: "computed") == "computed"
    with pytest.raises(ValueError):
        cache.incr("k")
    assert any("cache unavailable" in r.getMessage() for r in caplog.records)


def test_pages_and_api_answer_with_the_cache_and_channel_layer_unreachable(db, learner, mentor):
    dead = _dead_redis_url()
    session = a_session(mentor)
    with override_settings(
        CACHES={"default": {"BACKEND": "backend.core.cache.TolerantRedisCache", "LOCATION": dead}},
        CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}},
    ):
        client = Client()
        for path in ("/", "/sessions/", f"/sessions/{session.pk}/", "/mentors/", "/api/sessions/", "/healthz"):
            assert client.get(path).status_code == 200, path
        assert client.get("/readyz").status_code == 503


# --- Redis down and back, real processes (PostgreSQL) ------------------------------------------
@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_process_whose_redis_is_unreachable_still_serves_pages_and_the_api(learner, mentor):
    session = a_session(mentor)
    with daphne(redis_url=_dead_redis_url()) as base:
        for path in ("/", "/sessions/", f"/sessions/{session.pk}/", "/mentors/", "/api/sessions/", "/healthz"):
            assert requests.get(base + path, timeout=20).status_code == 200, path
        response = book(base, learner, session)
        assert response.status_code == 201, response.text[:500]
        ready = requests.get(f"{base}/readyz", timeout=20)
        assert ready.status_code == 503
        assert set(ready.json()["failing"]) == {"cache", "channel_layer", "queue"}


@on_postgresql
@pytest.mark.skipif(REDIS_SERVER is None, reason="needs the redis-server program for a throwaway Redis")
@pytest.mark.django_db(transaction=True)
def test_live_updates_degrade_while_redis_is_away_and_recover_when_it_returns(learner, mentor):
    first, second, third, fourth = (a_session(mentor, hours_ahead=h, title=f"Session {h}") for h in (24, 48, 72, 96))
    redis = ThrowawayRedis()
    redis.start()
    try:
        with daphne(redis_url=redis.url) as base:

            async def before():
                socket = await open_updates(base, mentor)
                try:
                    response = await asyncio.to_thread(book, base, learner, first)
                    assert response.status_code == 201, response.text[:500]
                    return await next_event(socket, "booking.created")
                finally:
                    await socket.close()

            assert run_in_own_loop(before())["session"] == first.pk

            redis.stop()
            # Pages and the API keep serving; the booking commits though its event cannot leave.
            assert requests.get(f"{base}/sessions/", timeout=20).status_code == 200
            response = book(base, learner, second)
            assert response.status_code == 201, response.text[:500]
            assert requests.get(f"{base}/readyz", timeout=20).status_code == 503

            redis.start()
            deadline = time.monotonic() + 20
            while requests.get(f"{base}/readyz", timeout=20).status_code != 200:
                assert time.monotonic() < deadline, "readyz did not recover"
                time.sleep(0.2)

            async def after():
                socket = await open_updates(base, mentor)  # a page reconnects, as the app's socket does
                try:
                    # The first send on each pooled layer connection that went stale while Redis
                    # was away can still be lost (channels delivers at most once; the app's sync
                    # pull on reconnect covers it); from then on every event arrives.
                    for session in (third, fourth):
                        response = await asyncio.to_thread(book, base, learner, session)
                        assert response.status_code == 201, response.text[:500]
                        with contextlib.suppress(TimeoutError):
                            return await next_event(socket, "booking.created", timeout=5)
                    raise AssertionError("no live event after Redis returned")
                finally:
                    await socket.close()

            assert run_in_own_loop(after())["session"] in (third.pk, fourth.pk)
    finally:
        redis.stop()


# --- database connection killed (PostgreSQL) ---------------------------------------------------
def _terminate_backends(application_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            [application_name],
        )
        return cursor.fetchone()[0]


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("db_pool", [True, False], ids=["pooled", "unpooled"])
def test_the_next_request_succeeds_after_the_database_connection_was_killed(mentor, db_pool):
    a_session(mentor)
    name = f"peerlearn-resilience-{uuid.uuid4().hex[:8]}"
    with daphne(redis_url=None, db_pool=db_pool, application_name=name) as base:
        assert requests.get(f"{base}/api/sessions/", timeout=20).status_code == 200
        if db_pool:  # the pool keeps its connections open between requests: kill them all
            assert _terminate_backends(name) >= 1
        else:
            _terminate_backends(name)
        for _ in range(3):
            assert requests.get(f"{base}/api/sessions/", timeout=20).status_code == 200


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_request_whose_connection_dies_mid_query_fails_cleanly_and_the_next_succeeds(mentor):
    a_session(mentor)
    name = f"peerlearn-resilience-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    with daphne(redis_url=None, db_pool=True, application_name=name) as base:
        assert requests.get(f"{base}/api/sessions/", timeout=20).status_code == 200
        # Hold the sessions table so the next request's query waits on it, then kill that
        # request's backend while it waits: the connection dies in the middle of the request.
        with psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
            dbname=db["NAME"],
        ) as locker:  # fmt: skip
            locker.execute("LOCK TABLE marketplace_session IN ACCESS EXCLUSIVE MODE")
            result: dict = {}
            request = threading.Thread(
                target=lambda: result.update(response=requests.get(f"{base}/api/sessions/", timeout=30))
            )
            request.start()
            victim = None
            deadline = time.monotonic() + 15
            while victim is None and time.monotonic() < deadline:
                victim = locker.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                    [name],
                ).fetchone()
                time.sleep(0.05)
            assert victim is not None, "the request never waited on the lock"
            locker.execute("SELECT pg_terminate_backend(%s)", [victim[0]])
            locker.rollback()
        request.join(30)
        failed = result["response"]
        assert failed.status_code == 500
        assert "Traceback" not in failed.text and "terminat" not in failed.text.lower()
        for _ in range(3):
            assert requests.get(f"{base}/api/sessions/", timeout=20).status_code == 200
