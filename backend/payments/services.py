"""Every write about money. The gateway is called outside database transactions (a network call
must never hold a row lock); what it reports is settled inside one.

`payment_settle` is the single place a captured payment turns into a confirmed booking and
ledger entries. The webhook (the source of truth) and the verified checkout callback both call
it, in any order and any number of times: the order row is locked and a settled order is left
alone, so a payment is counted once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from backend.accounts.audit import audit_record
from backend.accounts.models import Role
from backend.core.errors import Conflict, DomainError, Forbidden
from backend.core.events import publish
from backend.marketplace.models import Booking, BookingState, SessionState
from backend.payments import ledger
from backend.payments.models import EntryKind, OrderPurpose, OrderState, PaymentOrder, Refund, RefundState

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
    # A failed attempt does not close the order at the gateway: a later payment on it still counts.
    if order.state not in (OrderState.CREATED, OrderState.FAILED):
        if order.payment_id == payment_id:
            return Settled(order, "already_settled")
        # A second payment for an order already paid (a double click in checkout): give it back.
        audit_record(action="payment.duplicate", actor=None, order=order.pk, payment=payment_id, source=source)
        return Settled(order, "refund_due_duplicate", amount_paise)
    if amount_paise != order.amount_paise or currency != order.currency:
        # The door audits it: anything written here rolls back with the refusal.
        raise Conflict("amount_mismatch", "The payment does not match the order.")
    if order.purpose == OrderPurpose.TIP:
        return _tip_settle(order, payment_id)
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
            data={
                "booking": booking.pk,
                "session": booking.session_id,
                "state": booking.state,
                "learner": booking.learner_id,
                "mentor": order.mentor_id,
            },
        )
        return Settled(order, "confirmed")
    order.outcome = "refund_due_hold_expired"
    order.save()
    audit_record(action="payment.after_hold", actor=None, order=order.pk, booking=booking.pk, source=source)
    return Settled(order, "refund_due", amount_paise)


def _tip_settle(order: PaymentOrder, payment_id: str) -> Settled:
    posted = ledger.charge(
        mentor_id=order.mentor_id,
        gross_paise=order.amount_paise,
        kind=EntryKind.TIP,
        booking_id=order.booking_id,
        reference=payment_id,
    )
    order.state, order.payment_id, order.paid_at = OrderState.PAID, payment_id, timezone.now()
    order.fee_paise, order.outcome = posted.fee_paise, "tipped"
    order.save()
    publish(
        "tip.received",
        to=[order.mentor_id],
        data={"booking": order.booking_id, "amount_paise": order.amount_paise, "share_paise": posted.share_paise},
    )
    return Settled(order, "tipped")


@transaction.atomic
def payment_failed(*, gateway_order_id: str, payment_id: str, source: str) -> PaymentOrder | None:
    """A payment attempt on an order failed: the order is closed as failed, so the next try
    opens a new order and counts as another attempt (MAX_ATTEMPTS). The seat stays held."""
    order = PaymentOrder.objects.select_for_update().filter(gateway_order_id=gateway_order_id).first()
    if order is None:
        return None
    if order.state == OrderState.CREATED:
        order.state, order.outcome = OrderState.FAILED, "payment_failed"
        order.save(update_fields=["state", "outcome"])
    audit_record(action="payment.failed", actor=None, order=order.pk, payment=payment_id, source=source)
    return order


@transaction.atomic
def order_abandon(*, order: PaymentOrder, now=None) -> bool:
    """Close an order nobody paid once it can no longer be paid: its seat hold lapsed (or the
    booking ended otherwise), or a tip order a day old. False if it is still payable."""
    now = now or timezone.now()
    order = PaymentOrder.objects.select_for_update().select_related("booking").get(pk=order.pk)
    if order.state != OrderState.CREATED:
        return False
    booking = order.booking
    if order.purpose == OrderPurpose.TIP:
        payable = order.created_at > now - timedelta(days=1)
    else:
        payable = booking.state == BookingState.HELD and (
            booking.hold_expires_at is None or booking.hold_expires_at > now
        )
    if payable:
        return False
    order.state, order.outcome = OrderState.FAILED, "abandoned"
    order.save(update_fields=["state", "outcome"])
    return True


# --- tips -------------------------------------------------------------------------------------------
TIP_MIN_PAISE, TIP_MAX_PAISE = 1_000, 1_000_000  # ₹10 … ₹10,000
TIP_DAYS_AFTER = 7  # a thank-you belongs close to the session


def tippable(booking: Booking, *, now=None) -> bool:
    """Whether the learner of this (confirmed) booking may tip now: the session is live, or
    ended at most TIP_DAYS_AFTER days ago."""
    now = now or timezone.now()
    session = booking.session
    return (
        booking.state == BookingState.CONFIRMED
        and session.state in (SessionState.LIVE, SessionState.COMPLETED)
        and session.ends_at + timedelta(days=TIP_DAYS_AFTER) >= now
    )


def tip_start(*, learner, booking: Booking, amount_paise: int) -> PaymentOrder:
    """A gateway order for a tip to the mentor of a session the learner had a seat in, while it
    is live or within a week after it. Paid through the same checkout; settled as a tip."""
    from backend.payments import gateway

    if not isinstance(amount_paise, int) or isinstance(amount_paise, bool):
        raise DomainError("invalid_amount", "Choose how much to tip.")
    if not TIP_MIN_PAISE <= amount_paise <= TIP_MAX_PAISE:
        raise DomainError("invalid_amount", "A tip is between ₹10 and ₹10,000.")
    booking = (
        Booking.objects.select_related("session")
        .filter(pk=booking.pk, learner=learner, state=BookingState.CONFIRMED)
        .first()
    )
    session = booking.session if booking else None
    if booking is None or not tippable(booking):
        raise Conflict("not_tippable", "Tips are for sessions you attended, up to a week afterwards.")
    tips_so_far = PaymentOrder.objects.filter(booking=booking, purpose=OrderPurpose.TIP).count()
    remote = gateway.create_order(
        amount_paise=amount_paise,
        receipt=f"tip-{booking.pk}-{tips_so_far + 1}",
        notes={"booking": str(booking.pk), "learner": str(learner.pk), "purpose": "tip"},
    )
    return PaymentOrder.objects.create(
        booking=booking,
        purpose=OrderPurpose.TIP,
        payer=learner,
        mentor_id=session.mentor_id,
        amount_paise=amount_paise,
        gateway_order_id=remote["id"],
    )


# --- refunds ----------------------------------------------------------------------------------------
def _refundable_left(order: PaymentOrder) -> int:
    """What of the order's payment is not yet refunded or on its way back."""
    asked = (
        Refund.objects.filter(order=order, payment_id=order.payment_id)
        .exclude(state=RefundState.FAILED)
        .aggregate(total=Sum("amount_paise"))["total"]
        or 0
    )
    return order.amount_paise - asked


@transaction.atomic
def refund_request(
    *, order: PaymentOrder, amount_paise: int, reason: str, note: str = "", requested_by=None, payment_id: str = ""
) -> Refund:
    """Decide to give back `amount_paise` of an order's captured payment. The gateway is asked
    after commit (huey, our refund id as its idempotency key); the `refund.processed` webhook
    posts the ledger entries. `payment_id` names another payment than the order's own (a
    duplicate payment, which never entered the ledger)."""
    order = PaymentOrder.objects.select_for_update().get(pk=order.pk)
    if not isinstance(amount_paise, int) or isinstance(amount_paise, bool) or amount_paise <= 0:
        raise DomainError("invalid_amount", "A refund must be a positive number of paise.")
    payment_id = payment_id or order.payment_id
    if not payment_id or (payment_id == order.payment_id and order.state not in (OrderState.PAID,)):
        raise Conflict("not_refundable", "This payment was not captured or is fully refunded.")
    if payment_id == order.payment_id and amount_paise > _refundable_left(order):
        raise Conflict("refund_too_large", "A refund cannot exceed what is left of the payment.")
    refund = Refund.objects.create(
        order=order,
        payment_id=payment_id,
        amount_paise=amount_paise,
        reason=reason[:40],
        note=note[:300],
        requested_by=requested_by,
    )
    audit_record(
        action="payment.refund_requested",
        actor=requested_by,
        target=refund,
        order=order.pk,
        amount_paise=amount_paise,
        reason=reason,
    )
    transaction.on_commit(lambda: _enqueue_refund(refund.pk))
    return refund


def _enqueue_refund(refund_id: int) -> None:
    from backend.payments.tasks import refund_payment

    refund_payment(refund_id)


def schedule_refund(order: PaymentOrder, *, payment_id: str, amount_paise: int) -> Refund:
    """Give back a payment that cannot buy anything: it came after its hold ran out, or it paid
    an order already paid. Once per payment, however many times the webhook and the browser
    report it."""
    with transaction.atomic():
        PaymentOrder.objects.select_for_update().get(pk=order.pk)
        existing = Refund.objects.filter(payment_id=payment_id, reason__in=AUTOMATIC_REASONS).first()
        if existing is not None:
            return existing
        reason = "duplicate_payment" if payment_id != order.payment_id else "hold_expired"
        return refund_request(order=order, amount_paise=amount_paise, reason=reason, payment_id=payment_id)


AUTOMATIC_REASONS = ("duplicate_payment", "hold_expired")


def refunds_for_booking(*, booking: Booking, amount_paise: int, reason: str, requested_by=None) -> list[Refund]:
    """Refund up to `amount_paise` of what was paid for a booking's seat (a cancellation, a
    no-show): taken from its paid session orders, newest first. Runs in the caller's
    transaction. Bookings confirmed without a gateway payment (demo data) have nothing to
    refund through the gateway."""
    refunds = []
    orders = PaymentOrder.objects.filter(booking=booking, purpose=OrderPurpose.BOOKING, state=OrderState.PAID)
    for order in orders.order_by("-id"):
        left = min(_refundable_left(order), amount_paise)
        if left <= 0:
            continue
        refunds.append(refund_request(order=order, amount_paise=left, reason=reason, requested_by=requested_by))
        amount_paise -= left
        if amount_paise <= 0:
            break
    if amount_paise > 0 and not refunds:
        log.info("booking %s: %s paise due back but no gateway payment to refund", booking.pk, amount_paise)
    return refunds


def refund_by_admin(*, admin, order: PaymentOrder, amount_paise: int, note: str) -> Refund:
    """An admin gives back part or all of a payment (a dispute, a goodwill gesture)."""
    if getattr(admin, "role", None) != Role.ADMIN:
        raise Forbidden("wrong_role", "Only admins refund payments.")
    if not note.strip():
        raise DomainError("note_required", "Say why the payment is refunded.")
    return refund_request(order=order, amount_paise=amount_paise, reason="admin", note=note.strip(), requested_by=admin)


def refund_retry(*, admin, refund: Refund) -> Refund:
    """Ask again for a refund the gateway refused: the same amount of the same payment, linked
    to the failed one (once: a second retry of it, or two admins at once, is refused)."""
    if getattr(admin, "role", None) != Role.ADMIN:
        raise Forbidden("wrong_role", "Only admins retry refunds.")
    try:
        with transaction.atomic():
            failed = Refund.objects.select_for_update().get(pk=refund.pk)
            if failed.state != RefundState.FAILED or Refund.objects.filter(retry_of=failed).exists():
                raise Conflict("not_retryable", "Only a failed refund not yet retried can be asked for again.")
            again = refund_request(
                order=failed.order,
                amount_paise=failed.amount_paise,
                reason=failed.reason,
                note=f"Retry of refund #{failed.pk}",
                requested_by=admin,
                payment_id=failed.payment_id,
            )
            again.retry_of = failed
            again.save(update_fields=["retry_of"])
    except IntegrityError:
        raise Conflict("not_retryable", "This refund has just been retried.") from None
    return again


@transaction.atomic
def refund_sent(*, refund: Refund, gateway_refund_id: str, status: str) -> Refund:
    """The gateway accepted the refund; a refund it reports processed already is posted now."""
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if not refund.gateway_refund_id:
        refund.gateway_refund_id = gateway_refund_id
        refund.save(update_fields=["gateway_refund_id"])
    if status == "processed":
        return refund_processed(
            gateway_refund_id=gateway_refund_id, payment_id=refund.payment_id, amount_paise=refund.amount_paise
        )
    return refund


@transaction.atomic
def refund_failed(*, refund: Refund | None = None, gateway_refund_id: str = "", failure: str) -> Refund | None:
    """The gateway refused the refund for good: an admin sees it in the refunds queue."""
    refund = (
        Refund.objects.select_for_update().filter(pk=refund.pk).first()
        if refund is not None
        else Refund.objects.select_for_update().filter(gateway_refund_id=gateway_refund_id).first()
    )
    if refund is None or refund.state != RefundState.REQUESTED:
        return refund
    refund.state, refund.failure = RefundState.FAILED, failure[:200]
    refund.save(update_fields=["state", "failure"])
    audit_record(action="payment.refund_failed", target=refund, order=refund.order_id, failure=failure[:200])
    return refund


@transaction.atomic
def refund_processed(*, gateway_refund_id: str, payment_id: str, amount_paise: int, our_id: str = "") -> Refund | None:
    """The money is back with the payer: post the refund to the ledger, once per gateway
    refund id. A refund made outside PeerLearn (in the gateway's dashboard) is recorded too."""
    refund = Refund.objects.select_for_update().filter(gateway_refund_id=gateway_refund_id).first()
    if refund is None and our_id.isdigit():
        refund = Refund.objects.select_for_update().filter(pk=int(our_id), gateway_refund_id="").first()
    order = PaymentOrder.objects.select_for_update().filter(payment_id=payment_id).first()
    if refund is None:
        if order is None:
            return None
        refund = Refund.objects.create(
            order=order,
            payment_id=payment_id,
            amount_paise=amount_paise,
            reason="gateway",
            note="Refunded outside PeerLearn",
        )
    if refund.state == RefundState.PROCESSED:
        return refund
    refund.gateway_refund_id = gateway_refund_id
    refund.state, refund.processed_at = RefundState.PROCESSED, timezone.now()
    refund.save(update_fields=["gateway_refund_id", "state", "processed_at"])
    if order is not None and not ledger.already_posted(reference=gateway_refund_id):
        # Only the order's own payment entered the ledger; a duplicate payment's refund did not.
        if amount_paise > order.amount_paise - order.refunded_paise:
            raise Conflict("refund_too_large", "A refund cannot exceed what is left of the payment.")
        ledger.refund(
            mentor_id=order.mentor_id,
            amount_paise=amount_paise,
            charged_paise=order.amount_paise,
            charged_fee_paise=order.fee_paise,
            booking_id=order.booking_id,
            reference=gateway_refund_id,
        )
        order.refunded_paise += amount_paise
        if order.refunded_paise == order.amount_paise:
            order.state = OrderState.REFUNDED
        order.save(update_fields=["refunded_paise", "state"])
    payer = refund.order.payer_id
    publish(
        "refund.processed",
        to=[payer],
        data={"booking": refund.order.booking_id, "amount_paise": amount_paise, "refund": refund.pk},
    )
    return refund


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
    orders = PaymentOrder.objects.filter(booking=booking, purpose=OrderPurpose.BOOKING)
    open_order = orders.filter(state=OrderState.CREATED).order_by("-id").first()
    if open_order is not None:
        return open_order
    attempts = orders.count()
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
