"""The gateway drives the real razorpay client against the local Razorpay stand-in: orders,
checkout signatures, payments, refunds, errors, timeouts and webhook signatures. No database."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import SynchronousOnlyOperation

from backend.payments import gateway
from backend.payments.gateway import GatewayError
from backend.payments.standin import StandIn

KEY_ID = "rzp_test_StandInKey0001"
KEY_SECRET = "stand-in-key-secret-0123456789"
WEBHOOK_SECRET = "stand-in-webhook-secret-9876543210"


class WebhookReceiver:
    """A tiny HTTP server collecting what the stand-in posts: (headers, raw body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._changed:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                    receiver._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/payments/webhook/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        """Bounded wait (a condition, no sleeping) until `count` webhooks have arrived."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received)

    def events(self) -> list[str]:
        return [json.loads(raw)["event"] for _headers, raw in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def standin(receiver, settings):
    standin = StandIn(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, webhook_url=receiver.url)
    settings.RAZORPAY_BASE_URL = standin.start()
    settings.RAZORPAY_KEY_ID = KEY_ID
    settings.RAZORPAY_KEY_SECRET = KEY_SECRET
    settings.RAZORPAY_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.RAZORPAY_TIMEOUT_SECONDS = 5
    yield standin
    standin.stop()


def post(url: str, body: dict | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def checkout(standin: StandIn, order_id: str, outcome: str = "success", method: str = "upi") -> dict:
    status, body, headers = post(
        f"{standin.base_url}/_test/orders/{order_id}/pay", {"outcome": outcome, "method": method}
    )
    assert status == 200 and headers["X-Test-Stand-In"] == "razorpay"
    return body


def paid_order(standin: StandIn, amount: int = 49_900) -> tuple[dict, dict]:
    order = gateway.create_order(amount_paise=amount, receipt="booking-1", notes={"booking_id": "1"})
    return order, checkout(standin, order["id"])


def test_create_and_fetch_an_order(standin):
    order = gateway.create_order(amount_paise=49_900, receipt="booking-17", notes={"booking_id": "17"})
    assert order["id"].startswith("order_") and len(order["id"]) == len("order_") + 14
    assert order["entity"] == "order" and order["status"] == "created" and order["currency"] == "INR"
    assert (order["amount"], order["amount_paid"], order["amount_due"]) == (49_900, 0, 49_900)
    assert order["receipt"] == "booking-17" and order["notes"] == {"booking_id": "17"}
    assert isinstance(order["created_at"], int) and abs(order["created_at"] - time.time()) < 60
    assert gateway.fetch_order(order["id"]) == order
    assert gateway.order_payments(order["id"]) == []


def test_empty_notes_come_back_as_a_dict(standin):
    # Razorpay (and the stand-in) answer `"notes": []` when there are none.
    order = gateway.create_order(amount_paise=100, receipt="r", notes={})
    assert order["notes"] == {}


@pytest.mark.parametrize("amount", [99, 0])
def test_an_order_below_one_rupee_is_refused_for_good(standin, amount):
    with pytest.raises(GatewayError) as caught:
        gateway.create_order(amount_paise=amount, receipt="r", notes={})
    assert caught.value.code == "BAD_REQUEST_ERROR" and caught.value.field == "amount"
    assert caught.value.status == 400 and caught.value.retryable is False


def test_an_unknown_id_is_a_bad_request(standin):
    with pytest.raises(GatewayError) as caught:
        gateway.fetch_payment("pay_DoesNotExist00")
    assert caught.value.code == "BAD_REQUEST_ERROR" and not caught.value.retryable


def test_checkout_signature_verifies_and_a_tampered_one_does_not(standin):
    order, result = paid_order(standin)
    order_id, payment_id, signature = (
        result["razorpay_order_id"],
        result["razorpay_payment_id"],
        result["razorpay_signature"],
    )
    assert order_id == order["id"] and payment_id.startswith("pay_")
    assert gateway.verify_payment_signature(order_id=order_id, payment_id=payment_id, signature=signature) is True

    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    other = gateway.create_order(amount_paise=100, receipt="r", notes={})["id"]
    for kwargs in (
        {"order_id": order_id, "payment_id": payment_id, "signature": flipped},
        {"order_id": other, "payment_id": payment_id, "signature": signature},
        {"order_id": order_id, "payment_id": "pay_Other000000000", "signature": signature},
        {"order_id": order_id, "payment_id": payment_id, "signature": ""},
        {"order_id": order_id, "payment_id": payment_id, "signature": "é" * 64},
        {"order_id": order_id, "payment_id": payment_id, "signature": None},
        {"order_id": None, "payment_id": payment_id, "signature": signature},
    ):
        assert gateway.verify_payment_signature(**kwargs) is False, kwargs


def test_a_paid_order_and_its_payment(standin):
    order, result = paid_order(standin)
    payment = gateway.fetch_payment(result["razorpay_payment_id"])
    assert payment["entity"] == "payment" and payment["status"] == "captured" and payment["captured"] is True
    assert (payment["amount"], payment["currency"], payment["order_id"]) == (49_900, "INR", order["id"])
    assert payment["method"] == "upi" and payment["amount_refunded"] == 0 and payment["refund_status"] is None
    assert payment["notes"] == {"booking_id": "1"}
    fetched = gateway.fetch_order(order["id"])
    assert fetched["status"] == "paid" and fetched["amount_paid"] == 49_900 and fetched["amount_due"] == 0
    assert [p["id"] for p in gateway.order_payments(order["id"])] == [payment["id"]]


def test_a_failed_and_a_cancelled_checkout(standin):
    order = gateway.create_order(amount_paise=20_000, receipt="r", notes={})
    assert checkout(standin, order["id"], "cancel") == {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "Payment processing cancelled by user",
            "source": "customer",
            "step": "payment_authentication",
            "reason": "payment_cancelled",
            "metadata": {},
        }
    }
    assert gateway.fetch_order(order["id"])["status"] == "created"

    failed = checkout(standin, order["id"], "failure", "card")["error"]
    assert failed["reason"] == "payment_failed" and failed["metadata"]["order_id"] == order["id"]
    payment = gateway.fetch_payment(failed["metadata"]["payment_id"])
    assert payment["status"] == "failed" and payment["method"] == "card" and payment["error_reason"] == "payment_failed"
    assert gateway.fetch_order(order["id"])["status"] == "attempted"

    retried = checkout(standin, order["id"], "success", "netbanking")
    assert gateway.fetch_order(order["id"])["status"] == "paid"
    assert [p["status"] for p in gateway.order_payments(order["id"])] == ["failed", "captured"]
    assert retried["razorpay_payment_id"] != payment["id"]


def test_partial_then_full_refund_and_never_more_than_captured(standin):
    _order, result = paid_order(standin, 49_900)
    payment_id = result["razorpay_payment_id"]

    partial = gateway.refund(
        payment_id=payment_id, amount_paise=10_000, notes={"reason": "late"}, idempotency_key="refund-1-part"
    )
    assert partial["id"].startswith("rfnd_") and partial["status"] == "processed" and partial["amount"] == 10_000
    assert partial["payment_id"] == payment_id and partial["notes"] == {"reason": "late"}
    payment = gateway.fetch_payment(payment_id)
    assert (payment["status"], payment["amount_refunded"], payment["refund_status"]) == ("captured", 10_000, "partial")

    # The same idempotency key and body is the same refund, not a second one.
    again = gateway.refund(
        payment_id=payment_id, amount_paise=10_000, notes={"reason": "late"}, idempotency_key="refund-1-part"
    )
    assert again["id"] == partial["id"]
    assert gateway.fetch_payment(payment_id)["amount_refunded"] == 10_000

    with pytest.raises(GatewayError) as caught:
        gateway.refund(payment_id=payment_id, amount_paise=39_901, notes={}, idempotency_key="refund-1-toomuch")
    assert caught.value.code == "BAD_REQUEST_ERROR" and caught.value.retryable is False
    assert caught.value.field == "amount"

    full = gateway.refund(payment_id=payment_id, amount_paise=39_900, notes={}, idempotency_key="refund-1-rest")
    assert full["status"] == "processed" and gateway.fetch_refund(full["id"]) == full
    payment = gateway.fetch_payment(payment_id)
    assert (payment["status"], payment["amount_refunded"], payment["refund_status"]) == ("refunded", 49_900, "full")

    with pytest.raises(GatewayError) as caught:
        gateway.refund(payment_id=payment_id, amount_paise=100, notes={}, idempotency_key="refund-1-after")
    assert not caught.value.retryable


def test_a_refund_can_fail(standin):
    _order, result = paid_order(standin)
    assert post(f"{standin.base_url}/_test/refunds/fail-next")[0] == 200
    refund = gateway.refund(
        payment_id=result["razorpay_payment_id"], amount_paise=49_900, notes={}, idempotency_key="refund-fails-1"
    )
    assert refund["status"] == "failed"
    assert gateway.fetch_payment(result["razorpay_payment_id"])["amount_refunded"] == 0


def test_a_bad_idempotency_key_is_refused_before_any_request(standin):
    with pytest.raises(ValueError):
        gateway.refund(payment_id="pay_x", amount_paise=100, notes={}, idempotency_key="short")


def test_a_wrong_key_pair_is_refused(standin, settings):
    settings.RAZORPAY_KEY_SECRET = "not-the-secret"
    with pytest.raises(GatewayError) as caught:
        gateway.create_order(amount_paise=100, receipt="r", notes={})
    assert caught.value.status == 401 and caught.value.retryable is False


@pytest.mark.parametrize(("status", "json_body"), [(503, True), (502, False), (500, True)])
def test_server_errors_are_retryable(standin, status, json_body):
    standin.fail_next_request(status, json_body=json_body)
    with pytest.raises(GatewayError) as caught:
        gateway.fetch_order("order_Anything000000")
    assert caught.value.status == status and caught.value.retryable is True


def test_a_stopped_gateway_is_a_retryable_error_at_once(standin, settings, capsys):
    settings.RAZORPAY_TIMEOUT_SECONDS = 1
    standin.stop()
    started = time.monotonic()
    with pytest.raises(GatewayError) as caught:
        gateway.fetch_order("order_Anything000000")
    assert time.monotonic() - started < 1.5
    assert caught.value.code == "NETWORK_ERROR" and caught.value.retryable is True
    assert capsys.readouterr().out == ""  # the client print()s on network errors; not through us


def test_a_hanging_gateway_times_out(standin, settings):
    settings.RAZORPAY_TIMEOUT_SECONDS = 1
    assert post(f"{standin.base_url}/_test/hang", {"seconds": 30})[0] == 200
    started = time.monotonic()
    with pytest.raises(GatewayError) as caught:
        gateway.create_order(amount_paise=100, receipt="r", notes={})
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.5, elapsed
    assert caught.value.code == "TIMEOUT" and caught.value.retryable is True


def test_every_stand_in_response_says_what_it_is(standin):
    for url in (f"{standin.base_url}/v1/orders", f"{standin.base_url}/nowhere", f"{standin.base_url}/_test/nowhere"):
        status, body, headers = post(url)
        assert status in (401, 404) and headers["X-Test-Stand-In"] == "razorpay"
        assert body["error"]["code"] == "BAD_REQUEST_ERROR"


def test_webhooks_are_signed_over_the_raw_body(standin, receiver):
    order, result = paid_order(standin)
    received = receiver.wait_for(2)
    assert receiver.events() == ["payment.captured", "order.paid"]
    for headers, raw in received:
        assert headers["content-type"] == "application/json"
        assert gateway.verify_webhook_signature(raw, headers["x-razorpay-signature"]) is True
        assert gateway.verify_webhook_signature(raw + b" ", headers["x-razorpay-signature"]) is False
        assert (
            gateway.verify_webhook_signature(raw.replace(b"49900", b"49901"), headers["x-razorpay-signature"]) is False
        )
        assert gateway.verify_webhook_signature(raw, "0" * 64) is False
        assert gateway.verify_webhook_signature(raw.decode(), headers["x-razorpay-signature"]) is False  # not bytes
    assert len({headers["x-razorpay-event-id"] for headers, _raw in received}) == 2

    captured, paid = (json.loads(raw) for _headers, raw in received)
    assert captured["entity"] == "event" and captured["contains"] == ["payment"]
    assert captured["payload"]["payment"]["entity"]["id"] == result["razorpay_payment_id"]
    assert paid["contains"] == ["payment", "order"]
    assert paid["payload"]["order"]["entity"]["id"] == order["id"]
    assert paid["payload"]["order"]["entity"]["status"] == "paid"

    refund = gateway.refund(
        payment_id=result["razorpay_payment_id"], amount_paise=49_900, notes={}, idempotency_key="refund-hook-1"
    )
    headers, raw = receiver.wait_for(3)[2]
    event = json.loads(raw)
    assert event["event"] == "refund.processed" and event["payload"]["refund"]["entity"]["id"] == refund["id"]
    assert gateway.verify_webhook_signature(raw, headers["x-razorpay-signature"])

    # A resent event is byte-for-byte the same delivery, same event id: what dedup must catch.
    first_id = received[0][0]["x-razorpay-event-id"]
    assert post(f"{standin.base_url}/_test/webhooks/resend/{first_id}")[0] == 200
    headers, raw = receiver.wait_for(4)[3]
    assert headers["x-razorpay-event-id"] == first_id and raw == received[0][1]
    sent = standin.wait_for_webhooks(4)
    assert [event_id for event_id, *_ in sent].count(first_id) == 2
    assert all(status == 200 for *_, status in sent)


def test_a_failed_payment_sends_payment_failed(standin, receiver):
    order = gateway.create_order(amount_paise=100, receipt="r", notes={})
    checkout(standin, order["id"], "failure")
    headers, raw = receiver.wait_for(1)[0]
    assert json.loads(raw)["event"] == "payment.failed"
    assert gateway.verify_webhook_signature(raw, headers["x-razorpay-signature"])


def test_signature_checks_refuse_without_secrets(settings):
    settings.RAZORPAY_WEBHOOK_SECRET = ""
    settings.RAZORPAY_KEY_SECRET = ""
    assert gateway.verify_webhook_signature(b"{}", "0" * 64) is False
    assert gateway.verify_payment_signature(order_id="order_a", payment_id="pay_b", signature="0" * 64) is False


def test_refuses_to_block_an_event_loop(standin, monkeypatch):
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)

    async def from_async_code():
        gateway.fetch_order("order_Anything000000")

    # Its own thread and loop: an earlier test may have left an event loop running in this one.
    with ThreadPoolExecutor(1) as pool, pytest.raises(SynchronousOnlyOperation):
        pool.submit(asyncio.run, from_async_code()).result()
