"""Certificates of analysis and reports of analysis: issued once, never changed (DESIGN.md, step 5).

A certificate is created at the moment QA signs (number allocated, signer, meaning and time
recorded, the certified data frozen in ``payload``); a worker then renders, signs and stores the
PDF, after which the row's certified content can never change again: the database refuses it
(``assays.certificate_guard``). A correction is a new revision of the same number that supersedes
the old one; a revocation keeps the row and says who, when and why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from assays.models.assessments import LotAssessment
from assays.models.lots import Lot
from assays.models.sites import Partner, Site


class CertificateKind(models.TextChoices):
    CERTIFICATE = "certificate", "Certificate of analysis"
    REPORT = "report", "Report of analysis"


# The number prefix of each kind: COA-2026-0001, ROA-2026-0001.
NUMBER_PREFIX = {CertificateKind.CERTIFICATE: "COA", CertificateKind.REPORT: "ROA"}


class CertificateStatus(models.TextChoices):
    # Signed by QA, number allocated; the worker is rendering, signing and storing the PDF.
    RENDERING = "rendering", "Being rendered"
    ISSUED = "issued", "Issued"
    SUPERSEDED = "superseded", "Superseded"
    REVOKED = "revoked", "Revoked"


class SignatureMeaning(models.TextChoices):
    APPROVED_FOR_RELEASE = "approved_for_release", "Approved for release"
    APPROVED_UNDER_CONCESSION = "approved_under_concession", "Approved for release under concession"
    REPORTED = "reported", "Reviewed and reported"


def certificate_upload_to(instance: Certificate, filename: str) -> str:
    year = instance.issued_at.year if instance.issued_at else "undated"
    return f"certificates/{year}/{filename}"


class CertificateBatch(models.Model):
    """One bulk issuance: many conforming lots, one re-authentication; progress for the page."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    total = models.PositiveIntegerField(default=0)
    rendered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=list, blank=True, help_text="Lots asked for but not issued, with why.")

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"batch {self.pk}: {self.rendered}/{self.total}"


class Certificate(models.Model):
    kind = models.CharField(max_length=16, choices=CertificateKind.choices, default=CertificateKind.CERTIFICATE)
    number = models.CharField(max_length=40)
    revision = models.PositiveSmallIntegerField(default=0)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="certificates")
    issuing_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="certificates")
    customer = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="certificates")
    assessment = models.ForeignKey(LotAssessment, on_delete=models.PROTECT, null=True, blank=True, related_name="certificates")
    status = models.CharField(max_length=16, choices=CertificateStatus.choices, default=CertificateStatus.RENDERING)
    # The signature (21 CFR 11.50): who, in which role, what it means, when (UTC).
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    signer_name = models.CharField(max_length=200, blank=True)
    signer_role = models.CharField(max_length=40, blank=True)
    signature_meaning = models.CharField(max_length=32, choices=SignatureMeaning.choices, blank=True)
    concession_reason = models.TextField(blank=True, help_text="Set when a QA manager issues for a lot that does not conform.")
    # A revision: which one it supersedes, what changed and why.
    supersedes = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by")
    change_summary = models.TextField(blank=True)
    revision_reason = models.TextField(blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    revocation_reason = models.TextField(blank=True)
    # The public verification page's key: unguessable (secrets.token_urlsafe(32)).
    verification_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # The certified data, frozen at signing; the PDF is rendered from exactly this.
    payload = models.JSONField(default=dict, blank=True)
    pdf = models.FileField(upload_to=certificate_upload_to, blank=True, max_length=255)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_size = models.PositiveIntegerField(null=True, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    render_error = models.TextField(blank=True)
    batch = models.ForeignKey(CertificateBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="certificates")

    class Meta:
        ordering = ["number", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["number", "revision"], name="certificate_unique_number_revision"),
            models.CheckConstraint(condition=Q(status__in=CertificateStatus.values), name="certificate_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=CertificateKind.values), name="certificate_kind_valid"),
            models.CheckConstraint(condition=~Q(status="issued") | Q(issued_at__isnull=False), name="certificate_issued_has_time"),
            models.CheckConstraint(condition=Q(pdf_sha256="") | Q(pdf_sha256__length=64), name="certificate_pdf_sha256_length"),
            # Issued means a stored PDF with its digest: never "issued" without the file.
            models.CheckConstraint(condition=~Q(status="issued") | ~Q(pdf_sha256=""), name="certificate_issued_has_pdf"),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | (Q(revoked_by__isnull=False) & ~Q(revocation_reason="")),
                name="certificate_revocation_has_who_and_why",
            ),
            models.CheckConstraint(condition=~Q(status="revoked") | Q(revoked_at__isnull=False), name="certificate_revoked_has_time"),
            models.CheckConstraint(
                condition=Q(revision=0, supersedes__isnull=True) | (Q(revision__gt=0, supersedes__isnull=False) & ~Q(revision_reason="")),
                name="certificate_revision_supersedes_with_reason",
            ),
            models.CheckConstraint(
                condition=~Q(signature_meaning="approved_under_concession") | ~Q(concession_reason=""),
                name="certificate_concession_has_reason",
            ),
            models.CheckConstraint(condition=~Q(supersedes=F("pk")), name="certificate_not_superseding_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.number} rev {self.revision}"


class CertificateCounter(models.Model):
    """The last number given per prefix and year; locked while a number is taken, so numbers are
    gapless and unique however many QA users issue at once."""

    prefix = models.CharField(max_length=8)
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="certificate_counter_unique_prefix_year")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last_value}"


class LabProfile(models.Model):
    """What the lab prints on every certificate and how it signs; one row (the lab admin edits it)."""

    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    accreditation = models.CharField(max_length=200, blank=True, help_text='e.g. "ISO/IEC 17025:2017, DAkkS D-PL-00000-01-00".')
    # Element symbols and quantity names (treo, relative_purity, loi, …) inside the accreditation scope.
    accredited_scope = models.JSONField(default=list, blank=True)
    seller_declaration = models.TextField(blank=True, help_text="The seller's declaration printed in the provenance section.")
    require_totp = models.BooleanField(default=False, help_text="Signing asks for a TOTP code as well as the password.")
    singleton = models.BooleanField(default=True, unique=True, editable=False)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(singleton=True), name="lab_profile_single_row")]

    def __str__(self) -> str:
        return self.name


class TotpDevice(models.Model):
    """A user's TOTP secret for signing, when the lab asks for a second factor."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device")
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_step = models.BigIntegerField(default=0, help_text="The last accepted time step: a code is good once.")

    def __str__(self) -> str:
        return f"TOTP of {self.user}"
