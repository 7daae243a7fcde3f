"""Double-entry postings. Each public function is one transaction of entries summing to zero,
written with the mentor's wallet locked and updated alongside; a posting that would leave any
balance below zero raises LedgerError and writes nothing.

    charge / tip       external −gross, platform:fees +fee, mentor pending +share
    refund             the reverse, fee and share returned in the charge's proportion,
                       the share taken from pending first, then available; what the mentor no
                       longer holds (already withdrawn) goes to mentor:<id>:owed, negative
                       while they owe it (the payer is refunded regardless)
    release            pending → available (session completed, dispute window over)
    withdrawal_hold    available → withdrawing
    withdrawal_paid    withdrawing → external
    withdrawal_release withdrawing → available (rejected or failed payout)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from backend.core.errors import Conflict
from backend.payments.models import EntryKind, LedgerEntry, Wallet

EXTERNAL = "external"
PLATFORM_FEES = "platform:fees"


class LedgerError(Conflict):
    pass


def pending(mentor_id: int) -> str:
    return f"mentor:{mentor_id}:pending"


def available(mentor_id: int) -> str:
    return f"mentor:{mentor_id}:available"


def withdrawing(mentor_id: int) -> str:
    return f"mentor:{mentor_id}:withdrawing"


def owed(mentor_id: int) -> str:
    return f"mentor:{mentor_id}:owed"


WALLET_FIELDS = {"pending": "pending_paise", "available": "available_paise", "withdrawing": "withdrawing_paise"}


def split(gross_paise: int, fee_percent: int | None = None) -> tuple[int, int]:
    """(platform fee, mentor share) of a gross amount; the fee rounds half up to the paisa and
    the share is the rest, so the two always add up to the gross exactly."""
    if fee_percent is None:
        fee_percent = settings.PLATFORM_FEE_PERCENT
    fee = (gross_paise * fee_percent + 50) // 100
    return fee, gross_paise - fee


@dataclass(frozen=True)
class Posted:
    txn: uuid.UUID
    fee_paise: int = 0
    share_paise: int = 0


def _wallet(mentor_id: int) -> Wallet:
    Wallet.objects.get_or_create(mentor_id=mentor_id)
    return Wallet.objects.select_for_update().get(mentor_id=mentor_id)


def _post(
    kind: str, lines: list[tuple[str, int]], *, mentor_id: int | None, wallet: Wallet | None, **refs
) -> uuid.UUID:
    lines = [(account, amount) for account, amount in lines if amount]
    if sum(amount for _, amount in lines) != 0:  # a bug, never a user's doing
        raise AssertionError(f"unbalanced {kind}: {lines}")
    if wallet is not None:
        for account, amount in lines:
            bucket = account.rsplit(":", 1)[1] if account.startswith(f"mentor:{mentor_id}:") else None
            if field := WALLET_FIELDS.get(bucket):
                setattr(wallet, field, getattr(wallet, field) + amount)
        if min(wallet.pending_paise, wallet.available_paise, wallet.withdrawing_paise) < 0:
            raise LedgerError("insufficient_balance", "There is not enough money in the balance for this.")
        wallet.save()
    txn = uuid.uuid4()
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(txn=txn, account=account, amount_paise=amount, kind=kind, mentor_id=mentor_id, **refs)
            for account, amount in lines
        ]
    )
    return txn


def _positive(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise LedgerError("invalid_amount", "The amount must be a positive number of paise.")


@transaction.atomic
def charge(*, mentor_id: int, gross_paise: int, kind: str = EntryKind.CHARGE, **refs) -> Posted:
    """Money paid in for a mentor (a session or a tip)."""
    _positive(gross_paise)
    fee, share = split(gross_paise)
    lines = [(EXTERNAL, -gross_paise), (PLATFORM_FEES, fee), (pending(mentor_id), share)]
    txn = _post(kind, lines, mentor_id=mentor_id, wallet=_wallet(mentor_id), **refs)
    return Posted(txn, fee, share)


@transaction.atomic
def refund(*, mentor_id: int, amount_paise: int, charged_paise: int, charged_fee_paise: int, **refs) -> Posted:
    """Money paid back out of an earlier charge of `charged_paise` (of which `charged_fee_paise`
    was the fee). The caller checks it does not exceed what is left of that charge."""
    _positive(amount_paise)
    if amount_paise > charged_paise:
        raise LedgerError("refund_too_large", "A refund cannot be larger than the payment.")
    fee_back = charged_fee_paise * amount_paise // charged_paise
    share_back = amount_paise - fee_back
    wallet = _wallet(mentor_id)
    # Take the share back from this booking's own pending money first: another booking's pending
    # money is not this one's to give, and would be missing when that booking is released.
    booking_id = refs.get("booking_id") or getattr(refs.get("booking"), "pk", None)
    own_pending = _booking_pending(mentor_id, booking_id) if booking_id else wallet.pending_paise
    from_pending = min(share_back, max(own_pending, 0), wallet.pending_paise)
    from_available = min(share_back - from_pending, wallet.available_paise)
    lines = [
        (EXTERNAL, amount_paise),
        (PLATFORM_FEES, -fee_back),
        (pending(mentor_id), -from_pending),
        (available(mentor_id), -from_available),
        (owed(mentor_id), -(share_back - from_pending - from_available)),
    ]
    txn = _post(EntryKind.REFUND, lines, mentor_id=mentor_id, wallet=wallet, **refs)
    return Posted(txn, fee_back, share_back)


@transaction.atomic
def release(*, mentor_id: int, amount_paise: int, **refs) -> Posted:
    _positive(amount_paise)
    lines = [(pending(mentor_id), -amount_paise), (available(mentor_id), amount_paise)]
    return Posted(_post(EntryKind.RELEASE, lines, mentor_id=mentor_id, wallet=_wallet(mentor_id), **refs))


def _booking_pending(mentor_id: int, booking_id: int) -> int:
    entries = LedgerEntry.objects.filter(account=pending(mentor_id), booking_id=booking_id)
    return entries.aggregate(total=Sum("amount_paise"))["total"] or 0


@transaction.atomic
def release_booking(*, mentor_id: int, booking_id: int) -> Posted | None:
    """Release what is still pending of one booking's money (its charge and tips, less
    refunds). Summed under the wallet lock, so two jobs at once release it once."""
    wallet = _wallet(mentor_id)
    held = _booking_pending(mentor_id, booking_id)
    if held <= 0:
        return None
    lines = [(pending(mentor_id), -held), (available(mentor_id), held)]
    return Posted(
        _post(
            EntryKind.RELEASE,
            lines,
            mentor_id=mentor_id,
            wallet=wallet,
            booking_id=booking_id,
            reference=f"release-{booking_id}",
        )
    )


@transaction.atomic
def withdrawal_hold(*, mentor_id: int, amount_paise: int, **refs) -> Posted:
    _positive(amount_paise)
    lines = [(available(mentor_id), -amount_paise), (withdrawing(mentor_id), amount_paise)]
    return Posted(_post(EntryKind.WITHDRAWAL_HOLD, lines, mentor_id=mentor_id, wallet=_wallet(mentor_id), **refs))


@transaction.atomic
def withdrawal_paid(*, mentor_id: int, amount_paise: int, **refs) -> Posted:
    _positive(amount_paise)
    lines = [(withdrawing(mentor_id), -amount_paise), (EXTERNAL, amount_paise)]
    return Posted(_post(EntryKind.WITHDRAWAL_PAID, lines, mentor_id=mentor_id, wallet=_wallet(mentor_id), **refs))


@transaction.atomic
def withdrawal_release(*, mentor_id: int, amount_paise: int, **refs) -> Posted:
    _positive(amount_paise)
    lines = [(withdrawing(mentor_id), -amount_paise), (available(mentor_id), amount_paise)]
    return Posted(_post(EntryKind.WITHDRAWAL_RELEASED, lines, mentor_id=mentor_id, wallet=_wallet(mentor_id), **refs))


def balance(account: str) -> int:
    """An account's balance from its entries (the slow, authoritative sum)."""
    return LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_paise"))["total"] or 0


def already_posted(*, reference: str) -> bool:
    """Whether a gateway id (a refund's, a payment's) has entries already: postings by gateway
    id happen once however often the gateway tells us."""
    return bool(reference) and LedgerEntry.objects.filter(reference=reference).exists()
