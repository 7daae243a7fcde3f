"""Reads for the admin money pages: orders with their totals, refunds, withdrawals. Each entry
point takes the admin and refuses anyone else (Http404), so a page cannot leak money data by
forgetting its access rule.

A failed refund is retried with services.refund_retry, which links the new refund to it
(`retry_of`); that link is how a failed refund is known to be dealt with."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.http import Http404

from backend.accounts.models import User
from backend.core.access import require_admin
from backend.payments import ledger
from backend.payments.models import (
    LedgerEntry,
    OrderState,
    PaymentOrder,
    Refund,
    RefundState,
    Withdrawal,
    WithdrawalState,
)

CAPTURED = (OrderState.PAID, OrderState.REFUNDED)
OPEN_WITHDRAWALS = (WithdrawalState.REQUESTED, WithdrawalState.APPROVED)


# --- orders -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderFilter:
    state: str = ""
    purpose: str = ""
    q: str = ""

    @property
    def active(self) -> bool:
        return bool(self.state or self.purpose or self.q)


def orders_for_admin(admin: User, filters: OrderFilter) -> QuerySet[PaymentOrder]:
    """Orders newest first, narrowed by state, purpose and a search over the learner's e-mail
    and the gateway's order and payment ids."""
    require_admin(admin)
    orders = PaymentOrder.objects.select_related("payer", "mentor", "booking__session")
    if filters.state:
        orders = orders.filter(state=filters.state)
    if filters.purpose:
        orders = orders.filter(purpose=filters.purpose)
    if q := filters.q.strip():
        orders = orders.filter(
            Q(payer__email__icontains=q) | Q(gateway_order_id__icontains=q) | Q(payment_id__iexact=q)
        )
    return orders.order_by("-created_at", "-id")


def order_totals(orders: QuerySet[PaymentOrder]) -> dict[str, int]:
    """Gross captured, refunded, and the platform's fees as the ledger holds them for these
    orders: fees charged on their payments less fees given back with their refunds (the
    `platform:fees` balance, restricted to the filtered orders)."""
    plain = orders.order_by()
    sums = plain.aggregate(
        gross=Sum("amount_paise", filter=Q(state__in=CAPTURED)),
        refunded=Sum("refunded_paise"),
    )
    payments = plain.exclude(payment_id="").values("payment_id")
    refunds = Refund.objects.filter(order__in=plain).exclude(gateway_refund_id="").values("gateway_refund_id")
    fees = LedgerEntry.objects.filter(account=ledger.PLATFORM_FEES).filter(
        Q(reference__in=payments) | Q(reference__in=refunds)
    )
    return {
        "gross_paise": sums["gross"] or 0,
        "refunded_paise": sums["refunded"] or 0,
        "fees_paise": fees.aggregate(total=Sum("amount_paise"))["total"] or 0,
    }


def platform_fees_balance(admin: User) -> int:
    require_admin(admin)
    return ledger.balance(ledger.PLATFORM_FEES)


@dataclass(frozen=True)
class OrderDetail:
    order: PaymentOrder
    refunds: list[Refund]
    entries: list[LedgerEntry]
    refundable_paise: int


def get_order_for_admin(admin: User, order_id: int) -> OrderDetail:
    """One order with its refunds and ledger entries (its payment's and its refunds')."""
    require_admin(admin)
    order = PaymentOrder.objects.select_related("payer", "mentor", "booking__session").filter(pk=order_id).first()
    if order is None:
        raise Http404
    refunds = list(order.refunds.select_related("requested_by").order_by("-created_at", "-id"))
    references = [r.gateway_refund_id for r in refunds if r.gateway_refund_id]
    if order.payment_id:
        references.append(order.payment_id)
    entries = (
        list(LedgerEntry.objects.filter(reference__in=references).order_by("created_at", "id")) if references else []
    )
    # The same sum services.refund_request checks against: what of the order's own payment is
    # neither refunded nor on its way back.
    asked = sum(r.amount_paise for r in refunds if r.payment_id == order.payment_id and r.state != RefundState.FAILED)
    refundable = order.amount_paise - asked if order.state == OrderState.PAID else 0
    return OrderDetail(order, refunds, entries, max(refundable, 0))


# --- refunds ----------------------------------------------------------------------------------
def _retried() -> Exists:
    return Exists(Refund.objects.filter(retry_of=OuterRef("pk")))


def refunds_for_admin(admin: User, state: str = "") -> QuerySet[Refund]:
    """Refunds, those that failed and were not retried first (they need an admin), then the
    newest. `retried` says whether a failed one has been asked for again."""
    require_admin(admin)
    refunds = Refund.objects.select_related("order__payer", "order__booking__session", "requested_by").annotate(
        retried=_retried(),
        needs_action=Case(
            When(Q(state=RefundState.FAILED) & Q(retried=False), then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
    )
    if state:
        refunds = refunds.filter(state=state)
    return refunds.order_by("needs_action", "-created_at", "-id")


def get_refund_for_admin(admin: User, refund_id: int) -> Refund:
    require_admin(admin)
    refund = Refund.objects.select_related("order").annotate(retried=_retried()).filter(pk=refund_id).first()
    if refund is None:
        raise Http404
    return refund


# --- withdrawals ------------------------------------------------------------------------------
def withdrawal_queue(admin: User) -> list[Withdrawal]:
    """Waiting for an admin: requested ones first (to decide), then approved ones (to pay),
    oldest first within each."""
    require_admin(admin)
    first = Case(When(state=WithdrawalState.REQUESTED, then=Value(0)), default=Value(1), output_field=IntegerField())
    return list(
        Withdrawal.objects.filter(state__in=OPEN_WITHDRAWALS)
        .select_related("mentor", "decided_by")
        .order_by(first, "requested_at", "id")
    )


def withdrawals_past(admin: User) -> QuerySet[Withdrawal]:
    require_admin(admin)
    return (
        Withdrawal.objects.exclude(state__in=OPEN_WITHDRAWALS)
        .select_related("mentor", "decided_by")
        .order_by("-requested_at", "-id")
    )


def withdrawals_for_export(admin: User) -> QuerySet[Withdrawal]:
    """Every withdrawal, open and past, newest first (the CSV of the queue and the history)."""
    require_admin(admin)
    return Withdrawal.objects.select_related("mentor", "decided_by").order_by("-requested_at", "-id")


# --- the admin home's money card --------------------------------------------------------------
def money_counts(admin: User) -> dict[str, int]:
    require_admin(admin)
    waiting = dict(Withdrawal.objects.filter(state__in=OPEN_WITHDRAWALS).values_list("state").annotate(n=Count("id")))
    return {
        "failed_refunds": Refund.objects.filter(~_retried(), state=RefundState.FAILED).count(),
        "withdrawals_requested": waiting.get(WithdrawalState.REQUESTED, 0),
        "withdrawals_approved": waiting.get(WithdrawalState.APPROVED, 0),
        "withdrawals_waiting": sum(waiting.values()),
    }
