"""POST /api/payments/webhook/: Razorpay's events. Verified over the raw body before anything is
parsed, deduplicated by event id, answered quickly (the work is one short transaction; gateway
calls it causes go to huey)."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from backend.accounts.audit import audit_record
from backend.core.access import Rule, page
from backend.core.errors import DomainError
from backend.marketplace import selectors
from backend.marketplace.models import BookingState
from backend.payments import gateway, services, webhooks
from backend.payments.models import PaymentOrder

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
def _own_held_booking(request, booking_id: int):
    booking = selectors.get_booking_for_user(request.user, booking_id)
    if booking.learner_id != request.user.pk:
        raise Http404
    return booking


def _own_order(request, order_id: int) -> PaymentOrder:
    order = PaymentOrder.objects.select_related("booking").filter(pk=order_id, payer=request.user).first()
    if order is None:
        raise Http404
    return order


@page(Rule.LEARNER)
def checkout(request, booking_id: int):
    """Pay for a held seat. In test-payment mode the page offers the stand-in's outcomes
    (success, failure, cancel) instead of Razorpay Checkout, clearly labelled."""
    booking = _own_held_booking(request, booking_id)
    if booking.state == BookingState.CONFIRMED:
        messages.info(request, "This seat is already paid for.")
        return redirect("learner-booking", booking_id=booking.pk)
    context = {
        "booking": booking,
        "session": booking.session,
        "test_mode": settings.PAYMENTS_TEST_MODE,
        "nav": "bookings",
    }
    try:
        context["order"] = services.checkout_start(learner=request.user, booking=booking)
    except DomainError as refused:
        context["refused"] = refused
    except gateway.GatewayError:
        log.warning("checkout for booking %s: gateway unreachable", booking.pk, exc_info=True)
        context["unreachable"] = True
    attempts = PaymentOrder.objects.filter(booking=booking).count()
    context["attempts_left"] = max(services.MAX_ATTEMPTS - attempts, 0)
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
        return redirect("checkout", booking_id=order.booking_id)
    try:
        result = gateway.test_mode_pay(order.gateway_order_id, outcome=outcome, method=method)
    except gateway.GatewayError:
        messages.error(request, "The test payment service is not answering. Try again in a moment.")
        return redirect("checkout", booking_id=order.booking_id)
    if "razorpay_signature" not in result:
        reason = (result.get("error") or {}).get("reason", "")
        if reason == "payment_cancelled":
            messages.info(request, "Payment cancelled. Your seat stays held until the time shown.")
        else:
            messages.error(request, "The payment failed. Try again, or pay another way.")
        return redirect("checkout", booking_id=order.booking_id)
    return _settle_from_checkout(request, order, result)


@page(Rule.LEARNER)
@require_POST
def checkout_verify(request, order_id: int):
    """Razorpay Checkout's success handler posts here. The signature proves the result came
    from Razorpay for this order; the payment itself is then read from the gateway."""
    return _settle_from_checkout(request, _own_order(request, order_id), request.POST)


def _settle_from_checkout(request, order: PaymentOrder, result) -> HttpResponse:
    payment_id = str(result.get("razorpay_payment_id", ""))
    signed = result.get("razorpay_order_id") == order.gateway_order_id and gateway.verify_payment_signature(
        order_id=order.gateway_order_id, payment_id=payment_id, signature=str(result.get("razorpay_signature", ""))
    )
    if not signed:
        audit_record(action="payment.bad_checkout_signature", actor=request.user, request=request, order=order.pk)
        messages.error(request, "We could not verify that payment. If money left your account, it is refunded.")
        return redirect("checkout", booking_id=order.booking_id)
    try:
        payment = gateway.fetch_payment(payment_id)
    except gateway.GatewayError:
        # The webhook will settle it; say so rather than guess.
        messages.info(request, "Payment received; we are confirming it with the bank. This page will update.")
        return redirect("learner-booking", booking_id=order.booking_id)
    if payment.get("order_id") != order.gateway_order_id or payment.get("status") != "captured":
        messages.error(request, "That payment has not gone through. Try again, or pay another way.")
        return redirect("checkout", booking_id=order.booking_id)
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
        messages.error(request, refused.message)
        return redirect("checkout", booking_id=order.booking_id)
    if settled.refund_paise:
        services.schedule_refund(settled.order, payment_id=payment_id, amount_paise=settled.refund_paise)
        messages.warning(request, "The seat hold ran out before the payment arrived, so the payment is being refunded.")
    else:
        messages.success(request, "Payment received. Your seat is confirmed.")
    return redirect("learner-booking", booking_id=order.booking_id)
