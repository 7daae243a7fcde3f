"""Money records. Amounts are integer paise.

The ledger is the truth: every movement of money is a transaction of entries that sum to zero
(double entry). `Wallet` is each mentor's running balances, updated in the same transaction as
the entries under a row lock, so reads are one row and two withdrawals cannot both spend the
same rupee; a property test checks it always equals the sum of the mentor's entries."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class EntryKind(models.TextChoices):
    CHARGE = "charge", "Session payment"
    TIP = "tip", "Tip"
    REFUND = "refund", "Refund"
    RELEASE = "release", "Earnings released"
    WITHDRAWAL_HOLD = "withdrawal_hold", "Withdrawal requested"
    WITHDRAWAL_PAID = "withdrawal_paid", "Withdrawal paid"
    WITHDRAWAL_RELEASED = "withdrawal_released", "Withdrawal returned"


class LedgerEntry(models.Model):
    """One line of a transaction. `account` names who holds the money: "external" (outside the
    platform: the payer's bank or the mentor's, so it goes negative as money comes in),
    "platform:fees", or "mentor:<id>:pending|available|withdrawing". Positive = held."""

    txn = models.UUIDField(default=uuid.uuid4, db_index=True)
    account = models.CharField(max_length=64)
    amount_paise = models.BigIntegerField()
    kind = models.CharField(max_length=24, choices=EntryKind.choices)
    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    booking = models.ForeignKey(
        "marketplace.Booking", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    reference = models.CharField(max_length=64, blank=True)  # a gateway id (pay_…, rfnd_…) or ours
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["account", "id"], name="payments_entry_by_account"),
            models.Index(fields=["mentor", "kind"], name="payments_entry_by_mentor"),
            # The admin overview and the monthly revenue report read the ledger by date range.
            models.Index(fields=["created_at"], name="payments_entry_by_time"),
        ]


class Wallet(models.Model):
    """A mentor's balances: pending (sessions not completed or inside the dispute window),
    available (withdrawable), withdrawing (asked for, not yet paid)."""

    mentor = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet")
    pending_paise = models.BigIntegerField(default=0)
    available_paise = models.BigIntegerField(default=0)
    withdrawing_paise = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pending_paise__gte=0, available_paise__gte=0, withdrawing_paise__gte=0),
                name="wallet_never_negative",
            )
        ]


class OrderState(models.TextChoices):
    CREATED = "created", "Awaiting payment"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"


class OrderPurpose(models.TextChoices):
    BOOKING = "booking", "Session"
    TIP = "tip", "Tip"


class PaymentOrder(models.Model):
    """One gateway order: what a learner is asked to pay for a held booking, or a tip for a
    session they booked. The gateway's `payment.captured` webhook (or the checkout callback,
    verified) settles it once."""

    booking = models.ForeignKey("marketplace.Booking", on_delete=models.PROTECT, related_name="payment_orders")
    purpose = models.CharField(max_length=8, choices=OrderPurpose.choices, default=OrderPurpose.BOOKING)
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_orders")
    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount_paise = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="INR")
    gateway_order_id = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=10, choices=OrderState.choices, default=OrderState.CREATED)
    payment_id = models.CharField(max_length=64, blank=True)
    fee_paise = models.PositiveIntegerField(default=0)
    refunded_paise = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=40, blank=True)  # e.g. "confirmed", "refunded_hold_expired"
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["booking", "state"], name="payments_order_by_booking")]
        constraints = [
            # One payment settles an order; the same payment id cannot settle two.
            models.UniqueConstraint(
                fields=["payment_id"], condition=~models.Q(payment_id=""), name="payments_payment_once"
            )
        ]


class RefundState(models.TextChoices):
    REQUESTED = "requested", "Being refunded"
    PROCESSED = "processed", "Refunded"
    FAILED = "failed", "Refund failed"


class Refund(models.Model):
    """Money we decided to give back from an order's payment, and what the gateway made of it.
    Created in the transaction that decides it (a cancellation, a no-show, an admin, a payment
    that came after its hold); huey asks the gateway after commit with our id as the
    idempotency key, and the `refund.processed` webhook posts the ledger entries."""

    order = models.ForeignKey(PaymentOrder, on_delete=models.PROTECT, related_name="refunds")
    payment_id = models.CharField(max_length=64)  # the order's payment, or a duplicate payment of it
    amount_paise = models.PositiveIntegerField()
    reason = models.CharField(max_length=40)  # learner_cancel, mentor_cancel, no_show, admin, …
    note = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=RefundState.choices, default=RefundState.REQUESTED)
    gateway_refund_id = models.CharField(max_length=64, blank=True)
    failure = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A failed refund asked for again; one-to-one, so two admins retrying at once make one.
    retry_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="retried_as")
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"], name="payments_refund_by_state")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_paise__gt=0), name="payments_refund_positive"),
            models.UniqueConstraint(
                fields=["gateway_refund_id"], condition=~models.Q(gateway_refund_id=""), name="payments_refund_once"
            ),
        ]


class WebhookEvent(models.Model):
    """A gateway event seen, by its X-Razorpay-Event-Id: a second delivery is acknowledged and
    ignored."""

    event_id = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=40)
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=60, blank=True)


class PayoutKind(models.TextChoices):
    UPI = "upi", "UPI"
    BANK = "bank", "Bank account"


class PayoutMethod(models.Model):
    """Where a mentor's withdrawals are sent. The full details are kept because an admin makes
    the transfer by hand; everywhere else (lists, events, audit entries) shows `display`, the
    masked form ("•••• 4321", "ra•••@okaxis"). A mentor has at most one default."""

    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_methods")
    kind = models.CharField(max_length=4, choices=PayoutKind.choices)
    upi_vpa = models.CharField(max_length=321, blank=True)  # name (≤256) @ handle (≤64)
    holder = models.CharField(max_length=100, blank=True)
    ifsc = models.CharField(max_length=11, blank=True)
    account_number = models.CharField(max_length=18, blank=True)
    display = models.CharField(max_length=80)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mentor"], condition=models.Q(is_default=True), name="payments_one_default_payout_method"
            )
        ]

    def __str__(self) -> str:  # never the full account number
        return f"{self.get_kind_display()} {self.display}"


class WithdrawalState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"


class Withdrawal(models.Model):
    """A mentor asking for `amount_paise` of their available balance. Requesting holds the money
    (available → withdrawing); an admin approves and later marks it paid with the transfer's
    reference (withdrawing → external), or rejects it with a reason (withdrawing → available)."""

    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    amount_paise = models.PositiveBigIntegerField()
    method = models.ForeignKey(PayoutMethod, on_delete=models.PROTECT, related_name="withdrawals")
    method_display = models.CharField(max_length=100)  # as it was when asked, e.g. "UPI ra•••@okaxis"
    state = models.CharField(max_length=10, choices=WithdrawalState.choices, default=WithdrawalState.REQUESTED)
    reference = models.CharField(max_length=64, blank=True)  # the bank/UPI transfer reference
    reason = models.CharField(max_length=500, blank=True)  # why it was rejected
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    hold_txn = models.UUIDField(null=True, blank=True)
    paid_txn = models.UUIDField(null=True, blank=True)
    release_txn = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["mentor", "-requested_at"], name="payments_withdrawal_by_mentor"),
            models.Index(fields=["state", "requested_at"], name="payments_withdrawal_queue"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_paise__gt=0), name="payments_withdrawal_positive"),
            # One transfer pays one withdrawal: the same reference typed twice is a mistake.
            models.UniqueConstraint(
                fields=["reference"], condition=~models.Q(reference=""), name="payments_withdrawal_reference_once"
            ),
        ]
