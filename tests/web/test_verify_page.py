"""The public verification page: no login, status in words, byte-for-byte check of an uploaded PDF,
and the same plain 404 for unknown and malformed tokens."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from assays.models import Certificate, CertificateStatus
from assays.services.certificates import certificate_issue, certificate_reissue, certificate_revoke
from tests.certificate_setup import CertificateLab, make_certificate_lab
from tests.conftest import World
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n% a stand-in for the signed file\n%%EOF\n"


@pytest.fixture
def setup(technician, qa_manager, world: World) -> CertificateLab:
    return make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)


def _issued(setup: CertificateLab, qa) -> Certificate:
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    # What the worker does once it has rendered: store the digest (the file itself is not needed here).
    Certificate.objects.filter(pk=certificate.pk).update(pdf_sha256=hashlib.sha256(PDF).hexdigest(), status=CertificateStatus.ISSUED)
    certificate.refresh_from_db()
    return certificate


def test_anyone_sees_a_valid_certificate_and_checks_a_copy(client: Client, setup: CertificateLab, qa) -> None:
    certificate = _issued(setup, qa)
    url = f"/verify/{certificate.verification_token}/"
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert certificate.number in body
    assert "Valid" in body
    assert certificate.pdf_sha256 in body
    assert setup.conforming.code in body
    same = client.post(url, {"pdf": SimpleUploadedFile("coa.pdf", PDF, content_type="application/pdf")})
    assert "matches the issued certificate byte for byte" in same.content.decode()
    changed = PDF.replace(b"stand-in", b"stand-on")
    other = client.post(url, {"pdf": SimpleUploadedFile("coa.pdf", changed, content_type="application/pdf")})
    assert "does NOT match" in other.content.decode()
    assert hashlib.sha256(changed).hexdigest() in other.content.decode()
    assert client.post(url, {}).status_code == 400


def test_superseded_and_revoked_certificates_say_so(client: Client, setup: CertificateLab, qa, qa_manager) -> None:
    first = _issued(setup, qa)
    second = certificate_reissue(actor=qa, certificate=first, password=PASSWORD, reason="PO added", change_summary="customer reference")
    body = client.get(f"/verify/{first.verification_token}/").content.decode()
    assert f"Superseded by {second.number} rev 1" in body
    assert f"/verify/{second.verification_token}/" in body
    certificate_revoke(actor=qa_manager, certificate=second, password=PASSWORD, reason="internal: sample mix-up")
    revoked = client.get(f"/verify/{second.verification_token}/").content.decode()
    assert "Revoked on" in revoked
    # The public page says it was withdrawn, not the lab's internal reason.
    assert "sample mix-up" not in revoked


@pytest.mark.parametrize(
    "path",
    [
        "/verify/" + "A" * 43 + "/",  # well formed, unknown
        "/verify/short/",
        "/verify/" + "A" * 44 + "/",
        "/verify/" + "A" * 42 + "%00/",
        "/verify/" + "A" * 42 + "$/",
    ],
)
def test_unknown_and_malformed_tokens_are_the_same_plain_404(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404


def test_tokens_are_unguessable(setup: CertificateLab, qa, technician) -> None:
    from tests.certificate_setup import more_conforming_lots

    lots = more_conforming_lots(setup, technician, count=3)
    tokens = {certificate_issue(actor=qa, lot=lot, password=PASSWORD).verification_token for lot in lots}
    assert len(tokens) == 3
    assert all(token and len(token) == 43 for token in tokens)
    # Not derived from the number or the lot: nothing of either appears in a token.
    assert not any(lot.code in token or "COA" in token for token in tokens for lot in lots if token)
