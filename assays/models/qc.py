"""Run quality control: rule pack versions, QC standards of a method, evaluations with their
checks, reviewers' waivers, the acceptance of each result, and control-chart baselines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from assays.models.reference import Analyte
from assays.models.runs import Acquisition, Measurement, Method, ReferenceMaterial, Run, RunStatus
from assays.qc.evaluation import Effect, State
from assays.qc.packs import CheckKind


class RulePack(models.Model):
    """One version of a rule pack. Versions are never edited: a lab admin's change is a new
    version, and an evaluation names the version it judged by."""

    code = models.CharField(max_length=40)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    source_text = models.TextField(help_text="The pack as TOML, exactly as written.")
    definition = models.JSONField(help_text="The parsed pack, for display.")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: shipped with the code.",
    )
    note = models.CharField(max_length=300, blank=True, help_text="What changed and why.")

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="rule_pack_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="rule_pack_version_positive"),
            models.CheckConstraint(condition=~Q(code=""), name="rule_pack_code_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class QcStandardKind(models.TextChoices):
    ICV = "icv", "ICV (second source)"
    CCV = "ccv", "CCV"
    LCS = "lcs", "LCS"
    LOW_LEVEL_CHECK = "low_level_check", "Low-level check"
    SPIKE = "spike", "Matrix spike (amount added)"


class QcStandard(models.Model):
    """A method's QC standard: what an ICV, CCV, LCS or low-level check should read, or what a
    spike adds, per channel (``values``)."""

    method = models.ForeignKey(Method, on_delete=models.CASCADE, related_name="qc_standards")
    kind = models.CharField(max_length=24, choices=QcStandardKind.choices)
    name = models.CharField(max_length=120, blank=True, help_text="e.g. the solution's name or lot")
    unit = models.CharField(max_length=16, default="µg/L")

    class Meta:
        ordering = ["method__code", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["method", "kind"], name="qc_standard_one_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=QcStandardKind.values), name="qc_standard_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.method.code} {self.get_kind_display()}"


class QcStandardValue(models.Model):
    """A channel's nominal in a QC standard: a concentration, or the calibration level whose
    nominal it is (a lab that uses a calibration standard as its CCV)."""

    standard = models.ForeignKey(QcStandard, on_delete=models.CASCADE, related_name="values")
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="+")
    nominal = models.FloatField(null=True, blank=True)
    calibration_level = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["standard", "analyte__code"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "analyte"], name="qc_standard_value_unique"),
            models.CheckConstraint(
                condition=Q(nominal__isnull=False, calibration_level__isnull=True)
                | Q(nominal__isnull=True, calibration_level__isnull=False),
                name="qc_standard_value_nominal_or_level",
            ),
            models.CheckConstraint(condition=Q(nominal__isnull=True) | Q(nominal__gt=0), name="qc_standard_value_nominal_positive"),
            models.CheckConstraint(
                condition=Q(calibration_level__isnull=True) | Q(calibration_level__gte=1), name="qc_standard_value_level_positive"
            ),
        ]

    def __str__(self) -> str:
        shown = f"{self.nominal:g}" if self.nominal is not None else f"level {self.calibration_level}"
        return f"{self.standard}: {self.analyte.code} {shown}"


class CalibrationNominal(models.Model):
    """A method's calibration standards: the nominal concentration of each level per channel."""

    method = models.ForeignKey(Method, on_delete=models.CASCADE, related_name="calibration_nominals")
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField()
    value = models.FloatField()
    unit = models.CharField(max_length=16, default="µg/L")

    class Meta:
        ordering = ["method__code", "analyte__code", "level"]
        constraints = [
            models.UniqueConstraint(fields=["method", "analyte", "level"], name="calibration_nominal_unique"),
            models.CheckConstraint(condition=Q(level__gte=1), name="calibration_nominal_level_positive"),
            models.CheckConstraint(condition=Q(value__gte=0), name="calibration_nominal_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.method.code} {self.analyte.code} L{self.level}: {self.value:g} {self.unit}"


class QcEvaluation(models.Model):
    """One judgement of a run under one rule pack version. A re-evaluation adds a new one and
    makes it current; the earlier ones stay, with their checks and waivers."""

    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="qc_evaluations")
    rule_pack = models.ForeignKey(RulePack, on_delete=models.PROTECT, related_name="evaluations")
    evaluated_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Empty: on import."
    )
    reason = models.TextField(blank=True)
    is_current = models.BooleanField(default=True)
    status = models.CharField(max_length=24, choices=RunStatus.choices)
    note = models.TextField(blank=True)
    counts = models.JSONField(default=dict, blank=True)
    run_rejected_at = models.DateTimeField(null=True, blank=True)
    run_rejected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    run_rejection_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "-evaluated_at"]
        constraints = [
            models.UniqueConstraint(fields=["run"], condition=Q(is_current=True), name="qc_evaluation_one_current_per_run"),
            models.CheckConstraint(condition=~Q(status="pending_qc"), name="qc_evaluation_status_decided"),
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="qc_evaluation_status_valid"),
            # A re-evaluation asked for by a person says why.
            models.CheckConstraint(condition=Q(requested_by__isnull=True) | ~Q(reason=""), name="qc_evaluation_request_has_reason"),
            models.CheckConstraint(
                condition=Q(run_rejected_at__isnull=True) | (Q(run_rejected_by__isnull=False) & ~Q(run_rejection_reason="")),
                name="qc_evaluation_rejection_has_who_and_why",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id} by {self.rule_pack}: {self.status}"


class QcCheck(models.Model):
    evaluation = models.ForeignKey(QcEvaluation, on_delete=models.CASCADE, related_name="checks")
    key = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=[(kind.value, kind.label) for kind in CheckKind])
    acquisition = models.ForeignKey(Acquisition, on_delete=models.PROTECT, null=True, blank=True, related_name="qc_checks")
    label = models.CharField(max_length=200, blank=True, help_text="The item's label as the run gave it, or what the check is about.")
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    measured = models.FloatField(null=True, blank=True)
    expected = models.FloatField(null=True, blank=True)
    low = models.FloatField(null=True, blank=True)
    high = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    passed = models.BooleanField()
    message = models.TextField()
    effect = models.CharField(max_length=16, choices=[(effect.value, effect.value) for effect in Effect])
    affects = models.JSONField(default=list, blank=True, help_text="Acquisition sequences a failure rejects, where it names them.")

    class Meta:
        ordering = ["evaluation", "id"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "key"], name="qc_check_unique_key"),
            models.CheckConstraint(condition=Q(kind__in=[kind.value for kind in CheckKind]), name="qc_check_kind_valid"),
            models.CheckConstraint(condition=Q(effect__in=[effect.value for effect in Effect]), name="qc_check_effect_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {'pass' if self.passed else 'FAIL'}"


class QcWaiver(models.Model):
    """A reviewer's acceptance of a failed check: never the run's analyst, always with a reason."""

    check_result = models.OneToOneField(QcCheck, on_delete=models.PROTECT, related_name="waiver")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    reason = models.TextField()

    class Meta:
        ordering = ["-decided_at"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="qc_waiver_has_reason")]

    def __str__(self) -> str:
        return f"waiver of {self.check_result.key} by {self.decided_by}"


class ResultAcceptance(models.Model):
    """Whether one result counts, under its run's current evaluation. Derived (checks + waivers),
    so it is replaced when the evaluation changes; the evaluations keep the history."""

    measurement = models.OneToOneField(Measurement, on_delete=models.CASCADE, primary_key=True, related_name="acceptance")
    evaluation = models.ForeignKey(QcEvaluation, on_delete=models.CASCADE, related_name="acceptances", db_index=False)
    state = models.CharField(max_length=16, choices=[(state.value, state.value.replace("_", " ")) for state in State])
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["evaluation", "state"], name="acceptance_evaluation_state")]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=[state.value for state in State]), name="result_acceptance_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.measurement_id}: {self.state}"


class ControlSeries(models.TextChoices):
    CCV = "ccv", "CCV recovery"
    CRM = "crm", "CRM recovery"


class ControlBaseline(models.Model):
    """The period whose points set a control chart's mean and s. Without one, the chart's first
    points (``LIMS_SPC_BASELINE_POINTS``) are its baseline."""

    method = models.ForeignKey(Method, on_delete=models.CASCADE, related_name="control_baselines")
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="+")
    series = models.CharField(max_length=8, choices=ControlSeries.choices)
    reference_material = models.ForeignKey(ReferenceMaterial, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()
    reason = models.TextField()

    class Meta:
        ordering = ["method__code", "analyte__code", "series", "-set_at"]
        constraints = [
            models.CheckConstraint(condition=Q(series__in=ControlSeries.values), name="control_baseline_series_valid"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="control_baseline_period_ordered"),
            models.CheckConstraint(
                condition=Q(series="crm", reference_material__isnull=False) | (~Q(series="crm") & Q(reference_material__isnull=True)),
                name="control_baseline_material_for_crm_only",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="control_baseline_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.method.code} {self.analyte.code} {self.series} baseline"
