"""Representations of certificates (and reports) of analysis, and the query parameters of their list.

Metadata only: the certified data itself is served as the very bytes attached to the PDF
(``GET .../data/`` and ``.../data.csv``), not re-serialized here, so what the API gives and what
the signed file carries cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assays.models import Certificate, CertificateKind, CertificateStatus, SignatureMeaning
from assays.selectors.certificate_payload import verification_url

# Longer than any lot code or certificate number stored: a longer value cannot match.
_CODE_MAX = 40


class CertificateFilterSerializer(serializers.Serializer[Any]):
    lot = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Lot code: that lot's certificates only.")
    status = serializers.ChoiceField(choices=CertificateStatus.choices, required=False, help_text="Certificate status.")
    kind = serializers.ChoiceField(
        choices=CertificateKind.choices, required=False, help_text="certificate (of analysis) or report (of analysis, feedstock)."
    )
    number = serializers.CharField(
        required=False, max_length=_CODE_MAX, help_text="Certificate number, e.g. COA-2026-0001: all its revisions."
    )


class CertificateRefSerializer(serializers.Serializer[Certificate]):
    """Another revision of the same number: the one this supersedes, or the one superseding it."""

    id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True)


class PartnerRefSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class SignatureSerializer(serializers.Serializer[Certificate]):
    """The electronic signature (21 CFR 11.50): printed name, role, meaning and time (UTC)."""

    name = serializers.CharField(source="signer_name", read_only=True)
    role = serializers.CharField(source="signer_role", read_only=True, help_text="The signer's role when signing (QA, QA manager).")
    meaning = serializers.ChoiceField(source="signature_meaning", choices=SignatureMeaning.choices, read_only=True)
    meaning_text = serializers.CharField(source="get_signature_meaning_display", read_only=True, help_text="As printed.")
    signed_at = serializers.DateTimeField(source="issued_at", read_only=True)
    username = serializers.CharField(source="issued_by.username", read_only=True, allow_null=True)


class CertificateLinksSerializer(serializers.Serializer[Any]):
    self = serializers.CharField(read_only=True)
    pdf = serializers.CharField(read_only=True, help_text="The signed PDF (404 until it is rendered).")
    # The metaclass takes declared fields out of the class, so this never shadows Serializer.data at run time.
    data = serializers.CharField(read_only=True, help_text="The certified data as JSON, byte for byte the PDF's JSON attachment.")  # type: ignore[assignment]
    data_csv = serializers.CharField(read_only=True, help_text="The certified results as CSV, byte for byte the PDF's CSV attachment.")
    lot = serializers.CharField(read_only=True)
    verification = serializers.CharField(read_only=True, help_text="The public verification page (the QR code's address).")


class CertificateSerializer(serializers.Serializer[Certificate]):
    id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(read_only=True, help_text="COA-<year>-<seq> (certificate) or ROA-<year>-<seq> (report).")
    revision = serializers.IntegerField(read_only=True, help_text="0 for the first issue; each amendment adds one.")
    kind = serializers.ChoiceField(choices=CertificateKind.choices, read_only=True)
    status = serializers.ChoiceField(
        choices=CertificateStatus.choices,
        read_only=True,
        help_text="rendering (signed, PDF being made), issued, superseded (by a later revision) or revoked.",
    )
    lot = serializers.CharField(source="lot.code", read_only=True, help_text="Lot code.")
    product = serializers.CharField(source="lot.product.code", read_only=True, allow_null=True, help_text="Product code.")
    customer = PartnerRefSerializer(read_only=True, allow_null=True, help_text="The customer it was issued to; null when none was named.")
    issuing_site = serializers.CharField(source="issuing_site.code", read_only=True, help_text="Site code.")
    issued_at = serializers.DateTimeField(read_only=True, allow_null=True)


class CertificateDetailSerializer(CertificateSerializer):
    signature = SignatureSerializer(source="*", read_only=True)
    concession_reason = serializers.CharField(
        read_only=True, allow_blank=True, help_text="Set when a QA manager issued for a non-conforming lot; printed on the certificate."
    )
    supersedes = CertificateRefSerializer(read_only=True, allow_null=True)
    superseded_by = serializers.SerializerMethodField(help_text="The revision that supersedes this one, if any.")
    change_summary = serializers.CharField(read_only=True, allow_blank=True, help_text="A revision: what changed.")
    revision_reason = serializers.CharField(read_only=True, allow_blank=True, help_text="A revision: why.")
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_by = serializers.CharField(source="revoked_by.username", read_only=True, allow_null=True)
    revocation_reason = serializers.CharField(read_only=True, allow_blank=True)
    rendered_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="When the signed PDF was stored; null until then.")
    render_error = serializers.CharField(read_only=True, allow_blank=True, help_text="Why the last render failed, if one did.")
    pdf_sha256 = serializers.SerializerMethodField(help_text="SHA-256 of the stored PDF (hex); null until rendered.")
    pdf_size = serializers.IntegerField(read_only=True, allow_null=True, help_text="Bytes; null until rendered.")
    verification_url = serializers.SerializerMethodField(help_text="The public verification page, as printed in the QR code.")
    links = serializers.SerializerMethodField()

    @extend_schema_field(CertificateRefSerializer(allow_null=True))
    def get_superseded_by(self, certificate: Certificate) -> dict[str, Any] | None:
        # The reverse one-to-one raises when absent; a lookup answers None instead.
        successor = Certificate.objects.filter(supersedes=certificate).only("id", "number", "revision").first()
        return dict(CertificateRefSerializer(successor).data) if successor is not None else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_pdf_sha256(self, certificate: Certificate) -> str | None:
        return certificate.pdf_sha256 or None

    @extend_schema_field(serializers.CharField())
    def get_verification_url(self, certificate: Certificate) -> str:
        return verification_url(certificate.verification_token or "")

    @extend_schema_field(CertificateLinksSerializer)
    def get_links(self, certificate: Certificate) -> dict[str, str]:
        request = self.context.get("request")

        def absolute(name: str, **kwargs: Any) -> str:
            path = reverse(name, kwargs=kwargs)
            return request.build_absolute_uri(path) if request is not None else path

        return {
            "self": absolute("api:certificate-detail", id=certificate.pk),
            "pdf": absolute("api:certificate-pdf", id=certificate.pk),
            "data": absolute("api:certificate-data", id=certificate.pk),
            "data_csv": absolute("api:certificate-data-csv", id=certificate.pk),
            "lot": absolute("api:lot-detail", code=certificate.lot.code),
            "verification": self.get_verification_url(certificate),
        }
