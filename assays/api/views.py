"""Read endpoints for lots and samples. Thin: parse the query, ask a selector (which scopes by the caller),
serialize. A record the caller may not see answers 404, exactly like a missing one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from assays.api.pagination import ViewOrderedCursorPagination
from assays.api.permissions import CanReadLots
from assays.api.serializers import (
    ErrorSerializer,
    LotDetailSerializer,
    LotFilterSerializer,
    LotSerializer,
    SampleFilterSerializer,
    SampleSerializer,
    Viewer,
)
from assays.errors import NotFoundError
from assays.models import Lot, Sample
from assays.roles import is_staff_member
from assays.selectors.lot_detail import lot_allocations, lot_inputs
from assays.selectors.lots import lot_get, lot_list
from assays.selectors.samples import sample_get, sample_list
from assays.selectors.scoping import acting_partner

_FORBIDDEN = {403: OpenApiResponse(ErrorSerializer, description="Not signed in, or the role does not allow this.")}
_LIST_ERRORS = {400: OpenApiResponse(description="A malformed query parameter: the body names it."), **_FORBIDDEN}
_DETAIL_ERRORS = {404: OpenApiResponse(ErrorSerializer, description="No such record, or not one you may see."), **_FORBIDDEN}


def _viewer(actor: User | AnonymousUser) -> Viewer:
    partner = acting_partner(actor=actor)
    is_lab = is_staff_member(actor) or bool(actor.is_authenticated and actor.is_superuser)
    return Viewer(is_lab=is_lab, partner_id=partner.pk if partner is not None else None)


def _code_from_path(raw: str) -> str:
    # PostgreSQL refuses a NUL byte in a query parameter; no stored code holds one, so it is simply absent.
    if "\x00" in raw or len(raw) > 40:
        raise NotFoundError(f"no record {raw[:40]!r}")
    return raw


def _code_parameter(what: str) -> OpenApiParameter:
    return OpenApiParameter("code", str, OpenApiParameter.PATH, description=f"The {what} code.")


class LotListView(generics.ListAPIView[Lot]):
    permission_classes = [CanReadLots]
    serializer_class = LotSerializer
    pagination_class = ViewOrderedCursorPagination
    ordering = ("-created_at", "code")

    @extend_schema(
        summary="Lots you may see, newest first",
        parameters=[LotFilterSerializer],
        responses={200: LotSerializer(many=True), **_LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Lot]:
        filters = LotFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        lots = lot_list(actor=self.request.user)
        if "status" in wanted:
            lots = lots.filter(status=wanted["status"])
        if "kind" in wanted:
            lots = lots.filter(kind=wanted["kind"])
        if "site" in wanted:
            lots = lots.filter(site__code=wanted["site"])
        if "product" in wanted:
            lots = lots.filter(product__code=wanted["product"])
        return lots

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "viewer": _viewer(self.request.user)}


class LotDetailView(generics.GenericAPIView[Lot]):
    permission_classes = [CanReadLots]
    serializer_class = LotDetailSerializer

    @extend_schema(
        summary="One lot with its samples, genealogy inputs and allocations",
        parameters=[_code_parameter("lot")],
        responses={200: LotDetailSerializer, **_DETAIL_ERRORS},
    )
    def get(self, request: Request, code: str) -> Response:
        actor = request.user
        lot = lot_get(actor=actor, code=_code_from_path(code))
        serializer = self.get_serializer(
            lot,
            context={
                **self.get_serializer_context(),
                "viewer": _viewer(actor),
                # The lot page of the API lists the samples the caller can also open at /samples/{code}/.
                "samples": list(sample_list(actor=actor).filter(lot=lot)),
                "inputs": list(lot_inputs(actor=actor, lot=lot)),
                "allocations": list(lot_allocations(actor=actor, lot=lot)),
            },
        )
        return Response(serializer.data)


class SampleListView(generics.ListAPIView[Sample]):
    permission_classes = [CanReadLots]
    serializer_class = SampleSerializer
    pagination_class = ViewOrderedCursorPagination
    ordering = ("code",)

    @extend_schema(
        summary="Samples you may see, by code",
        parameters=[SampleFilterSerializer],
        responses={200: SampleSerializer(many=True), **_LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Sample]:
        filters = SampleFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        samples = sample_list(actor=self.request.user)
        if "lot" in wanted:
            samples = samples.filter(lot__code=wanted["lot"])
        if "status" in wanted:
            samples = samples.filter(status=wanted["status"])
        return samples


class SampleDetailView(generics.GenericAPIView[Sample]):
    permission_classes = [CanReadLots]
    serializer_class = SampleSerializer

    @extend_schema(
        summary="One sample",
        parameters=[_code_parameter("sample")],
        responses={200: SampleSerializer, **_DETAIL_ERRORS},
    )
    def get(self, request: Request, code: str) -> Response:
        sample = sample_get(actor=request.user, code=_code_from_path(code))
        return Response(self.get_serializer(sample).data)
