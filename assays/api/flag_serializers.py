"""Representations of one flag with its history, and of a lot after QA's hold decision."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from assays.api.assessment_serializers import FlagSerializer
from assays.models import LotStatus


class FlagDetailSerializer(FlagSerializer):
    raised_by = serializers.CharField(source="raised_by.username", read_only=True, allow_null=True, help_text="Null: a worker raised it.")
    acknowledged_at = serializers.DateTimeField(read_only=True, allow_null=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", read_only=True, allow_null=True)
    acknowledgement_reason = serializers.CharField(read_only=True, allow_blank=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_by = serializers.CharField(source="resolved_by.username", read_only=True, allow_null=True)
    resolution_reason = serializers.CharField(read_only=True, allow_blank=True)


class LotHoldDecisionSerializer(serializers.Serializer[Any]):
    lot = serializers.CharField(help_text="Lot code.")
    status = serializers.ChoiceField(choices=LotStatus.choices, help_text="The lot's state after the decision.")
    flags = FlagDetailSerializer(many=True, help_text="The lot's flags, newest first (a rejection resolves the unresolved ones).")
