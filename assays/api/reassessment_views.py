"""Reassessments over the API: a product's lots reassessed against its active specification
(``assays.services.reassessment``), and the progress of one.

Reading a reassessment needs a lab staff role (the default); asking for one needs a QA manager or a
lab admin (403 for anyone else, with the service's message when it is the service that refuses).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from assays.api.permissions import HasCapability
from assays.api.serializers import ErrorSerializer
from assays.errors import NotFoundError
from assays.models import Reassessment, ReassessmentStatus
from assays.permissions import Capability
from assays.selectors.reassessments import reassessment_get
from assays.services.reassessment import product_reassess

CanReassess = HasCapability.any_of(Capability.MANAGE_SPECS, Capability.MANAGE_MASTER_DATA)

_MAX_REASON = 2000
_FORBIDDEN = {403: OpenApiResponse(ErrorSerializer, description="Not signed in, or the role does not allow this.")}


class ReassessmentSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    product = serializers.CharField(help_text="Product code.")
    spec_version = serializers.IntegerField(help_text="The specification version active when it was asked for.")
    status = serializers.ChoiceField(choices=ReassessmentStatus.choices)
    requested_by = serializers.CharField(allow_null=True, help_text="Username; null when the system asked (a specification activated).")
    reason = serializers.CharField()
    requested_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    total_lots = serializers.IntegerField(help_text="Lots of the product when it was asked for.")
    done_lots = serializers.IntegerField(help_text="Lots looked at so far.")
    changed_lots = serializers.IntegerField(help_text="Lots given a new assessment (their inputs or specification changed).")
    failed_lots = serializers.IntegerField(help_text="Lots that could not be assessed (the worker log says why).")
    percent_done = serializers.IntegerField(help_text="Whole percent of the lots looked at.")


class ReassessRequestSerializer(serializers.Serializer[Any]):
    # Blank is let through: the service refuses it with its own message ("a reason is required").
    reason = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=_MAX_REASON, help_text="Why; required, not blank.")


def reassessment_json(reassessment: Reassessment) -> dict[str, Any]:
    requester = reassessment.requested_by
    return {
        "id": reassessment.pk,
        "product": reassessment.product.code,
        "spec_version": reassessment.specification.version,
        "status": reassessment.status,
        "requested_by": requester.get_username() if requester is not None else None,
        "reason": reassessment.reason,
        "requested_at": reassessment.requested_at,
        "started_at": reassessment.started_at,
        "finished_at": reassessment.finished_at,
        "total_lots": reassessment.total_lots,
        "done_lots": reassessment.done_lots,
        "changed_lots": reassessment.changed_lots,
        "failed_lots": reassessment.failed_lots,
        "percent_done": reassessment.percent_done,
    }


class ReassessmentDetailView(generics.GenericAPIView[Any]):
    serializer_class = ReassessmentSerializer

    @extend_schema(
        summary="A reassessment and its progress",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The reassessment's number.")],
        responses={200: ReassessmentSerializer, 404: OpenApiResponse(ErrorSerializer, description="No such reassessment."), **_FORBIDDEN},
    )
    def get(self, request: Request, id: int) -> Response:
        reassessment = reassessment_get(actor=request.user, reassessment_id=id)
        return Response(ReassessmentSerializer(reassessment_json(reassessment)).data)


class ProductReassessView(generics.GenericAPIView[Any]):
    permission_classes = [CanReassess]
    serializer_class = ReassessRequestSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Reassess every lot of a product against its active specification",
        description=(
            "The lots are cut into chunks that the workers assess; poll `GET /api/v1/reassessments/{id}/` for the progress. "
            "While a reassessment of the same specification version is still queued or running, that one is answered."
        ),
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, description="The product code.")],
        request=ReassessRequestSerializer,
        responses={
            202: ReassessmentSerializer,
            400: OpenApiResponse(ErrorSerializer, description="No reason, or the product has no active specification."),
            404: OpenApiResponse(ErrorSerializer, description="No such product."),
            **_FORBIDDEN,
        },
    )
    def post(self, request: Request, code: str) -> Response:
        if "\x00" in code:  # PostgreSQL refuses a NUL byte; no stored code holds one
            raise NotFoundError("no such product")
        body = ReassessRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reassessment = product_reassess(actor=request.user, product_code=code, reason=body.validated_data["reason"])
        # Read again: in the embedded mode the chunks have already run by now.
        fresh = reassessment_get(actor=request.user, reassessment_id=reassessment.pk)
        return Response(ReassessmentSerializer(reassessment_json(fresh)).data, status=202)
