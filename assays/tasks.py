"""Thin Celery tasks: they take ids or plain values and call one service (DESIGN.md)."""

from __future__ import annotations

import socket

from celery import shared_task

from assays.services.ops import worker_heartbeat_record
from assays.services.run_qc import enqueue_evaluations, run_evaluate, runs_pending_qc


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
