"""Representations for the partner API (``/api/v1/partner/``): only what a partner may hold.

A lot carries no internal status (open, on hold, rejected are the lab's business): only whether
its data has been released to the partner. A certificate carries its metadata, signature and
links; the certified data is served as the bytes attached to the signed PDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from assays.models import Certificate, CertificateKind, CertificateStatus, Lot, LotKind, SignatureMeaning
from assays.selectors.certificate_payload import verification_url

_CODE_MAX = 40


class PartnerLotFilterSerializer(serializers.Serializer[Any]):
    product = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Product code, e.g. ND2O3-3N5.")
    status = serializers.ChoiceField(
        choices=[("released", "released"), ("pending", "pending")],
        required=False,
        help_text="released: its certificate or report is issued to you; pending: not yet.",
    )
    date_from = serializers.DateField(required=False, help_text="Lot date (produced on, else received on) on or after.")
    date_to = serializers.DateField(required=False, help_text="Lot date on or before.")
    modified_since = serializers.DateTimeField(
        required=False,
        help_text=(
            "Only lots whose view changed at or after this time (ISO 8601 with zone): made, allocated to you, "
            "a document issued, superseded or revoked. Keep the time you started a sync and pass it next time."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": ["must not be before date_from"]})
        return attrs


class PartnerResultFilterSerializer(serializers.Serializer[Any]):
    lot = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Lot code: that lot's results only.")
    modified_since = serializers.DateTimeField(
        required=False, help_text="Only results released at or after this time (ISO 8601 with zone)."
    )


class PartnerDocumentFilterSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=CertificateKind.choices,
        required=False,
        help_text="certificate (of analysis: product lots) or report (feedstock).",
    )
    lot = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Lot code.")
    status = serializers.ChoiceField(
        choices=[(value, label) for value, label in CertificateStatus.choices if value != CertificateStatus.RENDERING],
        required=False,
        help_text="issued, superseded or revoked.",
    )
    modified_since = serializers.DateTimeField(
        required=False, help_text="Only documents issued, superseded or revoked at or after this time (ISO 8601 with zone)."
    )


class ProductRefSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class PartnerLotLinksSerializer(serializers.Serializer[Any]):
    self = serializers.CharField(read_only=True)
    results = serializers.CharField(read_only=True)
    results_csv = serializers.CharField(read_only=True)
    documents = serializers.CharField(read_only=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A released product lot",
            value={
                "code": "PRD-2026-0412",
                "kind": "product",
                "product": {"code": "ND2O3-3N5", "name": "Neodymium oxide 99.95 %"},
                "lot_date": "2026-11-20",
                "mass_kg": None,
                "allocated_kg": "500.0000",
                "order_reference": "PO-88121",
                "released": True,
                "released_at": "2026-11-24T09:12:44Z",
                "modified_at": "2026-11-24T09:12:44Z",
                "links": {
                    "self": "/api/v1/partner/lots/PRD-2026-0412/",
                    "results": "/api/v1/partner/lots/PRD-2026-0412/results/",
                    "results_csv": "/api/v1/partner/lots/PRD-2026-0412/results.csv",
                    "documents": "/api/v1/partner/certificates/?lot=PRD-2026-0412",
                },
            },
            response_only=True,
        )
    ]
)
class PartnerLotSerializer(serializers.Serializer[Lot]):
    code = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=LotKind.choices, read_only=True)
    product = ProductRefSerializer(read_only=True, allow_null=True)
    lot_date = serializers.DateField(read_only=True, help_text="Produced on (product lots), else received on.")
    mass_kg = serializers.SerializerMethodField(help_text="The lot's mass as received, for the supplier; null for a customer.")
    allocated_kg = serializers.DecimalField(max_digits=14, decimal_places=4, read_only=True, allow_null=True)
    order_reference = serializers.CharField(read_only=True, allow_null=True)
    released = serializers.BooleanField(read_only=True)
    released_at = serializers.DateTimeField(read_only=True, allow_null=True)
    modified_at = serializers.DateTimeField(read_only=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True))
    def get_mass_kg(self, lot: Lot) -> str | None:
        partner = self.context["partner"]
        if lot.supplier_id == partner.pk and lot.mass_kg is not None:
            return f"{lot.mass_kg:.4f}"
        return None

    @extend_schema_field(PartnerLotLinksSerializer)
    def get_links(self, lot: Lot) -> dict[str, str]:
        detail = reverse("api:partner-lot-detail", kwargs={"code": lot.code})
        return {
            "self": detail,
            "results": reverse("api:partner-lot-results", kwargs={"code": lot.code}),
            "results_csv": reverse("api:partner-lot-results-csv", kwargs={"code": lot.code}),
            "documents": f"{reverse('api:partner-certificate-list')}?lot={lot.code}",
        }


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A result above the detection limit",
            value={
                "measurement_id": 184467,
                "lot_code": "FS-2026-0077",
                "sample_code": "S-2026-001204",
                "analyte": "Nd",
                "element": "Nd",
                "qualifier": "=",
                "value": 241800.0,
                "unit": "mg/kg",
                "basis": "as_received",
                "lod": 0.8,
                "expanded_u": 6500.0,
                "coverage_factor": 2.0,
                "measured_at": "2026-11-18T14:02:11Z",
                "released_at": "2026-11-19T10:00:00Z",
            },
            response_only=True,
        ),
        OpenApiExample(
            "A result below the detection limit",
            value={
                "measurement_id": 184470,
                "lot_code": "FS-2026-0077",
                "sample_code": "S-2026-001204",
                "analyte": "Tb",
                "element": "Tb",
                "qualifier": "<",
                "value": 0.05,
                "unit": "mg/kg",
                "basis": "as_received",
                "lod": 0.05,
                "expanded_u": None,
                "coverage_factor": None,
                "measured_at": "2026-11-18T14:02:11Z",
                "released_at": "2026-11-19T10:00:00Z",
            },
            response_only=True,
        ),
    ]
)
class PartnerResultSerializer(serializers.Serializer[dict[str, Any]]):
    """One accepted sample result. Below the detection limit: qualifier ``<`` and value = LOD."""

    measurement_id = serializers.IntegerField(read_only=True, help_text="Stable id: the cursor order.")
    lot_code = serializers.CharField(read_only=True)
    sample_code = serializers.CharField(read_only=True)
    analyte = serializers.CharField(read_only=True)
    element = serializers.CharField(read_only=True, allow_null=True)
    qualifier = serializers.ChoiceField(choices=["<", "=", ">"], read_only=True)
    value = serializers.FloatField(read_only=True, help_text="Full precision; rounding is for display.")
    unit = serializers.CharField(read_only=True)
    basis = serializers.CharField(read_only=True)
    lod = serializers.FloatField(read_only=True, allow_null=True)
    expanded_u = serializers.FloatField(
        read_only=True, allow_null=True, help_text="The expanded uncertainty U the result's report states, in its unit (else null)."
    )
    coverage_factor = serializers.FloatField(read_only=True, allow_null=True, help_text="The coverage factor k of that U.")
    measured_at = serializers.DateTimeField(read_only=True)
    released_at = serializers.DateTimeField(read_only=True)


class DocumentRefSerializer(serializers.Serializer[Certificate]):
    id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True)


class PartnerDocumentLinksSerializer(serializers.Serializer[Any]):
    self = serializers.CharField(read_only=True)
    pdf = serializers.CharField(read_only=True)
    json = serializers.CharField(read_only=True, help_text="The certified data, byte for byte the PDF's JSON attachment.")
    csv = serializers.CharField(read_only=True, help_text="The certified results, byte for byte the PDF's CSV attachment.")
    verification_status = serializers.CharField(read_only=True)
    verification_page = serializers.CharField(read_only=True, help_text="The public page the QR code opens.")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "An issued certificate of analysis",
            value={
                "id": 311,
                "kind": "certificate",
                "number": "COA-2026-0311",
                "revision": 0,
                "status": "issued",
                "lot": "PRD-2026-0412",
                "product": "ND2O3-3N5",
                "issued_at": "2026-11-24T09:12:44Z",
                "signer_name": "Dana Whitfield",
                "signer_role": "QA",
                "signature_meaning": "Approved for release",
                "supersedes": None,
                "superseded_by": None,
                "revoked_at": None,
                "revocation_reason": "",
                "pdf_sha256": "9f2c0e1b7a4d…",
                "links": {
                    "self": "/api/v1/partner/certificates/311/",
                    "pdf": "/api/v1/partner/certificates/311/pdf/",
                    "json": "/api/v1/partner/certificates/311/data/",
                    "csv": "/api/v1/partner/certificates/311/data.csv",
                    "verification_status": "/api/v1/partner/certificates/311/verification/",
                    "verification_page": "https://lims.example.org/verify/3q5V…/",
                },
            },
            response_only=True,
        )
    ]
)
class PartnerDocumentSerializer(serializers.Serializer[Certificate]):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=CertificateKind.choices, read_only=True)
    number = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=CertificateStatus.choices, read_only=True)
    lot = serializers.CharField(source="lot.code", read_only=True)
    product = serializers.CharField(source="lot.product.code", read_only=True, allow_null=True, default=None)
    issued_at = serializers.DateTimeField(read_only=True)
    signer_name = serializers.CharField(read_only=True)
    signer_role = serializers.CharField(read_only=True)
    signature_meaning = serializers.CharField(read_only=True, help_text="The meaning of the signature, as printed.")
    supersedes = DocumentRefSerializer(read_only=True, allow_null=True)
    superseded_by = DocumentRefSerializer(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revocation_reason = serializers.CharField(read_only=True)
    pdf_sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the signed PDF, as the verification page shows it.")
    links = PartnerDocumentLinksSerializer(read_only=True)


class DocumentLinks:
    """The links of a document, from URL templates reversed once per response: reversing six
    routes for each of a hundred rows was a third of the list's time."""

    _ROUTES: ClassVar[dict[str, str]] = {
        "self": "api:partner-certificate-detail",
        "pdf": "api:partner-certificate-pdf",
        "json": "api:partner-certificate-data",
        "csv": "api:partner-certificate-data-csv",
        "verification_status": "api:partner-certificate-verification",
    }
    _ID_MARKER = 918273645  # an id no route's fixed text contains
    _TOKEN_MARKER = "_" * 43  # a token as the verification page's route takes it (43 URL-safe characters)

    def __init__(self) -> None:
        self._by_id: dict[str, tuple[str, str]] = {}
        for name, route in self._ROUTES.items():
            head, found, tail = reverse(route, kwargs={"id": self._ID_MARKER}).partition(str(self._ID_MARKER))
            assert found, route  # an <int:id> route prints the id
            self._by_id[name] = (head, tail)
        head, found, tail = verification_url(self._TOKEN_MARKER).partition(self._TOKEN_MARKER)
        assert found  # the page's URL prints its token
        self._page = (head, tail)

    def of(self, *, pk: int, token: str | None) -> dict[str, str]:
        links = {name: f"{head}{pk}{tail}" for name, (head, tail) in self._by_id.items()}
        links["verification_page"] = f"{self._page[0]}{token}{self._page[1]}" if token else ""
        return links


_DATETIME = serializers.DateTimeField()
_MEANINGS = dict(SignatureMeaning.choices)


def _ref(pk: int | None, number: str | None, revision: int | None) -> dict[str, Any] | None:
    return None if pk is None else {"id": pk, "number": number, "revision": revision}


def _moment(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def document_representation(row: Mapping[str, Any], *, links: DocumentLinks) -> dict[str, Any]:
    """A document as ``PartnerDocumentSerializer`` declares it, from a row of
    ``assays.selectors.partner.document_rows``. Built by hand, not by DRF's fields: the list of a
    hundred documents spent most of its time in model objects and field lookups, and the schema
    test (schemathesis) checks this against the declared serializer."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "number": row["number"],
        "revision": row["revision"],
        "status": row["status"],
        "lot": row["lot_code"],
        "product": row["product_code"],
        "issued_at": _moment(row["issued_at"]),
        "signer_name": row["signer_name"],
        "signer_role": row["signer_role"],
        "signature_meaning": str(_MEANINGS.get(row["signature_meaning"], row["signature_meaning"])),
        "supersedes": _ref(row["supersedes_pk"], row["supersedes_number"], row["supersedes_revision"]),
        "superseded_by": _ref(row["successor_pk"], row["successor_number"], row["successor_revision"]),
        "revoked_at": _moment(row["revoked_at"]),
        "revocation_reason": row["revocation_reason"],
        "pdf_sha256": row["pdf_sha256"],
        "links": links.of(pk=row["id"], token=row["verification_token"]),
    }


class PartnerVerificationSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["valid", "superseded", "revoked", "pending"], read_only=True)
    status_text = serializers.CharField(read_only=True)
    number = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True)
    pdf_sha256 = serializers.CharField(read_only=True, help_text="Compare with the SHA-256 of the file you hold.")
    superseded_by = DocumentRefSerializer(read_only=True, allow_null=True)
    verification_page = serializers.CharField(read_only=True)
