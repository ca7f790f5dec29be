"""Lot assessments and flags over the API: thin views over ``assays.selectors.assessments``.

Assessments are not released to partners yet: a partner user reads the assessment of even its own
lot as 404, exactly as an unassessed or invisible lot (the selector returns none for partners), so
releasing them later changes no status code. Flags are the lab's: lab staff only (the default).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from assays.api.assessment_serializers import FlagFilterSerializer, FlagSerializer, LotAssessmentSerializer
from assays.api.pagination import ViewOrderedCursorPagination
from assays.api.permissions import CanReadLots
from assays.api.serializers import ErrorSerializer
from assays.errors import NotFoundError
from assays.models import Flag
from assays.selectors.assessments import assessment_json, flag_list, lot_assessment_latest
from assays.selectors.lots import lot_get

_FORBIDDEN = {403: OpenApiResponse(ErrorSerializer, description="Not signed in, or not lab staff.")}


class LotAssessmentView(generics.GenericAPIView[Any]):
    permission_classes = [CanReadLots]
    serializer_class = LotAssessmentSerializer

    @extend_schema(
        summary="The lot's latest assessment against its specification",
        description=(
            "The same body as `manage.py assess_lot LOT --json`: every line's best estimate and expanded "
            "uncertainty at full precision, its limit as written, verdict and reason."
        ),
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, description="The lot code.")],
        responses={
            200: LotAssessmentSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such lot, not one you may see, or not assessed yet."),
            **_FORBIDDEN,
        },
    )
    def get(self, request: Request, code: str) -> Response:
        if "\x00" in code:  # PostgreSQL refuses a NUL byte; no stored code holds one
            raise NotFoundError("no such lot")
        lot = lot_get(actor=request.user, code=code)
        assessment = lot_assessment_latest(actor=request.user, lot=lot)
        if assessment is None:
            raise NotFoundError(f"lot {lot.code!r} has not been assessed yet")
        return Response(assessment_json(assessment))


class FlagListView(generics.ListAPIView[Flag]):
    serializer_class = FlagSerializer
    pagination_class = ViewOrderedCursorPagination
    ordering = ("-raised_at", "-id")

    @extend_schema(
        summary="Flags you may see, newest first",
        description="Lot flags of your sites' lots, run flags of your sites' runs, and method flags.",
        parameters=[FlagFilterSerializer],
        responses={200: FlagSerializer(many=True), 400: OpenApiResponse(description="A malformed query parameter."), **_FORBIDDEN},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Flag]:
        filters = FlagFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        flags = flag_list(actor=self.request.user)
        if "lot" in wanted:
            flags = flags.filter(lot__code=wanted["lot"])
        if "status" in wanted:
            flags = flags.filter(status=wanted["status"])
        if "kind" in wanted:
            flags = flags.filter(kind=wanted["kind"])
        return flags
