"""Operational writes: worker heartbeats."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from assays.models import WorkerHeartbeat


@transaction.atomic
def worker_heartbeat_record(*, hostname: str, token: str = "") -> WorkerHeartbeat:
    """Upsert this worker's heartbeat; idempotent apart from the beat count."""
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(hostname=hostname).update(last_seen_at=now, beats=F("beats") + 1, last_token=token)
    if not updated:
        WorkerHeartbeat.objects.get_or_create(hostname=hostname, defaults={"last_seen_at": now, "beats": 1, "last_token": token})
    return WorkerHeartbeat.objects.get(hostname=hostname)
