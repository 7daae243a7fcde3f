"""Razorpay webhooks: the source of truth about money. Each event is handled once by its
X-Razorpay-Event-Id, in its own transaction, whatever order events arrive in: settling is
idempotent (services.payment_settle), and a refund is posted once per refund id. Calls back to
the gateway (refunding a payment that came too late) go to huey after commit."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from backend.accounts.audit import audit_record
from backend.core.errors import DomainError
from backend.payments import services
from backend.payments.models import WebhookEvent

log = logging.getLogger(__name__)
HANDLED = ("payment.captured", "order.paid", "payment.failed", "refund.processed", "refund.failed")


def _entity(event: dict, name: str) -> dict:
    return ((event.get("payload") or {}).get(name) or {}).get("entity") or {}


def handle(event_id: str, event: dict) -> str:
    """Apply one verified event; returns what became of it (stored with the event id)."""
    kind = str(event.get("event", ""))[:40]
    try:
        with transaction.atomic():
            record = WebhookEvent.objects.create(event_id=event_id[:64], event=kind)
            outcome = _apply(kind, event)
            record.outcome = outcome[:60]
            record.save(update_fields=["outcome"])
    except IntegrityError:
        return "duplicate"
    except DomainError as refused:  # unknown order, amount mismatch: recorded, not retried
        audit_record(action="payment.webhook_refused", event_id=event_id, event=kind, code=refused.code)
        WebhookEvent.objects.get_or_create(event_id=event_id[:64], defaults={"event": kind, "outcome": refused.code})
        return refused.code
    return outcome


def _apply(kind: str, event: dict) -> str:
    if kind in ("payment.captured", "order.paid"):
        payment = _entity(event, "payment")
        order_id = payment.get("order_id") or _entity(event, "order").get("id")
        if not payment.get("id") or not order_id:
            return "ignored_incomplete"
        settled = services.payment_settle(
            gateway_order_id=str(order_id),
            payment_id=str(payment["id"]),
            amount_paise=int(payment.get("amount") or 0),
            currency=str(payment.get("currency") or ""),
            source=f"webhook:{kind}",
        )
        if settled.refund_paise:
            services.schedule_refund(settled.order, payment_id=str(payment["id"]), amount_paise=settled.refund_paise)
        return settled.outcome
    if kind == "payment.failed":
        payment = _entity(event, "payment")
        if not payment.get("order_id"):
            return "ignored_incomplete"
        order = services.payment_failed(
            gateway_order_id=str(payment["order_id"]), payment_id=str(payment.get("id") or ""), source="webhook"
        )
        return "failed_noted" if order else "unknown_order"
    if kind in ("refund.processed", "refund.failed"):
        refund = _entity(event, "refund")
        if not refund.get("id") or not refund.get("payment_id"):
            return "ignored_incomplete"
        if kind == "refund.failed":
            failed = services.refund_failed(gateway_refund_id=str(refund["id"]), failure="The bank could not refund.")
            return "refund_failed_noted" if failed else "unknown_refund"
        posted = services.refund_processed(
            gateway_refund_id=str(refund["id"]),
            payment_id=str(refund["payment_id"]),
            amount_paise=int(refund.get("amount") or 0),
            our_id=str((refund.get("notes") or {}).get("refund", "")) if isinstance(refund.get("notes"), dict) else "",
        )
        return "refund_posted" if posted else "unknown_payment"
    return "ignored"
