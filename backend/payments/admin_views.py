"""The admin money pages: payments (with totals, a detail page, refunds and a CSV), the refunds
queue, and the withdrawals queue. Thin doors: reads through admin_selectors, every write through
payments.services or payments.withdrawals, refusals shown and nothing written.

Every page here answers with `Cache-Control: no-store`: they hold learners' e-mails and, on a
withdrawal's own page, a mentor's full bank details, which must not land in the service
worker's page cache."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts.audit import audit_record
from backend.core.access import Rule, page
from backend.core.csv_export import Echo, csv_download, csv_lines, csv_rupees, csv_text
from backend.core.errors import DomainError
from backend.core.redirects import safe_next
from backend.dashboards.forms import RupeesField, apply_domain_error, paise_to_rupees
from backend.dashboards.money import inr
from backend.payments import admin_selectors as selectors
from backend.payments import services, withdrawals
from backend.payments.models import OrderPurpose, OrderState, RefundState, WithdrawalState

PAGE_SIZE = 25


# --- payments ---------------------------------------------------------------------------------
class OrderFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Learner e-mail, order_… or pay_… id"}),
    )
    state = forms.ChoiceField(label="State", required=False, choices=[("", "Any state"), *OrderState.choices])
    purpose = forms.ChoiceField(label="For", required=False, choices=[("", "Sessions and tips"), *OrderPurpose.choices])

    def filters(self) -> selectors.OrderFilter:
        data = self.cleaned_data if self.is_valid() else {}
        return selectors.OrderFilter(state=data.get("state", ""), purpose=data.get("purpose", ""), q=data.get("q", ""))


def _order_filters(request) -> tuple[OrderFilterForm, selectors.OrderFilter]:
    form = OrderFilterForm(request.GET)
    return form, form.filters()


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_payments(request):
    form, filters = _order_filters(request)
    orders = selectors.orders_for_admin(request.user, filters)
    totals = selectors.order_totals(orders)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "nav": "payments",
        "form": form,
        "filtered": filters.active,
        "orders": Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page")),
        "totals": {key.replace("_paise", "_label"): inr(value) for key, value in totals.items()},
        "query": query.urlencode(),
    }
    return render(request, "payments/admin_payments.html", context)


def _payments_csv_lines(orders) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield "\ufeff" + writer.writerow(
        [
            "Created (UTC)",
            "Paid (UTC)",
            "Learner",
            "Mentor",
            "Session",
            "For",
            "Amount (INR)",
            "Fee (INR)",
            "Refunded (INR)",
            "State",
            "Outcome",
            "Gateway order",
            "Payment",
        ]
    )
    # .iterator(): an export of every order must not hold them all in memory at once.
    for order in orders.iterator(chunk_size=500):
        yield writer.writerow(
            [
                f"{order.created_at:%Y-%m-%d %H:%M}",
                f"{order.paid_at:%Y-%m-%d %H:%M}" if order.paid_at else "",
                csv_text(order.payer.email),
                csv_text(order.mentor.email),
                csv_text(order.booking.session.title),
                order.get_purpose_display(),
                csv_rupees(order.amount_paise),
                csv_rupees(order.fee_paise),
                csv_rupees(order.refunded_paise),
                order.get_state_display(),
                csv_text(order.outcome),
                csv_text(order.gateway_order_id),
                csv_text(order.payment_id),
            ]
        )


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_payments_csv(request):
    _, filters = _order_filters(request)
    orders = selectors.orders_for_admin(request.user, filters)
    audit_record(action="export.payments", actor=request.user, request=request, filters=request.GET.dict())
    return csv_download(request, _payments_csv_lines(orders), f"peerlearn-payments-{timezone.now():%Y-%m-%d}.csv")


class RefundForm(forms.Form):
    amount = RupeesField(label="Amount to refund (₹)", max_value=None)
    note = forms.CharField(
        label="Why (kept in the audit log)", max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )


@page(Rule.ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def admin_payment(request, order_id: int):
    detail = selectors.get_order_for_admin(request.user, order_id)
    form = RefundForm(
        request.POST if request.method == "POST" else None, initial={"amount": paise_to_rupees(detail.refundable_paise)}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                refund = services.refund_by_admin(
                    admin=request.user,
                    order=detail.order,
                    amount_paise=form.cleaned_data["amount"],
                    note=form.cleaned_data["note"],
                )
            except DomainError as exc:
                apply_domain_error(form, exc, {"amount_paise": "amount"})
            else:
                messages.success(request, f"Refund #{refund.pk} of {inr(refund.amount_paise)} asked for.")
                return redirect("admin-payment", order_id=detail.order.pk)
        status = 400
    context = {
        "nav": "payments",
        "detail": detail,
        "order": detail.order,
        "form": form,
        "refundable_label": inr(detail.refundable_paise),
    }
    return render(request, "payments/admin_payment.html", context, status=status)


# --- refunds ----------------------------------------------------------------------------------
REFUND_STATES = [("", "Needing action first"), *RefundState.choices]


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_refunds(request):
    state = request.GET.get("state", "")
    state = state if state in RefundState.values else ""
    refunds = selectors.refunds_for_admin(request.user, state)
    context = {
        "nav": "refunds",
        "state": state,
        "states": REFUND_STATES,
        "refunds": Paginator(refunds, PAGE_SIZE).get_page(request.GET.get("page")),
    }
    return render(request, "payments/admin_refunds.html", context)


def _refunds_csv_lines(refunds) -> Iterator[str]:
    header = ["Created (UTC)", "Processed (UTC)", "Learner", "Session", "Amount (INR)", "Reason", "State"]
    header += ["Gateway refund", "Payment", "Failure", "Note", "Asked by"]
    rows = (
        [
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.processed_at:%Y-%m-%d %H:%M}" if r.processed_at else "",
            csv_text(r.order.payer.email),
            csv_text(r.order.booking.session.title),
            csv_rupees(r.amount_paise),
            csv_text(r.reason),
            r.get_state_display(),
            csv_text(r.gateway_refund_id),
            csv_text(r.payment_id),
            csv_text(r.failure),
            csv_text(r.note),
            csv_text(r.requested_by.email) if r.requested_by_id else "",
        ]
        for r in refunds.iterator(chunk_size=500)
    )
    return csv_lines(header, rows)


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_refunds_csv(request):
    state = request.GET.get("state", "")
    refunds = selectors.refunds_for_admin(request.user, state if state in RefundState.values else "")
    audit_record(action="export.refunds", actor=request.user, request=request, filters=request.GET.dict())
    return csv_download(request, _refunds_csv_lines(refunds), f"peerlearn-refunds-{timezone.now():%Y-%m-%d}.csv")


@page(Rule.ADMIN)
@require_POST
def admin_refund_retry(request, refund_id: int):
    failed = selectors.get_refund_for_admin(request.user, refund_id)
    back = safe_next(request, reverse("admin-refunds"))
    try:
        refund = services.refund_retry(admin=request.user, refund=failed)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Refund #{failed.pk} asked for again as refund #{refund.pk}.")
    return redirect(back)


# --- withdrawals ------------------------------------------------------------------------------
@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_withdrawals(request):
    context = {
        "nav": "withdrawals",
        "queue": selectors.withdrawal_queue(request.user),
        "past": Paginator(selectors.withdrawals_past(request.user), PAGE_SIZE).get_page(request.GET.get("page")),
    }
    return render(request, "payments/admin_withdrawals.html", context)


def _withdrawals_csv_lines(withdrawals) -> Iterator[str]:
    header = ["Requested (UTC)", "Mentor", "Amount (INR)", "Method", "State", "Decided (UTC)", "Decided by"]
    header += ["Paid (UTC)", "Reference", "Reason"]
    rows = (
        [
            f"{w.requested_at:%Y-%m-%d %H:%M}",
            csv_text(w.mentor.email),
            csv_rupees(w.amount_paise),
            csv_text(w.method_display),  # masked as stored: full bank details never leave in a file
            w.get_state_display(),
            f"{w.decided_at:%Y-%m-%d %H:%M}" if w.decided_at else "",
            csv_text(w.decided_by.email) if w.decided_by_id else "",
            f"{w.paid_at:%Y-%m-%d %H:%M}" if w.paid_at else "",
            csv_text(w.reference),
            csv_text(w.reason),
        ]
        for w in withdrawals.iterator(chunk_size=500)
    )
    return csv_lines(header, rows)


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_withdrawals_csv(request):
    withdrawals = selectors.withdrawals_for_export(request.user)
    audit_record(action="export.withdrawals", actor=request.user, request=request)
    name = f"peerlearn-withdrawals-{timezone.now():%Y-%m-%d}.csv"
    return csv_download(request, _withdrawals_csv_lines(withdrawals), name)


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_withdrawal(request, withdrawal_id: int):
    """One withdrawal with the full payout details while it still has to be paid: the admin
    copies them into their bank or UPI app. Each such view is audited."""
    withdrawal = withdrawals.get_withdrawal_for_admin(request.user, withdrawal_id)
    show_details = withdrawal.state in selectors.OPEN_WITHDRAWALS and withdrawal.mentor_id != request.user.pk
    if show_details:
        audit_record(action="withdrawal.details_viewed", actor=request.user, request=request, target=withdrawal)
    context = {"nav": "withdrawals", "w": withdrawal, "method": withdrawal.method, "show_details": show_details}
    return render(request, "payments/admin_withdrawal.html", context)


def _back_to_withdrawal(request, withdrawal_id: int):
    return redirect(safe_next(request, reverse("admin-withdrawal", args=[withdrawal_id])))


@page(Rule.ADMIN)
@require_POST
def admin_withdrawal_decide(request, withdrawal_id: int):
    withdrawal = withdrawals.get_withdrawal_for_admin(request.user, withdrawal_id)
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        messages.error(request, "Choose to approve or reject.")
        return _back_to_withdrawal(request, withdrawal.pk)
    try:
        withdrawal = withdrawals.withdrawal_decide(
            admin=request.user,
            withdrawal=withdrawal,
            approve=decision == "approve",
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        amount = inr(withdrawal.amount_paise)
        if withdrawal.state == WithdrawalState.APPROVED:
            messages.success(request, f"Approved {amount} for {withdrawal.mentor.full_name}: now send the transfer.")
        else:
            messages.success(request, f"Rejected {amount}; it is back in {withdrawal.mentor.full_name}'s balance.")
    return _back_to_withdrawal(request, withdrawal.pk)


@page(Rule.ADMIN)
@require_POST
def admin_withdrawal_paid(request, withdrawal_id: int):
    withdrawal = withdrawals.get_withdrawal_for_admin(request.user, withdrawal_id)
    try:
        withdrawal = withdrawals.withdrawal_mark_paid(
            admin=request.user, withdrawal=withdrawal, reference=request.POST.get("reference", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Marked {inr(withdrawal.amount_paise)} paid (reference {withdrawal.reference}).")
    return _back_to_withdrawal(request, withdrawal.pk)
