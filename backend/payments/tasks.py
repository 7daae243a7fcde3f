"""Money jobs. Gateway calls never run inside a request's transaction; each job is safe to run
twice at once (row locks and the gateway's idempotency keys) and to re-run after a crash."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from backend.payments import gateway, jobs, services
from backend.payments.models import Refund, RefundState

log = logging.getLogger(__name__)


@db_task(retries=5, retry_delay=60)
def refund_payment(refund_id: int):
    """Ask the gateway for one refund. Our refund id is the idempotency key, so a retry (or this
    task queued twice) returns the first refund instead of refunding twice. A refusal for good
    marks the refund failed for the admin refunds queue."""
    refund = Refund.objects.select_related("order").filter(pk=refund_id).first()
    if refund is None or refund.state != RefundState.REQUESTED or refund.gateway_refund_id:
        return
    try:
        remote = gateway.refund(
            payment_id=refund.payment_id,
            amount_paise=refund.amount_paise,
            notes={"refund": str(refund.pk), "order": str(refund.order_id), "reason": refund.reason},
            idempotency_key=f"peerlearn-refund-{refund.pk}",
        )
    except gateway.GatewayError as error:
        if error.retryable:
            raise
        log.error("refund %s of %s refused: %s", refund.pk, refund.payment_id, error)
        services.refund_failed(refund=refund, failure=f"{error.code}: {error.message}")
        return
    if remote.get("status") == "failed":
        services.refund_failed(refund=refund, failure="The gateway could not process the refund.")
        return
    services.refund_sent(refund=refund, gateway_refund_id=str(remote["id"]), status=str(remote.get("status")))


@db_periodic_task(crontab(minute="*/15"))
@lock_task("payments-release-earnings")
def payments_release_earnings():
    jobs.release_matured_earnings()


@db_periodic_task(crontab(minute="*/10"))
@lock_task("payments-reconcile")
def payments_reconcile():
    jobs.reconcile_orders()
    jobs.reconcile_refunds()
