"""The bodies of the periodic money jobs (tasks.py schedules them): releasing earnings after
the dispute window, and settling what the gateway knows but we missed (a webhook lost or
late, a refund task that died). Each is idempotent: re-running finds nothing left to do."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from backend.core.errors import DomainError
from backend.marketplace.models import SessionState
from backend.payments import gateway, ledger, services
from backend.payments.models import LedgerEntry, OrderState, PaymentOrder, Refund, RefundState

log = logging.getLogger(__name__)

RECONCILE_LOOKBACK = timedelta(days=3)  # older unknowns go to the admin payments view instead


def release_matured_earnings(*, now: datetime | None = None) -> int:
    """Move each booking's pending mentor money to available once its session completed and the
    dispute window (EARNINGS_DISPUTE_HOURS) has passed. Returns how many bookings moved."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.EARNINGS_DISPUTE_HOURS)
    due = (
        LedgerEntry.objects.filter(account__endswith=":pending", booking__session__state=SessionState.COMPLETED)
        .annotate(finished=Coalesce("booking__session__room_state__ended_at", "booking__session__ends_at"))
        .filter(finished__lte=cutoff)
        .values("mentor_id", "booking_id")
        .annotate(held=Sum("amount_paise"))
        .filter(held__gt=0)
    )
    moved = 0
    for row in due:
        if ledger.release_booking(mentor_id=row["mentor_id"], booking_id=row["booking_id"]):
            moved += 1
    return moved


def reconcile_orders(*, now: datetime | None = None) -> dict[str, int]:
    """Orders still awaiting payment a while after checkout: ask the gateway what happened.
    A captured payment is settled exactly as its webhook would have; an order nobody paid whose
    seat hold has lapsed is closed as abandoned."""
    now = now or timezone.now()
    quiet_since = now - timedelta(minutes=settings.PAYMENTS_RECONCILE_AFTER_MINUTES)
    stale = PaymentOrder.objects.filter(
        state=OrderState.CREATED, created_at__lte=quiet_since, created_at__gte=now - RECONCILE_LOOKBACK
    ).select_related("booking")
    counts = {"settled": 0, "abandoned": 0, "unreachable": 0}
    for order in stale.iterator(chunk_size=100):
        try:
            payments = gateway.order_payments(order.gateway_order_id)
        except gateway.GatewayError as error:
            log.warning("reconcile order %s: %s", order.pk, error)
            counts["unreachable"] += 1
            continue
        captured = [p for p in payments if p.get("status") == "captured"]
        for payment in captured:
            try:
                settled = services.payment_settle(
                    gateway_order_id=order.gateway_order_id,
                    payment_id=str(payment["id"]),
                    amount_paise=int(payment.get("amount") or 0),
                    currency=str(payment.get("currency") or ""),
                    source="reconcile",
                )
            except DomainError as refused:
                log.error("reconcile order %s: %s", order.pk, refused.code)
                continue
            if settled.refund_paise:
                services.schedule_refund(
                    settled.order, payment_id=str(payment["id"]), amount_paise=settled.refund_paise
                )
            counts["settled"] += 1
        if not captured and services.order_abandon(order=order, now=now):
            counts["abandoned"] += 1
    return counts


def reconcile_refunds(*, now: datetime | None = None) -> dict[str, int]:
    """Refunds still 'being refunded' after a while: re-ask the gateway (same idempotency key, so
    never twice) when our task died before it answered, or read the refund's state when its
    webhook never came."""
    from backend.payments.tasks import refund_payment

    now = now or timezone.now()
    quiet_since = now - timedelta(minutes=settings.PAYMENTS_RECONCILE_AFTER_MINUTES)
    counts = {"requeued": 0, "processed": 0, "failed": 0}
    waiting = Refund.objects.filter(state=RefundState.REQUESTED, created_at__lte=quiet_since)
    for refund in waiting.iterator(chunk_size=100):
        if not refund.gateway_refund_id:
            refund_payment(refund.pk)
            counts["requeued"] += 1
            continue
        try:
            remote = gateway.fetch_refund(refund.gateway_refund_id)
        except gateway.GatewayError as error:
            log.warning("reconcile refund %s: %s", refund.pk, error)
            continue
        if remote.get("status") == "processed":
            services.refund_processed(
                gateway_refund_id=refund.gateway_refund_id,
                payment_id=refund.payment_id,
                amount_paise=int(remote.get("amount") or refund.amount_paise),
            )
            counts["processed"] += 1
        elif remote.get("status") == "failed":
            services.refund_failed(refund=refund, failure="The gateway could not process the refund.")
            counts["failed"] += 1
    return counts
