"""Gateway calls that must not run inside a request or a transaction."""

from __future__ import annotations

import logging

from huey.contrib.djhuey import db_task

from backend.payments import gateway

log = logging.getLogger(__name__)


@db_task(retries=5, retry_delay=60)
def refund_payment(order_id: int, payment_id: str, amount_paise: int, idempotency_key: str):
    """Refund through Razorpay; the same idempotency key makes a retry return the first refund
    rather than refund twice. A refusal for good is logged for the admin payments view."""
    try:
        gateway.refund(
            payment_id=payment_id,
            amount_paise=amount_paise,
            notes={"order": str(order_id)},
            idempotency_key=idempotency_key,
        )
    except gateway.GatewayError as error:
        if error.retryable:
            raise
        log.error("refund of %s for order %s refused: %s", payment_id, order_id, error)
