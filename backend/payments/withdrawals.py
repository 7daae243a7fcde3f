"""Mentor withdrawals: payout methods, requests, and the admin's decisions.

    requested ──approve──▶ approved ──mark paid──▶ paid
        └──────reject──▶ rejected (the money goes back to available)

Requesting holds the amount in the ledger at once (available → withdrawing) under the mentor's
wallet lock, so two requests racing for the same rupees cannot both pass; several requests may
be open together as long as the balance covers them all. The transfer itself is made by an admin
outside the platform, who then records its reference.

Lock order is always the withdrawal row, then the wallet (inside the ledger): requesting only
inserts a new withdrawal, so no two of these services can wait on each other in a cycle."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from backend.accounts.audit import audit_record
from backend.accounts.models import Role, User
from backend.core.errors import Conflict, DomainError, Forbidden
from backend.core.events import publish
from backend.payments import ledger
from backend.payments.models import PayoutKind, PayoutMethod, Wallet, Withdrawal, WithdrawalState

MIN_WITHDRAWAL_PAISE = 10_000  # ₹100: below this a manual transfer costs more than it is worth

VPA_RE = re.compile(r"[a-zA-Z0-9._-]{2,256}@[a-zA-Z]{2,64}")
IFSC_RE = re.compile(r"[A-Z]{4}0[A-Z0-9]{6}")
ACCOUNT_RE = re.compile(r"[0-9]{9,18}")  # not \d: that also matches other scripts' digits
REFERENCE_RE = re.compile(r"[A-Za-z0-9._/-]{3,64}")
MASK = "•••"


def rupees(paise: int) -> str:
    rupee, rest = divmod(int(paise), 100)
    return f"₹{rupee:,}" if rest == 0 else f"₹{rupee:,}.{rest:02d}"


def _require_mentor(user: User) -> None:
    if user.role != Role.MENTOR:
        raise Forbidden("wrong_role", "Only mentors withdraw earnings.")


def _require_admin(admin: User, withdrawal: Withdrawal) -> None:
    if admin.role != Role.ADMIN:
        raise Forbidden("wrong_role", "Only admins decide withdrawals.")
    if withdrawal.mentor_id == admin.pk:
        raise Forbidden("own_withdrawal", "Another admin must handle your own withdrawal.")


# --- Payout methods ---------------------------------------------------------------------------


def mask_vpa(vpa: str) -> str:
    name, handle = vpa.split("@", 1)
    return f"{name[:2]}{MASK}@{handle}"


def mask_account(account_number: str) -> str:
    return f"•••• {account_number[-4:]}"


def _clean_method(kind: str, upi_vpa: str, holder: str, ifsc: str, account_number: str) -> dict[str, str]:
    """The fields to store for a method of `kind`, normalised, or DomainError naming each bad
    field. Only what paying needs is kept: a UPI method stores no bank details and vice versa."""
    errors: dict[str, str] = {}
    if kind == PayoutKind.UPI:
        vpa = (upi_vpa or "").strip().lower()  # UPI addresses are case-insensitive
        if not VPA_RE.fullmatch(vpa):
            errors["upi_vpa"] = "Enter a UPI ID like name@bank."
        cleaned = {"upi_vpa": vpa}
    elif kind == PayoutKind.BANK:
        name = " ".join((holder or "").split())
        code = (ifsc or "").strip().upper()
        number = re.sub(r"[\s-]", "", account_number or "")  # people type it in groups
        if not 2 <= len(name) <= 100:
            errors["holder"] = "Enter the account holder's name (2 to 100 characters)."
        if not IFSC_RE.fullmatch(code):
            errors["ifsc"] = "Enter an 11-character IFSC like HDFC0001234."
        if not ACCOUNT_RE.fullmatch(number):
            errors["account_number"] = "An account number has 9 to 18 digits."
        cleaned = {"holder": name, "ifsc": code, "account_number": number}
    else:
        errors["kind"] = "Choose UPI or a bank account."
        cleaned = {}
    if errors:
        raise DomainError("invalid", "Some fields need attention.", fields=errors)
    return cleaned


@transaction.atomic
def payout_method_save(
    *, mentor: User, kind: str, upi_vpa: str = "", holder: str = "", ifsc: str = "", account_number: str = ""
) -> PayoutMethod:
    """Save a payout method and make it the mentor's default (the one just entered is the one
    they mean to use). Entering the same details again reuses the existing method."""
    _require_mentor(mentor)
    cleaned = _clean_method(kind, upi_vpa, holder, ifsc, account_number)
    # Serialise one mentor's saves so two cannot both become the default (PostgreSQL row lock;
    # SQLite's IMMEDIATE transactions already queue writers).
    User.objects.select_for_update().filter(pk=mentor.pk).first()
    method = PayoutMethod.objects.filter(mentor=mentor, kind=kind, **cleaned).first()
    PayoutMethod.objects.filter(mentor=mentor, is_default=True).exclude(pk=getattr(method, "pk", None)).update(
        is_default=False
    )
    if method is None:
        display = mask_vpa(cleaned["upi_vpa"]) if kind == PayoutKind.UPI else mask_account(cleaned["account_number"])
        method = PayoutMethod.objects.create(mentor=mentor, kind=kind, display=display, is_default=True, **cleaned)
    elif not method.is_default:
        method.is_default = True
        method.save(update_fields=["is_default"])
    audit_record(action="payout_method.saved", actor=mentor, target=method, kind=kind, display=method.display)
    return method


# --- Withdrawals ------------------------------------------------------------------------------


def _event_data(withdrawal: Withdrawal) -> dict:
    # Events reach pages and notifications: the masked method only, never account details.
    return {
        "withdrawal": withdrawal.pk,
        "state": withdrawal.state,
        "amount_paise": withdrawal.amount_paise,
        "method": withdrawal.method_display,
    }


@transaction.atomic
def withdrawal_request(*, mentor: User, amount_paise: int, method: PayoutMethod) -> Withdrawal:
    _require_mentor(mentor)
    if method.mentor_id != mentor.pk:
        raise Forbidden("not_your_method", "Choose one of your own payout methods.", fields={"method": "Not yours."})
    if not isinstance(amount_paise, int) or isinstance(amount_paise, bool) or amount_paise <= 0:
        raise DomainError("invalid_amount", "Enter an amount in rupees.", fields={"amount_paise": "Not an amount."})
    if amount_paise < MIN_WITHDRAWAL_PAISE:
        message = f"The smallest withdrawal is {rupees(MIN_WITHDRAWAL_PAISE)}."
        raise DomainError("below_minimum", message, fields={"amount_paise": message})
    withdrawal = Withdrawal.objects.create(
        mentor=mentor, amount_paise=amount_paise, method=method, method_display=str(method)
    )
    try:
        # The wallet row lock in here is what stops two requests spending the same balance.
        posted = ledger.withdrawal_hold(
            mentor_id=mentor.pk, amount_paise=amount_paise, reference=f"withdrawal:{withdrawal.pk}"
        )
    except ledger.LedgerError as refused:
        if refused.code != "insufficient_balance":
            raise
        # Still under the wallet lock, so this is the balance the request was measured against.
        left = Wallet.objects.filter(mentor=mentor).values_list("available_paise", flat=True).first() or 0
        message = f"You can withdraw up to {rupees(left)} right now."
        raise Conflict("insufficient_balance", message, fields={"amount_paise": message})
    withdrawal.hold_txn = posted.txn
    withdrawal.save(update_fields=["hold_txn"])
    audit_record(action="withdrawal.requested", actor=mentor, target=withdrawal, amount_paise=amount_paise)
    publish("withdrawal.requested", to=[mentor], data=_event_data(withdrawal))
    return withdrawal


def _locked(withdrawal: Withdrawal) -> Withdrawal:
    # Re-read under a row lock: two admins deciding at once must not both act on "requested".
    return Withdrawal.objects.select_for_update().get(pk=withdrawal.pk)


@transaction.atomic
def withdrawal_decide(*, admin: User, withdrawal: Withdrawal, approve: bool, reason: str = "") -> Withdrawal:
    _require_admin(admin, withdrawal)
    withdrawal = _locked(withdrawal)
    # An approved one may still be rejected: the transfer can fail at the bank, and then the
    # money must go back to the mentor's available balance.
    open_states = [WithdrawalState.REQUESTED] if approve else [WithdrawalState.REQUESTED, WithdrawalState.APPROVED]
    if withdrawal.state not in open_states:
        raise Conflict("already_decided", f"This withdrawal is {withdrawal.get_state_display().lower()} already.")
    reason = " ".join((reason or "").split())
    if not approve and not 3 <= len(reason) <= 500:
        message = "Tell the mentor why (3 to 500 characters)."
        raise DomainError("reason_required", message, fields={"reason": message})
    withdrawal.decided_at = timezone.now()
    withdrawal.decided_by = admin
    if approve:
        withdrawal.state = WithdrawalState.APPROVED
    else:
        posted = ledger.withdrawal_release(
            mentor_id=withdrawal.mentor_id,
            amount_paise=withdrawal.amount_paise,
            reference=f"withdrawal:{withdrawal.pk}",
            memo="rejected",
        )
        withdrawal.state = WithdrawalState.REJECTED
        withdrawal.reason = reason
        withdrawal.release_txn = posted.txn
    withdrawal.save(update_fields=["state", "decided_at", "decided_by", "reason", "release_txn"])
    audit_record(
        action=f"withdrawal.{withdrawal.state}",
        actor=admin,
        target=withdrawal,
        mentor=withdrawal.mentor_id,
        amount_paise=withdrawal.amount_paise,
        reason=withdrawal.reason,
    )
    publish(f"withdrawal.{withdrawal.state}", to=[withdrawal.mentor_id], data=_event_data(withdrawal))
    return withdrawal


@transaction.atomic
def withdrawal_mark_paid(*, admin: User, withdrawal: Withdrawal, reference: str) -> Withdrawal:
    """Record that the admin made the transfer, with the bank's or UPI app's reference."""
    _require_admin(admin, withdrawal)
    reference = (reference or "").strip()
    if not REFERENCE_RE.fullmatch(reference):
        message = "Enter the transfer reference (3 to 64 letters, digits, . _ / -)."
        raise DomainError("reference_required", message, fields={"reference": message})
    withdrawal = _locked(withdrawal)
    if withdrawal.state != WithdrawalState.APPROVED:
        raise Conflict("not_approved", f"Only an approved withdrawal can be paid; this one is {withdrawal.state}.")
    if Withdrawal.objects.filter(reference=reference).exists():
        message = "That reference already records another withdrawal."
        raise Conflict("reference_used", message, fields={"reference": message})
    posted = ledger.withdrawal_paid(
        mentor_id=withdrawal.mentor_id,
        amount_paise=withdrawal.amount_paise,
        reference=f"withdrawal:{withdrawal.pk}",
        memo=reference,
    )
    withdrawal.state = WithdrawalState.PAID
    withdrawal.reference = reference
    withdrawal.paid_at = timezone.now()
    withdrawal.paid_txn = posted.txn
    withdrawal.save(update_fields=["state", "reference", "paid_at", "paid_txn"])
    audit_record(
        action="withdrawal.paid",
        actor=admin,
        target=withdrawal,
        mentor=withdrawal.mentor_id,
        amount_paise=withdrawal.amount_paise,
        reference=reference,
    )
    publish("withdrawal.paid", to=[withdrawal.mentor_id], data={**_event_data(withdrawal), "reference": reference})
    return withdrawal


# --- Selectors --------------------------------------------------------------------------------


def payout_methods_of_mentor(mentor: User) -> QuerySet[PayoutMethod]:
    return PayoutMethod.objects.filter(mentor=mentor).order_by("-is_default", "-created_at", "-id")


def get_payout_method_for_mentor(mentor: User, method_id: int) -> PayoutMethod:
    method = PayoutMethod.objects.filter(pk=method_id, mentor=mentor).first()
    if method is None:
        raise Http404
    return method


def withdrawals_of_mentor(mentor: User) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(mentor=mentor).order_by("-requested_at", "-id")


def get_withdrawal_for_admin(admin: User, withdrawal_id: int) -> Withdrawal:
    if admin.role != Role.ADMIN:
        raise Http404
    withdrawal = Withdrawal.objects.select_related("mentor", "method", "decided_by").filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise Http404
    return withdrawal
