"""TEST STAND-IN for Razorpay: a local, in-memory HTTP server speaking the part of Razorpay's API
that backend/payments/gateway.py uses, in Razorpay's shapes. It is not Razorpay and moves no
money; every response carries the header `X-Test-Stand-In: razorpay`. Standard library only.

In-process (tests):
    standin = StandIn(key_id, key_secret, webhook_secret, webhook_url=None)
    base_url = standin.start()          # http://127.0.0.1:<free port>; settings.RAZORPAY_BASE_URL
    ...
    standin.stop()
As a program (the test-payment mode of a local install):
    python -m backend.payments.standin --port 8765 --key-id ... --key-secret ... \\
        --webhook-secret ... --webhook-url http://127.0.0.1:8000/api/payments/webhook/
Key options left out are read from RAZORPAY_KEY_ID / RAZORPAY_KEY_SECRET / RAZORPAY_WEBHOOK_SECRET,
else from the per-install test keys in the data directory (the files settings generates).

Razorpay API (HTTP basic auth with the key pair, else 401):
    POST /v1/orders                       {amount: paise int >= 100, currency: "INR", receipt, notes}
    GET  /v1/orders/{id}
    GET  /v1/orders/{id}/payments         {"entity": "collection", "count", "items"}
    GET  /v1/payments/{id}
    POST /v1/payments/{id}/refund         {amount?: paise (default: all not yet refunded), notes?}
                                          X-Refund-Idempotency honoured as Razorpay does
    GET  /v1/refunds/{id}
Test controls, no auth, never on Razorpay:
    POST /_test/orders/{id}/pay           {"outcome": success|failure|cancel, "method": upi|card|netbanking}
                                          answers what Checkout hands the page (always HTTP 200)
    POST /_test/refunds/fail-next         the next refund fails (status failed, refund.failed)
    POST /_test/webhooks/resend/{evt_id}  queue a recorded webhook again, same body and event id
    POST /_test/hang                      {"seconds": n}: /v1 requests stall n s first (0 = off)
    POST /_test/api-error                 {"status": 503, "json": true}: the next /v1 request fails
    GET  /_test/webhooks                  the webhooks sent so far
Hosted checkout (Razorpay's "embedded" checkout: a form the merchant's page posts, no script):
    POST /v1/checkout/embedded            form fields key_id, order_id, amount, currency, name,
                                          description, prefill[name], prefill[email], callback_url,
                                          cancel_url: answers an HTML page, clearly labelled as the
                                          stand-in, with Pay / Fail / Cancel buttons
    POST /v1/checkout/embedded/pay        what those buttons post: Pay captures a payment (as
                                          /_test/orders/{id}/pay does, webhooks included) and
                                          auto-posts razorpay_payment_id, razorpay_order_id and
                                          razorpay_signature to callback_url; Fail posts
                                          error[code], error[description], error[source],
                                          error[step], error[reason], error[metadata][payment_id]
                                          and error[metadata][order_id]; Cancel redirects (303) to
                                          cancel_url
As on Razorpay: ids are a prefix and 14 characters (order_, pay_, rfnd_, evt_), amounts are paise,
created_at is unix seconds, empty notes come back as [] (the real API does that), an unknown id is
400 "The id provided does not exist", an unknown URL 404.

Webhooks go to webhook_url from one background thread, in order, after the response that caused
them: Razorpay's payload ({"entity": "event", "account_id", "event", "contains", "payload",
"created_at"}), X-Razorpay-Signature (HMAC-SHA256 hex of the raw body with the webhook secret) and
X-Razorpay-Event-Id; 5 s timeout, a failure is logged and not retried. `sent_webhooks` records
(event_id, raw_body, headers, status) for tests (status None when nothing answered), and
`wait_for_webhooks(count, timeout)` waits for them without sleeping.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import json
import logging
import os
import queue
import re
import secrets
import signal
import string
import threading
import time
import urllib.error
import urllib.request
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

HEADER = ("X-Test-Stand-In", "razorpay")
WEBHOOK_TIMEOUT_SECONDS = 5
OUTCOMES = ("success", "failure", "cancel")
METHODS = ("upi", "card", "netbanking")
_ID_CHARS = string.ascii_letters + string.digits
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_SECRET_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#%^&*(-_=+)"
NOT_FOUND = "The requested URL was not found on the server."
NO_SUCH_ID = "The id provided does not exist"


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ID_CHARS) for _ in range(14))


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _now() -> int:
    return int(time.time())


def _notes(value) -> dict | list:
    return dict(value) if value else []  # Razorpay answers [] for no notes


class ApiError(Exception):
    """An error answered in Razorpay's shape."""

    def __init__(self, status: int, description: str, *, field: str | None = None, reason: str = "NA") -> None:
        super().__init__(description)
        self.status = status
        self.payload = {
            "error": {
                "code": "BAD_REQUEST_ERROR",
                "description": description,
                "source": "NA",
                "step": "NA",
                "reason": reason,
                "metadata": {},
                "field": field,
            }
        }


class _Raw(Exception):
    """A canned response (the /_test/api-error switch), answered as is."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type


class StandIn:
    """The Razorpay test stand-in. State lives in memory and dies with the object."""

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        webhook_url: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.key_id = key_id
        self.key_secret = key_secret
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.host = host
        self.port = port
        self.account_id = new_id("acc")
        self.base_url: str | None = None
        self.sent_webhooks: list[tuple[str, bytes, dict[str, str], int | None]] = []
        self._lock = threading.RLock()
        self._delivered = threading.Condition(self._lock)
        self._orders: dict[str, dict] = {}
        self._payments: dict[str, dict] = {}
        self._refunds: dict[str, dict] = {}
        self._idempotency: dict[str, tuple[str, str]] = {}  # key -> (request fingerprint, refund id)
        self._events: dict[str, tuple[bytes, dict[str, str]]] = {}
        self._fail_next_refund = False
        self._hang_seconds = 0.0
        self._next_api_error: _Raw | None = None
        self._release = threading.Event()  # set on stop: frees requests stalled by /_test/hang
        self._outbox: queue.Queue = queue.Queue()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True
        server.block_on_close = False
        server.standin = self
        self._server = server
        self._release.clear()
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._threads = [
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="razorpay-standin", daemon=True
            ),
            threading.Thread(target=self._deliver_webhooks, name="razorpay-standin-webhooks", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self.base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._release.set()
        server.shutdown()
        server.server_close()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=WEBHOOK_TIMEOUT_SECONDS + 1)
        self._threads = []

    def __enter__(self) -> StandIn:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- test controls (also reachable over HTTP under /_test/) ---------------------------------
    def fail_next_refund(self) -> None:
        with self._lock:
            self._fail_next_refund = True

    def hang(self, seconds: float) -> None:
        with self._lock:
            self._hang_seconds = max(0.0, float(seconds))

    def fail_next_request(self, status: int = 503, *, json_body: bool = True) -> None:
        if json_body:
            body = json.dumps(
                {"error": {"code": "SERVER_ERROR", "description": "The server encountered an error", "field": None}}
            ).encode()
            raw = _Raw(status, body, "application/json")
        else:
            raw = _Raw(status, b"<html><body>Bad gateway</body></html>", "text/html")
        with self._lock:
            self._next_api_error = raw

    def pay(self, order_id: str, outcome: str = "success", method: str = "upi", **customer) -> dict:
        """What POST /_test/orders/{id}/pay does; webhooks are queued at once."""
        result, events = self._pay(order_id, {"outcome": outcome, "method": method, **customer})
        self._enqueue(events)
        return result

    def resend_webhook(self, event_id: str) -> None:
        with self._lock:
            if event_id not in self._events:
                raise ApiError(400, NO_SUCH_ID, field="event_id")
        self._outbox.put(event_id)

    def wait_for_webhooks(
        self, count: int, timeout: float = 5.0
    ) -> list[tuple[str, bytes, dict[str, str], int | None]]:
        """Block until `count` webhooks have been sent (answered or failed); AssertionError after
        `timeout` seconds. Returns a copy of `sent_webhooks`."""
        with self._delivered:
            if not self._delivered.wait_for(lambda: len(self.sent_webhooks) >= count, timeout):
                raise AssertionError(f"{len(self.sent_webhooks)} of {count} webhooks sent in {timeout} s")
            return list(self.sent_webhooks)

    # --- HTTP entry points --------------------------------------------------------------------
    def _test_route(self, method: str, path: str, body: dict) -> tuple[int, dict, list[str]]:
        if method == "POST" and (m := re.fullmatch(r"/_test/orders/([^/]+)/pay", path)):
            result, events = self._pay(m.group(1), body)
            return 200, result, events
        if method == "POST" and path == "/_test/refunds/fail-next":
            self.fail_next_refund()
            return 200, {"fail_next_refund": True}, []
        if method == "POST" and (m := re.fullmatch(r"/_test/webhooks/resend/([^/]+)", path)):
            self.resend_webhook(m.group(1))
            return 200, {"event_id": m.group(1), "queued": True}, []
        if method == "POST" and path == "/_test/hang":
            seconds = body.get("seconds", 0)
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise ApiError(400, "seconds must be a number, 0 or more", field="seconds")
            self.hang(seconds)
            return 200, {"hang_seconds": float(seconds)}, []
        if method == "POST" and path == "/_test/api-error":
            status = body.get("status", 503)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ApiError(400, "status must be an HTTP error status", field="status")
            self.fail_next_request(status, json_body=bool(body.get("json", True)))
            return 200, {"next_status": status}, []
        if method == "GET" and path == "/_test/webhooks":
            with self._lock:
                sent = [
                    {"event_id": event_id, "event": json.loads(raw)["event"], "status": status}
                    for event_id, raw, _headers, status in self.sent_webhooks
                ]
            return 200, {"count": len(sent), "items": sent}, []
        raise ApiError(404, NOT_FOUND)

    def _api_route(self, method: str, path: str, body: dict, headers) -> tuple[int, dict, list[str]]:
        if method == "POST" and path == "/v1/orders":
            return 200, self._create_order(body), []
        if method == "GET" and (m := re.fullmatch(r"/v1/orders/([^/]+)", path)):
            return 200, self._get(self._orders, m.group(1)), []
        if method == "GET" and (m := re.fullmatch(r"/v1/orders/([^/]+)/payments", path)):
            return 200, self._order_payments(m.group(1)), []
        if method == "GET" and (m := re.fullmatch(r"/v1/payments/([^/]+)", path)):
            return 200, self._get(self._payments, m.group(1)), []
        if method == "POST" and (m := re.fullmatch(r"/v1/payments/([^/]+)/refund", path)):
            refund, events = self._refund(m.group(1), body, headers.get("X-Refund-Idempotency"))
            return 200, refund, events
        if method == "GET" and (m := re.fullmatch(r"/v1/refunds/([^/]+)", path)):
            return 200, self._get(self._refunds, m.group(1)), []
        raise ApiError(404, NOT_FOUND)

    def _authenticate(self, header: str | None) -> None:
        key_id = secret = ""
        if header and header[:6].lower() == "basic ":
            try:
                key_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                pass
        id_ok = hmac.compare_digest(key_id.encode(), self.key_id.encode())
        secret_ok = hmac.compare_digest(secret.encode(), self.key_secret.encode())
        if not (id_ok and secret_ok):
            raise ApiError(401, "Authentication failed")

    def _before_api(self) -> None:
        with self._lock:
            seconds = self._hang_seconds
            raw, self._next_api_error = self._next_api_error, None
        if seconds:
            self._release.wait(seconds)
        if raw is not None:
            raise raw

    # --- Razorpay behaviour -------------------------------------------------------------------
    def _get(self, table: dict[str, dict], entity_id: str) -> dict:
        with self._lock:
            if entity_id not in table:
                raise ApiError(400, NO_SUCH_ID, field="id")
            return copy.deepcopy(table[entity_id])

    def _create_order(self, body: dict) -> dict:
        amount = body.get("amount")
        if amount is None:
            raise ApiError(400, "The amount field is required.", field="amount")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ApiError(400, "The amount must be an integer.", field="amount")
        if amount < 100:
            raise ApiError(400, "The amount must be atleast INR 1.00.", field="amount")
        currency = body.get("currency")
        if currency is None:
            raise ApiError(400, "The currency field is required.", field="currency")
        if currency != "INR":
            raise ApiError(400, "Currency is not supported", field="currency")
        receipt = body.get("receipt")
        if receipt is not None and (not isinstance(receipt, str) or len(receipt) > 40):
            raise ApiError(400, "The receipt may not be greater than 40 characters.", field="receipt")
        notes = self._valid_notes(body.get("notes"))
        order = {
            "id": new_id("order"),
            "entity": "order",
            "amount": amount,
            "amount_paid": 0,
            "amount_due": amount,
            "currency": currency,
            "receipt": receipt,
            "offer_id": None,
            "status": "created",
            "attempts": 0,
            "notes": _notes(notes),
            "created_at": _now(),
        }
        with self._lock:
            self._orders[order["id"]] = order
            return copy.deepcopy(order)

    @staticmethod
    def _valid_notes(notes) -> dict:
        if notes in (None, [], ""):
            return {}
        if not isinstance(notes, dict):
            raise ApiError(400, "The notes must be an array.", field="notes")
        if len(notes) > 15:
            raise ApiError(400, "Number of notes fields exceed limit of 15", field="notes")
        for key, value in notes.items():
            if not isinstance(value, str | int | float) or len(str(value)) > 256 or len(key) > 256:
                raise ApiError(400, f"notes.{key} must be a string of at most 256 characters", field="notes")
        return dict(notes)

    def _order_payments(self, order_id: str) -> dict:
        with self._lock:
            if order_id not in self._orders:
                raise ApiError(400, NO_SUCH_ID, field="id")
            items = [copy.deepcopy(p) for p in self._payments.values() if p["order_id"] == order_id]
        return {"entity": "collection", "count": len(items), "items": items}

    def _pay(self, order_id: str, body: dict) -> tuple[dict, list[str]]:
        outcome = body.get("outcome", "success")
        method = body.get("method", "upi")
        if outcome not in OUTCOMES:
            raise ApiError(400, f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        if method not in METHODS:
            raise ApiError(400, f"method must be one of {', '.join(METHODS)}", field="method")
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise ApiError(400, NO_SUCH_ID, field="order_id")
            if outcome == "cancel":
                return {
                    "error": {
                        "code": "BAD_REQUEST_ERROR",
                        "description": "Payment processing cancelled by user",
                        "source": "customer",
                        "step": "payment_authentication",
                        "reason": "payment_cancelled",
                        "metadata": {},
                    }
                }, []
            if order["status"] == "paid":
                raise ApiError(400, "This order has already been paid", field="order_id", reason="order_already_paid")
            success = outcome == "success"
            amount = order["amount"]
            fee_base = amount * 2 // 100
            tax = fee_base * 18 // 100
            payment = {
                "id": new_id("pay"),
                "entity": "payment",
                "amount": amount,
                "currency": order["currency"],
                "status": "captured" if success else "failed",
                "order_id": order_id,
                "invoice_id": None,
                "international": False,
                "method": method,
                "amount_refunded": 0,
                "refund_status": None,
                "captured": success,
                "description": body.get("description"),
                "card_id": new_id("card") if method == "card" else None,
                "bank": "HDFC" if method == "netbanking" else None,
                "wallet": None,
                "vpa": ("success@razorpay" if success else "failure@razorpay") if method == "upi" else None,
                "email": body.get("email") or "void@razorpay.com",
                "contact": body.get("contact") or "+919000090000",
                "notes": copy.deepcopy(order["notes"]),
                "fee": fee_base + tax if success else None,
                "tax": tax if success else None,
                "error_code": None if success else "BAD_REQUEST_ERROR",
                "error_description": None if success else "Payment failed",
                "error_source": None if success else "bank",
                "error_step": None if success else "payment_authorization",
                "error_reason": None if success else "payment_failed",
                "acquirer_data": self._acquirer_data(method) if success else {},
                "created_at": _now(),
            }
            self._payments[payment["id"]] = payment
            order["attempts"] += 1
            if success:
                order.update(status="paid", amount_paid=amount, amount_due=0)
                events = [
                    self._event("payment.captured", payment=payment),
                    self._event("order.paid", payment=payment, order=order),
                ]
                signature = sign(self.key_secret, f"{order_id}|{payment['id']}".encode())
                result = {
                    "razorpay_order_id": order_id,
                    "razorpay_payment_id": payment["id"],
                    "razorpay_signature": signature,
                }
                return result, events
            order["status"] = "attempted"
            result = {
                "error": {
                    "code": "BAD_REQUEST_ERROR",
                    "description": "Payment failed",
                    "source": "bank",
                    "step": "payment_authorization",
                    "reason": "payment_failed",
                    "metadata": {"order_id": order_id, "payment_id": payment["id"]},
                }
            }
            return result, [self._event("payment.failed", payment=payment)]

    @staticmethod
    def _acquirer_data(method: str) -> dict:
        digits = "".join(secrets.choice(string.digits) for _ in range(12))
        if method == "upi":
            return {"rrn": digits, "upi_transaction_id": secrets.token_hex(16).upper()}
        if method == "card":
            return {"auth_code": digits[:6]}
        return {"bank_transaction_id": digits[:10]}

    def _refund(self, payment_id: str, body: dict, idempotency_key: str | None) -> tuple[dict, list[str]]:
        with self._lock:
            payment = self._payments.get(payment_id)
            if payment is None:
                raise ApiError(400, NO_SUCH_ID, field="id")
            if idempotency_key is not None:
                if not _IDEMPOTENCY_KEY.match(idempotency_key):
                    raise ApiError(400, "The idempotency key is invalid", field="X-Refund-Idempotency")
                fingerprint = json.dumps([payment_id, body], sort_keys=True)
                seen = self._idempotency.get(idempotency_key)
                if seen is not None:
                    if seen[0] != fingerprint:
                        raise ApiError(
                            400, "Different request with the same idempotency key has already been processed."
                        )
                    return copy.deepcopy(self._refunds[seen[1]]), []
            if payment["status"] == "refunded":
                raise ApiError(400, "The payment has been fully refunded already", field="id")
            if payment["status"] != "captured":
                raise ApiError(400, "Only payments which have been captured can be refunded", field="id")
            remaining = payment["amount"] - payment["amount_refunded"]
            amount = body.get("amount", remaining)
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise ApiError(400, "The amount must be an integer.", field="amount")
            if amount < 100:
                raise ApiError(400, "The amount must be atleast INR 1.00.", field="amount")
            if amount > remaining:
                raise ApiError(400, "The total refund amount is greater than the refund payment amount", field="amount")
            failed, self._fail_next_refund = self._fail_next_refund, False
            refund = {
                "id": new_id("rfnd"),
                "entity": "refund",
                "amount": amount,
                "currency": payment["currency"],
                "payment_id": payment_id,
                "notes": _notes(self._valid_notes(body.get("notes"))),
                "receipt": body.get("receipt"),
                "acquirer_data": {"arn": None if failed else "".join(secrets.choice(string.digits) for _ in range(23))},
                "created_at": _now(),
                "batch_id": None,
                "status": "failed" if failed else "processed",
                "speed_processed": "normal",
                "speed_requested": body.get("speed", "normal"),
            }
            self._refunds[refund["id"]] = refund
            if idempotency_key is not None:
                self._idempotency[idempotency_key] = (fingerprint, refund["id"])
            if not failed:
                payment["amount_refunded"] += amount
                full = payment["amount_refunded"] == payment["amount"]
                payment["refund_status"] = "full" if full else "partial"
                if full:
                    payment["status"] = "refunded"
            name = "refund.failed" if failed else "refund.processed"
            return copy.deepcopy(refund), [self._event(name, refund=refund, payment=payment)]

    # --- hosted checkout ------------------------------------------------------------------------
    def _hosted_fields(self, form: dict[str, str]) -> dict:
        """The order a hosted-checkout form names, checked as Razorpay would (key, order, amount)."""
        if not hmac.compare_digest(form.get("key_id", "").encode(), self.key_id.encode()):
            raise ApiError(400, "The api key provided is invalid", field="key_id")
        for field in ("callback_url", "cancel_url"):
            if form.get(field) and urlsplit(form[field]).scheme not in ("http", "https"):
                raise ApiError(400, f"The {field} is invalid", field=field)
        if not form.get("callback_url"):
            raise ApiError(400, "The callback_url field is required.", field="callback_url")
        with self._lock:
            order = self._orders.get(form.get("order_id", ""))
            if order is None:
                raise ApiError(400, NO_SUCH_ID, field="order_id")
            if form.get("amount") and form["amount"] != str(order["amount"]):
                raise ApiError(400, "The amount does not match the order's amount", field="amount")
            return copy.deepcopy(order)

    def _hosted_page(self, form: dict[str, str]) -> bytes:
        order = self._hosted_fields(form)
        rupees, paise = divmod(order["amount"], 100)
        amount = f"\u20b9{rupees:,}" + (f".{paise:02d}" if paise else "")
        keep = ("key_id", "order_id", "callback_url", "cancel_url")
        hidden = "".join(_hidden(name, form.get(name, "")) for name in keep)
        methods = "".join(
            f'<label><input type="radio" name="method" value="{m}"{" checked" if m == "upi" else ""}> {m.upper()}</label> '
            for m in METHODS
        )
        return _page(
            "Razorpay stand-in \u2014 test payments",
            f"<p class=note><strong>Razorpay stand-in \u2014 test payments, no real money.</strong> "
            f"This local test server stands in for Razorpay's hosted checkout.</p>"
            f"<h1>{escape(form.get('name') or 'Merchant')}</h1>"
            f"<p>{escape(form.get('description', ''))}</p>"
            f"<p class=amount>Pay {escape(amount)}</p>"
            f"<p>{escape(form.get('prefill[name]', ''))} {escape(form.get('prefill[email]', ''))}</p>"
            f'<form method=post action="/v1/checkout/embedded/pay">{hidden}'
            f"<fieldset><legend>Method</legend>{methods}</fieldset>"
            f"<button name=action value=pay class=pay>Pay {escape(amount)}</button> "
            f"<button name=action value=fail>Fail</button> "
            f"<button name=action value=cancel>Cancel</button></form>",
        )

    def _hosted_submit(self, form: dict[str, str]) -> tuple[int, bytes, dict[str, str], list[str]]:
        """(status, html, extra headers, webhook event ids) for a Pay / Fail / Cancel press."""
        self._hosted_fields(form)
        action = form.get("action")
        if action == "cancel":
            target = form.get("cancel_url") or ""
            if target:
                return 303, b"", {"Location": target}, []
            return 200, _page("Payment cancelled", "<p>Payment cancelled.</p>"), {}, []
        if action not in ("pay", "fail"):
            raise ApiError(400, "action must be pay, fail or cancel", field="action")
        method = form.get("method", "upi")
        outcome = "success" if action == "pay" else "failure"
        result, events = self._pay(form["order_id"], {"outcome": outcome, "method": method})
        if "razorpay_signature" in result:
            fields = result
        else:
            error = result["error"]
            fields = {f"error[{key}]": str(error[key]) for key in ("code", "description", "source", "step", "reason")}
            for key, value in (error.get("metadata") or {}).items():
                fields[f"error[metadata][{key}]"] = str(value)
        hidden = "".join(_hidden(name, value) for name, value in fields.items())
        # The page posts the result back to the merchant at once, as Razorpay's does.
        body = _page(
            "Returning to the merchant",
            f'<form id=back method=post action="{escape(form["callback_url"])}">{hidden}'
            f"<p>Returning to the merchant\u2026</p><button>Continue</button></form>"
            f"<script>document.getElementById('back').submit()</script>",
        )
        return 200, body, {}, events

    # --- webhooks -----------------------------------------------------------------------------
    def _event(self, name: str, **entities: dict) -> str:
        """Record an event (call with the lock held, so the entities are a consistent snapshot)."""
        event = {
            "entity": "event",
            "account_id": self.account_id,
            "event": name,
            "contains": list(entities),
            "payload": {kind: {"entity": copy.deepcopy(entity)} for kind, entity in entities.items()},
            "created_at": _now(),
        }
        raw = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        event_id = new_id("evt")
        headers = {
            "Content-Type": "application/json",
            "X-Razorpay-Signature": sign(self.webhook_secret, raw),
            "X-Razorpay-Event-Id": event_id,
            "User-Agent": "Razorpay-Webhook/v1 (test stand-in)",
            HEADER[0]: HEADER[1],
        }
        self._events[event_id] = (raw, headers)
        return event_id

    def _enqueue(self, event_ids: list[str]) -> None:
        for event_id in event_ids:
            self._outbox.put(event_id)

    def _deliver_webhooks(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        while (event_id := self._outbox.get()) is not None:
            with self._lock:
                raw, headers = self._events[event_id]
                url = self.webhook_url
            if not url:
                continue
            status = None
            try:
                request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
                with opener.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
                    status = response.status
                    response.read()
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (OSError, ValueError) as exc:
                log.warning("Razorpay stand-in: webhook %s to %s failed: %s", event_id, url, exc)
            if status is not None and status >= 300:
                log.warning("Razorpay stand-in: webhook %s to %s answered %s", event_id, url, status)
            with self._delivered:
                self.sent_webhooks.append((event_id, raw, dict(headers), status))
                self._delivered.notify_all()


class _Handler(BaseHTTPRequestHandler):
    server_version = "RazorpayTestStandIn/1"
    protocol_version = "HTTP/1.0"  # one request per connection: stop() leaves nothing open

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        standin: StandIn = self.server.standin
        path = urlsplit(self.path).path.rstrip("/")
        if method == "POST" and path in ("/v1/checkout/embedded", "/v1/checkout/embedded/pay"):
            self._hosted(standin, path)
            return
        events: list[str] = []
        try:
            body = self._read_json()
            if path.startswith("/_test/"):
                status, payload, events = standin._test_route(method, path, body)
            else:
                standin._before_api()
                standin._authenticate(self.headers.get("Authorization"))
                status, payload, events = standin._api_route(method, path, body, self.headers)
        except ApiError as exc:
            status, payload = exc.status, exc.payload
        except _Raw as raw:
            self._send(raw.status, raw.body, raw.content_type)
            return
        except Exception as exc:  # a bug in the stand-in: answer like Razorpay's 500
            log.exception("Razorpay stand-in failed on %s %s", method, self.path)
            status, payload = 500, {"error": {"code": "SERVER_ERROR", "description": str(exc), "field": None}}
        self._send(status, json.dumps(payload, ensure_ascii=False).encode())
        standin._enqueue(events)  # webhooks leave after the response

    def _hosted(self, standin: StandIn, path: str) -> None:
        """The hosted checkout's pages: form-encoded in, HTML out (errors too)."""
        events: list[str] = []
        headers: dict[str, str] = {}
        try:
            form = self._read_form()
            if path == "/v1/checkout/embedded":
                status, body = 200, standin._hosted_page(form)
            else:
                status, body, headers, events = standin._hosted_submit(form)
        except ApiError as exc:
            error = exc.payload["error"]["description"]
            status, body = exc.status, _page("Payment error", f"<p class=error>{escape(error)}</p>")
        self._send(status, body, "text/html; charset=utf-8", headers)
        standin._enqueue(events)

    def _read_form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            return dict(parse_qsl(raw.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiError(400, "The form is not UTF-8") from None

    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object")
        return body

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header(*HEADER)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout), as it should

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (bad request line, unknown method) in Razorpay's shape too.
        payload = ApiError(code, message or explain or "Bad request").payload
        self.close_connection = True
        self._send(code, json.dumps(payload).encode())

    def log_message(self, format: str, *args) -> None:
        log.debug("Razorpay stand-in: " + format, *args)


def _hidden(name: str, value: str) -> str:
    return f'<input type=hidden name="{escape(name)}" value="{escape(str(value))}">'


def _page(title: str, body: str) -> bytes:
    """A tiny self-contained HTML page (no external assets), labelled as the stand-in."""
    style = (
        "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
        ".note{background:#fff4d6;border-left:4px solid #b7791f;padding:.75rem 1rem}"
        ".amount{font-size:1.5rem;font-weight:700}button{min-height:44px;padding:0 1rem;font:inherit}"
        "fieldset{border:0;padding:0;margin:1rem 0}.error{color:#b42318}"
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{style}</style></head><body>{body}</body></html>"
    ).encode()


def _read_or_create(path: Path) -> str:
    """The per-install test key in `path`, created like backend.env.secret_from_env_or_file does
    when the stand-in starts before the app has."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = "".join(secrets.choice(_SECRET_CHARS) for _ in range(64))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # the app wrote it a moment ago
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secret)
    return path.read_text().strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m backend.payments.standin",
        description="Razorpay TEST STAND-IN: a local, in-memory Razorpay-compatible server. No real money.",
    )
    default_data_dir = os.environ.get("PEERLEARN_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "var")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--key-id", default=os.environ.get("RAZORPAY_KEY_ID"))
    parser.add_argument("--key-secret", default=os.environ.get("RAZORPAY_KEY_SECRET"))
    parser.add_argument("--webhook-secret", default=os.environ.get("RAZORPAY_WEBHOOK_SECRET"))
    parser.add_argument("--webhook-url", default=None, help="where to POST webhooks (none: recorded, not sent)")
    parser.add_argument("--data-dir", default=default_data_dir, help="per-install test keys when not given")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    data_dir = Path(args.data_dir).expanduser()
    standin = StandIn(
        args.key_id or _read_or_create(data_dir / "razorpay_test_key_id"),
        args.key_secret or _read_or_create(data_dir / "razorpay_test_key_secret"),
        args.webhook_secret or _read_or_create(data_dir / "razorpay_test_webhook_secret"),
        args.webhook_url,
        host=args.host,
        port=args.port,
    )
    url = standin.start()
    print(f"Razorpay TEST STAND-IN (not Razorpay, no real money) on {url}", flush=True)
    print(f"Webhooks: {args.webhook_url or 'recorded, not sent (no --webhook-url)'}", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
