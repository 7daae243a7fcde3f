"""Scale-out, end to end: two daphne processes and a huey consumer, sharing PostgreSQL and Redis
as production's processes behind a load balancer do. A booking made through one process
reaches the mentor's live socket on the other, and the consumer e-mails the notification."""

from __future__ import annotations

import asyncio
import json
import os
import socketserver
import subprocess
import sys
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect

from backend.marketplace.models import Booking
from tests.backend.marketplace.factories import a_session
from tests.processes import ROOT, _database_url, daphne_processes, scale_out_available

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not scale_out_available(), reason="needs PostgreSQL and Redis (CI's second run)"),
]


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for Django's backend: EHLO, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 sink")
        recipients: list[str] = []
        while raw := self.rfile.readline():
            command = raw.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip(" <>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                body = b"".join(iter(lambda: self.rfile.readline(), b".\r\n")).decode(errors="replace")
                self.server.messages.append((recipients, body))
                self.server.received.set()
                recipients = []
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # EHLO, HELO, MAIL, RSET, NOOP
                self.reply("250 sink")


class SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.messages: list[tuple[list[str], str]] = []
        self.received = threading.Event()
        self.port = self.server_address[1]


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    yield sink
    sink.shutdown()
    sink.server_close()


@pytest.fixture
def production_like_env(monkeypatch, smtp_sink):
    """What the daphne processes and the consumer share besides the database and Redis: jobs
    queued (not run inline, as the test process does), on a queue name of this test's own, and
    e-mail through SMTP to the sink."""
    values = {
        "HUEY_IMMEDIATE": "false",
        "HUEY_NAME": f"peerlearn-scaleout-{uuid.uuid4().hex[:8]}",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_sink.port),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)  # daphne_processes() passes os.environ on
    return values


def start_huey_consumer() -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.test_settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "PEERLEARN_DATA_DIR": tempfile.mkdtemp(prefix="peerlearn-scaleout-huey-"),
        "DB_POOL": "false",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--no-periodic"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr


async def next_event(socket, name: str) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 15))
        if frame["type"] == "event" and frame["event"] == name:
            return frame["data"]


def test_booking_on_one_process_reaches_the_mentor_on_another_and_the_consumer_mails_it(
    mentor, learner, production_like_env, smtp_sink
):
    session = a_session(mentor, hours_ahead=24)
    consumer = start_huey_consumer()
    try:
        with daphne_processes(2) as (first, second):

            async def scenario():
                socket = await connect(
                    second.replace("http", "ws", 1) + "/ws/updates/",
                    origin=second,
                    subprotocols=["peerlearn.bearer", str(AccessToken.for_user(mentor))],
                    open_timeout=10,
                )
                try:
                    hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    assert hello == {"type": "hello", "user": mentor.pk}
                    response = await asyncio.to_thread(
                        requests.post,
                        f"{first}/api/bookings/",
                        json={"session": session.pk},
                        headers={"Authorization": f"Bearer {AccessToken.for_user(learner)}"},
                        timeout=15,
                    )
                    assert response.status_code == 201, response.text
                    created = await next_event(socket, "booking.created")
                    notified = await next_event(socket, "notification.created")
                    return response.json(), created, notified
                finally:
                    await socket.close()

            # Its own thread and loop: no database work inside, and a browser test earlier in the
            # run may have left an event loop running in this thread.
            with ThreadPoolExecutor(1) as pool:
                booking, created, notified = pool.submit(asyncio.run, scenario()).result()
            assert smtp_sink.received.wait(30), "the consumer sent no e-mail"
    finally:
        consumer_log = stop(consumer)

    assert created["session"] == session.pk and created["booking"] == booking["id"]
    assert notified["title"] == f"New booking: {session.title}"
    assert Booking.objects.filter(pk=booking["id"], learner=learner, session=session).exists()
    ((recipients, body),) = smtp_sink.messages
    assert recipients == [mentor.email] and "New booking" in body
    # The consumer's structured log says which job sent it, as one JSON object per line.
    job_lines = [json.loads(line) for line in consumer_log.splitlines() if line.startswith("{")]
    delivered = [j for j in job_lines if j.get("logger") == "peerlearn.jobs" and j["task"] == "deliver_notifications"]
    assert delivered and delivered[0]["outcome"] == "complete" and delivered[0]["duration_ms"] > 0
