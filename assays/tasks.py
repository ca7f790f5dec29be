"""Thin Celery tasks: they take ids or plain values and call one service (DESIGN.md)."""

from __future__ import annotations

import socket

from celery import shared_task

from assays.services.ops import worker_heartbeat_record


@shared_task(name="assays.tasks.record_worker_heartbeat")
def record_worker_heartbeat(token: str = "") -> None:
    """Beat runs this every minute; the dashboard shows when a worker last answered."""
    hostname = getattr(record_worker_heartbeat.request, "hostname", None) or socket.gethostname()
    worker_heartbeat_record(hostname=hostname, token=token)
