"""The money pages: the mentor's earnings (balances, months, activity, CSV) and withdrawals, and
the learner's payments with a receipt per paid order. Figures come from the payments ledger
through money_selectors; writes go through backend.payments.withdrawals."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from backend.accounts.models import User
from backend.core.access import Rule, page
from backend.core.csv_export import Echo, csv_download, csv_rupees, csv_text
from backend.core.errors import DomainError
from backend.core.templatetags.ui import rupees
from backend.dashboards import money_selectors as money
from backend.dashboards.forms import RupeesField, apply_domain_error
from backend.payments import withdrawals
from backend.payments.models import OrderPurpose, PayoutKind, RefundState

PAGE_SIZE = 20


def inr(paise: int) -> str:
    """An amount of money: unlike the `rupees` filter (prices), zero reads ₹0, not "Free"."""
    if paise < 0:
        return f"−{rupees(-paise)}"
    return rupees(paise) if paise else "₹0"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{pluralize(count)}"


def _chart(kind: str, labels: list, datasets: list[dict], **options) -> dict:
    """What static/js/analytics.js draws: colours are design-token names, resolved in the browser
    so both themes look right."""
    return {"type": kind, "labels": labels, "datasets": datasets, **options}


# --- mentor: earnings ---------------------------------------------------------------------------
MONEY_KEYS = ("sessions", "tips", "refunds", "net")


def _with_labels(row: dict) -> dict:
    return {**row, **{f"{key}_label": inr(row[f"{key}_paise"]) for key in MONEY_KEYS}}


def _earnings_summary(months: list[dict], last: dict) -> str:
    if not last["payments"] and not last["refunds_paise"]:
        return f"No payments or tips over the last {len(months)} months."
    best = max(months, key=lambda month: month["net_paise"])
    tips = f" ({inr(last['tips_paise'])} in tips)" if last["tips_paise"] else ""
    refunds = f", after {inr(last['refunds_paise'])} refunded" if last["refunds_paise"] else ""
    return (
        f"{inr(last['net_paise'])} net over the last {len(months)} months from "
        f"{_plural(last['payments'], 'payment')}{tips}{refunds}; "
        f"the best month was {best['label']} with {best['net_label']}."
    )


def _earnings_chart(months: list[dict]) -> dict:
    return _chart(
        "bar",
        [month["label"] for month in months],
        [
            {"label": "Sessions", "data": [m["sessions_paise"] / 100 for m in months], "color": "brand"},
            {"label": "Tips", "data": [m["tips_paise"] / 100 for m in months], "color": "accent"},
            {"label": "Refunded", "data": [-m["refunds_paise"] / 100 for m in months], "color": "muted"},
        ],
        stacked=True,
        money=True,
    )


def _activity_labels(item: dict) -> dict:
    item["change_label"] = inr(item["change_paise"]) if item["change_paise"] <= 0 else f"+{inr(item['change_paise'])}"
    item["moved_label"] = inr(item["moved_paise"])
    return item


@page(Rule.MENTOR)
def mentor_earnings(request):
    mentor = request.user
    data = money.earnings_by_month(mentor)
    months = [_with_labels(month) for month in data["by_month"]]
    last = _with_labels(data["last_months"])
    wallet = money.wallet_of(mentor)
    context = {
        "nav": "earnings",
        "timezone": data["timezone"],
        "wallet": {
            **wallet,
            **{f"{k}_label": inr(wallet[f"{k}_paise"]) for k in ("pending", "available", "withdrawing")},
        },
        "can_withdraw": wallet["available_paise"] >= withdrawals.MIN_WITHDRAWAL_PAISE,
        "minimum_label": withdrawals.rupees(withdrawals.MIN_WITHDRAWAL_PAISE),
        "this_month": _with_labels(data["this_month"]),
        "last_months": last,
        "months": months,
        "has_months": bool(last["payments"] or last["refunds_paise"]),
        "summary": _earnings_summary(months, last),
        "activity": [_activity_labels(item) for item in money.recent_activity(mentor)],
        "charts": {"earnings": _earnings_chart(months)},
    }
    return render(request, "dashboards/mentor_earnings.html", context)


def _earnings_csv_lines(mentor: User) -> Iterator[str]:
    zone = ZoneInfo(mentor.timezone)
    writer = csv.writer(Echo())
    # The BOM makes spreadsheet apps read the file as UTF-8 (titles may hold any script).
    yield "\ufeff" + writer.writerow([f"Date ({zone.key})", "Kind", "Session", "Amount (INR)", "Balance", "Reference"])
    for line in money.ledger_lines_for_csv(mentor):
        session = line.booking.session.title if line.booking_id else ""
        yield writer.writerow(
            [
                f"{line.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
                csv_text(line.get_kind_display()),
                csv_text(session),
                csv_rupees(line.amount_paise),
                money.BUCKETS[money.bucket_of(line.account)],
                csv_text(line.reference),
            ]
        )


@page(Rule.MENTOR)
def mentor_earnings_csv(request):
    today = timezone.now().astimezone(ZoneInfo(request.user.timezone)).date()
    return csv_download(request, _earnings_csv_lines(request.user), f"peerlearn-earnings-{today:%Y-%m-%d}.csv")


# --- mentor: withdrawals ------------------------------------------------------------------------
class HiddenValueInput(forms.TextInput):
    """A text box that never writes its value back into the page: a bank account number typed
    once is not echoed into the HTML when the form comes back with an error."""

    def format_value(self, value):
        return None


class PayoutMethodForm(forms.Form):
    """Only parses; withdrawals.payout_method_save validates each field and says what is wrong."""

    kind = forms.ChoiceField(label="Paid to", choices=PayoutKind.choices, widget=forms.RadioSelect, initial="upi")
    upi_vpa = forms.CharField(label="UPI ID", required=False, max_length=321)
    holder = forms.CharField(label="Account holder's name", required=False, max_length=100)
    ifsc = forms.CharField(label="IFSC", required=False, max_length=11)
    account_number = forms.CharField(
        label="Account number",
        required=False,
        max_length=40,  # typed in groups with spaces or dashes; the service keeps the digits
        widget=HiddenValueInput,
        help_text="Shown only as its last four digits once saved.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="method", **kwargs)
        self.fields["upi_vpa"].widget.attrs.update({"placeholder": "name@bank", "autocomplete": "off"})
        self.fields["ifsc"].widget.attrs.update({"placeholder": "HDFC0001234", "autocapitalize": "characters"})
        self.fields["account_number"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})


class WithdrawalForm(forms.Form):
    FIELD_MAP = {"amount_paise": "amount"}

    amount = RupeesField(label="Amount (₹)", max_value=None)
    method = forms.ModelChoiceField(
        label="Send to",
        queryset=None,
        empty_label=None,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose one of your payout methods."},
    )

    def __init__(self, *args, mentor: User, available_paise: int, **kwargs):
        super().__init__(*args, prefix="withdraw", **kwargs)
        # The mentor's own methods only: anything else is not a choice (the service checks too).
        self.fields["method"].queryset = withdrawals.payout_methods_of_mentor(mentor)
        self.fields[
            "amount"
        ].help_text = (
            f"Up to {inr(available_paise)} available; at least {withdrawals.rupees(withdrawals.MIN_WITHDRAWAL_PAISE)}."
        )
        self.fields["amount"].widget.attrs.update({"step": "0.01", "min": "0"})


def _withdrawals_page(request, *, withdraw_form=None, method_form=None, status=200):
    mentor = request.user
    wallet = money.wallet_of(mentor)
    methods = list(withdrawals.payout_methods_of_mentor(mentor))
    withdraw_form = withdraw_form or WithdrawalForm(
        mentor=mentor, available_paise=wallet["available_paise"], initial={"method": methods[0] if methods else None}
    )
    history = Paginator(withdrawals.withdrawals_of_mentor(mentor), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "nav": "withdrawals",
        "wallet": {
            **wallet,
            **{f"{k}_label": inr(wallet[f"{k}_paise"]) for k in ("pending", "available", "withdrawing")},
        },
        "minimum_label": withdrawals.rupees(withdrawals.MIN_WITHDRAWAL_PAISE),
        "methods": methods,
        "withdraw_form": withdraw_form,
        "method_form": method_form or PayoutMethodForm(),
        "history": history,
        "open_method_form": method_form is not None or not methods,
    }
    return render(request, "dashboards/mentor_withdrawals.html", context, status=status)


@page(Rule.MENTOR)
@require_http_methods(["GET", "POST"])
def mentor_withdrawals(request):
    if request.method == "GET":
        return _withdrawals_page(request)
    mentor = request.user
    available = money.wallet_of(mentor)["available_paise"]
    form = WithdrawalForm(request.POST, mentor=mentor, available_paise=available)
    if form.is_valid():
        try:
            withdrawal = withdrawals.withdrawal_request(
                mentor=mentor, amount_paise=form.cleaned_data["amount"], method=form.cleaned_data["method"]
            )
        except DomainError as exc:
            apply_domain_error(form, exc, WithdrawalForm.FIELD_MAP)
        else:
            messages.success(
                request,
                f"Withdrawal of {inr(withdrawal.amount_paise)} to {withdrawal.method_display} requested. "
                "An admin reviews it and sends the transfer.",
            )
            return redirect("mentor-withdrawals")
    return _withdrawals_page(request, withdraw_form=form, status=400)


@page(Rule.MENTOR)
@require_POST
def mentor_payout_method_add(request):
    form = PayoutMethodForm(request.POST)
    if form.is_valid():
        try:
            method = withdrawals.payout_method_save(mentor=request.user, **form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"{method} saved and set as your default payout method.")
            return redirect("mentor-withdrawals")
    return _withdrawals_page(request, method_form=form, status=400)


# --- learner: payments and receipts -------------------------------------------------------------
REFUND_WORDS = {  # (in a list line, as a receipt row)
    RefundState.REQUESTED: ("being refunded", "Refund on its way"),
    RefundState.PROCESSED: ("refunded", "Refunded"),
    RefundState.FAILED: ("refund failed", "Refund failed"),
}


def _order_labels(order) -> None:
    order.amount_label = inr(order.amount_paise)
    order.refund_rows = [
        {
            "refund": refund,
            "label": inr(refund.amount_paise),
            "words": REFUND_WORDS[refund.state][0],
            "title": REFUND_WORDS[refund.state][1],
        }
        for refund in order.refunds.all()
    ]


@page(Rule.LEARNER)
def learner_payments(request):
    learner = request.user
    orders = Paginator(money.payment_history(learner), PAGE_SIZE).get_page(request.GET.get("page"))
    for order in orders:
        _order_labels(order)
    held = money.awaiting_payment(learner)
    for booking in held:
        booking.amount_label = inr(booking.session.price_paise)
    totals = money.payment_totals(learner)
    context = {
        "nav": "payments",
        "orders": orders,
        "held": held,
        "due_label": inr(sum(booking.session.price_paise for booking in held)),
        "totals": {**totals, **{f"{k.removesuffix('_paise')}_label": inr(v) for k, v in totals.items()}},
    }
    return render(request, "dashboards/learner_payments.html", context)


def receipt_number(order) -> str:
    """Stable and readable: the payment date and our order number."""
    return f"PL-{order.paid_at or order.created_at:%Y%m%d}-{order.pk:06d}"


@page(Rule.LEARNER)
def learner_receipt(request, order_id: int):
    order = money.get_receipt_for_payer(request.user, order_id)
    _order_labels(order)
    refunded = sum(r.amount_paise for r in order.refunds.all() if r.state == RefundState.PROCESSED)
    context = {
        "nav": "payments",
        "order": order,
        "number": receipt_number(order),
        "is_tip": order.purpose == OrderPurpose.TIP,
        "refunded_label": inr(refunded),
        "kept_label": inr(order.amount_paise - refunded),
        "has_refunds": bool(order.refund_rows),
    }
    return render(request, "dashboards/learner_receipt.html", context)
