"""Every write about money. The gateway is called outside database transactions (a network call
must never hold a row lock); what it reports is settled inside one.

`payment_settle` is the single place a captured payment turns into a confirmed booking and
ledger entries. The webhook (the source of truth) and the verified checkout callback both call
it, in any order and any number of times: the order row is locked and a settled order is left
alone, so a payment is counted once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from backend.accounts.audit import audit_record
from backend.core.errors import Conflict, DomainError
from backend.core.events import publish
from backend.marketplace.models import Booking, BookingState
from backend.payments import ledger
from backend.payments.models import EntryKind, OrderState, PaymentOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settled:
    order: PaymentOrder
    outcome: str  # confirmed | refund_due | already_settled
    refund_paise: int = 0


@transaction.atomic
def payment_settle(*, gateway_order_id: str, payment_id: str, amount_paise: int, currency: str, source: str) -> Settled:
    """A payment the gateway captured for one of our orders. Confirms the held booking and
    posts the charge; if the seat can no longer be given (the hold ran out and the booking
    lapsed, or it was cancelled meanwhile) the charge is posted and the whole amount is due back
    (`refund_due`: the caller refunds it through the gateway after commit)."""
    order = PaymentOrder.objects.select_for_update().filter(gateway_order_id=gateway_order_id).first()
    if order is None:
        raise DomainError("unknown_order", "That order is not ours.")
    if order.state != OrderState.CREATED:
        if order.payment_id == payment_id:
            return Settled(order, "already_settled")
        # A second payment for an order already paid (a double click in checkout): give it back.
        audit_record(action="payment.duplicate", actor=None, order=order.pk, payment=payment_id, source=source)
        return Settled(order, "refund_due_duplicate", amount_paise)
    if amount_paise != order.amount_paise or currency != order.currency:
        # The door audits it: anything written here rolls back with the refusal.
        raise Conflict("amount_mismatch", "The payment does not match the order.")
    booking = Booking.objects.select_for_update().select_related("session").get(pk=order.booking_id)
    now = timezone.now()
    posted = ledger.charge(
        mentor_id=order.mentor_id,
        gross_paise=amount_paise,
        kind=EntryKind.CHARGE,
        booking=booking,
        reference=payment_id,
    )
    order.state, order.payment_id, order.paid_at, order.fee_paise = OrderState.PAID, payment_id, now, posted.fee_paise
    holdable = booking.state == BookingState.HELD and (booking.hold_expires_at is None or booking.hold_expires_at > now)
    if holdable:
        booking.state, booking.confirmed_at, booking.hold_expires_at = BookingState.CONFIRMED, now, None
        booking.save(update_fields=["state", "confirmed_at", "hold_expires_at"])
        order.outcome = "confirmed"
        order.save()
        publish(
            "booking.confirmed",
            to=[booking.learner_id, order.mentor_id],
            data={"booking": booking.pk, "session": booking.session_id, "state": booking.state},
        )
        return Settled(order, "confirmed")
    order.outcome = "refund_due_hold_expired"
    order.save()
    audit_record(action="payment.after_hold", actor=None, order=order.pk, booking=booking.pk, source=source)
    return Settled(order, "refund_due", amount_paise)


@transaction.atomic
def payment_refunded(*, order: PaymentOrder, amount_paise: int, refund_id: str) -> PaymentOrder:
    """The gateway refunded `amount_paise` of the order's payment: post it (once per refund id)."""
    order = PaymentOrder.objects.select_for_update().get(pk=order.pk)
    if ledger.already_posted(reference=refund_id):
        return order
    if amount_paise > order.amount_paise - order.refunded_paise:
        raise Conflict("refund_too_large", "A refund cannot exceed what is left of the payment.")
    ledger.refund(
        mentor_id=order.mentor_id,
        amount_paise=amount_paise,
        charged_paise=order.amount_paise,
        charged_fee_paise=order.fee_paise,
        booking_id=order.booking_id,
        reference=refund_id,
    )
    order.refunded_paise += amount_paise
    if order.refunded_paise == order.amount_paise:
        order.state = OrderState.REFUNDED
    order.save(update_fields=["refunded_paise", "state"])
    return order


def schedule_refund(order: PaymentOrder, *, payment_id: str, amount_paise: int) -> None:
    """Give a payment back through the gateway after this transaction commits (huey). The
    ledger entry follows from the `refund.processed` webhook."""
    from backend.payments.tasks import refund_payment

    key = f"refund-{order.pk}-{payment_id}"[:64]
    transaction.on_commit(lambda: refund_payment(order.pk, payment_id, amount_paise, key))


MAX_ATTEMPTS = 3  # orders per booking: a failed payment may be retried twice, with any method


def checkout_start(*, learner, booking: Booking) -> PaymentOrder:
    """The gateway order a learner pays for their held seat: the open one if there is one, else
    a new one (up to MAX_ATTEMPTS). The gateway is called outside any transaction."""
    from backend.payments import gateway

    booking = Booking.objects.select_related("session").filter(pk=booking.pk, learner=learner).first()
    if booking is None:
        raise DomainError("not_found", "That booking does not exist.")
    now = timezone.now()
    if booking.state != BookingState.HELD or (booking.hold_expires_at and booking.hold_expires_at <= now):
        raise Conflict("not_payable", "This seat is no longer held for you. Book again to pay.")
    open_order = PaymentOrder.objects.filter(booking=booking, state=OrderState.CREATED).order_by("-id").first()
    if open_order is not None:
        return open_order
    attempts = PaymentOrder.objects.filter(booking=booking).count()
    if attempts >= MAX_ATTEMPTS:
        raise Conflict("too_many_attempts", "This booking has had three payment attempts. Book again to retry.")
    amount = booking.session.price_paise
    remote = gateway.create_order(
        amount_paise=amount,
        receipt=f"booking-{booking.pk}-{attempts + 1}",
        notes={"booking": str(booking.pk), "learner": str(learner.pk)},
    )
    return PaymentOrder.objects.create(
        booking=booking,
        payer=learner,
        mentor_id=booking.session.mentor_id,
        amount_paise=amount,
        gateway_order_id=remote["id"],
    )
