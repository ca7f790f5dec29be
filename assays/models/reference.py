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


class SpecificationBasis(models.TextChoices):
    AS_RECEIVED = "as_received", "As received"
    IGNITED = "ignited", "Ignited (impurities divided by 1 - LOI)"


class Specification(models.Model):
    """A versioned product specification: its lines (limits), the main component set, the basis,
    which elements count towards TREO and the analytes an assessment requires.

    A version is never edited once lots were judged by it: loading a changed specification makes a
    new version (``assays.services.specifications``); ``content_sha256`` of the canonical form is
    how loading the same file twice is recognised.
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="specifications")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True)
    grade = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, choices=SpecificationStatus.choices, default=SpecificationStatus.DRAFT)
    source = models.CharField(max_length=200, blank=True, help_text="Standard or document behind the limits, or 'plant default'.")
    effective_from = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The main component set M by element (["Nd"], ["Pr", "Nd"]); empty for a feedstock (nothing by difference).
    main_elements = models.JSONField(default=list, blank=True)
    basis = models.CharField(max_length=16, choices=SpecificationBasis.choices, default=SpecificationBasis.AS_RECEIVED)
    # Rare earths beyond La-Lu and Y that count towards TREO under this specification (Sc, Th, U).
    treo_also_counts = models.JSONField(default=list, blank=True)
    # What an assessment needs measured: element symbols, "LOI", "Cl-", "SO4 2-". Missing or
    # rejected -> insufficient data, never taken as zero.
    required_analytes = models.JSONField(default=list, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True, help_text="Of the canonical specification, to recognise a reload.")

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


class SpecQuantity(models.TextChoices):
    OXIDE = "oxide", "Oxide of an element"
    ELEMENT = "element", "Element"
    SUM_RE_IMPURITIES = "sum_re_impurities", "Sum of rare-earth impurity oxides"
    SUM_NON_RE = "sum_non_re", "Sum of non-rare-earth impurity oxides"
    TREO = "treo", "TREO"
    RELATIVE_PURITY = "relative_purity", "Relative purity (main oxide / TREO)"
    MAIN_OXIDE = "main_oxide", "Main oxide (absolute content)"
    RATIO = "ratio", "Ratio of oxides to TREO"
    LOI = "loi", "Loss on ignition"
    ANION = "anion", "Anion"


class SpecComparison(models.TextChoices):
    ABSOLUTE = "absolute", "Absolute (unrounded value)"
    ROUNDING = "rounding", "Rounding (to the limit's last digit)"


class SpecDecisionRule(models.TextChoices):
    SIMPLE = "simple", "Simple acceptance"
    GUARD_BAND = "guard_band", "Guard band with U (ILAC G8)"


class SpecUnit(models.TextChoices):
    PERCENT = "%", "%"
    MG_KG = "mg/kg", "mg/kg"


class SpecificationLine(models.Model):
    """One line of a specification. Limits are kept as written (text), because the rounding
    method compares at the limit's last written digit: "99.9" and "99.90" are different limits.
    A line with neither limit is reported without a verdict (a feedstock's payable content)."""

    specification = models.ForeignKey(Specification, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    quantity = models.CharField(max_length=24, choices=SpecQuantity.choices)
    element = models.ForeignKey(Element, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    oxide = models.ForeignKey(Oxide, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    anion = models.CharField(max_length=16, blank=True, help_text='"Cl-" or "SO4 2-"')
    # A ratio line: the oxides summed in the numerator (formulas); the denominator is TREO.
    ratio_oxides = models.JSONField(default=list, blank=True)
    minimum = models.CharField(max_length=32, blank=True)
    maximum = models.CharField(max_length=32, blank=True)
    unit = models.CharField(max_length=8, choices=SpecUnit.choices)
    comparison = models.CharField(max_length=16, choices=SpecComparison.choices, default=SpecComparison.ROUNDING)
    rule = models.CharField(max_length=16, choices=SpecDecisionRule.choices, default=SpecDecisionRule.SIMPLE)
    source = models.CharField(max_length=200, blank=True, help_text="The public source of the limit, or 'plant default'.")

    class Meta:
        ordering = ["specification", "position"]
        constraints = [
            models.UniqueConstraint(fields=["specification", "position"], name="specification_line_unique_position"),
            models.CheckConstraint(condition=Q(quantity__in=SpecQuantity.values), name="specification_line_quantity_valid"),
            models.CheckConstraint(condition=Q(unit__in=SpecUnit.values), name="specification_line_unit_valid"),
            models.CheckConstraint(condition=Q(comparison__in=SpecComparison.values), name="specification_line_comparison_valid"),
            models.CheckConstraint(condition=Q(rule__in=SpecDecisionRule.values), name="specification_line_rule_valid"),
            # A guard band compares the unrounded value (domain doc §5).
            models.CheckConstraint(
                condition=~Q(rule="guard_band") | Q(comparison="absolute"), name="specification_line_guard_band_absolute"
            ),
            models.CheckConstraint(
                condition=~Q(quantity__in=["oxide", "element"]) | Q(element__isnull=False), name="specification_line_names_its_element"
            ),
            models.CheckConstraint(condition=~Q(quantity="oxide") | Q(oxide__isnull=False), name="specification_line_oxide_named"),
            models.CheckConstraint(condition=~Q(quantity="anion") | ~Q(anion=""), name="specification_line_anion_named"),
        ]

    def __str__(self) -> str:
        what = self.oxide or self.element or self.anion or self.get_quantity_display()
        limits = " ".join(
            part for part in (f">= {self.minimum}" if self.minimum else "", f"<= {self.maximum}" if self.maximum else "") if part
        )
        return f"{self.specification} #{self.position}: {what} {limits} {self.unit}".strip()
