"""Representations of run QC (an evaluation, its checks, waivers) and of control charts, and the
bodies of the reviewer's requests.

A float that is not finite (a recovery that overflowed upstream) is written as null: JSON has no
NaN or infinity, and a strict JSON renderer would fail on one.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assays.models import QcCheck, QcEvaluation, QcWaiver, RunStatus
from assays.qc.evaluation import Effect, State
from assays.qc.packs import CheckKind
from assays.selectors.control_charts import ControlChart, ControlPoint
from assays.stats.control_charts import Violation, WestgardRule

_MAX_REASON = 2000
_MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.DOUBLE)
class FiniteFloatField(serializers.Field[float, float, float | None, Any]):
    """A float, or null when it is missing or not finite (read only)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value: Any) -> float | None:
        if value is None:
            return None
        number = float(value)
        return number if math.isfinite(number) else None


def _with_fields(
    fields: dict[str, serializers.Field[Any, Any, Any, Any]], *, after: str, **more: serializers.Field[Any, Any, Any, Any]
) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    """``fields`` with ``more`` inserted after the field ``after``: the answer keeps its documented order."""
    ordered: dict[str, serializers.Field[Any, Any, Any, Any]] = {}
    for name, field in fields.items():
        ordered[name] = field
        if name == after:
            ordered.update(more)
    return ordered


# --- Requests --------------------------------------------------------------------------------------


class ReasonSerializer(serializers.Serializer[Any]):
    # Blank is let through: the service refuses it with its own message ("a reason is required").
    reason = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=_MAX_REASON, help_text="Why; required, not blank.")


class EvaluateSerializer(ReasonSerializer):
    rule_pack_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=_MAX_ID,
        help_text="The rule pack version to judge by (a RulePack id); omitted or null: the latest version of the method's pack.",
    )


class RunQcQuerySerializer(serializers.Serializer[Any]):
    failed = serializers.BooleanField(required=False, default=False, help_text="Only the failed checks.")


class ChartQuerySerializer(serializers.Serializer[Any]):
    analyte = serializers.CharField(required=False, max_length=64, help_text="Only the charts of this analyte (channel code).")


# --- Run QC ----------------------------------------------------------------------------------------


class RulePackRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    code = serializers.CharField()
    version = serializers.IntegerField()
    title = serializers.CharField()


class AcceptanceCountsSerializer(serializers.Serializer[Any]):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    redilute = serializers.IntegerField()
    excluded = serializers.IntegerField()


class RunRejectionSerializer(serializers.Serializer[Any]):
    by = serializers.CharField(help_text="Username of the QA user who rejected the run.")
    at = serializers.DateTimeField()
    reason = serializers.CharField()


class QcEvaluationSerializer(serializers.Serializer[QcEvaluation]):
    id = serializers.IntegerField(read_only=True)
    is_current = serializers.BooleanField(read_only=True)
    rule_pack = serializers.SerializerMethodField()
    evaluated_at = serializers.DateTimeField(read_only=True)
    requested_by = serializers.SerializerMethodField(help_text="Who asked for this judgement; null: the judgement after import.")
    reason = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=RunStatus.choices, read_only=True, help_text="The run's status under this judgement.")
    note = serializers.CharField(read_only=True)
    counts = serializers.SerializerMethodField(help_text="Sample results by acceptance.")
    run_rejected = serializers.SerializerMethodField(help_text="QA's rejection of the whole run; null when not rejected as a whole.")

    @extend_schema_field(RulePackRefSerializer)
    def get_rule_pack(self, evaluation: QcEvaluation) -> dict[str, Any]:
        pack = evaluation.rule_pack
        return {"id": pack.pk, "code": pack.code, "version": pack.version, "title": pack.title}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_requested_by(self, evaluation: QcEvaluation) -> str | None:
        return evaluation.requested_by.get_username() if evaluation.requested_by is not None else None

    @extend_schema_field(AcceptanceCountsSerializer)
    def get_counts(self, evaluation: QcEvaluation) -> dict[str, int]:
        counts = evaluation.counts or {}
        return {state.value: int(counts.get(state.value, 0)) for state in State}

    @extend_schema_field(RunRejectionSerializer(allow_null=True))
    def get_run_rejected(self, evaluation: QcEvaluation) -> dict[str, Any] | None:
        if evaluation.run_rejected_at is None:
            return None
        by = evaluation.run_rejected_by
        return {
            "by": by.get_username() if by is not None else "",
            "at": serializers.DateTimeField().to_representation(evaluation.run_rejected_at),
            "reason": evaluation.run_rejection_reason,
        }


class WaiverSerializer(serializers.Serializer[QcWaiver]):
    by = serializers.CharField(source="decided_by.username", read_only=True, help_text="Username of the QA user who accepted the check.")
    at = serializers.DateTimeField(source="decided_at", read_only=True)
    reason = serializers.CharField(read_only=True)


class QcCheckSerializer(serializers.Serializer[QcCheck]):
    id = serializers.IntegerField(read_only=True)
    key = serializers.CharField(read_only=True, help_text="Stable within a run and a rule pack version, e.g. `ccv:3:139La [No Gas]`.")
    kind = serializers.ChoiceField(choices=[(kind.value, kind.label) for kind in CheckKind], read_only=True)
    sequence = serializers.SerializerMethodField(help_text="The acquisition checked; null for a check of the whole run.")
    # ``label``: added in get_fields (a declared attribute of that name would shadow Field.label).
    analyte = serializers.SerializerMethodField(help_text="The channel checked; null: every channel.")
    measured = FiniteFloatField(help_text="e.g. the recovery, in `unit`.")
    expected = FiniteFloatField()
    low = FiniteFloatField(help_text="The window's lower end (inclusive), if any.")
    high = FiniteFloatField(help_text="The window's upper end or the limit (inclusive), if any.")
    unit = serializers.CharField(read_only=True)
    passed = serializers.BooleanField(read_only=True)
    message = serializers.CharField(read_only=True)
    effect = serializers.ChoiceField(
        choices=[(effect.value, effect.value) for effect in Effect], read_only=True, help_text="What a failure rejects."
    )
    waiver = serializers.SerializerMethodField(help_text="QA's acceptance of this failed check; null when none.")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return _with_fields(
            super().get_fields(), after="sequence", label=serializers.CharField(read_only=True, help_text="The item's label.")
        )

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_sequence(self, check: QcCheck) -> int | None:
        return check.acquisition.sequence if check.acquisition is not None else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_analyte(self, check: QcCheck) -> str | None:
        return check.analyte.code if check.analyte is not None else None

    @extend_schema_field(WaiverSerializer(allow_null=True))
    def get_waiver(self, check: QcCheck) -> dict[str, Any] | None:
        try:
            waiver = check.waiver
        except ObjectDoesNotExist:
            return None
        return dict(WaiverSerializer(waiver).data)


class RunQcSerializer(serializers.Serializer[Any]):
    run_id = serializers.IntegerField()
    run_status = serializers.ChoiceField(choices=RunStatus.choices, help_text="The run's status; `pending_qc` until its first evaluation.")
    evaluation = QcEvaluationSerializer(allow_null=True, help_text="The current judgement; null while QC is pending.")
    checks = QcCheckSerializer(many=True, help_text="The current judgement's checks (only the failed ones with `failed=1`).")


# --- Control charts ----------------------------------------------------------------------------------


class BaselineSerializer(serializers.Serializer[Any]):
    mean = serializers.FloatField()
    sd = serializers.FloatField()
    n = serializers.IntegerField(help_text="Points in the baseline.")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # ``source`` would shadow Field.source as a declared attribute.
        fields = super().get_fields()
        fields["source"] = serializers.CharField(help_text="The lab's baseline period, or the chart's first points.")
        return fields


class ControlPointSerializer(serializers.Serializer[ControlPoint]):
    value = FiniteFloatField(help_text="The recovery, %.")
    run_id = serializers.IntegerField(read_only=True)
    sequence = serializers.IntegerField(read_only=True, allow_null=True)
    measured_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return _with_fields(
            super().get_fields(), after="sequence", label=serializers.CharField(read_only=True, help_text="The item's label.")
        )


class ViolationSerializer(serializers.Serializer[Violation]):
    rule = serializers.ChoiceField(choices=[(rule.value, rule.value) for rule in WestgardRule], read_only=True)
    index = serializers.IntegerField(read_only=True, help_text="The point (index into `points`) at which the rule fires.")
    involved = serializers.ListField(child=serializers.IntegerField(), read_only=True, help_text="The points of the pattern, oldest first.")
    message = serializers.CharField(read_only=True)


class ControlChartSerializer(serializers.Serializer[Any]):  # Any: also serializes a list of charts
    analyte = serializers.CharField(source="key.analyte", read_only=True)
    series = serializers.ChoiceField(choices=[("ccv", "CCV recovery"), ("crm", "CRM recovery")], source="key.series", read_only=True)
    reference_material_id = serializers.IntegerField(source="key.reference_material_id", read_only=True, allow_null=True)
    title = serializers.CharField(read_only=True)
    baseline = serializers.SerializerMethodField(help_text="Mean and s the points are judged against; null until there is one.")
    baseline_note = serializers.CharField(source="baseline_source", read_only=True)
    judged_from = serializers.IntegerField(read_only=True, help_text="Index of the first point the Westgard rules judge.")
    points = ControlPointSerializer(many=True, read_only=True, help_text="In measurement order.")
    violations = ViolationSerializer(many=True, read_only=True)

    @extend_schema_field(BaselineSerializer(allow_null=True))
    def get_baseline(self, chart: ControlChart) -> dict[str, Any] | None:
        if chart.baseline is None:
            return None
        return {"mean": chart.baseline.mean, "sd": chart.baseline.sd, "n": chart.baseline.n, "source": chart.baseline_source}
