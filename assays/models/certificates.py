"""Certificates of analysis. Placeholder: the certificate issue adds rendering and signing."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from assays.models.assessments import LotAssessment
from assays.models.lots import Lot
from assays.models.sites import Partner, Site


class CertificateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    REVOKED = "revoked", "Revoked"
    SUPERSEDED = "superseded", "Superseded"


class Certificate(models.Model):
    number = models.CharField(max_length=40)
    revision = models.PositiveSmallIntegerField(default=0)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="certificates")
    issuing_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="certificates")
    customer = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="certificates")
    assessment = models.ForeignKey(LotAssessment, on_delete=models.PROTECT, null=True, blank=True, related_name="certificates")
    status = models.CharField(max_length=16, choices=CertificateStatus.choices, default=CertificateStatus.DRAFT)
    issued_at = models.DateTimeField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["number", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["number", "revision"], name="certificate_unique_number_revision"),
            models.CheckConstraint(condition=Q(status__in=CertificateStatus.values), name="certificate_status_valid"),
            models.CheckConstraint(condition=~Q(status="issued") | Q(issued_at__isnull=False), name="certificate_issued_has_time"),
            models.CheckConstraint(condition=Q(pdf_sha256="") | Q(pdf_sha256__length=64), name="certificate_pdf_sha256_length"),
        ]

    def __str__(self) -> str:
        return f"{self.number} rev {self.revision}"
