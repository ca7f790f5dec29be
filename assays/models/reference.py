"""Reference data: elements, their oxides, analyte channels, products and specifications."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from assays.chemistry.oxides import parse_oxide


class Element(models.Model):
    symbol = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=40, unique=True)
    atomic_number = models.PositiveSmallIntegerField(unique=True)
    # Full precision of the CIAAW value; the oxide factor is computed from it, never stored.
    atomic_weight = models.DecimalField(max_digits=14, decimal_places=9)
    is_rare_earth = models.BooleanField()

    class Meta:
        ordering = ["atomic_number"]
        constraints = [
            models.CheckConstraint(condition=Q(atomic_weight__gt=0), name="element_atomic_weight_positive"),
            models.CheckConstraint(condition=Q(atomic_number__gte=1, atomic_number__lte=118), name="element_atomic_number_range"),
        ]

    def __str__(self) -> str:
        return self.symbol


class Oxide(models.Model):
    element = models.ForeignKey(Element, on_delete=models.PROTECT, related_name="oxides")
    formula = models.CharField(max_length=16, unique=True)
    metal_atoms = models.PositiveSmallIntegerField()
    oxygen_atoms = models.PositiveSmallIntegerField()
    is_conventional = models.BooleanField(default=False, help_text="The element's default reporting oxide.")

    class Meta:
        ordering = ["element__atomic_number", "formula"]
        constraints = [
            models.CheckConstraint(condition=Q(metal_atoms__gte=1) & Q(oxygen_atoms__gte=1), name="oxide_atom_counts_positive"),
            models.UniqueConstraint(fields=["element"], condition=Q(is_conventional=True), name="oxide_one_conventional_per_element"),
        ]

    def __str__(self) -> str:
        return self.formula

    @property
    def factor(self) -> float:
        """Gravimetric factor M(oxide) / (n · A_r(E)), computed from the formula."""
        return parse_oxide(self.formula).factor


class Technique(models.TextChoices):
    ICP_MS = "icp-ms", "ICP-MS"
    ICP_OES = "icp-oes", "ICP-OES"
    GRAVIMETRY = "gravimetry", "Gravimetry (LOI)"
    ION_CHROMATOGRAPHY = "ic", "Ion chromatography"
    OTHER = "other", "Other"


class PlasmaView(models.TextChoices):
    NONE = "", "—"
    AXIAL = "axial", "Axial"
    RADIAL = "radial", "Radial"


class Analyte(models.Model):
    """A measurement channel: element, isotope and cell mode for ICP-MS, line and view for ICP-OES.

    ``code`` is the channel's canonical text (``146Nd [He]``, ``Al 394.401 (radial)``), built by
    ``assays.chemistry.channels.channel_code`` so that two spellings of one channel cannot coexist.
    Anions and LOI have no element.
    """

    code = models.CharField(max_length=64, unique=True)
    element = models.ForeignKey(Element, on_delete=models.PROTECT, null=True, blank=True, related_name="analytes")
    technique = models.CharField(max_length=16, choices=Technique.choices)
    isotope_mass = models.PositiveSmallIntegerField(null=True, blank=True)
    cell_mode = models.CharField(max_length=32, blank=True, help_text="e.g. No Gas, He, KED, O2")
    q1_mass = models.PositiveSmallIntegerField(null=True, blank=True)
    q2_mass = models.PositiveSmallIntegerField(null=True, blank=True)
    wavelength_nm = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    view = models.CharField(max_length=8, choices=PlasmaView.choices, blank=True)
    name = models.CharField(max_length=64, blank=True, help_text="For non-element analytes: LOI, chloride, sulfate.")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(technique__in=Technique.values), name="analyte_technique_valid"),
            models.CheckConstraint(condition=Q(view__in=PlasmaView.values), name="analyte_view_valid"),
            # Q1 -> Q2 comes as a pair (triple-quad mass shift) or not at all.
            models.CheckConstraint(
                condition=Q(q1_mass__isnull=True, q2_mass__isnull=True) | Q(q1_mass__isnull=False, q2_mass__isnull=False),
                name="analyte_q1_q2_pair",
            ),
            models.CheckConstraint(condition=Q(wavelength_nm__isnull=True) | Q(wavelength_nm__gt=0), name="analyte_wavelength_positive"),
            models.CheckConstraint(condition=Q(element__isnull=False) | ~Q(name=""), name="analyte_element_or_name"),
        ]

    def __str__(self) -> str:
        return self.code


class Product(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    main_oxides = models.ManyToManyField(
        Oxide, related_name="products", help_text="The main component set M, e.g. {Nd2O3} or {Pr6O11, Nd2O3}."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class SpecificationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class Specification(models.Model):
    """A versioned product specification. Its lines are completed by the assessment issue."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="specifications")
    version = models.PositiveIntegerField()
    grade = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, choices=SpecificationStatus.choices, default=SpecificationStatus.DRAFT)
    source = models.CharField(max_length=200, blank=True, help_text="Standard or document behind the limits, or 'plant default'.")
    effective_from = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product__code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="specification_unique_version"),
            models.UniqueConstraint(fields=["product"], condition=Q(status="active"), name="specification_one_active_per_product"),
            models.CheckConstraint(condition=Q(status__in=SpecificationStatus.values), name="specification_status_valid"),
            models.CheckConstraint(condition=Q(version__gte=1), name="specification_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product.code} v{self.version}"
