"""The Razorpay test stand-in, started per test on loopback, with settings pointed at it and an
inbox that collects the webhooks it sends (tests hand them to Django's test client)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.payments.standin import StandIn


class Inbox:
    """Where the stand-in delivers webhooks; the test hands them to Django's test client."""

    def __init__(self):
        self.events: list[tuple[bytes, dict]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                inbox.events.append((raw, dict(self.headers)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def wait_for(self, count: int) -> list[tuple[bytes, dict]]:
        deadline = time.monotonic() + 5
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.events) >= count, self.events
        return self.events[:count]


@pytest.fixture
def razorpay(settings):
    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET = "rzp_test_standin", "key-secret-for-tests"
    settings.RAZORPAY_WEBHOOK_SECRET = "webhook-secret-for-tests"
    settings.RAZORPAY_TIMEOUT_SECONDS = 2
    settings.PLATFORM_FEE_PERCENT = 10
    inbox = Inbox()
    standin = StandIn(
        settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET, settings.RAZORPAY_WEBHOOK_SECRET, inbox.url
    )
    settings.RAZORPAY_BASE_URL = standin.start()
    standin.inbox = inbox
    yield standin
    standin.stop()
    inbox.server.shutdown()
