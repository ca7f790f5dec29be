"""Representations for the partner API (``/api/v1/partner/``): only what a partner may hold.

A lot carries no internal status (open, on hold, rejected are the lab's business): only whether
its data has been released to the partner. A certificate carries its metadata, signature and
links; the certified data is served as the bytes attached to the signed PDF.
"""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from assays.models import Certificate, CertificateKind, CertificateStatus, Lot, LotKind, SignatureMeaning
from assays.selectors.certificate_payload import verification_url

_CODE_MAX = 40


class _ChoiceLabelField(serializers.CharField):
    """A choice's label, as the model's ``get_FOO_display`` gives it (the value itself when it is
    not one of the choices), without DRF inspecting that method's signature on every row."""

    def __init__(self, *, choices: list[tuple[str, Any]], **kwargs: Any) -> None:
        self._labels = dict(choices)  # lazy labels: put in the active language per response
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return super().to_representation(self._labels.get(value, value))


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
    signature_meaning = _ChoiceLabelField(choices=SignatureMeaning.choices, read_only=True)
    supersedes = serializers.SerializerMethodField()
    superseded_by = serializers.SerializerMethodField()
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revocation_reason = serializers.CharField(read_only=True)
    pdf_sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the signed PDF, as the verification page shows it.")
    links = serializers.SerializerMethodField()

    @extend_schema_field(DocumentRefSerializer(allow_null=True))
    def get_supersedes(self, document: Certificate) -> dict[str, Any] | None:
        earlier = document.supersedes
        return DocumentRefSerializer(earlier).data if earlier is not None else None

    @extend_schema_field(DocumentRefSerializer(allow_null=True))
    def get_superseded_by(self, document: Certificate) -> dict[str, Any] | None:
        later = getattr(document, "superseded_by", None)
        return DocumentRefSerializer(later).data if later is not None else None

    @extend_schema_field(PartnerDocumentLinksSerializer)
    def get_links(self, document: Certificate) -> dict[str, str]:
        templates = self._link_templates()
        links = {name: f"{head}{document.pk}{tail}" for name, (head, tail) in templates.items() if name != "verification_page"}
        token = document.verification_token
        if not token:
            links["verification_page"] = ""
        elif _TOKEN.fullmatch(token):
            head, tail = templates["verification_page"]
            links["verification_page"] = f"{head}{token}{tail}"
        else:
            links["verification_page"] = verification_url(token)  # refused as ever
        return links

    def _link_templates(self) -> dict[str, tuple[str, str]]:
        """Each link as the text either side of the id (the token for the verification page),
        reversed once per response on the root serializer: a list of 100 documents reverses 6
        URLs, not 600, which were a third of the list's time."""
        root = self.root
        templates: dict[str, tuple[str, str]] | None = getattr(root, "_partner_link_templates", None)
        if templates is None:
            templates = {}
            for name, route in _DOCUMENT_LINK_ROUTES.items():
                head, found, tail = reverse(route, kwargs={"id": _ID_MARKER}).partition(str(_ID_MARKER))
                assert found, route  # an <int:id> route always prints the id
                templates[name] = (head, tail)
            head, found, tail = verification_url(_TOKEN_MARKER).partition(_TOKEN_MARKER)
            assert found  # the page's URL prints its token
            templates["verification_page"] = (head, tail)
            root._partner_link_templates = templates  # type: ignore[attr-defined]
        return templates


_DOCUMENT_LINK_ROUTES = {
    "self": "api:partner-certificate-detail",
    "pdf": "api:partner-certificate-pdf",
    "json": "api:partner-certificate-data",
    "csv": "api:partner-certificate-data-csv",
    "verification_status": "api:partner-certificate-verification",
}
_ID_MARKER = 918273645  # an id no route's fixed text contains
# A verification token (secrets.token_urlsafe(32)) as the page's route takes it; another is reversed
# as before, and refused as before.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_TOKEN_MARKER = "_" * 43


class PartnerVerificationSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["valid", "superseded", "revoked", "pending"], read_only=True)
    status_text = serializers.CharField(read_only=True)
    number = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True)
    pdf_sha256 = serializers.CharField(read_only=True, help_text="Compare with the SHA-256 of the file you hold.")
    superseded_by = DocumentRefSerializer(read_only=True, allow_null=True)
    verification_page = serializers.CharField(read_only=True)
