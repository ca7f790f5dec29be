"""Representations of lot assessments and flags, and the query parameters of the flag list.

The assessment body itself is built by ``assays.selectors.assessments.assessment_json`` (shared with
``manage.py assess_lot --json``); the serializer here describes that shape for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from assays.models import AssessmentStatus, Flag, FlagKind, FlagStatus
from assays.models.lots import Lot

_CODE_MAX = Lot._meta.get_field("code").max_length or 40
_VERDICTS = ["pass", "fail", "inconclusive", "not_determinable"]


class AssessmentLimitSerializer(serializers.Serializer[Any]):
    min = serializers.CharField(allow_null=True, help_text="Minimum as written in the specification, or null.")
    max = serializers.CharField(allow_null=True, help_text="Maximum as written in the specification, or null.")
    unit = serializers.CharField()


class AssessmentLineSerializer(serializers.Serializer[Any]):
    quantity = serializers.CharField(help_text="relative_purity, treo, main_oxide, oxide, loi, ...")
    # The metaclass takes declared fields out of the class, so this never shadows Field.label at run time.
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.FloatField(allow_null=True, help_text="Best estimate at full precision; null when not determinable.")
    judged_value = serializers.FloatField(allow_null=True, help_text="The value compared with the limit (worst case when censored).")
    censored = serializers.BooleanField(help_text="Below the limit of detection.")
    unit = serializers.CharField()
    expanded_u = serializers.FloatField(allow_null=True, help_text="Expanded uncertainty U (k=2), full precision.")
    limit = AssessmentLimitSerializer(allow_null=True)
    verdict = serializers.ChoiceField(choices=_VERDICTS, allow_null=True)
    reason = serializers.CharField(allow_blank=True)


class PayableLineSerializer(serializers.Serializer[Any]):
    quantity = serializers.CharField(help_text="treo, main_oxide, oxide or element.")
    # The metaclass takes declared fields out of the class, so this never shadows Field.label at run time.
    label = serializers.CharField(help_text='What is paid for: "TREO", an oxide formula or an element symbol.')  # type: ignore[assignment]
    oxide = serializers.CharField(allow_null=True, help_text="Oxide formula of an oxide line, else null.")
    percent = serializers.FloatField(allow_null=True, help_text="Content, % of the lot's material, full precision; null when censored.")
    expanded_u_percent = serializers.FloatField(allow_null=True, help_text="Expanded uncertainty U (k=2) of the content, %.")
    censored = serializers.BooleanField(help_text="Below the limit of detection in every sample.")
    lod = serializers.FloatField(allow_null=True, help_text="Limit of detection, %, when censored.")
    mass_kg = serializers.FloatField(allow_null=True, help_text="Payable mass: lot mass x content, kg; null without a lot mass or content.")
    mass_u_kg = serializers.FloatField(allow_null=True, help_text="U (k=2) of the payable mass, kg (the lot mass taken as exact).")


class LotAssessmentSerializer(serializers.Serializer[Any]):
    lot = serializers.CharField(help_text="Lot code.")
    product = serializers.CharField(allow_null=True, help_text="Product code.")
    spec_version = serializers.IntegerField(allow_null=True, help_text="Version of the product's specification judged against.")
    status = serializers.ChoiceField(choices=AssessmentStatus.choices)
    n_samples = serializers.IntegerField()
    relative_purity_pct = serializers.FloatField(allow_null=True)
    treo_pct = serializers.FloatField(allow_null=True)
    main_oxide_pct = serializers.FloatField(allow_null=True)
    oxides_mg_kg = serializers.DictField(child=serializers.FloatField(), help_text="Oxide formula -> best estimate, mg/kg.")
    lines = AssessmentLineSerializer(many=True)
    reasons = serializers.ListField(child=serializers.CharField())
    assessed_at = serializers.DateTimeField()
    payable = PayableLineSerializer(
        many=True, allow_null=True, help_text="Payable composition of a report of analysis (no verdict: feedstock); null otherwise."
    )


class FlagFilterSerializer(serializers.Serializer[Any]):
    lot = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Lot code: that lot's flags only.")
    status = serializers.ChoiceField(choices=FlagStatus.choices, required=False, help_text="Flag status.")
    kind = serializers.ChoiceField(choices=FlagKind.choices, required=False, help_text="Flag kind.")


class FlagSerializer(serializers.Serializer[Flag]):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=FlagKind.choices, read_only=True)
    status = serializers.ChoiceField(choices=FlagStatus.choices, read_only=True)
    lot = serializers.CharField(source="lot.code", read_only=True, allow_null=True, help_text="Lot code (lot flags).")
    run = serializers.IntegerField(source="run_id", read_only=True, allow_null=True, help_text="Run number (run flags).")
    method = serializers.CharField(source="method.code", read_only=True, allow_null=True, help_text="Method code (method flags).")
    raised_at = serializers.DateTimeField(read_only=True)
    details = serializers.JSONField(read_only=True)
