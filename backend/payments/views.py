"""Payment doors. POST /api/payments/webhook/: Razorpay's events, verified over the raw body before
anything is parsed, deduplicated by event id, answered quickly (the work is one short transaction;
gateway calls it causes go to huey). The checkout pages (a held seat, or a tip), the test-mode and
in-page result handlers, Razorpay's hosted-checkout callback, and the tip page."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from backend.accounts.audit import audit_record
from backend.core.access import Rule, page
from backend.core.errors import DomainError
from backend.marketplace import selectors
from backend.marketplace.models import BookingState
from backend.payments import gateway, services, webhooks
from backend.payments.models import OrderPurpose, OrderState, PaymentOrder

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


def _refuse(code: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@page(Rule.PUBLIC)
@csrf_exempt  # authenticated by the HMAC signature instead
@require_POST
def webhook(request):
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY:
        return _refuse("too_large", "Webhook bodies are at most 1 MB.", 413)
    raw = request.body
    if not gateway.verify_webhook_signature(raw, request.headers.get("X-Razorpay-Signature", "")):
        audit_record(action="payment.webhook_bad_signature", request=request)
        return _refuse("invalid_signature", "The signature does not match this body.")
    event_id = request.headers.get("X-Razorpay-Event-Id", "").strip()
    if not event_id:
        return _refuse("missing_event_id", "X-Razorpay-Event-Id is required.")
    try:
        event = json.loads(raw)
    except ValueError:
        return _refuse("bad_json", "The body is not JSON.")
    if not isinstance(event, dict):
        return _refuse("bad_json", "The body is not a JSON object.")
    return JsonResponse({"status": webhooks.handle(event_id, event)})


# --- checkout ---------------------------------------------------------------------------------------
# How a payment ended, carried in the redirect's query (?payment=…) rather than in the session:
# Razorpay's hosted checkout posts its result cross-site, where the SameSite=Lax session cookie
# is not sent, so a flash message stored in the session would be lost. The pages render these
# known codes only (never text from the query).
SUCCESS_OUTCOMES = ("paid", "tipped", "pending", "refunding")
FAILURE_OUTCOMES = ("failed", "cancelled", "unverified", "refused", "unreachable")
TIP_PRESETS_RUPEES = (50, 100, 200)
TIP_MIN_RUPEES, TIP_MAX_RUPEES = 10, 10_000


def _own_held_booking(request, booking_id: int):
    booking = selectors.get_booking_for_user(request.user, booking_id)
    if booking.learner_id != request.user.pk:
        raise Http404
    return booking


def _own_order(request, order_id: int) -> PaymentOrder:
    order = (
        PaymentOrder.objects.select_related("booking", "booking__session", "mentor")
        .filter(pk=order_id, payer=request.user)
        .first()
    )
    if order is None:
        raise Http404
    return order


def _is_tip(order: PaymentOrder) -> bool:
    return order.purpose == OrderPurpose.TIP


def _checkout_path(order: PaymentOrder) -> str:
    """Where this order is paid: a seat's checkout page, or the order's own page for a tip."""
    if _is_tip(order):
        return reverse("order-checkout", kwargs={"order_id": order.pk})
    return reverse("checkout", kwargs={"booking_id": order.booking_id})


def _outcome_path(order: PaymentOrder, outcome: str) -> str:
    """The page that shows `outcome`: the booking after money arrived, else the checkout again."""
    if outcome in SUCCESS_OUTCOMES:
        path = reverse("learner-booking", kwargs={"booking_id": order.booking_id})
    else:
        path = _checkout_path(order)
    return f"{path}?{urlencode({'payment': outcome})}"


def _see_other(url: str) -> HttpResponse:
    response = HttpResponse(status=303)
    response["Location"] = url
    return response


def _checkout_context(request, order: PaymentOrder | None, *, amount_paise: int, is_tip: bool) -> dict:
    outcome = request.GET.get("payment", "")
    return {
        "amount_paise": amount_paise,
        "is_tip": is_tip,
        "order": order,
        "test_mode": settings.PAYMENTS_TEST_MODE,
        "hosted": _hosted_checkout(request, order) if order is not None and not settings.PAYMENTS_TEST_MODE else None,
        "full_refund_hours": settings.FULL_REFUND_HOURS_BEFORE,
        "outcome": outcome if outcome in FAILURE_OUTCOMES else "",
        "server_now": timezone.now(),
        "nav": "bookings",
    }


def _hosted_checkout(request, order: PaymentOrder) -> dict:
    """Razorpay's hosted checkout: a plain form posted to Razorpay, so no script of theirs runs
    on our pages (nothing is loaded from a CDN). Razorpay posts the result to callback_url."""
    session = order.booking.session
    if _is_tip(order):
        description = f"Tip for {order.mentor.full_name}"[:255]
    else:
        description = f"{session.title}"[:255]
    fields = [
        ("key_id", settings.RAZORPAY_KEY_ID),
        ("order_id", order.gateway_order_id),
        ("amount", str(order.amount_paise)),
        ("currency", order.currency),
        ("name", "PeerLearn"),
        ("description", description),
        ("prefill[name]", request.user.full_name),
        ("prefill[email]", request.user.email),
        ("callback_url", request.build_absolute_uri(reverse("checkout-callback"))),
        ("cancel_url", request.build_absolute_uri(f"{_checkout_path(order)}?payment=cancelled")),
    ]
    return {"action": f"{settings.RAZORPAY_BASE_URL.rstrip('/')}/v1/checkout/embedded", "fields": fields}


@page(Rule.LEARNER)
def checkout(request, booking_id: int):
    """Pay for a held seat. In test-payment mode the page offers the stand-in's outcomes
    (success, failure, cancel) instead of Razorpay Checkout, clearly labelled; otherwise it
    hands over to Razorpay's hosted checkout."""
    booking = _own_held_booking(request, booking_id)
    if booking.state == BookingState.CONFIRMED:
        messages.info(request, "This seat is already paid for.")
        return redirect("learner-booking", booking_id=booking.pk)
    order = refused = None
    unreachable = False
    try:
        order = services.checkout_start(learner=request.user, booking=booking)
    except DomainError as error:
        refused = error
    except gateway.GatewayError:
        log.warning("checkout for booking %s: gateway unreachable", booking.pk, exc_info=True)
        unreachable = True
    context = _checkout_context(request, order, amount_paise=booking.session.price_paise, is_tip=False)
    # The open order is the attempt in hand; failed (and abandoned) ones are used up.
    attempts = (
        PaymentOrder.objects.filter(booking=booking, purpose=OrderPurpose.BOOKING)
        .exclude(state=OrderState.CREATED)
        .count()
    )
    context.update(
        booking=booking,
        session=booking.session,
        refused=refused,
        unreachable=unreachable,
        attempts_left=max(services.MAX_ATTEMPTS - attempts, 0),
        max_attempts=services.MAX_ATTEMPTS,
        hold_running=bool(booking.hold_expires_at and booking.hold_expires_at > timezone.now()),
    )
    return render(request, "payments/checkout.html", context)


@page(Rule.LEARNER)
def order_checkout(request, order_id: int):
    """Pay one order of one's own: a tip (a seat's orders are paid on the seat's checkout page)."""
    order = _own_order(request, order_id)
    if not _is_tip(order):
        return redirect("checkout", booking_id=order.booking_id)
    if order.state == OrderState.FAILED:  # a failed tip: choose again, which opens a new order
        return redirect(f"{reverse('tip', kwargs={'booking_id': order.booking_id})}?payment=failed")
    if order.state != OrderState.CREATED:
        return redirect("learner-booking", booking_id=order.booking_id)
    booking = selectors.get_booking_for_user(request.user, order.booking_id)
    context = _checkout_context(request, order, amount_paise=order.amount_paise, is_tip=True)
    context.update(booking=booking, session=booking.session)
    return render(request, "payments/checkout.html", context)


@page(Rule.LEARNER)
@require_POST
def checkout_test_pay(request, order_id: int):
    if not settings.PAYMENTS_TEST_MODE:
        raise Http404
    order = _own_order(request, order_id)
    outcome = request.POST.get("outcome")
    method = request.POST.get("method", "upi")
    if outcome not in ("success", "failure", "cancel") or method not in ("upi", "card", "netbanking"):
        messages.error(request, "Choose how the test payment should end.")
        return redirect(_checkout_path(order))
    try:
        result = gateway.test_mode_pay(order.gateway_order_id, outcome=outcome, method=method)
    except gateway.GatewayError:
        return redirect(_outcome_path(order, "unreachable"))
    if "razorpay_signature" not in result:
        error = result.get("error") or {}
        if error.get("reason") == "payment_cancelled":
            return redirect(_outcome_path(order, "cancelled"))
        # Straight from the gateway (server to server), so it can close the attempt now.
        services.payment_failed(
            gateway_order_id=order.gateway_order_id,
            payment_id=str((error.get("metadata") or {}).get("payment_id", "")),
            source="test_checkout",
        )
        return redirect(_outcome_path(order, "failed"))
    return redirect(_outcome_path(order, _settle_from_checkout(request, order, result)))


@page(Rule.LEARNER)
@require_POST
def checkout_verify(request, order_id: int):
    """Razorpay Checkout's success handler posts here. The signature proves the result came
    from Razorpay for this order; the payment itself is then read from the gateway."""
    order = _own_order(request, order_id)
    return redirect(_outcome_path(order, _settle_from_checkout(request, order, request.POST)))


@page(Rule.PUBLIC)
@csrf_exempt  # a cross-site POST from Razorpay, authenticated by the payment signature instead
@require_POST
def checkout_callback(request):
    """Razorpay's hosted checkout posts the result here from its own site. The session cookie is
    not sent on a cross-site POST (SameSite=Lax), so nothing here depends on who is signed in:
    the signature proves the result, the order is found by its gateway id, and the outcome goes
    back in the redirect's query string."""
    post = request.POST
    if post.get("razorpay_payment_id") or post.get("razorpay_signature"):
        order = _order_by_gateway_id(post.get("razorpay_order_id", ""))
        if order is None:
            return _callback_unknown(request, post.get("razorpay_order_id", ""))
        return _see_other(_outcome_path(order, _settle_from_checkout(request, order, post)))
    order_id = post.get("error[metadata][order_id]") or _metadata(post).get("order_id", "")
    order = _order_by_gateway_id(order_id)
    if order is None:
        return _callback_unknown(request, order_id)
    reason = post.get("error[reason]", "")
    audit_record(
        action="payment.checkout_failed",
        request=request,
        order=order.pk,
        reason=reason[:60],
        payment=(post.get("error[metadata][payment_id]") or _metadata(post).get("payment_id", ""))[:64],
    )
    return _see_other(_outcome_path(order, "cancelled" if reason == "payment_cancelled" else "failed"))


def _order_by_gateway_id(gateway_order_id) -> PaymentOrder | None:
    if not isinstance(gateway_order_id, str) or not gateway_order_id or len(gateway_order_id) > 64:
        return None
    return PaymentOrder.objects.select_related("booking").filter(gateway_order_id=gateway_order_id).first()


def _metadata(post) -> dict:
    """Razorpay sends error[metadata] as a JSON string on some integrations, as bracketed fields
    on others: accept both."""
    try:
        value = json.loads(post.get("error[metadata]") or "{}")
    except ValueError:
        return {}
    return {key: str(item) for key, item in value.items()} if isinstance(value, dict) else {}


def _callback_unknown(request, gateway_order_id) -> HttpResponse:
    audit_record(action="payment.callback_unknown_order", request=request, gateway_order=str(gateway_order_id)[:64])
    return render(request, "payments/callback_problem.html", status=400)


def _settle_from_checkout(request, order: PaymentOrder, result) -> str:
    """Settle a checkout result (Razorpay's signed fields) for `order`; returns the outcome code
    the next page shows. Shared by the in-page, test-mode and hosted (cross-site) doors."""
    payment_id = str(result.get("razorpay_payment_id", ""))
    signed = result.get("razorpay_order_id") == order.gateway_order_id and gateway.verify_payment_signature(
        order_id=order.gateway_order_id, payment_id=payment_id, signature=str(result.get("razorpay_signature", ""))
    )
    if not signed:
        audit_record(action="payment.bad_checkout_signature", actor=request.user, request=request, order=order.pk)
        return "unverified"
    try:
        payment = gateway.fetch_payment(payment_id)
    except gateway.GatewayError:
        return "pending"  # the webhook will settle it; say so rather than guess
    if payment.get("order_id") != order.gateway_order_id or payment.get("status") != "captured":
        return "failed"
    try:
        settled = services.payment_settle(
            gateway_order_id=order.gateway_order_id,
            payment_id=payment_id,
            amount_paise=int(payment.get("amount") or 0),
            currency=str(payment.get("currency") or ""),
            source="checkout",
        )
    except DomainError as refused:
        audit_record(action="payment.checkout_refused", actor=request.user, request=request, code=refused.code)
        return "refused"
    if settled.refund_paise:
        services.schedule_refund(settled.order, payment_id=payment_id, amount_paise=settled.refund_paise)
        return "refunding"
    return "tipped" if _is_tip(order) else "paid"


# --- tips -------------------------------------------------------------------------------------------
def _parse_tip_rupees(post) -> int | None:
    choice = post.get("amount", "")
    raw = post.get("custom_amount", "").strip() if choice == "custom" else choice
    raw = raw.replace(",", "").removeprefix("₹").strip()
    if not raw.isdigit() or len(raw) > 7:
        return None
    return int(raw)


@page(Rule.LEARNER)
def tip(request, booking_id: int):
    """Choose a tip for the mentor of one's own booking, then pay it like any order."""
    booking = _own_held_booking(request, booking_id)
    context = {
        "booking": booking,
        "session": booking.session,
        "presets": TIP_PRESETS_RUPEES,
        "min_rupees": TIP_MIN_RUPEES,
        "max_rupees": TIP_MAX_RUPEES,
        "chosen": request.POST.get("amount", str(TIP_PRESETS_RUPEES[1])),
        "custom": request.POST.get("custom_amount", ""),
        "nav": "bookings",
    }
    if request.method != "POST":
        return render(request, "payments/tip.html", context)
    rupees = _parse_tip_rupees(request.POST)
    if rupees is None or not TIP_MIN_RUPEES <= rupees <= TIP_MAX_RUPEES:
        context["error"] = f"Choose an amount, or enter whole rupees from ₹{TIP_MIN_RUPEES} to ₹{TIP_MAX_RUPEES:,}."
        return render(request, "payments/tip.html", context, status=400)
    try:
        order = services.tip_start(learner=request.user, booking=booking, amount_paise=rupees * 100)
    except DomainError as refused:
        context["error"] = refused.message
        return render(request, "payments/tip.html", context, status=409)
    except gateway.GatewayError:
        log.warning("tip for booking %s: gateway unreachable", booking.pk, exc_info=True)
        context["error"] = "Payments are not reachable right now. Try again in a moment."
        return render(request, "payments/tip.html", context, status=503)
    return redirect("order-checkout", order_id=order.pk)
