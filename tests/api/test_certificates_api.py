"""GET /api/v1/certificates/ (list, filters), /{id}/ (metadata), /{id}/pdf/, /{id}/data/ and /{id}/data.csv:
certificates signed, rendered, amended and revoked through the real services.

Who reads (docs/permissions.md, "Certificates"): lab staff at the lot's site, technicians included;
QA managers and lab admins everywhere; a partner user gets an empty list and 404, exactly as for a
certificate that does not exist, even for a lot allocated to its own partner (partner access
comes later); anonymous callers get 403.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from assays.certificates.signing import verify_signed_pdf
from assays.models import Certificate, CertificateStatus
from assays.roles import Role
from assays.services.certificates import certificate_issue, certificate_reissue, certificate_render, certificate_revoke
from assays.services.lots import lot_allocate
from tests.certificate_setup import CertificateLab, feedstock_lot, make_certificate_lab
from tests.conftest import World
from tests.factories import PASSWORD, UserFactory
from tests.unit.certificates.pdf_content import attachments

pytestmark = pytest.mark.django_db

LIST = "/api/v1/certificates/"
CERTIFICATE_PATHS = {
    "/api/v1/certificates/",
    "/api/v1/certificates/{id}/",
    "/api/v1/certificates/{id}/pdf/",
    "/api/v1/certificates/{id}/data/",
    "/api/v1/certificates/{id}/data.csv",
}


@pytest.fixture(autouse=True)
def _signing(lab_signing: tuple[Path, Path]) -> tuple[Path, Path]:
    # The test pair signs; stored PDFs land in this test's own folder, never the developer's var/.
    return lab_signing


@pytest.fixture
def setup(technician: User, qa_manager: User, world: World) -> CertificateLab:
    return make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)


@pytest.fixture
def signed(setup: CertificateLab, qa: User) -> Certificate:
    """Signed by QA, PDF not yet made (the worker's task has not run)."""
    return certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)


@pytest.fixture
def issued(signed: Certificate) -> Certificate:
    rendered = certificate_render(certificate_id=signed.pk)
    assert rendered is not None
    assert rendered.status == CertificateStatus.ISSUED
    return rendered


@pytest.fixture
def us_qa(world: World) -> User:
    return UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])


def as_user(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def get(user: User | None, url: str, **headers: Any) -> Any:
    return as_user(user).get(url, **headers)


def _url(certificate: Certificate, tail: str = "") -> str:
    return f"{LIST}{certificate.pk}/{tail}"


def _numbers(response: Any) -> list[tuple[str, int]]:
    assert response.status_code == 200, response.content
    return [(row["number"], row["revision"]) for row in response.json()["results"]]


# --- Metadata -------------------------------------------------------------------------------------


def test_qa_lists_and_reads_a_signed_certificate_whose_pdf_is_not_made_yet(signed: Certificate, qa: User) -> None:
    listed = get(qa, LIST)
    assert _numbers(listed) == [(signed.number, 0)]
    row = listed.json()["results"][0]
    assert row["status"] == "rendering"
    assert row["kind"] == "certificate"
    assert row["lot"] == "ND-OK"

    detail = get(qa, _url(signed))
    assert detail.status_code == 200
    body = detail.json()
    assert body["number"] == signed.number
    assert body["status"] == "rendering"
    assert body["product"] == "ND2O3-UI"
    assert body["signature"]["name"] == (qa.get_full_name() or qa.username)
    assert body["signature"]["role"] == "QA"
    assert body["signature"]["meaning"] == "approved_for_release"
    assert body["signature"]["meaning_text"] == "Approved for release"
    assert body["pdf_sha256"] is None
    assert body["pdf_size"] is None
    assert body["rendered_at"] is None
    assert body["supersedes"] is None
    assert body["superseded_by"] is None
    assert body["verification_url"].endswith(f"/verify/{signed.verification_token}/")
    assert body["links"]["pdf"].endswith(_url(signed, "pdf/"))
    assert body["links"]["lot"].endswith("/api/v1/lots/ND-OK/")

    # Until the PDF is stored nothing certified is handed out: the project's 404 body, in JSON.
    for tail in ("pdf/", "data/", "data.csv"):
        response = get(qa, _url(signed, tail))
        assert response.status_code == 404, tail
        assert response["Content-Type"] == "application/json"
        assert "not made yet" in response.json()["detail"]


def test_once_rendered_the_pdf_is_the_stored_signed_file_byte_for_byte(
    issued: Certificate, qa: User, lab_signing: tuple[Path, Path]
) -> None:
    body = get(qa, _url(issued)).json()
    assert body["status"] == "issued"
    assert body["pdf_sha256"] == issued.pdf_sha256
    assert body["pdf_size"] == issued.pdf_size

    # A PDF client's Accept header gets the file, not a 406.
    response = get(qa, _url(issued, "pdf/"), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{issued.number}-rev0.pdf"'
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == issued.pdf_sha256 == body["pdf_sha256"]
    assert len(pdf) == body["pdf_size"]
    assert verify_signed_pdf(pdf=pdf, trust_cert_pem=lab_signing[1].read_bytes()).ok


def test_the_certified_data_is_byte_for_byte_the_pdfs_attachments(issued: Certificate, qa: User) -> None:
    attached = attachments(get(qa, _url(issued, "pdf/")).content)
    stem = f"{issued.number}-rev0"

    data = get(qa, _url(issued, "data/"))
    assert data.status_code == 200
    assert data["Content-Type"] == "application/json"
    assert data.content == attached[f"{stem}-data.json"]
    payload = json.loads(data.content)
    assert payload["number"] == issued.number
    assert payload["lot"]["code"] == "ND-OK"
    assert payload["results"]

    csv = get(qa, _url(issued, "data.csv"))
    assert csv.status_code == 200
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert csv["Content-Disposition"] == f'attachment; filename="{stem}-results.csv"'
    assert csv.content == attached[f"{stem}-results.csv"]
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("certificate,revision,lot,quantity,unit,result,expanded_uncertainty_k2")
    assert len(lines) == 1 + len(payload["results"])


def test_a_stored_file_that_no_longer_matches_its_digest_is_not_sent(issued: Certificate, qa: User) -> None:
    path = Path(issued.pdf.path)
    path.write_bytes(path.read_bytes() + b"\n% appended\n")
    response = get(qa, _url(issued, "pdf/"))
    assert response.status_code == 404
    assert "does not match its recorded SHA-256" in response.json()["detail"]
    path.unlink()
    response = get(qa, _url(issued, "pdf/"))
    assert response.status_code == 404
    assert "cannot be read" in response.json()["detail"]


def test_an_amendment_and_a_revocation_show_on_both_revisions(issued: Certificate, qa: User, qa_manager: User) -> None:
    revision = certificate_reissue(
        actor=qa, certificate=issued, password=PASSWORD, reason="customer asked for its order reference", change_summary="reference added"
    )
    certificate_render(certificate_id=revision.pk)
    certificate_revoke(actor=qa_manager, certificate=revision, password=PASSWORD, reason="lot recalled by the plant")

    old = get(qa, _url(issued)).json()
    assert old["status"] == "superseded"
    assert old["superseded_by"] == {"id": revision.pk, "number": issued.number, "revision": 1}
    new = get(qa, _url(revision)).json()
    assert new["status"] == "revoked"
    assert new["supersedes"] == {"id": issued.pk, "number": issued.number, "revision": 0}
    assert new["superseded_by"] is None
    assert (new["change_summary"], new["revision_reason"]) == ("reference added", "customer asked for its order reference")
    assert new["revoked_at"] is not None
    assert new["revoked_by"] == "qa_manager"
    assert new["revocation_reason"] == "lot recalled by the plant"
    # A superseded or revoked certificate's files stay readable: they are the record of what was issued.
    assert get(qa, _url(issued, "pdf/")).status_code == 200
    assert get(qa, _url(revision, "pdf/")).status_code == 200

    assert _numbers(get(qa, LIST, data={"number": issued.number.lower()})) == [(issued.number, 1), (issued.number, 0)]
    assert _numbers(get(qa, LIST, data={"status": "superseded"})) == [(issued.number, 0)]
    assert _numbers(get(qa, LIST, data={"status": "issued"})) == []


def test_a_concession_is_in_the_metadata(setup: CertificateLab, qa_manager: User) -> None:
    certificate = certificate_issue(
        actor=qa_manager, lot=setup.off_spec, password=PASSWORD, concession_reason="customer accepts Fe up to 1000 mg/kg (deviation D-7)"
    )
    body = get(qa_manager, _url(certificate)).json()
    assert body["concession_reason"] == "customer accepts Fe up to 1000 mg/kg (deviation D-7)"
    assert body["signature"]["meaning"] == "approved_under_concession"
    assert body["signature"]["role"] == "QA manager"


# --- Filters and pagination -----------------------------------------------------------------------


def test_filters_by_lot_status_kind_and_number(
    setup: CertificateLab, issued: Certificate, qa: User, technician: User, qa_manager: User
) -> None:
    feedstock = feedstock_lot(setup=setup, technician=technician, qa_manager=qa_manager)
    report = certificate_issue(actor=qa, lot=feedstock, password=PASSWORD)
    assert report.number.startswith("ROA-")

    assert _numbers(get(qa, LIST)) == [(report.number, 0), (issued.number, 0)]
    assert _numbers(get(qa, LIST, data={"kind": "report"})) == [(report.number, 0)]
    assert _numbers(get(qa, LIST, data={"kind": "certificate"})) == [(issued.number, 0)]
    assert _numbers(get(qa, LIST, data={"lot": feedstock.code})) == [(report.number, 0)]
    assert _numbers(get(qa, LIST, data={"status": "rendering"})) == [(report.number, 0)]
    assert _numbers(get(qa, LIST, data={"number": issued.number})) == [(issued.number, 0)]
    assert _numbers(get(qa, LIST, data={"lot": "NO-SUCH-LOT"})) == []

    first = get(qa, LIST, data={"page_size": 1}).json()
    assert [row["number"] for row in first["results"]] == [report.number]
    second = get(qa, first["next"])
    assert _numbers(second) == [(issued.number, 0)]


@pytest.mark.parametrize(
    "query",
    [
        {"status": "valid"},
        {"kind": "coa"},
        {"lot": "x" * 41},
        {"number": "COA\x00"},
        {"page_size": "0"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_a_malformed_query_is_a_400_naming_it(signed: Certificate, qa: User, query: dict[str, str]) -> None:
    response = get(qa, LIST, data=query)
    assert response.status_code == 400, response.content
    assert set(response.json()) & (set(query) | {"detail"})


@pytest.mark.parametrize("tail", ["", "pdf/", "data/", "data.csv"])
@pytest.mark.parametrize("certificate_id", ["0", "999999", "99999999999999999999"])
def test_an_unknown_id_is_404_never_500(signed: Certificate, qa: User, tail: str, certificate_id: str) -> None:
    response = get(qa, f"{LIST}{certificate_id}/{tail}")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such certificate"}


# --- Who reads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["qa", "qa_manager", "lab_admin", "technician"])
def test_lab_staff_who_see_the_lot_read_its_certificate(issued: Certificate, persona: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(persona)
    assert _numbers(get(user, LIST)) == [(issued.number, 0)]
    for tail in ("", "pdf/", "data/", "data.csv"):
        assert get(user, _url(issued, tail)).status_code == 200, (persona, tail)


@pytest.mark.parametrize("persona", ["us_qa", "us_technician", "partner_a_user", "partner_b_user"])
def test_others_get_an_empty_list_and_the_404_of_an_unknown_id(
    setup: CertificateLab, issued: Certificate, persona: str, world: World, request: pytest.FixtureRequest
) -> None:
    # Allocated to partner A, who sees the lot itself, but not (yet) its certificate.
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal(100), reference="PO-A-1")
    user = request.getfixturevalue(persona)
    if persona == "partner_a_user":
        assert get(user, "/api/v1/lots/ND-OK/").status_code == 200
    assert _numbers(get(user, LIST)) == []
    assert _numbers(get(user, LIST, data={"lot": "ND-OK"})) == []
    unknown = get(user, f"{LIST}999999/").json()
    for tail in ("", "pdf/", "data/", "data.csv"):
        response = get(user, _url(issued, tail))
        assert response.status_code == 404, (persona, tail)
        assert response.json() == unknown


def test_anonymous_callers_are_refused(issued: Certificate) -> None:
    for url in (LIST, _url(issued), _url(issued, "pdf/"), _url(issued, "data/"), _url(issued, "data.csv")):
        response = get(None, url)
        assert response.status_code == 403, url
        assert "detail" in response.json()


# --- Schema ---------------------------------------------------------------------------------------


def test_the_schema_describes_the_certificate_endpoints(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    assert set(schema["paths"]) >= CERTIFICATE_PATHS
    listing = schema["paths"]["/api/v1/certificates/"]["get"]
    assert {"lot", "status", "kind", "number", "cursor", "page_size"} <= {parameter["name"] for parameter in listing["parameters"]}
    pdf = schema["paths"]["/api/v1/certificates/{id}/pdf/"]["get"]["responses"]
    assert set(pdf["200"]["content"]) == {"application/pdf"}
    assert set(pdf["404"]["content"]) == {"application/json"}
    assert set(schema["paths"]["/api/v1/certificates/{id}/data.csv"]["get"]["responses"]["200"]["content"]) == {"text/csv"}
    detail = schema["components"]["schemas"]["CertificateDetail"]["properties"]
    assert {"signature", "supersedes", "superseded_by", "revoked_at", "revocation_reason", "pdf_sha256", "pdf_size"} <= set(detail)
    assert {"verification_url", "links", "concession_reason", "customer", "product"} <= set(detail)
