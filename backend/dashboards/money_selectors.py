"""Reads for the money pages, from the payments ledger (the truth about money) and the records
around it. Each takes the viewer and returns only their own rows; each is a fixed number of
queries however many entries there are.

A mentor's earnings are what reached their own accounts ("mentor:<id>:…"): their share of each
session payment and tip, less the share a refund took back. Platform fees never show here.
Moves between their own balances (release, withdrawal holds) change no earnings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone

from backend.accounts.models import User
from backend.marketplace.models import Booking, BookingState
from backend.payments.models import EntryKind, LedgerEntry, OrderState, PaymentOrder, Refund, RefundState, Wallet

EARNING_MONTHS = 12
RECENT_ACTIVITY = 10
EARNING_KINDS = (EntryKind.CHARGE, EntryKind.TIP, EntryKind.REFUND)
PAID_STATES = (OrderState.PAID, OrderState.REFUNDED)
BUCKETS = {"pending": "Pending", "available": "Available", "withdrawing": "Being withdrawn"}


def _zone(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone)


def bucket_of(account: str) -> str:
    """ "mentor:7:available" -> "available"."""
    return account.rsplit(":", 1)[-1]


# --- mentor: balances and earnings --------------------------------------------------------------
def mentor_entries(mentor: User) -> QuerySet[LedgerEntry]:
    """The lines of the mentor's own accounts. The other lines of the same transactions (the
    payer's side, the platform fee) carry the mentor too, so the account decides."""
    return LedgerEntry.objects.filter(mentor=mentor, account__startswith=f"mentor:{mentor.pk}:")


def wallet_of(mentor: User) -> dict[str, int]:
    """Pending, available and being withdrawn, from the wallet row (zero before any money)."""
    row = Wallet.objects.filter(mentor=mentor).values("pending_paise", "available_paise", "withdrawing_paise").first()
    return row or {"pending_paise": 0, "available_paise": 0, "withdrawing_paise": 0}


def _earning_sums() -> dict:
    charge, tip, refund = (Q(kind=kind) for kind in EARNING_KINDS)
    return {
        "sessions": Sum("amount_paise", filter=charge),
        "tips": Sum("amount_paise", filter=tip),
        "refunds": Sum("amount_paise", filter=refund),  # negative: money taken back
        "payments": Count("id", filter=charge | tip),
    }


def _earning_row(row: dict) -> dict:
    sessions, tips, refunds = row.get("sessions") or 0, row.get("tips") or 0, -(row.get("refunds") or 0)
    return {
        "sessions_paise": sessions,
        "tips_paise": tips,
        "refunds_paise": refunds,
        "net_paise": sessions + tips - refunds,
        "payments": row.get("payments") or 0,
    }


def _month_starts(zone: ZoneInfo, months: int, now: datetime) -> list[date]:
    first = now.astimezone(zone).date().replace(day=1)
    starts = [first]
    for _ in range(months - 1):
        starts.append((starts[-1] - timedelta(days=1)).replace(day=1))
    return starts[::-1]


def _month_key(value: datetime | date, zone: ZoneInfo) -> date:
    # TruncMonth gives an aware datetime on PostgreSQL and may give a naive one on SQLite.
    if isinstance(value, datetime):
        return (value.astimezone(zone) if timezone.is_aware(value) else value).date()
    return value


def earnings_by_month(mentor: User, *, months: int = EARNING_MONTHS, now: datetime | None = None) -> dict:
    """The mentor's share of session payments and tips, less refunds, by calendar month of the
    entry in the mentor's timezone: the last `months` months (this one included). One query."""
    now = now or timezone.now()
    zone = _zone(mentor)
    starts = _month_starts(zone, months, now)
    rows = (
        mentor_entries(mentor)
        .filter(kind__in=EARNING_KINDS, created_at__gte=datetime.combine(starts[0], time(0), tzinfo=zone))
        .annotate(month=TruncMonth("created_at", tzinfo=zone))
        .order_by()
        .values("month")
        .annotate(**_earning_sums())
    )
    by_month = {_month_key(row.pop("month"), zone): _earning_row(row) for row in rows}
    series = [{"month": m, "label": f"{m:%b %Y}", **by_month.get(m, _earning_row({}))} for m in starts]
    total = _earning_row(
        {
            "sessions": sum(m["sessions_paise"] for m in series),
            "tips": sum(m["tips_paise"] for m in series),
            "refunds": -sum(m["refunds_paise"] for m in series),
            "payments": sum(m["payments"] for m in series),
        }
    )
    return {"timezone": zone.key, "by_month": series, "this_month": series[-1], "last_months": total}


def earnings_this_month(mentor: User, *, now: datetime | None = None) -> dict:
    """The mentor home's card: this (local) month's earnings and what can be withdrawn now. Two
    queries. `gross_paise` is the mentor's share of payments and tips, `seats` their count."""
    now = now or timezone.now()
    zone = _zone(mentor)
    month = now.astimezone(zone).date().replace(day=1)
    row = (
        mentor_entries(mentor)
        .filter(kind__in=EARNING_KINDS, created_at__gte=datetime.combine(month, time(0), tzinfo=zone))
        .aggregate(**_earning_sums())
    )
    earned = _earning_row(row)
    return {
        "month": month,
        "gross_paise": earned["sessions_paise"] + earned["tips_paise"],
        "refunds_paise": earned["refunds_paise"],
        "net_paise": earned["net_paise"],
        "seats": earned["payments"],
        "available_paise": wallet_of(mentor)["available_paise"],
    }


def _activity(lines: list[LedgerEntry]) -> dict:
    """One transaction as the mentor sees it: money in or out of their balances (`change_paise`),
    or a move between two of them (`from_bucket` → `to_bucket`, `change_paise` 0)."""
    first = lines[0]
    change = sum(line.amount_paise for line in lines)
    out = [bucket_of(line.account) for line in lines if line.amount_paise < 0]
    into = [bucket_of(line.account) for line in lines if line.amount_paise > 0]
    return {
        "txn": first.txn,
        "kind": first.kind,
        "kind_label": first.get_kind_display(),
        "created_at": first.created_at,
        "booking": first.booking,
        "reference": first.reference,
        "change_paise": change,
        "moved_paise": sum(line.amount_paise for line in lines if line.amount_paise > 0),
        "buckets": [BUCKETS[b] for b in dict.fromkeys(into or out)],
        "from_bucket": BUCKETS[out[0]] if change == 0 and out else "",
        "to_bucket": BUCKETS[into[0]] if change == 0 and into else "",
    }


def recent_activity(mentor: User, *, limit: int = RECENT_ACTIVITY) -> list[dict]:
    """The latest `limit` transactions on the mentor's balances, newest first. One query: a
    transaction touches at most two of the mentor's accounts, so 2 × limit + 1 lines hold the
    `limit` newest transactions whole (a transaction cut at the end is dropped)."""
    lines = list(
        mentor_entries(mentor).select_related("booking__session").order_by("-created_at", "-id")[: 2 * limit + 1]
    )
    groups: dict = {}
    for line in lines:
        groups.setdefault(line.txn, []).append(line)
    return [_activity(group) for group in list(groups.values())[:limit]]


def ledger_lines_for_csv(mentor: User) -> Iterator[LedgerEntry]:
    """Every line of the mentor's accounts, oldest first, streamed from one query."""
    return (
        mentor_entries(mentor).select_related("booking__session").order_by("created_at", "id").iterator(chunk_size=500)
    )


# --- learner: payments --------------------------------------------------------------------------
def _orders_of(payer: User) -> QuerySet[PaymentOrder]:
    return (
        PaymentOrder.objects.filter(payer=payer)
        .select_related("booking__session", "mentor")
        .prefetch_related(Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")))
    )


def payment_history(learner: User) -> QuerySet[PaymentOrder]:
    """The learner's settled and failed orders (sessions and tips), newest first. Orders still
    awaiting payment are the held bookings above them (`awaiting_payment`)."""
    return _orders_of(learner).exclude(state=OrderState.CREATED).order_by("-created_at", "-id")


def awaiting_payment(learner: User, *, now: datetime | None = None) -> list[Booking]:
    """Seats held for the learner that still need paying, the soonest to lapse first. One query."""
    now = now or timezone.now()
    return list(
        Booking.objects.filter(
            learner=learner, state=BookingState.HELD, hold_expires_at__gt=now, session__price_paise__gt=0
        )
        .select_related("session", "session__mentor")
        .order_by("hold_expires_at", "id")
    )


def payment_totals(learner: User) -> dict[str, int]:
    """Paid (sessions and tips), refunded and being refunded. Two queries."""
    paid = PaymentOrder.objects.filter(payer=learner, state__in=PAID_STATES).aggregate(total=Sum("amount_paise"))
    refunds = Refund.objects.filter(order__payer=learner).aggregate(
        done=Sum("amount_paise", filter=Q(state=RefundState.PROCESSED)),
        pending=Sum("amount_paise", filter=Q(state=RefundState.REQUESTED)),
    )
    return {
        "paid_paise": paid["total"] or 0,
        "refunded_paise": refunds["done"] or 0,
        "refunding_paise": refunds["pending"] or 0,
    }


def get_receipt_for_payer(user: User, order_id: int) -> PaymentOrder:
    """A paid (possibly since refunded) order of `user`'s; anyone else's, or one never paid, is
    a 404, so a receipt's existence is not revealed to others."""
    order = _orders_of(user).filter(pk=order_id, state__in=PAID_STATES).first()
    if order is None:
        raise Http404
    return order
