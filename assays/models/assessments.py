"""Flags raised on lots, runs and methods, and lot assessments (completed by the assessment issue)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from assays.models.lots import Lot
from assays.models.reference import Specification
from assays.models.runs import Method, Run


class FlagKind(models.TextChoices):
    OFF_SPEC = "off_spec", "Off specification"
    INCONCLUSIVE = "inconclusive", "Inconclusive"
    INSUFFICIENT_DATA = "insufficient_data", "Insufficient data"
    QC_FAILURE = "qc_failure", "QC failure"
    METHOD_DRIFT = "method_drift", "Method drift"
    DIFFERS_FROM_CERTIFIED = "differs_from_certified", "Differs from certified"


class FlagStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Flag(models.Model):
    kind = models.CharField(max_length=32, choices=FlagKind.choices)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="flags")
    run = models.ForeignKey(Run, on_delete=models.PROTECT, null=True, blank=True, related_name="flags")
    method = models.ForeignKey(Method, on_delete=models.PROTECT, null=True, blank=True, related_name="flags")
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    raised_at = models.DateTimeField()
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when a worker raised it.",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    acknowledgement_reason = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolution_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=FlagKind.values), name="flag_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=FlagStatus.values), name="flag_status_valid"),
            # A flag is about exactly one thing: a lot, a run or a method.
            models.CheckConstraint(
                condition=Q(lot__isnull=False, run__isnull=True, method__isnull=True)
                | Q(lot__isnull=True, run__isnull=False, method__isnull=True)
                | Q(lot__isnull=True, run__isnull=True, method__isnull=False),
                name="flag_exactly_one_target",
            ),
            # Acknowledging and resolving say who and why.
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | (Q(acknowledged_by__isnull=False) & ~Q(acknowledgement_reason="")),
                name="flag_acknowledgement_has_who_and_why",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | (Q(resolved_by__isnull=False) & ~Q(resolution_reason="")),
                name="flag_resolution_has_who_and_why",
            ),
            models.CheckConstraint(condition=~Q(status="resolved") | Q(resolved_at__isnull=False), name="flag_resolved_has_time"),
            models.CheckConstraint(
                condition=~Q(status="acknowledged") | Q(acknowledged_at__isnull=False), name="flag_acknowledged_has_time"
            ),
        ]

    def __str__(self) -> str:
        target = self.lot or self.run or self.method
        return f"{self.get_kind_display()} on {target}"


class AssessmentStatus(models.TextChoices):
    CONFORMING = "conforming", "Conforming"
    OFF_SPEC = "off_spec", "Off specification"
    INCONCLUSIVE = "inconclusive", "Inconclusive"
    INSUFFICIENT_DATA = "insufficient_data", "Insufficient data"
    NO_VERDICT = "no_verdict", "Report of analysis (no verdict)"


class LotAssessment(models.Model):
    """A lot's accepted results judged against a specification version (``assays.services.assessment``).

    Never edited: a changed input (a result, a QC judgement, the spec) makes a new one, and an
    unchanged ``inputs_fingerprint`` makes none. ``outcome`` holds every line's lot value under
    the three censoring conventions, its statistics, the limit, the verdict and its reason;
    ``summary`` the headline figures (best estimates). A released lot's certified assessment is
    frozen; a later one that differs says so (``differs_from_certified``).
    """

    # Indexed by assessment_lot_newest below, whose first column it is.
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="assessments", db_index=False)
    specification = models.ForeignKey(Specification, on_delete=models.PROTECT, null=True, blank=True, related_name="assessments")
    status = models.CharField(max_length=24, choices=AssessmentStatus.choices)
    inputs_fingerprint = models.CharField(max_length=64)
    assessed_at = models.DateTimeField()
    is_frozen = models.BooleanField(default=False, help_text="A certificate rests on it: never changed again.")
    n_samples = models.PositiveIntegerField(default=0)
    outcome = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    differs_from_certified = models.BooleanField(default=False)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Empty: a worker."
    )

    class Meta:
        ordering = ["lot", "-assessed_at"]
        indexes = [
            # A lot's newest assessment (the fingerprint check of every assessment, the lot pages)
            # is the first entry of this index, however many assessments the lot has had: a
            # reassessment after each specification change adds one per lot.
            models.Index(fields=["lot", "-assessed_at", "-id"], name="assessment_lot_newest"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=AssessmentStatus.values), name="assessment_status_valid"),
            models.CheckConstraint(condition=Q(inputs_fingerprint__length=64), name="assessment_fingerprint_sha256_length"),
        ]

    def __str__(self) -> str:
        return f"{self.lot} {self.status} at {self.assessed_at:%Y-%m-%d %H:%M}"
