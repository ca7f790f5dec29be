"""Samples taken from lots, and their chain of custody."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from assays.models.lots import Lot
from assays.models.sites import Partner, Site


class SampleType(models.TextChoices):
    ROUTINE = "routine", "Routine"
    DUPLICATE = "duplicate", "Duplicate"
    RETAIN = "retain", "Retain"


class SampleStatus(models.TextChoices):
    REGISTERED = "registered", "Registered"
    RECEIVED = "received", "Received"
    IN_ANALYSIS = "in_analysis", "In analysis"
    COMPLETE = "complete", "Complete"
    DISPOSED = "disposed", "Disposed"


class Sample(models.Model):
    # Upper-case letters, digits and - . _ only (checked by the service): prints as Code 128 and QR.
    code = models.CharField(max_length=40, unique=True)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="samples")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="samples")
    sample_type = models.CharField(max_length=16, choices=SampleType.choices, default=SampleType.ROUTINE)
    # Preparation: w (mg/kg) = c (µg/L) · V (mL) · DF / (1000 · m (g)).
    sample_mass_g = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    final_volume_ml = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    dilution_factor = models.DecimalField(max_digits=12, decimal_places=4, default=1)
    status = models.CharField(max_length=16, choices=SampleStatus.choices, default=SampleStatus.REGISTERED)
    registered_at = models.DateTimeField(auto_now_add=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Sampling, as the certificate states it (ISO/IEC 17025 §7.8.2): who took it, when and how.
    # Free text: the sampler is often the customer's or a surveyor's staff, not a user here.
    sampled_by = models.CharField(max_length=120, blank=True)
    sampled_at = models.DateTimeField(null=True, blank=True)
    sampling_method = models.CharField(max_length=200, blank=True, help_text="The sampling plan or standard, e.g. ISO 3082 increments.")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(sample_type__in=SampleType.values), name="sample_type_valid"),
            models.CheckConstraint(condition=Q(status__in=SampleStatus.values), name="sample_status_valid"),
            models.CheckConstraint(condition=Q(sample_mass_g__isnull=True) | Q(sample_mass_g__gt=0), name="sample_mass_positive"),
            models.CheckConstraint(condition=Q(final_volume_ml__isnull=True) | Q(final_volume_ml__gt=0), name="sample_volume_positive"),
            models.CheckConstraint(condition=Q(dilution_factor__gte=1), name="sample_dilution_factor_at_least_one"),
            models.CheckConstraint(condition=~Q(code=""), name="sample_code_not_empty"),
        ]

    def __str__(self) -> str:
        return self.code


class CustodyEventKind(models.TextChoices):
    REGISTERED = "registered", "Registered"
    RECEIVED = "received", "Received"
    TRANSFERRED = "transferred", "Transferred"
    SHIPPED = "shipped", "Shipped"
    DISPOSED = "disposed", "Disposed"


class CustodyEvent(models.Model):
    """Who had the sample, where, and when; a shipment between sites or to a partner included."""

    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="custody_events")
    kind = models.CharField(max_length=16, choices=CustodyEventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    from_location = models.CharField(max_length=120, blank=True)
    to_location = models.CharField(max_length=120, blank=True)
    to_site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_partner = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    carrier_reference = models.CharField(max_length=80, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["sample", "at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=CustodyEventKind.values), name="custody_event_kind_valid"),
            # A shipment goes somewhere named: a site or a partner, not both.
            models.CheckConstraint(
                condition=~Q(kind=CustodyEventKind.SHIPPED)
                | Q(to_site__isnull=False, to_partner__isnull=True)
                | Q(to_site__isnull=True, to_partner__isnull=False),
                name="custody_shipment_has_one_destination",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample} {self.kind} {self.at:%Y-%m-%d %H:%M}"
