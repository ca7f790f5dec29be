"""QA's decisions over the API: one flag, acknowledging and resolving it, and releasing a lot from
hold or rejecting it. Thin views over ``assays.selectors.qa_dashboard`` and ``assays.services.flags``.

Who may see what is the lab-only selectors' business and comes first: a flag or lot outside the
caller's sites, or any for a partner user, is 404, exactly like a missing one (as for a lot's
assessment). The role check follows in the service: lab staff who may see the record but not act
on flags (technicians, lab admins) get 403. A refusal by the rules (no reason, a resolved flag,
a lot still held by its flags or assessment) is 400 with the service's message.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from assays.api.flag_serializers import FlagDetailSerializer, LotHoldDecisionSerializer
from assays.api.permissions import CanReadLots
from assays.api.qc_serializers import ReasonSerializer
from assays.api.serializers import ErrorSerializer
from assays.errors import NotFoundError, PermissionDeniedError
from assays.models import Flag, Lot
from assays.permissions import Capability, can
from assays.selectors.qa_dashboard import flag_get, qa_lot_get
from assays.services.flags import flag_acknowledge, flag_resolve, lot_hold_release, lot_reject

_FLAG_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The flag's id (from GET /api/v1/flags/).")
_LOT_CODE = OpenApiParameter("code", str, OpenApiParameter.PATH, description="The lot code (it may hold a slash).")
_FORBIDDEN = {403: OpenApiResponse(ErrorSerializer, description="Not signed in, or the role does not act on flags (the body says why).")}
_FLAG_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such flag, or not one you may see.")}
_LOT_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such lot, or not one you may see.")}
_REFUSED = {400: OpenApiResponse(ErrorSerializer, description="Refused: no reason, or the rules do not allow it now (the body says why).")}
_MAX_CODE = 200  # far beyond a lot code (40); a longer path is simply not a lot


def _flag(request: Request, flag_id: int) -> Flag:
    return flag_get(actor=request.user, flag_id=flag_id)


def _lot(request: Request, code: str) -> Lot:
    if len(code) > _MAX_CODE:
        raise NotFoundError("no such lot")
    return qa_lot_get(actor=request.user, code=code)


def _reason(request: Request) -> str:
    """The posted reason; the role is checked first, so a technician hears "not your role" rather
    than a complaint about the body (the service checks the role again, under its transaction)."""
    if not can(request.user, Capability.ACT_ON_FLAGS):
        raise PermissionDeniedError("only QA may act on flags and holds")
    body = ReasonSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    reason: str = body.validated_data["reason"]
    return reason


def _lot_answer(request: Request, lot: Lot) -> Response:
    fresh = qa_lot_get(actor=request.user, code=lot.code)
    flags = (
        Flag.objects.filter(lot=fresh).select_related("lot", "raised_by", "acknowledged_by", "resolved_by").order_by("-raised_at", "-id")
    )
    return Response(LotHoldDecisionSerializer({"lot": fresh.code, "status": fresh.status, "flags": list(flags)}).data)


class FlagDetailView(generics.GenericAPIView[Any]):
    # Partners pass the role check so that they get the same 404 as for a flag that does not exist.
    permission_classes = [CanReadLots]
    serializer_class = FlagDetailSerializer

    @extend_schema(
        summary="One flag, with who acknowledged or resolved it and why",
        parameters=[_FLAG_ID],
        responses={200: FlagDetailSerializer, **_FLAG_NOT_FOUND, **_FORBIDDEN},
    )
    def get(self, request: Request, id: int) -> Response:
        return Response(FlagDetailSerializer(_flag(request, id)).data)


class FlagAcknowledgeView(generics.GenericAPIView[Any]):
    permission_classes = [CanReadLots]
    serializer_class = ReasonSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Acknowledge an open flag, with a reason",
        description="QA has seen the flag: open → acknowledged. It still holds its lot until resolved. The answer is the flag.",
        parameters=[_FLAG_ID],
        request=ReasonSerializer,
        responses={200: FlagDetailSerializer, **_REFUSED, **_FORBIDDEN, **_FLAG_NOT_FOUND},
    )
    def post(self, request: Request, id: int) -> Response:
        flag = _flag(request, id)  # 404 before anything else for a flag the caller may not see
        flag_acknowledge(actor=request.user, flag=flag, reason=_reason(request))
        return Response(FlagDetailSerializer(_flag(request, id)).data)


class FlagResolveView(generics.GenericAPIView[Any]):
    permission_classes = [CanReadLots]
    serializer_class = ReasonSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Resolve a flag, with a reason",
        description=(
            "Open or acknowledged → resolved; resolved is final. Resolving a lot's last flag does not release the lot: "
            "that is `POST /api/v1/lots/{code}/release-hold/`. The answer is the flag."
        ),
        parameters=[_FLAG_ID],
        request=ReasonSerializer,
        responses={200: FlagDetailSerializer, **_REFUSED, **_FORBIDDEN, **_FLAG_NOT_FOUND},
    )
    def post(self, request: Request, id: int) -> Response:
        flag = _flag(request, id)
        flag_resolve(actor=request.user, flag=flag, reason=_reason(request))
        return Response(FlagDetailSerializer(_flag(request, id)).data)


class LotReleaseHoldView(generics.GenericAPIView[Any]):
    permission_classes = [CanReadLots]
    serializer_class = ReasonSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Release a lot from hold, with a reason",
        description=(
            "On hold → assessed, by QA, only when the lot has no open or acknowledged flag and its latest assessment is "
            "conforming (or a report of analysis without verdict) and up to date; otherwise 400 saying what still holds it."
        ),
        parameters=[_LOT_CODE],
        request=ReasonSerializer,
        responses={200: LotHoldDecisionSerializer, **_REFUSED, **_FORBIDDEN, **_LOT_NOT_FOUND},
    )
    def post(self, request: Request, code: str) -> Response:
        lot = _lot(request, code)
        lot_hold_release(actor=request.user, lot=lot, reason=_reason(request))
        return _lot_answer(request, lot)


class LotRejectView(generics.GenericAPIView[Any]):
    permission_classes = [CanReadLots]
    serializer_class = ReasonSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Reject a lot on hold, with a reason",
        description="On hold → rejected, by QA; final. The lot's unresolved flags are resolved with the same reason.",
        parameters=[_LOT_CODE],
        request=ReasonSerializer,
        responses={200: LotHoldDecisionSerializer, **_REFUSED, **_FORBIDDEN, **_LOT_NOT_FOUND},
    )
    def post(self, request: Request, code: str) -> Response:
        lot = _lot(request, code)
        lot_reject(actor=request.user, lot=lot, reason=_reason(request))
        return _lot_answer(request, lot)
