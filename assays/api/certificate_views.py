"""Certificates and reports of analysis over the API: metadata, the signed PDF and the certified data.

Lab staff only for now. Who sees what is ``assays.selectors.certificates``: staff read the
certificates of the lots at their sites (QA managers and lab admins: every site), technicians
included, since a certificate is the lab's own issued record and reading it changes nothing.
Partner users pass the role check so that they get what they will get for a certificate not
yet released to them: an empty list and 404, exactly as for one that does not exist (the
partner side comes with partner access, and then changes no status code).

The files of a certificate (PDF, JSON, CSV) are served only once the signed PDF is stored:
before that the certificate is signed but not issued, and every byte the API hands out is one
a signed document carries. The JSON and CSV are byte for byte the PDF's attachments.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from assays.api.certificate_serializers import CertificateDetailSerializer, CertificateFilterSerializer, CertificateSerializer
from assays.api.pagination import ViewOrderedCursorPagination
from assays.api.permissions import CanReadLots
from assays.api.serializers import ErrorSerializer
from assays.errors import NotFoundError
from assays.models import Certificate
from assays.selectors.certificates import certificate_get, certificate_list, certificate_pdf_bytes
from assays.services.certificates import certified_data_json, certified_results_csv

_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The certificate's id (from GET /api/v1/certificates/).")
_FORBIDDEN_TEXT = "Not signed in, or no LIMS role."
_NOT_FOUND_TEXT = "No such certificate, or not one you may see."
_NOT_RENDERED_TEXT = _NOT_FOUND_TEXT + " Also while the signed PDF is being made (status `rendering`)."


def _certificate(request: Request, certificate_id: int) -> Certificate:
    certificate = certificate_get(actor=request.user, pk=certificate_id)
    if certificate is None:
        raise NotFoundError("no such certificate")
    return certificate


def _rendered(request: Request, certificate_id: int) -> Certificate:
    certificate = _certificate(request, certificate_id)
    if not certificate.pdf_sha256:
        raise NotFoundError(f"{certificate.number} rev {certificate.revision} is signed but its PDF is not made yet: try again shortly")
    return certificate


def document_file_name(certificate: Certificate, suffix: str) -> str:
    return f"{certificate.number}-rev{certificate.revision}{suffix}"


def file_download(body: bytes, *, content_type: str, file_name: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    # Certified content is not public: never kept by a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


class FileNegotiation(BaseContentNegotiation):
    """A file endpoint answers its file whatever the Accept header asks (a PDF client may send
    ``Accept: application/pdf``), and its errors as JSON, never 406."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class _FileView(generics.GenericAPIView[Any]):
    permission_classes = [CanReadLots]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FileNegotiation


class CertificateListView(generics.ListAPIView[Certificate]):
    # Partners pass the role check so that they get an empty list, as if there were no certificates.
    permission_classes = [CanReadLots]
    serializer_class = CertificateSerializer
    pagination_class = ViewOrderedCursorPagination
    # issued_at is set when QA signs and never changes after (the database guard).
    ordering = ("-issued_at", "-id")

    @extend_schema(
        summary="Certificates and reports of analysis you may see, newest first",
        description="Every revision is listed: filter by `number` for one certificate's history.",
        parameters=[CertificateFilterSerializer],
        responses={
            200: CertificateSerializer(many=True),
            400: OpenApiResponse(description="A malformed query parameter: the body names it."),
            403: OpenApiResponse(ErrorSerializer, description=_FORBIDDEN_TEXT),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Certificate]:
        filters = CertificateFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        certificates = certificate_list(actor=self.request.user)
        if "lot" in wanted:
            certificates = certificates.filter(lot__code=wanted["lot"])
        if "status" in wanted:
            certificates = certificates.filter(status=wanted["status"])
        if "kind" in wanted:
            certificates = certificates.filter(kind=wanted["kind"])
        if "number" in wanted:
            certificates = certificates.filter(number=wanted["number"].strip().upper())
        return certificates


class CertificateDetailView(generics.GenericAPIView[Certificate]):
    permission_classes = [CanReadLots]
    serializer_class = CertificateDetailSerializer

    @extend_schema(
        summary="One certificate: number, revision, status, signature, amendment and revocation, PDF digest",
        parameters=[_ID],
        responses={
            200: CertificateDetailSerializer,
            404: OpenApiResponse(ErrorSerializer, description=_NOT_FOUND_TEXT),
            403: OpenApiResponse(ErrorSerializer, description=_FORBIDDEN_TEXT),
        },
    )
    def get(self, request: Request, id: int) -> Response:
        return Response(self.get_serializer(_certificate(request, id)).data)


class CertificatePdfView(_FileView):
    @extend_schema(
        summary="The signed PDF/A-3b, as issued",
        description=(
            "The stored file, byte for byte: its SHA-256 is `pdf_sha256` of the certificate and the verification page's. "
            "It is checked against that digest before it is sent; a file that does not match is not sent (404)."
        ),
        parameters=[_ID],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The signed PDF."),
            (404, "application/json"): OpenApiResponse(ErrorSerializer, description=_NOT_RENDERED_TEXT),
            (403, "application/json"): OpenApiResponse(ErrorSerializer, description=_FORBIDDEN_TEXT),
        },
    )
    def get(self, request: Request, id: int) -> HttpResponse:
        certificate = _certificate(request, id)
        body = certificate_pdf_bytes(certificate)
        response = file_download(body, content_type="application/pdf", file_name=document_file_name(certificate, ".pdf"))
        response["ETag"] = f'"{certificate.pdf_sha256}"'
        return response


class CertificateDataView(_FileView):
    @extend_schema(
        summary="The certified data as JSON: exactly the payload the PDF was rendered from",
        description=(
            "Byte for byte the JSON file attached to the PDF (`…-data.json`): lab, lot, samples, methods, results as "
            "reported (rounded per REO-ASSAY.md §5), summary, provenance, signature and verification URL. "
            "The certified results as CSV (the PDF's other attachment) are at `data.csv` beside this."
        ),
        parameters=[_ID],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The certificate payload (schema version 1)."),
            (404, "application/json"): OpenApiResponse(ErrorSerializer, description=_NOT_RENDERED_TEXT),
            (403, "application/json"): OpenApiResponse(ErrorSerializer, description=_FORBIDDEN_TEXT),
        },
    )
    def get(self, request: Request, id: int) -> HttpResponse:
        certificate = _rendered(request, id)
        response = HttpResponse(certified_data_json(certificate), content_type="application/json")
        response["Content-Disposition"] = f'inline; filename="{document_file_name(certificate, "-data.json")}"'
        response["Cache-Control"] = "private, no-store"
        return response


class CertificateDataCsvView(_FileView):
    @extend_schema(
        summary="The certified results as CSV, as attached to the PDF",
        operation_id="certificates_data_csv_retrieve",
        description=(
            "One row per reported quantity: certificate, revision, lot, quantity, unit, result, expanded_uncertainty_k2, "
            "limit, verdict, accredited. UTF-8, CRLF line ends; byte for byte the PDF's `…-results.csv` attachment."
        ),
        parameters=[_ID],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The certified results."),
            (404, "application/json"): OpenApiResponse(ErrorSerializer, description=_NOT_RENDERED_TEXT),
            (403, "application/json"): OpenApiResponse(ErrorSerializer, description=_FORBIDDEN_TEXT),
        },
    )
    def get(self, request: Request, id: int) -> HttpResponse:
        certificate = _rendered(request, id)
        return file_download(
            certified_results_csv(certificate),
            content_type="text/csv; charset=utf-8",
            file_name=document_file_name(certificate, "-results.csv"),
        )
