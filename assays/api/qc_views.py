"""Run QC and control charts over the API: thin views over ``assays.selectors.run_qc``,
``assays.selectors.control_charts`` and ``assays.services.run_qc``.

Reads need a lab staff role (the default permission) and see the runs of the caller's sites; the
three decisions need ``review_run_qc``, and the services check the rest (never the run's analyst, a
reason always), answering 403 or 400 with their own message.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from assays.api.permissions import HasCapability
from assays.api.qc_serializers import (
    ChartQuerySerializer,
    ControlChartSerializer,
    EvaluateSerializer,
    QcEvaluationSerializer,
    ReasonSerializer,
    RunQcQuerySerializer,
    RunQcSerializer,
)
from assays.api.serializers import ErrorSerializer
from assays.errors import DomainError, NotFoundError
from assays.models import QcEvaluation
from assays.permissions import Capability
from assays.selectors.control_charts import method_charts
from assays.selectors.qc_pages import qc_check_of_run, rule_pack_get
from assays.selectors.run_qc import current_evaluation, run_qc_panel
from assays.selectors.runs import run_get
from assays.services.run_qc import qc_check_waive, run_reevaluate, run_reject

CanReviewRunQc = HasCapability.any_of(Capability.REVIEW_RUN_QC)

_RUN_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The run's number.")
_FORBIDDEN = {403: OpenApiResponse(ErrorSerializer, description="Not signed in, or the role does not allow this.")}
_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such run, or not one you may see.")}
_DECISION_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Refused: no reason, or the decision does not apply (the body says why)."),
    403: OpenApiResponse(ErrorSerializer, description="Not QA, or the run's own analyst: another QA user must decide (the body says why)."),
    **_NOT_FOUND,
}


def _current(actor: Any, run_id: int) -> QcEvaluation:
    """The run's current evaluation after a decision, read again through the scoped selectors."""
    evaluation = current_evaluation(run=run_get(actor=actor, run_id=run_id))
    if evaluation is None:  # pragma: no cover - a decision always leaves a current evaluation
        raise NotFoundError(f"run {run_id} has no evaluation")
    return evaluation


class RunQcView(generics.GenericAPIView[Any]):
    serializer_class = RunQcSerializer

    @extend_schema(
        summary="A run's QC: its current evaluation and checks",
        description=(
            "The current judgement of the run (rule pack version, status, note, acceptance counts, QA's rejection of the "
            "whole run) and its checks, each with its waiver if QA accepted it. `evaluation` is null and `checks` empty "
            "while QC is pending. `failed=1`: only the failed checks."
        ),
        parameters=[_RUN_ID, RunQcQuerySerializer],
        responses={200: RunQcSerializer, 400: OpenApiResponse(description="A malformed query parameter."), **_FORBIDDEN, **_NOT_FOUND},
    )
    def get(self, request: Request, id: int) -> Response:
        query = RunQcQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        panel = run_qc_panel(actor=request.user, run_id=id, failed_only=query.validated_data["failed"])
        body = {"run_id": panel.run.pk, "run_status": panel.run.status, "evaluation": panel.evaluation, "checks": panel.checks}
        return Response(RunQcSerializer(body).data)


class QcCheckWaiveView(generics.GenericAPIView[Any]):
    permission_classes = [CanReviewRunQc]
    serializer_class = ReasonSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Accept a failed check, with a reason",
        description=(
            "QA accepts a failed check of the run's current evaluation: its failure no longer rejects anything, and the "
            "run's results are judged again. Never the run's analyst. The answer is the updated evaluation."
        ),
        parameters=[_RUN_ID, OpenApiParameter("check_id", int, OpenApiParameter.PATH, description="The check's id (from the run's QC).")],
        request=ReasonSerializer,
        responses={200: QcEvaluationSerializer, **_DECISION_ERRORS},
    )
    def post(self, request: Request, id: int, check_id: int) -> Response:
        check = qc_check_of_run(actor=request.user, run_id=id, check_id=check_id)  # 404: not a check of this run
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        qc_check_waive(actor=request.user, check_id=check.pk, reason=body.validated_data["reason"])
        return Response(QcEvaluationSerializer(_current(request.user, id)).data)


class RunRejectView(generics.GenericAPIView[Any]):
    permission_classes = [CanReviewRunQc]
    serializer_class = ReasonSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Reject a whole run, with a reason",
        description="QA rejects the run as a whole: none of its results counts, whatever its checks said. Never the run's analyst.",
        parameters=[_RUN_ID],
        request=ReasonSerializer,
        responses={200: QcEvaluationSerializer, **_DECISION_ERRORS},
    )
    def post(self, request: Request, id: int) -> Response:
        run_get(actor=request.user, run_id=id)  # 404 before anything else for a run the caller may not see
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run_reject(actor=request.user, run_id=id, reason=body.validated_data["reason"])
        return Response(QcEvaluationSerializer(_current(request.user, id)).data)


class RunEvaluateView(generics.GenericAPIView[Any]):
    permission_classes = [CanReviewRunQc]
    serializer_class = EvaluateSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Judge a run again, with a reason",
        description=(
            "A new evaluation by `rule_pack_id` (a rule pack version) or, without it, by the latest version of the method's "
            "pack. It becomes the current one; the earlier evaluations stay, and their waivers do not carry over. "
            "The answer is the new evaluation."
        ),
        parameters=[_RUN_ID],
        request=EvaluateSerializer,
        responses={201: QcEvaluationSerializer, **_DECISION_ERRORS},
    )
    def post(self, request: Request, id: int) -> Response:
        run_get(actor=request.user, run_id=id)
        body = EvaluateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule_pack_id = body.validated_data.get("rule_pack_id")
        if rule_pack_id is not None:
            try:
                rule_pack_get(actor=request.user, rule_pack_id=rule_pack_id)
            except NotFoundError as exc:
                # A wrong id in the body is a bad request, not a missing run.
                raise DomainError(str(exc)) from exc
        evaluation = run_reevaluate(actor=request.user, run_id=id, reason=body.validated_data["reason"], rule_pack_id=rule_pack_id)
        return Response(QcEvaluationSerializer(_current(request.user, evaluation.run_id)).data, status=201)


class MethodControlChartsView(generics.GenericAPIView[Any]):
    serializer_class = ControlChartSerializer
    # One chart per analyte and series, all at once: the answer is a plain list (and so documented).
    pagination_class = None

    @extend_schema(
        summary="A method's control charts (CCV and CRM recoveries)",
        description=(
            "One chart per analyte and series (and reference material, for CRMs): the recoveries of the checks of the "
            "current evaluation of every run of the method, in measurement order, with the baseline they are judged "
            "against and the Westgard violations of the points after it."
        ),
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, description="The method code."), ChartQuerySerializer],
        responses={
            200: ControlChartSerializer(many=True),
            400: OpenApiResponse(description="A malformed query parameter."),
            404: OpenApiResponse(ErrorSerializer, description="No such method."),
            **_FORBIDDEN,
        },
    )
    def get(self, request: Request, code: str) -> Response:
        query = ChartQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        analyte = query.validated_data.get("analyte")
        charts = method_charts(actor=request.user, method_code=code, analytes=[analyte] if analyte else None)
        return Response(ControlChartSerializer(charts, many=True).data)
