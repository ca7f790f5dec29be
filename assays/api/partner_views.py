"""The partner API, ``/api/v1/partner/``: a partner's own lots, released results and documents.

Callers are partners only: by API key (``Authorization: Api-Key <key>``, read-only scopes
``lots``, ``results``, ``certificates``) or signed in as a partner user. Staff get 403 here (they
have the lab's API), anyone else 401. Every row comes from ``assays.selectors.partner``, scoped
to the partner the request names; another partner's lot or document is a 404, exactly as one
that does not exist. Every download (results, PDF, certified JSON and CSV) is an audit event.

Lists page with a cursor over an unchanging id, so a sync reads every page once even while new
rows arrive; ``modified_since`` narrows a list to what changed since the caller's last sync.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from assays.api.certificate_views import FileNegotiation, document_file_name, file_download
from assays.api.pagination import ViewOrderedCursorPagination
from assays.api.partner_auth import HasPartnerScope, PartnerAccess, PartnerApiKeyAuthentication, PartnerRateThrottle, partner_access
from assays.api.partner_serializers import (
    DocumentLinks,
    PartnerDocumentFilterSerializer,
    PartnerDocumentSerializer,
    PartnerLotFilterSerializer,
    PartnerLotSerializer,
    PartnerResultFilterSerializer,
    PartnerResultSerializer,
    PartnerVerificationSerializer,
    document_representation,
)
from assays.api.serializers import ErrorSerializer
from assays.api.views import code_from_path
from assays.errors import NotFoundError
from assays.models import ApiScope, Certificate, Lot
from assays.partner_exports import lot_results_csv
from assays.selectors.certificate_payload import verification_url
from assays.selectors.certificates import certificate_for_verification, certificate_pdf_bytes
from assays.selectors.partner import (
    LotFilters,
    document_rows,
    partner_document_get,
    partner_documents,
    partner_lot_get,
    partner_lots,
    partner_results,
    partner_results_past,
)
from assays.services.certificates import certified_data_json, certified_results_csv
from assays.services.partner_downloads import download_record

_AUTH_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No credentials, or an unknown, revoked or expired API key."),
    403: OpenApiResponse(ErrorSerializer, description="Not a partner (staff use the lab's API), or the key lacks the scope."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests for this key: wait Retry-After seconds."),
}
_BAD_PARAMETER = {400: OpenApiResponse(ErrorSerializer, description="A malformed query parameter: the body names it.")}
_LIST_ERRORS = {**_BAD_PARAMETER, **_AUTH_ERRORS}
_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such record, or not yours."), **_AUTH_ERRORS}
_FILE_ERRORS = {(status, "application/json"): response for status, response in _NOT_FOUND.items()}
_LOT_CODE = OpenApiParameter("code", str, OpenApiParameter.PATH, description="The lot code.")
_DOCUMENT_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The document's id (from the certificate list).")


class _ResultCursorPagination(ViewOrderedCursorPagination):
    """The results' cursor, whose bound on ``measurement_id`` is repeated on the measurement's own
    id (``partner_results_past`` says why: without it a page deep in a sync reads every earlier
    measurement)."""

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any] | None:
        # In DRF's order (page size, ordering, cursor), so a bad request gets the same 400.
        if self.get_page_size(request):
            self.ordering = self.get_ordering(request, queryset, view)
            cursor = self.decode_cursor(request)
            if cursor is not None and cursor.position is not None and self.ordering == ("measurement_id",):
                queryset = partner_results_past(queryset, position=cursor.position, descending=cursor.reverse)
        return super().paginate_queryset(queryset, request, view)


class _PartnerView(generics.GenericAPIView[Any]):
    # The key first: it sends the 401 challenge to a caller with no credentials.
    authentication_classes = [PartnerApiKeyAuthentication, SessionAuthentication]
    permission_classes = [HasPartnerScope]
    throttle_classes = [PartnerRateThrottle]
    partner_scope: str = ApiScope.LOTS

    @property
    def access(self) -> PartnerAccess:
        access = partner_access(self.request)
        if access is None:  # HasPartnerScope let the request in only with one
            raise NotFoundError("no partner")
        return access

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "partner": self.access.partner}

    def recordfile_download(self, *, instance: Model, what: str, context: dict[str, Any] | None = None) -> None:
        access = self.access
        user = self.request.user
        download_record(
            partner=access.partner,
            key=access.key,
            user_label=access.username,
            user_id=user.pk if access.key is None else None,
            instance=instance,
            what=what,
            context={"path": self.request.path[:300], **(context or {})},
        )


class PartnerLotListView(_PartnerView, generics.ListAPIView[Lot]):
    serializer_class = PartnerLotSerializer
    pagination_class = ViewOrderedCursorPagination
    ordering = ("id",)

    @extend_schema(
        summary="Your lots: supplied by you (feedstock) or allocated to you (product)",
        description=(
            "Oldest first by id. `released` says whether the lot's report (supplier) or certificate (customer) "
            "has been issued to you; its results and documents are readable from then on."
        ),
        parameters=[PartnerLotFilterSerializer],
        responses={200: PartnerLotSerializer(many=True), **_LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Lot]:
        query = PartnerLotFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        status = wanted.get("status")
        filters = LotFilters(
            product=wanted.get("product"),
            released=None if status is None else status == "released",
            date_from=wanted.get("date_from"),
            date_to=wanted.get("date_to"),
            modified_since=wanted.get("modified_since"),
        )
        return partner_lots(partner=self.access.partner, filters=filters)


class PartnerLotDetailView(_PartnerView):
    serializer_class = PartnerLotSerializer

    @extend_schema(summary="One of your lots", parameters=[_LOT_CODE], responses={200: PartnerLotSerializer, **_NOT_FOUND})
    def get(self, request: Request, code: str) -> Response:
        lot = partner_lot_get(partner=self.access.partner, code=code_from_path(code))
        return Response(self.get_serializer(lot).data)


class PartnerResultListView(_PartnerView, generics.ListAPIView[Any]):
    partner_scope = ApiScope.RESULTS
    serializer_class = PartnerResultSerializer
    pagination_class = _ResultCursorPagination
    ordering = ("measurement_id",)

    @extend_schema(
        summary="Accepted sample results of your released lots, for syncing",
        description=(
            "One row per sample and analyte, by measurement id. A lot's results appear when its report or "
            "certificate is issued to you; those measured after it are added with the next revision. "
            "Each page read is recorded in the lab's audit trail."
        ),
        parameters=[PartnerResultFilterSerializer],
        responses={
            200: PartnerResultSerializer(many=True),
            **_LIST_ERRORS,
            404: OpenApiResponse(ErrorSerializer, description="`lot` names no lot of yours."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        rows = response.data.get("results", []) if isinstance(response.data, dict) else []
        self.recordfile_download(
            instance=self.access.partner,
            what="results",
            context={"rows": len(rows), "lots": sorted({row["lot_code"] for row in rows})[:50]},
        )
        return response

    def get_queryset(self) -> QuerySet[Any, dict[str, Any]]:
        query = PartnerResultFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        lot = None
        if "lot" in wanted:
            lot = partner_lot_get(partner=self.access.partner, code=wanted["lot"])
        return partner_results(partner=self.access.partner, lot=lot, modified_since=wanted.get("modified_since"))


class PartnerLotResultsView(_PartnerView, generics.ListAPIView[Any]):
    partner_scope = ApiScope.RESULTS
    serializer_class = PartnerResultSerializer
    pagination_class = _ResultCursorPagination
    ordering = ("measurement_id",)

    @extend_schema(
        summary="The accepted sample results of one of your released lots (empty until released)",
        parameters=[_LOT_CODE],
        responses={200: PartnerResultSerializer(many=True), **_BAD_PARAMETER, **_NOT_FOUND},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        rows = response.data.get("results", []) if isinstance(response.data, dict) else []
        self.recordfile_download(instance=self._lot(), what="lot results", context={"rows": len(rows)})
        return response

    def _lot(self) -> Lot:
        cached: Lot | None = getattr(self, "_cached_lot", None)
        if cached is None:
            cached = partner_lot_get(partner=self.access.partner, code=code_from_path(self.kwargs["code"]))
            self._cached_lot = cached
        return cached

    def get_queryset(self) -> QuerySet[Any, dict[str, Any]]:
        return partner_results(partner=self.access.partner, lot=self._lot())


class PartnerLotResultsCsvView(_PartnerView):
    partner_scope = ApiScope.RESULTS
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FileNegotiation

    @extend_schema(
        summary="The accepted sample results of one of your released lots as CSV",
        operation_id="partner_lots_results_csv_retrieve",
        description="UTF-8, CRLF line ends, one row per sample and analyte; the columns are the JSON's fields.",
        parameters=[_LOT_CODE],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The results."), **_FILE_ERRORS},
    )
    def get(self, request: Request, code: str) -> HttpResponse:
        lot = partner_lot_get(partner=self.access.partner, code=code_from_path(code))
        # Built where the portal builds it too (assays.partner_exports): one format for both doors.
        export = lot_results_csv(partner=self.access.partner, lot=lot)
        self.recordfile_download(instance=lot, what="lot results csv", context={"rows": export.rows})
        return file_download(export.body, content_type="text/csv; charset=utf-8", file_name=export.file_name)


class PartnerDocumentListView(_PartnerView, generics.ListAPIView[Any]):
    partner_scope = ApiScope.CERTIFICATES
    serializer_class = PartnerDocumentSerializer
    pagination_class = ViewOrderedCursorPagination
    ordering = ("id",)

    @extend_schema(
        summary="Certificates (customers) and reports (suppliers) of analysis issued to you",
        description="Oldest first by id; superseded and revoked ones stay listed with their status.",
        parameters=[PartnerDocumentFilterSerializer],
        responses={200: PartnerDocumentSerializer(many=True), **_LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Certificate, dict[str, Any]]:
        query = PartnerDocumentFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        documents = partner_documents(
            partner=self.access.partner,
            kind=wanted.get("kind"),
            lot_code=wanted.get("lot"),
            status=wanted.get("status"),
            modified_since=wanted.get("modified_since"),
        )
        return document_rows(documents)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = self.paginate_queryset(self.get_queryset())
        assert rows is not None  # always paginated
        links = DocumentLinks()
        return self.get_paginated_response([document_representation(row, links=links) for row in rows])


class PartnerDocumentDetailView(_PartnerView):
    partner_scope = ApiScope.CERTIFICATES
    serializer_class = PartnerDocumentSerializer

    @extend_schema(
        summary="One certificate or report issued to you",
        parameters=[_DOCUMENT_ID],
        responses={200: PartnerDocumentSerializer, **_NOT_FOUND},
    )
    def get(self, request: Request, id: int) -> Response:
        row = document_rows(partner_documents(partner=self.access.partner).filter(pk=id)).first()
        if row is None:
            raise NotFoundError("no such certificate or report")
        return Response(document_representation(row, links=DocumentLinks()))


class _PartnerFileView(_PartnerView):
    partner_scope = ApiScope.CERTIFICATES
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FileNegotiation


class PartnerDocumentPdfView(_PartnerFileView):
    @extend_schema(
        summary="The signed PDF/A-3b, as issued",
        description="Checked against its SHA-256 (`pdf_sha256`) before it is sent.",
        parameters=[_DOCUMENT_ID],
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The signed PDF."), **_FILE_ERRORS},
    )
    def get(self, request: Request, id: int) -> HttpResponse:
        document = partner_document_get(partner=self.access.partner, pk=id)
        body = certificate_pdf_bytes(document)
        self.recordfile_download(instance=document, what="pdf", context={"sha256": document.pdf_sha256})
        response = file_download(body, content_type="application/pdf", file_name=document_file_name(document, ".pdf"))
        response["ETag"] = f'"{document.pdf_sha256}"'
        return response


class PartnerDocumentDataView(_PartnerFileView):
    @extend_schema(
        summary="The certified data as JSON: the payload the PDF was rendered from, byte for byte its attachment",
        parameters=[_DOCUMENT_ID],
        responses={(200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The certificate payload."), **_FILE_ERRORS},
    )
    def get(self, request: Request, id: int) -> HttpResponse:
        document = partner_document_get(partner=self.access.partner, pk=id)
        self.recordfile_download(instance=document, what="certified json")
        response = HttpResponse(certified_data_json(document), content_type="application/json")
        response["Content-Disposition"] = f'inline; filename="{document_file_name(document, "-data.json")}"'
        response["Cache-Control"] = "private, no-store"
        return response


class PartnerDocumentDataCsvView(_PartnerFileView):
    @extend_schema(
        summary="The certified results as CSV, as attached to the PDF",
        operation_id="partner_certificates_data_csv_retrieve",
        parameters=[_DOCUMENT_ID],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The certified results."), **_FILE_ERRORS},
    )
    def get(self, request: Request, id: int) -> HttpResponse:
        document = partner_document_get(partner=self.access.partner, pk=id)
        self.recordfile_download(instance=document, what="certified csv")
        return file_download(
            certified_results_csv(document), content_type="text/csv; charset=utf-8", file_name=document_file_name(document, "-results.csv")
        )


class PartnerDocumentVerificationView(_PartnerView):
    partner_scope = ApiScope.CERTIFICATES
    serializer_class = PartnerVerificationSerializer

    @extend_schema(
        summary="Whether the document is valid, superseded or revoked, as its public verification page says",
        parameters=[_DOCUMENT_ID],
        responses={200: PartnerVerificationSerializer, **_NOT_FOUND},
    )
    def get(self, request: Request, id: int) -> Response:
        document = partner_document_get(partner=self.access.partner, pk=id)
        view = certificate_for_verification(token=document.verification_token or "")
        if view is None:
            raise NotFoundError("no such certificate or report")
        successor = view.superseded_by
        body = {
            "status": view.status,
            "status_text": view.status_text,
            "number": document.number,
            "revision": document.revision,
            "pdf_sha256": document.pdf_sha256,
            # The successor is the same partner's (same lot, same addressee) once issued.
            "superseded_by": {"id": successor.pk, "number": successor.number, "revision": successor.revision} if successor else None,
            "verification_page": verification_url(document.verification_token or ""),
        }
        return Response(PartnerVerificationSerializer(body).data)
