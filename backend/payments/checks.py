"""`manage.py check --deploy` warns when a deployment would take test payments: without live
Razorpay keys the app points at the local stand-in, which is right on a laptop and wrong in
production."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def live_payment_keys(app_configs, **kwargs):
    if settings.PAYMENTS_TEST_MODE:
        return [
            Warning(
                "Payments run in test mode against the local Razorpay stand-in: no real money moves.",
                hint="Set RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET to take real payments.",
                id="payments.W001",
            )
        ]
    return []
