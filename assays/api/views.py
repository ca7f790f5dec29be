"""Read endpoints for lots and samples. Thin: parse the query, ask a selector (which scopes by the caller),
serialize. A record the caller may not see answers 404, exactly like a missing one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from assays.api.pagination import ViewOrderedCursorPagination
from assays.api.permissions import CanReadLots, CanRegisterSamples, HasCapability
from assays.api.serializers import (
    ErrorSerializer,
    ImportSummarySerializer,
    LotDetailSerializer,
    LotFilterSerializer,
    LotSerializer,
    RunFilterSerializer,
    RunSerializer,
    RunUploadSerializer,
    SampleFilterSerializer,
    SampleRegistrationQuerySerializer,
    SampleRegistrationSerializer,
    SampleSerializer,
    SampleSheetRowSerializer,
    SampleSheetUploadSerializer,
    Viewer,
)
from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.file_names import clean_file_name
from assays.importers.core import ImportFormatError
from assays.importers.sample_sheet import SampleSheet, parse_sample_sheet, sheet_from_records
from assays.models import Lot, Run, Sample
from assays.permissions import Capability
from assays.roles import is_staff_member
from assays.selectors.lot_detail import lot_allocations, lot_inputs
from assays.selectors.lots import lot_get, lot_list
from assays.selectors.runs import instrument_get, method_get, run_get, run_list
from assays.selectors.samples import sample_get, sample_list
from assays.selectors.scoping import acting_partner
from assays.services.registration import samples_register_sheet
from assays.services.runs import run_import

_FORBIDDEN = {403: OpenApiResponse(ErrorSerializer, description="Not signed in, or the role does not allow this.")}


def _upload_refused(summary_component: str, description: str) -> dict[int, OpenApiResponse]:
    """An upload's 400: its content refused (the summary with ``errors`` and ``detail``), or the request
    itself malformed (no file, a missing field, JSON that does not parse: ``detail`` and the fields
    named, as every error). anyOf, since both have the ``detail`` every error body has."""
    refused = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
    schema = {
        "anyOf": [
            {"allOf": [{"$ref": f"#/components/schemas/{summary_component}"}, refused]},
            {"$ref": "#/components/schemas/Error"},
        ]
    }
    return {400: OpenApiResponse(schema, description=description)}


_LIST_ERRORS = {400: OpenApiResponse(description="A malformed query parameter: the body names it."), **_FORBIDDEN}
# A sample sheet is typed or exported by a person; far larger is the wrong file.
MAX_SHEET_BYTES = 10 * 1024 * 1024
_DETAIL_ERRORS = {404: OpenApiResponse(ErrorSerializer, description="No such record, or not one you may see."), **_FORBIDDEN}


def _viewer(actor: User | AnonymousUser) -> Viewer:
    partner = acting_partner(actor=actor)
    is_lab = is_staff_member(actor) or bool(actor.is_authenticated and actor.is_superuser)
    return Viewer(is_lab=is_lab, partner_id=partner.pk if partner is not None else None)


def code_from_path(raw: str) -> str:
    """A lot or sample code from a URL, or 404 for one no stored code can equal."""
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
        lot = lot_get(actor=actor, code=code_from_path(code))
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


# GET lists the samples the caller may see; POST registers a sample sheet (technicians only).
# (A comment, not a docstring: drf-spectacular would print a docstring as the GET's description.)
class SampleListView(generics.ListAPIView[Sample]):
    permission_classes = [CanReadLots]
    serializer_class = SampleSerializer
    pagination_class = ViewOrderedCursorPagination
    parser_classes = [JSONParser, MultiPartParser]
    ordering = ("code",)

    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "POST":
            return [CanRegisterSamples()]
        return super().get_permissions()

    @extend_schema(
        summary="Register samples (a sample sheet), creating the lots they name",
        description=(
            "All rows or none: every row is checked, and any error answers 400 listing them all, with nothing written. "
            "A sample already registered exactly as described is left unchanged, so the same sheet sent twice changes nothing. "
            "Send either a JSON list of row objects or a CSV file as multipart `file` (docs/import-formats.md, 'Sample sheet'). "
            "201 when samples were written; 200 for a dry run or a sheet whose samples were all registered already."
        ),
        parameters=[SampleRegistrationQuerySerializer],
        request={"application/json": SampleSheetRowSerializer(many=True), "multipart/form-data": SampleSheetUploadSerializer},
        responses={
            201: SampleRegistrationSerializer,
            200: SampleRegistrationSerializer,
            **_upload_refused(
                "SampleRegistration", "Errors in the sheet (each with line and column), or a malformed request (the field named)."
            ),
            **_FORBIDDEN,
        },
    )
    def post(self, request: Request) -> Response:
        actor = request.user
        if not isinstance(actor, User):  # pragma: no cover - CanRegisterSamples admits signed-in users only
            raise PermissionDeniedError("sign in to register samples")
        query = SampleRegistrationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = samples_register_sheet(
            actor=actor,
            sheet=_sheet_from_request(request),
            site_default=query.validated_data.get("site") or None,
            dry_run=query.validated_data["dry_run"],
            reason="sample sheet sent to the API",
        )
        body = result.summary()
        if result.errors:
            return Response({"detail": f"{len(result.errors)} error(s): nothing was registered", **body}, status=400)
        return Response(body, status=201 if result.committed and result.created_samples else 200)

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


def _sheet_from_request(request: Request) -> SampleSheet:
    if request.content_type.startswith("multipart/"):
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("send the CSV sample sheet as the multipart field 'file'")
        if upload.size is not None and upload.size > MAX_SHEET_BYTES:
            raise DomainError(f"the file is larger than {MAX_SHEET_BYTES // (1024 * 1024)} MB; is it a sample sheet?")
        return parse_sample_sheet(upload.read(), file_name=upload.name or "upload.csv")
    return sheet_from_records(request.data)


class SampleDetailView(generics.GenericAPIView[Sample]):
    permission_classes = [CanReadLots]
    serializer_class = SampleSerializer

    @extend_schema(
        summary="One sample",
        parameters=[_code_parameter("sample")],
        responses={200: SampleSerializer, **_DETAIL_ERRORS},
    )
    def get(self, request: Request, code: str) -> Response:
        sample = sample_get(actor=request.user, code=code_from_path(code))
        return Response(self.get_serializer(sample).data)


# --- Instrument runs --------------------------------------------------------------------------------

# A batch of 2,000 acquisitions x 60 channels is a few MB; far larger is the wrong file.
MAX_RUN_BYTES = 64 * 1024 * 1024
MAX_BATCH_LOG_BYTES = 5 * 1024 * 1024
CanImportRuns = HasCapability.any_of(Capability.IMPORT_RUNS)


def _read_upload(upload: UploadedFile, *, limit: int, what: str) -> bytes:
    if upload.size is not None and upload.size > limit:
        raise DomainError(f"the {what} is larger than {limit // (1024 * 1024)} MB; is it the right file?")
    data: bytes = upload.read()
    return data


# GET lists the runs the caller may see; POST imports an instrument export (technicians only).
# (A comment, not a docstring: drf-spectacular would print a docstring as the GET's description.)
class RunListView(generics.ListAPIView[Run]):
    serializer_class = RunSerializer
    pagination_class = ViewOrderedCursorPagination
    parser_classes = [MultiPartParser]
    ordering = ("-imported_at", "-id")

    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "POST":
            return [CanImportRuns()]
        return super().get_permissions()

    @extend_schema(
        summary="Import an instrument export as a run",
        description=(
            "The file is parsed (its format detected unless `format` names it), its acquisitions matched to the samples "
            "registered at the instrument's site and to QC items, its values converted and censored, and everything stored "
            "in one transaction, status `pending_qc`. The answer is the import summary, the same as "
            "`manage.py import_run --json`. The same bytes twice return the first run with `existing: true` and write "
            "nothing. `dry_run`: the summary only. Any problem answers 400 listing every one (file, line, column), "
            "with nothing written. 201 when a run was created; 200 for a dry run or an existing run."
        ),
        request={"multipart/form-data": RunUploadSerializer},
        responses={
            201: ImportSummarySerializer,
            200: ImportSummarySerializer,
            **_upload_refused(
                "ImportSummary", "The file cannot be imported (`errors` lists why), or a malformed request (the field named)."
            ),
            404: OpenApiResponse(ErrorSerializer, description="No such instrument in service at your sites, or no such method."),
            **_FORBIDDEN,
        },
    )
    def post(self, request: Request) -> Response:
        actor = request.user
        if not isinstance(actor, User):  # pragma: no cover - CanImportRuns admits signed-in users only
            raise PermissionDeniedError("sign in to import runs")
        upload = RunUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        wanted = upload.validated_data
        instrument = instrument_get(actor=actor, code=wanted["instrument"])
        method = method_get(actor=actor, code=wanted["method"])
        file = wanted["file"]
        log = wanted.get("batch_log")
        arguments: dict[str, Any] = {
            "actor": actor,
            "data": _read_upload(file, limit=MAX_RUN_BYTES, what="file"),
            "file_name": clean_file_name(file.name, default="upload"),
            "instrument": instrument,
            "method": method,
            "format": wanted.get("format") or None,
            "batch_log": _read_upload(log, limit=MAX_BATCH_LOG_BYTES, what="batch log") if log is not None else None,
            "batch_log_name": clean_file_name(log.name, default="BatchLog.csv") if log is not None else "BatchLog.csv",
        }
        dry_run = bool(wanted["dry_run"])
        try:
            summary = run_import(**arguments, dry_run=dry_run)
        except ImportFormatError as error:
            # A real import stops at its first problem; the dry run lists them all, as the answer should.
            summary = run_import(**arguments, dry_run=True)
            summary.dry_run = False
            if summary.ok:  # pragma: no cover - the same file, checked twice, fails twice
                summary.errors = [str(error)]
        body = summary.as_dict()
        if not summary.ok:
            count = len(summary.errors)
            return Response({"detail": f"{count} problem{'s' if count != 1 else ''}: nothing was imported", **body}, status=400)
        created = not summary.dry_run and not summary.existing
        return Response(body, status=201 if created else 200)

    @extend_schema(
        summary="Runs you may see, newest first",
        parameters=[RunFilterSerializer],
        responses={200: RunSerializer(many=True), **_LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Run]:
        filters = RunFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        runs = run_list(actor=self.request.user)
        if "instrument" in wanted:
            runs = runs.filter(instrument__code=wanted["instrument"])
        if "status" in wanted:
            runs = runs.filter(status=wanted["status"])
        return runs


class RunDetailView(generics.GenericAPIView[Run]):
    serializer_class = RunSerializer

    @extend_schema(
        summary="One run with its import summary",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The run's number.")],
        responses={200: RunSerializer, **_DETAIL_ERRORS},
    )
    def get(self, request: Request, id: int) -> Response:
        run = run_get(actor=request.user, run_id=id)
        return Response(self.get_serializer(run).data)
