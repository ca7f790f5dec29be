"""Instruments, methods, instrument runs and their measurements, reference materials."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from assays.importers.matching import PatternError, compile_pattern
from assays.models.reference import Analyte, Element, Technique
from assays.models.samples import Sample
from assays.models.sites import Site


class Instrument(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="instruments")
    technique = models.CharField(max_length=16, choices=Technique.choices)
    vendor = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=60, blank=True)
    serial_number = models.CharField(max_length=60, blank=True)
    # A per-instrument fact, never a guess: some software reports concentrations already
    # multiplied by the dilution factor typed into its sequence.
    software_applies_dilution_factor = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=Q(technique__in=Technique.values), name="instrument_technique_valid")]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class Method(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    technique = models.CharField(max_length=16, choices=Technique.choices)
    standard = models.CharField(max_length=120, blank=True, help_text="e.g. GB/T 18115.1, EPA 200.8")
    is_manual = models.BooleanField(default=False, help_text="Results typed in by hand (LOI, anions, outside lab).")
    # The code of the rule pack its runs are judged by; the latest version of that pack applies.
    # "none": results count as entered (manual results, another lab's report).
    rule_pack_code = models.CharField(max_length=40, default="plant-default")

    class Meta:
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=Q(technique__in=Technique.values), name="method_technique_valid")]

    def __str__(self) -> str:
        return self.code


class ChannelRole(models.TextChoices):
    REPORTING = "reporting", "Reporting"
    CONFIRMATORY = "confirmatory", "Confirmatory"


class MethodChannel(models.Model):
    """One analyte channel of a method: its role, detection limits and uncertainty model.

    LOD and LOQ are in solution units (``unit``); the uncertainty model is
    u(w) = √(a² + (b·w)²) on the solid, a in mg/kg and b relative.
    """

    method = models.ForeignKey(Method, on_delete=models.CASCADE, related_name="channels")
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="method_channels")
    # The analyte's element, repeated so the database can hold "one reporting channel per element".
    element = models.ForeignKey(Element, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    role = models.CharField(max_length=16, choices=ChannelRole.choices, default=ChannelRole.REPORTING)
    unit = models.CharField(max_length=16, default="µg/L")
    lod = models.FloatField(null=True, blank=True)
    loq = models.FloatField(null=True, blank=True)
    uncertainty_a = models.FloatField(default=0.0)
    uncertainty_b = models.FloatField(default=0.0)

    class Meta:
        ordering = ["method__code", "analyte__code"]
        constraints = [
            models.UniqueConstraint(fields=["method", "analyte"], name="method_channel_unique_analyte"),
            models.UniqueConstraint(
                fields=["method", "element"],
                condition=Q(role="reporting", element__isnull=False),
                name="method_channel_one_reporting_per_element",
            ),
            models.CheckConstraint(condition=Q(role__in=ChannelRole.values), name="method_channel_role_valid"),
            models.CheckConstraint(condition=Q(lod__isnull=True) | Q(lod__gte=0), name="method_channel_lod_non_negative"),
            models.CheckConstraint(condition=Q(loq__isnull=True) | Q(loq__gte=0), name="method_channel_loq_non_negative"),
            models.CheckConstraint(
                condition=Q(lod__isnull=True) | Q(loq__isnull=True) | Q(loq__gte=models.F("lod")), name="method_channel_loq_not_below_lod"
            ),
            models.CheckConstraint(
                condition=Q(uncertainty_a__gte=0) & Q(uncertainty_b__gte=0), name="method_channel_uncertainty_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method.code}: {self.analyte.code} ({self.role})"


class RunStatus(models.TextChoices):
    PENDING_QC = "pending_qc", "Pending QC"
    ACCEPTED = "accepted", "Accepted"
    PARTIALLY_ACCEPTED = "partially_accepted", "Partially accepted"
    REJECTED = "rejected", "Rejected"


class Run(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="runs")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="runs")
    method = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="runs")
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source_filename = models.CharField(max_length=255)
    # Re-importing the same bytes returns the existing run instead of a second copy.
    source_sha256 = models.CharField(max_length=64, unique=True)
    source_format = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=24, choices=RunStatus.choices, default=RunStatus.PENDING_QC)
    imported_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # What the import found (counts, unmatched labels, warnings): the answer a re-import of the
    # same file gives, and what the run page shows without recounting.
    import_summary = models.JSONField(default=dict, blank=True)
    # Set by the run evaluation (assays.services.run_qc): when it ran and what it concluded.
    qc_evaluated_at = models.DateTimeField(null=True, blank=True)
    qc_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-imported_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="run_status_valid"),
            models.CheckConstraint(condition=Q(source_sha256__length=64), name="run_sha256_length"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} {self.source_filename}"


class QcRole(models.TextChoices):
    NONE = "", "—"
    CALIBRATION_BLANK = "calibration_blank", "Calibration blank"
    CALIBRATION_STANDARD = "calibration_standard", "Calibration standard"
    ICV = "icv", "ICV"
    LOW_LEVEL_CHECK = "low_level_check", "Low-level check"
    CCV = "ccv", "CCV"
    CCB = "ccb", "CCB"
    METHOD_BLANK = "method_blank", "Method blank"
    LCS = "lcs", "LCS"
    CRM = "crm", "CRM"
    DUPLICATE = "duplicate", "Duplicate"
    SPIKE = "spike", "Matrix spike"


class Acquisition(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="acquisitions")
    sequence = models.PositiveIntegerField()
    vendor_type = models.CharField(max_length=40, blank=True)
    label = models.CharField(max_length=200)
    calibration_level = models.PositiveSmallIntegerField(null=True, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    rejected_by_instrument = models.BooleanField(default=False)
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, null=True, blank=True, related_name="acquisitions")
    qc_role = models.CharField(max_length=24, choices=QcRole.choices, blank=True)
    data_file = models.CharField(max_length=255, blank=True, help_text="The instrument's own name for the acquisition (001SMPL.d).")
    replicate = models.CharField(max_length=40, blank=True, help_text="A replicate's name, when the file lists replicates as rows.")
    reference_material = models.ForeignKey(
        "ReferenceMaterial", on_delete=models.PROTECT, null=True, blank=True, related_name="acquisitions", help_text="For a CRM."
    )
    # The dilution factor this acquisition was measured at (the sample's, or the batch log's),
    # and the factor its solution values were multiplied by to give mg/kg of the solid
    # (V · DF / (1000 · m), DF left out when the software had applied it): kept so that a stored
    # result can be traced back to the number the instrument printed. Null: values stayed in
    # solution units (QC items, or a sample without mass and volume).
    dilution_factor = models.FloatField(null=True, blank=True)
    conversion_factor = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sequence"], name="acquisition_unique_sequence"),
            models.CheckConstraint(condition=Q(qc_role__in=QcRole.values), name="acquisition_qc_role_valid"),
            models.CheckConstraint(
                condition=Q(dilution_factor__isnull=True) | Q(dilution_factor__gt=0), name="acquisition_dilution_factor_positive"
            ),
            models.CheckConstraint(
                condition=Q(conversion_factor__isnull=True) | Q(conversion_factor__gt=0), name="acquisition_conversion_factor_positive"
            ),
            models.CheckConstraint(
                condition=Q(reference_material__isnull=True) | Q(qc_role="crm"), name="acquisition_reference_material_only_for_crm"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.sequence} {self.label}"


class Qualifier(models.TextChoices):
    LESS_THAN = "<", "<"
    EQUAL = "=", "="
    GREATER_THAN = ">", ">"


class Basis(models.TextChoices):
    SOLUTION = "solution", "Solution"
    AS_RECEIVED = "as_received", "Solid, as received"
    IGNITED = "ignited", "Solid, ignited"


class Measurement(models.Model):
    """One value. Full precision is kept (double); rounding happens only for display and for
    the comparison a spec line prescribes. A censored value has qualifier ``<`` and value = LOD,
    with the instrument's own number kept in ``raw_value``."""

    # No index of its own: the unique (acquisition, analyte) index serves it, and an import writes
    # a hundred thousand rows through every index of this table. On PostgreSQL this reference and
    # the analyte's are checked per statement by triggers instead of foreign key constraints
    # (migration 0006, docs/architecture.md "Bulk integrity"); SQLite keeps the foreign keys.
    acquisition = models.ForeignKey(Acquisition, on_delete=models.CASCADE, related_name="measurements", db_index=False)
    # No index on the analyte either: every read of measurements enters by acquisition (a run, a
    # lot's samples), which the unique index serves, and an index on a column with a few hundred
    # values costs an import as much as the table's primary key (about 0.09 s per 120,000 rows,
    # bench/import_bench.py). What it would serve is removing an analyte (reference data, never
    # done while measurements name it): that check scans instead (migration 0013).
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="measurements", db_index=False)
    value = models.FloatField()
    qualifier = models.CharField(max_length=1, choices=Qualifier.choices, default=Qualifier.EQUAL)
    unit = models.CharField(max_length=16)
    basis = models.CharField(max_length=16, choices=Basis.choices)
    lod = models.FloatField(null=True, blank=True)
    loq = models.FloatField(null=True, blank=True)
    raw_value = models.FloatField(null=True, blank=True)
    raw_unit = models.CharField(max_length=16, blank=True)
    rsd_percent = models.FloatField(null=True, blank=True)
    # The uncertainty stated with the result where its report states one (an outside laboratory's
    # "U = 0.4 % (k = 2)"), in the stored value's unit: the assessment takes u = U / k for it, in
    # place of the method channel's model. Empty for what our own instruments measure.
    expanded_u = models.FloatField(null=True, blank=True, help_text="Expanded uncertainty U as reported, in the value's unit.")
    coverage_factor = models.FloatField(null=True, blank=True, help_text="The coverage factor k the reported U was stated with.")
    flags = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["acquisition", "analyte"], name="measurement_unique_cell"),
            # A reported U comes with its k; neither can be negative (k is at least 1 in practice,
            # which the import checks; zero would divide).
            models.CheckConstraint(
                # Not null spelt out: a comparison with NULL is unknown, which a CHECK lets pass.
                condition=Q(expanded_u__isnull=True, coverage_factor__isnull=True)
                | Q(expanded_u__isnull=False, coverage_factor__isnull=False, expanded_u__gte=0, coverage_factor__gt=0),
                name="measurement_reported_u_with_k",
            ),
            models.CheckConstraint(condition=Q(qualifier__in=Qualifier.values), name="measurement_qualifier_valid"),
            models.CheckConstraint(condition=Q(basis__in=Basis.values), name="measurement_basis_valid"),
            # A censored value sits at its detection limit, which must be known and not negative.
            models.CheckConstraint(condition=~Q(qualifier="<") | Q(lod__isnull=False, value__gte=0), name="measurement_censored_has_lod"),
            models.CheckConstraint(condition=Q(lod__isnull=True) | Q(lod__gte=0), name="measurement_lod_non_negative"),
            models.CheckConstraint(condition=Q(rsd_percent__isnull=True) | Q(rsd_percent__gte=0), name="measurement_rsd_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.analyte.code} {self.qualifier}{self.value} {self.unit}"


class ReferenceMaterial(models.Model):
    name = models.CharField(max_length=120)
    lot_number = models.CharField(max_length=60)
    producer = models.CharField(max_length=120, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    # A solid CRM is digested like a sample; its certified mass fractions become an expected
    # solution concentration through the lab's standard digest of it (mass into volume).
    digest_mass_g = models.FloatField(null=True, blank=True, help_text="Mass of CRM digested, g")
    digest_volume_ml = models.FloatField(null=True, blank=True, help_text="Final volume of the digest, mL")
    digest_dilution_factor = models.FloatField(default=1.0)

    class Meta:
        ordering = ["name", "lot_number"]
        constraints = [
            models.UniqueConstraint(fields=["name", "lot_number"], name="reference_material_unique_lot"),
            models.CheckConstraint(
                condition=(Q(digest_mass_g__isnull=True) | Q(digest_mass_g__gt=0))
                & (Q(digest_volume_ml__isnull=True) | Q(digest_volume_ml__gt=0))
                & Q(digest_dilution_factor__gt=0),
                name="reference_material_digest_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} lot {self.lot_number}"


class CertifiedValue(models.Model):
    material = models.ForeignKey(ReferenceMaterial, on_delete=models.CASCADE, related_name="certified_values")
    element = models.ForeignKey(Element, on_delete=models.PROTECT, related_name="+")
    value = models.FloatField()
    expanded_uncertainty = models.FloatField(null=True, blank=True, help_text="U, k = 2, same unit")
    unit = models.CharField(max_length=16, default="mg/kg")

    class Meta:
        ordering = ["material", "element__atomic_number"]
        constraints = [
            models.UniqueConstraint(fields=["material", "element"], name="certified_value_unique_element"),
            models.CheckConstraint(condition=Q(value__gte=0), name="certified_value_non_negative"),
            models.CheckConstraint(
                condition=Q(expanded_uncertainty__isnull=True) | Q(expanded_uncertainty__gte=0), name="certified_uncertainty_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.material}: {self.element} {self.value} {self.unit}"


class InternalStandardReading(models.Model):
    """An internal standard's response in one acquisition: counts per second and, where the
    software reports it, its recovery against the calibration blank (run QC, EPA 200.8: 60-125 %)."""

    # Both references checked per statement on PostgreSQL, as a measurement's (migration 0006).
    acquisition = models.ForeignKey(Acquisition, on_delete=models.CASCADE, related_name="internal_standards", db_index=False)
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="internal_standard_readings")
    counts_per_second = models.FloatField(null=True, blank=True)
    recovery_percent = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["acquisition", "analyte__code"]
        constraints = [
            models.UniqueConstraint(fields=["acquisition", "analyte"], name="istd_reading_unique_cell"),
            models.CheckConstraint(
                condition=Q(counts_per_second__isnull=True) | Q(counts_per_second__gte=0), name="istd_reading_cps_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(recovery_percent__isnull=True) | Q(recovery_percent__gte=0), name="istd_reading_recovery_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(counts_per_second__isnull=False) | Q(recovery_percent__isnull=False), name="istd_reading_has_a_value"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.acquisition} ISTD {self.analyte.code}: {self.counts_per_second} cps"


class LabelMatchKind(models.TextChoices):
    EXACT = "exact", "Exact label"
    PREFIX = "prefix", "Label starts with"
    REGEX = "regex", "Regular expression"


class QcLabelPattern(models.Model):
    """How the labs name QC items on one instrument, beyond the defaults (ICV, CCV, CCB, BLK, LCS,
    ``CRM <name>``, ``DUP <sample>``, ``SPK <sample>``): e.g. ``Deriv TracesETMaj`` is a CCV.

    Exact and prefix patterns compare case- and spacing-insensitively; a regular expression must
    match the whole label (case-insensitive) and may capture ``(?P<sample>...)`` for a duplicate's
    or spike's parent sample, or ``(?P<name>...)`` for a reference material. Patterns are tried in
    ``position`` order, before sample ids and the defaults.
    """

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="qc_label_patterns")
    pattern = models.CharField(max_length=200)
    match_kind = models.CharField(max_length=8, choices=LabelMatchKind.choices, default=LabelMatchKind.EXACT)
    qc_role = models.CharField(max_length=24, choices=[(v, label) for v, label in QcRole.choices if v])
    reference_material = models.ForeignKey(
        ReferenceMaterial, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Only for a CRM pattern."
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower first.")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["instrument__code", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "match_kind", "pattern"], name="qc_label_pattern_unique"),
            models.CheckConstraint(condition=Q(match_kind__in=LabelMatchKind.values), name="qc_label_pattern_kind_valid"),
            models.CheckConstraint(condition=Q(qc_role__in=[v for v in QcRole.values if v]), name="qc_label_pattern_role_valid"),
            models.CheckConstraint(condition=~Q(pattern=""), name="qc_label_pattern_not_empty"),
            models.CheckConstraint(
                condition=Q(reference_material__isnull=True) | Q(qc_role="crm"), name="qc_label_pattern_material_only_for_crm"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument.code}: {self.pattern!r} ({self.match_kind}) -> {self.qc_role}"

    def clean(self) -> None:
        if self.match_kind == LabelMatchKind.REGEX:
            try:
                compile_pattern(self.pattern)
            except PatternError as error:
                raise ValidationError({"pattern": str(error)}) from error
        if not self.pattern.strip():
            raise ValidationError({"pattern": "a pattern cannot be blank"})
