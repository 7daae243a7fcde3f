"""The one module that talks to Razorpay, through the official `razorpay` client.

Why it wraps the client instead of handing it out:
- Timeouts. The client passes no timeout to requests, so a stalled connection blocks its caller
  forever. Every call here carries RAZORPAY_TIMEOUT_SECONDS (connect and read).
- No retries. The client can retry with exponential back-off that time.sleep()s for seconds; it
  is off by default in 2.0.1 and switched off explicitly here. A caller that gets a retryable
  GatewayError decides itself (a huey task, later), and refunds carry an idempotency key so a
  retry can never refund twice.
- Sync only. Calls block on the network, so they refuse to run inside an event loop (daphne's
  async consumers): call them from sync views, services or huey tasks.
- One error type. Network failures, timeouts and HTTP errors all become GatewayError(code,
  message, retryable): network errors, timeouts, 5xx, 409 and 429 are retryable, other 4xx not.

The base URL comes from settings, so tests and the test-payment mode talk to the local stand-in
(backend/payments/standin.py) through exactly the same code as production.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

import razorpay
import razorpay.errors
import requests
from django.conf import settings
from django.utils.asyncio import async_unsafe

log = logging.getLogger(__name__)

CURRENCY = "INR"
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")
# Transport errors that are our configuration, not the network: retrying cannot help.
_NOT_RETRYABLE_TRANSPORT = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)


class GatewayError(Exception):
    """Razorpay could not be reached or refused the request. `retryable` says whether the same
    request may succeed later (network, timeout, 5xx, 409, 429) or never will (other 4xx)."""

    def __init__(
        self,
        code: str,
        message: str,
        retryable: bool,
        *,
        status: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status
        self.field = field


class _Failure(Exception):
    """Raised by the session so the client passes it through untouched: the client catches
    requests' own exceptions only to print() and re-raise them."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(str(error))
        self.error = error


class _Session(requests.Session):
    """The client's transport. It guarantees a timeout on every request and turns failures into
    GatewayError here, where the HTTP status is still known (the client's exceptions drop it)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, *args, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        started, response = time.perf_counter(), None
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.exceptions.Timeout as exc:
            raise _Failure(GatewayError("TIMEOUT", f"Razorpay did not answer in time: {exc}", True)) from exc
        except requests.exceptions.ConnectionError as exc:
            raise _Failure(GatewayError("NETWORK_ERROR", f"Razorpay could not be reached: {exc}", True)) from exc
        except requests.exceptions.RequestException as exc:
            retryable = not isinstance(exc, _NOT_RETRYABLE_TRANSPORT)
            raise _Failure(GatewayError("REQUEST_ERROR", str(exc), retryable)) from exc
        finally:
            status = response.status_code if response is not None else None
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            path = urlsplit(url).path  # never the query or credentials
            log.info(
                "razorpay %s %s %s %.1f ms",
                method,
                path,
                status or "no answer",
                duration_ms,
                extra={
                    "gateway": "razorpay",
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
        if 200 <= response.status_code < 300 and response.status_code != 204:
            try:
                response.json()
            except ValueError:
                raise _Failure(
                    GatewayError("INVALID_RESPONSE", "Razorpay answered with a body that is not JSON", True)
                ) from None
        elif response.status_code >= 300:
            raise _Failure(_http_error(response))
        return response


def _http_error(response: requests.Response) -> GatewayError:
    status = response.status_code
    retryable = status >= 500 or status in (409, 429)
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = str(error.get("code") or f"HTTP_{status}")
    message = str(error.get("description") or response.reason or f"HTTP {status}")
    field = error.get("field")
    return GatewayError(code, message, retryable, status=status, field=str(field) if field else None)


def _client(session: _Session) -> razorpay.Client:
    client = razorpay.Client(
        session=session,
        auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET),
        base_url=settings.RAZORPAY_BASE_URL.rstrip("/"),
        max_retries=1,
    )
    client.enable_retry(False)  # never sleep-and-retry inside a request
    client.set_app_details({"title": "PeerLearn"})
    return client


def _call(operation) -> Any:
    """Run `operation(client, timeout)` on a fresh client and session (thread-safe, nothing
    shared between calls), mapping every failure to GatewayError."""
    timeout = float(settings.RAZORPAY_TIMEOUT_SECONDS)
    with _Session(timeout) as session:
        try:
            return _normalise(operation(_client(session), timeout))
        except _Failure as failure:
            raise failure.error from failure.__cause__
        except razorpay.errors.BadRequestError as exc:  # only if the session let one through
            raise GatewayError("BAD_REQUEST_ERROR", str(exc), False) from exc
        except (razorpay.errors.ServerError, razorpay.errors.GatewayError) as exc:
            raise GatewayError("SERVER_ERROR", str(exc), True) from exc
        except ValueError as exc:  # a 2xx body that is not JSON
            raise GatewayError("INVALID_RESPONSE", str(exc), True) from exc


def _normalise(value: Any) -> Any:
    """Razorpay sends empty `notes` as a JSON list ([]); callers always get a dict."""
    if isinstance(value, dict):
        if value.get("notes") == []:
            value["notes"] = {}
        if isinstance(value.get("items"), list):
            value["items"] = [_normalise(item) for item in value["items"]]
    return value


def _require_amount(amount_paise: int) -> None:
    if not isinstance(amount_paise, int) or isinstance(amount_paise, bool):
        raise TypeError(f"amount_paise must be an int, got {type(amount_paise).__name__}")


@async_unsafe
def create_order(*, amount_paise: int, receipt: str, notes: dict) -> dict:
    """Create an order in INR for `amount_paise` (Razorpay's minimum is 100). `receipt` is our
    reference (at most 40 characters); `notes` at most 15 string pairs, echoed in webhooks."""
    _require_amount(amount_paise)
    data = {"amount": amount_paise, "currency": CURRENCY, "receipt": receipt, "notes": dict(notes)}
    return _call(lambda client, timeout: client.order.create(data, timeout=timeout))


@async_unsafe
def fetch_order(order_id: str) -> dict:
    return _call(lambda client, timeout: client.order.fetch(order_id, timeout=timeout))


@async_unsafe
def fetch_payment(payment_id: str) -> dict:
    return _call(lambda client, timeout: client.payment.fetch(payment_id, timeout=timeout))


@async_unsafe
def order_payments(order_id: str) -> list[dict]:
    """Every payment attempted against the order (failed ones too), oldest first as Razorpay
    returns them."""
    collection = _call(lambda client, timeout: client.order.payments(order_id, timeout=timeout))
    return list(collection.get("items") or [])


@async_unsafe
def refund(*, payment_id: str, amount_paise: int, notes: dict, idempotency_key: str) -> dict:
    """Refund `amount_paise` of a captured payment (the whole remaining amount for a full
    refund, less for a partial one). Razorpay's X-Refund-Idempotency header makes a repeat with
    the same key and body return the first refund instead of refunding twice, so retry a
    retryable GatewayError with the same key. The key: 10+ characters of A-Z a-z 0-9 _ -."""
    _require_amount(amount_paise)
    if not _IDEMPOTENCY_KEY.match(idempotency_key or ""):
        raise ValueError("idempotency_key must be at least 10 characters of letters, digits, '-' or '_'")
    data = {"amount": amount_paise, "speed": "normal", "notes": dict(notes)}
    headers = {"X-Refund-Idempotency": idempotency_key}
    return _call(lambda client, timeout: client.payment.refund(payment_id, data, headers=headers, timeout=timeout))


@async_unsafe
def fetch_refund(refund_id: str) -> dict:
    return _call(lambda client, timeout: client.refund.fetch(refund_id, timeout=timeout))


def _hmac_matches(secret: str, message: bytes, signature: object) -> bool:
    if not secret or not isinstance(signature, str) or not signature:
        return False
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))


def verify_payment_signature(*, order_id: str, payment_id: str, signature: str) -> bool:
    """Checkout's razorpay_signature: HMAC-SHA256 hex of "order_id|payment_id" keyed with the
    key secret, compared in constant time. Never raises; anything malformed is False."""
    try:
        if not isinstance(order_id, str) or not isinstance(payment_id, str) or not order_id or not payment_id:
            return False
        return _hmac_matches(settings.RAZORPAY_KEY_SECRET, f"{order_id}|{payment_id}".encode(), signature)
    except Exception:
        return False


def verify_webhook_signature(raw_body: bytes, signature: str) -> bool:
    """X-Razorpay-Signature: HMAC-SHA256 hex of the exact raw request body keyed with the webhook
    secret, compared in constant time. Pass request.body, never re-serialised JSON. Never raises."""
    try:
        if not isinstance(raw_body, bytes | bytearray | memoryview):
            return False
        return _hmac_matches(settings.RAZORPAY_WEBHOOK_SECRET, bytes(raw_body), signature)
    except Exception:
        return False


@async_unsafe
def test_mode_pay(order_id: str, *, outcome: str, method: str) -> dict:
    """Test-payment mode only: ask the local stand-in to pay (or fail, or cancel) an order as a
    customer in Razorpay Checkout would, and return what Checkout hands the page: the signed
    {razorpay_order_id, razorpay_payment_id, razorpay_signature}, or {"error": {...}}."""
    if not settings.PAYMENTS_TEST_MODE:
        raise GatewayError("NOT_TEST_MODE", "Test payments exist only in test-payment mode.", False)
    url = f"{settings.RAZORPAY_BASE_URL.rstrip('/')}/_test/orders/{order_id}/pay"
    try:
        response = requests.post(
            url, json={"outcome": outcome, "method": method}, timeout=float(settings.RAZORPAY_TIMEOUT_SECONDS)
        )
    except requests.RequestException as exc:
        raise GatewayError("NETWORK_ERROR", str(exc), True) from exc
    try:
        return response.json()
    except ValueError as exc:
        raise GatewayError("INVALID_RESPONSE", "The test stand-in did not answer JSON.", True) from exc
