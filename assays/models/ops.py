"""Operational records: evidence that the Celery workers are alive."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """Written by the ``record_worker_heartbeat`` task, which beat schedules every minute; the
    dashboard shows how long ago a worker last answered, so a dead worker pool is visible."""

    hostname = models.CharField(max_length=200, unique=True)
    last_seen_at = models.DateTimeField()
    beats = models.PositiveBigIntegerField(default=0)
    last_token = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
