"""Thin Celery tasks: they take ids or plain values and call one service (DESIGN.md)."""

from __future__ import annotations

import socket
from typing import Any

from celery import shared_task
from django.db import OperationalError

from assays.services.assessment import lot_assess, lots_stale
from assays.services.certificates import certificate_render, certificates_pending_render
from assays.services.ops import worker_heartbeat_record
from assays.services.reassessment import reassessment_chunk_run, reassessments_sweep
from assays.services.run_qc import enqueue_evaluations, run_evaluate, runs_pending_qc
from assays.services.webhooks import webhook_deliveries_due, webhook_delivery_attempt

# Work that must not be lost: acknowledged only once done (a worker killed mid-task leaves it on
# the queue), and a database hiccup (lock timeout, failover) retried with backoff. Every such task
# is idempotent, so running one twice is harmless.
RETRIED_ON_DATABASE_ERRORS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


@shared_task(name="assays.tasks.record_worker_heartbeat")
def record_worker_heartbeat(token: str = "") -> None:
    """Beat runs this every minute; the dashboard shows when a worker last answered."""
    hostname = getattr(record_worker_heartbeat.request, "hostname", None) or socket.gethostname()
    worker_heartbeat_record(hostname=hostname, token=token)


@shared_task(name="assays.tasks.evaluate_run", acks_late=True, reject_on_worker_lost=True)
def evaluate_run(run_id: int) -> None:
    """Run QC of an imported run, enqueued by the import on commit. Idempotent (see run_evaluate):
    a redelivered message, or the periodic sweep of runs left pending, does no harm."""
    run_evaluate(run_id=run_id)


@shared_task(name="assays.tasks.sweep_pending_runs")
def sweep_pending_runs() -> list[int]:
    """Beat runs this every few minutes: runs left pending QC (a lost message) are enqueued again."""
    return enqueue_evaluations(runs_pending_qc()).run_ids


@shared_task(
    name="assays.tasks.assess_lot",
    **RETRIED_ON_DATABASE_ERRORS,
)
def assess_lot(lot_id: int) -> None:
    """Assess a lot, enqueued by a run's QC judgement for the lots it touched. Idempotent by the
    inputs' fingerprint; a database hiccup (lock timeout, failover) is retried with backoff."""
    lot_assess(lot_id=lot_id)


@shared_task(name="assays.tasks.assess_stale_lots")
def assess_stale_lots() -> list[int]:
    """Beat runs this every minute: lots still marked stale (a lost message, a broker outage) are
    enqueued again, so nothing depends on a message surviving."""
    stale = lots_stale()
    for lot_id in stale:
        assess_lot.delay(lot_id)
    return stale


@shared_task(
    name="assays.tasks.reassess_lots",
    **RETRIED_ON_DATABASE_ERRORS,
)
def reassess_lots(reassessment_id: int, lot_ids: list[int]) -> None:
    """One chunk of a product's reassessment (``assays.services.reassessment``): its lots assessed
    in bulk and counted once. A redelivered message makes no new assessment and counts nothing."""
    reassessment_chunk_run(reassessment_id=reassessment_id, lot_ids=lot_ids)


@shared_task(name="assays.tasks.sweep_reassessments")
def sweep_reassessments() -> list[int]:
    """Beat runs this every few minutes: chunks of reassessments that stopped making progress (a
    lost message, a killed worker) are enqueued again."""
    return reassessments_sweep()


@shared_task(
    name="assays.tasks.render_certificate",
    **RETRIED_ON_DATABASE_ERRORS,
)
def render_certificate(certificate_id: int) -> None:
    """Render, sign and store a signed certificate's PDF. Idempotent: a stored PDF is never made again."""
    certificate_render(certificate_id=certificate_id)


@shared_task(name="assays.tasks.render_pending_certificates")
def render_pending_certificates() -> list[int]:
    """Beat runs this every minute: signed certificates whose render message was lost are enqueued again."""
    pending = certificates_pending_render(older_than_seconds=120)
    for certificate_id in pending:
        render_certificate.delay(certificate_id)
    return pending


@shared_task(
    bind=True,
    name="assays.tasks.deliver_webhook",
    # Attempts are counted and capped by the service (LIMS_WEBHOOK_MAX_ATTEMPTS); this bound only
    # stops a chain that misbehaves. A chain cut short is picked up by deliver_due_webhooks.
    **{**RETRIED_ON_DATABASE_ERRORS, "max_retries": 64},
)
def deliver_webhook(self: Any, delivery_id: int) -> str:
    """One attempt at a webhook delivery; a failed one is retried after the wait the service set
    (doubling from LIMS_WEBHOOK_RETRY_BASE_SECONDS, capped). Run eagerly (the embedded mode, whose
    tasks run in the request) it never retries in-process, which would recurse and block: the
    delivery stays pending, for the sweep or a "send again" from the delivery log."""
    outcome = webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="assays.tasks.deliver_due_webhooks")
def deliver_due_webhooks() -> list[int]:
    """Beat runs this every minute: pending deliveries well past their next attempt (a lost message,
    a killed worker) are enqueued again. A duplicate is harmless: an attempt not due is skipped."""
    from django.conf import settings

    due = webhook_deliveries_due(older_than_seconds=settings.LIMS_WEBHOOK_SWEEP_GRACE_SECONDS)
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return due
