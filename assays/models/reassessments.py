"""Reassessing a product's lots after its specification changed (``assays.services.reassessment``).

A ``Reassessment`` is one request (automatic on a specification's activation, or asked for by QA
management) with its progress; its ``ReassessmentChunk`` rows are the units of work the workers
take, one Celery message each. A chunk's ``finished_at`` is claimed by a conditional UPDATE, so a
redelivered message counts its lots once; the database, not the broker, says what is left to do.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from assays.models.reference import Product, Specification


class ReassessmentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Reassessment(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="reassessments")
    specification = models.ForeignKey(
        Specification, on_delete=models.PROTECT, related_name="reassessments", help_text="The active version when it was asked for."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Empty: the system."
    )
    reason = models.TextField()
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=ReassessmentStatus.choices, default=ReassessmentStatus.QUEUED)
    total_lots = models.PositiveIntegerField(default=0)
    done_lots = models.PositiveIntegerField(default=0)
    changed_lots = models.PositiveIntegerField(default=0, help_text="Lots given a new assessment.")
    failed_lots = models.PositiveIntegerField(default=0, help_text="Lots that could not be assessed (the worker's log says why).")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["product", "-requested_at"], name="reassessment_product_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ReassessmentStatus.values), name="reassessment_status_valid"),
            models.CheckConstraint(condition=Q(done_lots__lte=F("total_lots")), name="reassessment_done_within_total"),
            models.CheckConstraint(
                condition=Q(changed_lots__lte=F("done_lots")) & Q(failed_lots__lte=F("done_lots")),
                name="reassessment_counts_within_done",
            ),
            # Finished exactly when every lot was looked at.
            models.CheckConstraint(
                # Written as two implications so that an unknown status breaks only the status check.
                condition=(~Q(status__in=["done", "failed"]) | (Q(finished_at__isnull=False) & Q(done_lots=F("total_lots"))))
                & (~Q(status__in=["queued", "running"]) | Q(finished_at__isnull=True)),
                name="reassessment_finished_when_done",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="reassessment_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Reassessment {self.pk} of {self.product_id} ({self.status})"

    @property
    def percent_done(self) -> int:
        """Whole percent, for a progress bar; 100 for a product without lots."""
        return 100 if not self.total_lots else int(100 * self.done_lots / self.total_lots)

    @property
    def is_finished(self) -> bool:
        return self.status in (ReassessmentStatus.DONE, ReassessmentStatus.FAILED)


class ReassessmentChunk(models.Model):
    """The lots one worker message covers, in id order (the order the lots are locked in)."""

    reassessment = models.ForeignKey(Reassessment, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    # The message names the chunk by its reassessment and first lot (``assays.tasks.reassess_lots``).
    first_lot_id = models.BigIntegerField()
    lot_ids = models.JSONField()
    lot_count = models.PositiveIntegerField()
    finished_at = models.DateTimeField(null=True, blank=True)
    changed_lots = models.PositiveIntegerField(default=0)
    failed_lots = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["reassessment", "position"]
        constraints = [
            models.UniqueConstraint(fields=["reassessment", "position"], name="reassessment_chunk_unique_position"),
            models.UniqueConstraint(fields=["reassessment", "first_lot_id"], name="reassessment_chunk_unique_first_lot"),
            models.CheckConstraint(condition=Q(lot_count__gt=0), name="reassessment_chunk_not_empty"),
            models.CheckConstraint(
                condition=Q(changed_lots__lte=F("lot_count")) & Q(failed_lots__lte=F("lot_count")),
                name="reassessment_chunk_counts_within_lots",
            ),
        ]

    def __str__(self) -> str:
        return f"Reassessment {self.reassessment_id} chunk {self.position} ({self.lot_count} lots)"
