"""Lots of material, their genealogy and their allocation to customers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from assays.models.reference import Product
from assays.models.sites import Partner, Site


class LotKind(models.TextChoices):
    FEEDSTOCK = "feedstock", "Feedstock"
    INTERMEDIATE = "intermediate", "Intermediate"
    PRODUCT = "product", "Product"


class FeedstockType(models.TextChoices):
    NONE = "", "—"
    END_OF_LIFE_MAGNETS = "end_of_life_magnets", "End-of-life magnets"
    MANUFACTURING_SWARF = "manufacturing_swarf", "Manufacturing swarf"
    PRIMARY = "primary", "Primary (mined)"


class MagnetChemistry(models.TextChoices):
    NONE = "", "—"
    NDFEB = "ndfeb", "NdFeB"
    SMCO = "smco", "SmCo"


class LotStatus(models.TextChoices):
    """The lot state machine of DESIGN.md; only ``assays.services.lots`` changes it."""

    OPEN = "open", "Open"
    ASSESSED = "assessed", "Assessed"
    ON_HOLD = "on_hold", "On hold"
    RELEASED = "released", "Released"
    REJECTED = "rejected", "Rejected"


class Lot(models.Model):
    code = models.CharField(max_length=40, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="lots")
    kind = models.CharField(max_length=16, choices=LotKind.choices)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="lots")
    mass_kg = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    supplier = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="supplied_lots")
    feedstock_type = models.CharField(max_length=32, choices=FeedstockType.choices, blank=True)
    magnet_chemistry = models.CharField(max_length=8, choices=MagnetChemistry.choices, blank=True)
    is_recycled = models.BooleanField(default=False)
    received_on = models.DateField(null=True, blank=True)
    produced_on = models.DateField(null=True, blank=True)
    country_of_collection = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    country_of_separation = models.CharField(max_length=2, blank=True)
    country_of_oxide_production = models.CharField(max_length=2, blank=True)
    status = models.CharField(max_length=16, choices=LotStatus.choices, default=LotStatus.OPEN)
    # Set when accepted results of the lot changed (a run's QC evaluation, a waiver): the lot's
    # assessment is out of date from then until it is assessed again.
    assessment_stale_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=LotKind.values), name="lot_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=LotStatus.values), name="lot_status_valid"),
            models.CheckConstraint(condition=Q(feedstock_type__in=FeedstockType.values), name="lot_feedstock_type_valid"),
            models.CheckConstraint(condition=Q(magnet_chemistry__in=MagnetChemistry.values), name="lot_magnet_chemistry_valid"),
            models.CheckConstraint(condition=Q(mass_kg__isnull=True) | Q(mass_kg__gte=0), name="lot_mass_non_negative"),
            models.CheckConstraint(condition=~Q(kind=LotKind.PRODUCT) | Q(product__isnull=False), name="lot_product_lot_names_product"),
            # Feedstock type and supplier describe bought feedstock only.
            models.CheckConstraint(condition=Q(kind=LotKind.FEEDSTOCK) | Q(feedstock_type=""), name="lot_feedstock_type_only_on_feedstock"),
            models.CheckConstraint(condition=~Q(code=""), name="lot_code_not_empty"),
            # Provenance countries: an ISO 3166-1 alpha-2 code, or not known (yet).
            *(
                models.CheckConstraint(condition=Q(**{field: ""}) | Q(**{f"{field}__length": 2}), name=f"lot_{field}_iso2")
                for field in ("country_of_collection", "country_of_separation", "country_of_oxide_production")
            ),
        ]

    def __str__(self) -> str:
        return self.code


class LotInput(models.Model):
    """A genealogy edge: ``mass_used_kg`` of ``input_lot`` went into ``output_lot``."""

    input_lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="consumed_by")
    output_lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="inputs")
    mass_used_kg = models.DecimalField(max_digits=14, decimal_places=4)

    class Meta:
        ordering = ["output_lot__code", "input_lot__code"]
        constraints = [
            models.UniqueConstraint(fields=["input_lot", "output_lot"], name="lot_input_unique_edge"),
            models.CheckConstraint(condition=~Q(input_lot=F("output_lot")), name="lot_input_not_self"),
            models.CheckConstraint(condition=Q(mass_used_kg__gt=0), name="lot_input_mass_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.input_lot} → {self.output_lot} ({self.mass_used_kg} kg)"


class LotAllocation(models.Model):
    """Part of a product lot sold to one customer; one lot may be split between several."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="allocations")
    customer = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="allocations")
    mass_kg = models.DecimalField(max_digits=14, decimal_places=4)
    allocated_at = models.DateTimeField(auto_now_add=True)
    reference = models.CharField(max_length=80, blank=True, help_text="Customer order or contract reference.")

    class Meta:
        ordering = ["lot__code", "customer__code"]
        constraints = [
            models.UniqueConstraint(fields=["lot", "customer"], name="lot_allocation_unique_customer"),
            models.CheckConstraint(condition=Q(mass_kg__gt=0), name="lot_allocation_mass_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.lot} → {self.customer} ({self.mass_kg} kg)"
