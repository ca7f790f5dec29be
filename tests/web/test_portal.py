"""The partner portal (/portal/) over data certified through the real services: a partner user
sees and downloads exactly its partner's released data, every download is audited, another
partner's lot or document is a 404, and the lab's staff are refused."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from assays.models import AuditAction, AuditEvent, CertificateStatus, LotKind
from assays.partner_exports import lot_results_csv
from assays.selectors.certificate_payload import verification_url
from assays.selectors.partner import partner_lot_get, partner_results
from assays.services.certificates import (
    certificate_issue,
    certificate_reissue,
    certificate_render,
    certificate_revoke,
    certified_data_json,
    certified_results_csv,
)
from assays.web import portal
from tests.conftest import World
from tests.factories import PASSWORD, LotFactory
from tests.partner_setup import PartnerWorld, make_partner_world

pytestmark = pytest.mark.django_db

PORTAL = "/portal/"
CERTIFICATES = "/portal/certificates/"


@pytest.fixture(autouse=True)
def _signing(lab_signing: tuple[Path, Path]) -> tuple[Path, Path]:
    return lab_signing


@pytest.fixture
def pw(technician: User, qa: User, qa_manager: User, world: World) -> PartnerWorld:
    return make_partner_world(technician=technician, qa=qa, qa_manager=qa_manager, world=world)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def lot_url(code: str) -> str:
    return f"/portal/lots/{code}/"


def results_csv_url(code: str) -> str:
    return f"/portal/lot-results/{code}/"


def file_urls(pk: int) -> list[str]:
    return [f"/portal/certificates/{pk}/pdf/", f"/portal/certificates/{pk}/data.json", f"/portal/certificates/{pk}/data.csv"]


def listed_lots(response: Any) -> set[str]:
    assert response.status_code == 200, response.content[:500]
    return set(re.findall(r'data-testid="portal-lot-row" data-lot="([^"]+)"', response.content.decode()))


def listed_documents(response: Any) -> dict[int, str]:
    assert response.status_code == 200, response.content[:500]
    return {int(pk): status for pk, status in re.findall(r'data-document="(\d+)" data-status="(\w+)"', response.content.decode())}


def downloads() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.DOWNLOAD).order_by("id"))


# --- Lots ---------------------------------------------------------------------------------------


def test_a_partner_user_lands_in_the_portal_and_sees_only_its_own_lots(
    pw: PartnerWorld, partner_a_user: User, partner_b_user: User
) -> None:
    client = signed_in(partner_a_user)
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, PORTAL)
    page = client.get(PORTAL)
    assert listed_lots(page) == {pw.a_certified.code, pw.a_pending.code, pw.a_feedstock.code}
    html = page.content.decode()
    # The frame leads to the portal's pages, the webhooks one included.
    for href in (PORTAL, CERTIFICATES, "/portal/webhooks/"):
        assert f'href="{href}"' in html
    assert listed_lots(signed_in(partner_b_user).get(PORTAL)) == {pw.b_certified.code, pw.b_feedstock.code}


def test_signing_in_at_the_login_page_lands_in_the_portal(pw: PartnerWorld, partner_a_user: User) -> None:
    response = Client().post("/login/", {"username": "partner_a", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1] == (PORTAL, 302)
    assert pw.a_certified.code in listed_lots(response)


def test_the_lot_list_filters_by_release_product_and_date(pw: PartnerWorld, partner_a_user: User, world: World) -> None:
    client = signed_in(partner_a_user)
    assert listed_lots(client.get(PORTAL, {"status": "pending"})) == {pw.a_pending.code}
    assert listed_lots(client.get(PORTAL, {"status": "released"})) == {pw.a_certified.code, pw.a_feedstock.code}
    product = pw.a_certified.product
    assert product is not None
    assert listed_lots(client.get(PORTAL, {"product": product.code})) == {pw.a_certified.code, pw.a_pending.code}
    lot = partner_lot_get(partner=world.partner_a, code=pw.a_certified.code)
    day = lot.lot_date.isoformat()
    assert pw.a_certified.code in listed_lots(client.get(PORTAL, {"date_from": day, "date_to": day}))
    assert listed_lots(client.get(PORTAL, {"date_from": "2999-01-01"})) == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [({"date_from": "not-a-date"}, "date_from"), ({"product": "NO-SUCH"}, "product"), ({"status": "<script>"}, "status")],
)
def test_a_malformed_filter_is_a_400_naming_the_field(pw: PartnerWorld, partner_a_user: User, query: dict[str, str], field: str) -> None:
    response = signed_in(partner_a_user).get(PORTAL, query)
    assert response.status_code == 400
    errors = re.search(r'data-testid="filter-errors">(.*?)</div>', response.content.decode(), re.S)
    assert errors is not None
    assert field in errors.group(1)


def test_the_lot_list_pages_and_swaps_its_table_for_htmx(pw: PartnerWorld, partner_a_user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portal, "LOTS_PER_PAGE", 2)
    client = signed_in(partner_a_user)
    first, second = listed_lots(client.get(PORTAL)), listed_lots(client.get(PORTAL, {"page": "2"}))
    assert len(first) == 2
    assert len(second) == 1
    assert first | second == {pw.a_certified.code, pw.a_pending.code, pw.a_feedstock.code}
    assert listed_lots(client.get(PORTAL, {"page": "x"})) == first  # a tampered page is page 1, never a 500
    partial = client.get(PORTAL, {"page": "2"}, HTTP_HX_REQUEST="true")
    assert next(t.name for t in partial.templates) == "portal/_lot_table.html"
    assert "<html" not in partial.content.decode()


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_lot_list_makes_the_same_queries_for_three_lots_or_twenty_three(
    pw: PartnerWorld, partner_a_user: User, world: World, django_assert_max_num_queries: Any
) -> None:
    client = signed_in(partner_a_user)
    client.get(PORTAL)  # the session and the user's roles warm up
    few = queries(client, PORTAL)
    for n in range(20):
        LotFactory(code=f"FS-MORE-{n}", site=world.uk_site, kind=LotKind.FEEDSTOCK, supplier=world.partner_a)
    with django_assert_max_num_queries(few):
        assert len(listed_lots(client.get(PORTAL))) == 23
    # Session, user, roles, partner, then the page's own: products, count, lots.
    assert few <= 8


# --- One lot ------------------------------------------------------------------------------------


def test_a_released_lot_shows_its_results_documents_and_verification_link(pw: PartnerWorld, partner_a_user: User, world: World) -> None:
    response = signed_in(partner_a_user).get(lot_url(pw.a_certified.code))
    assert response.status_code == 200
    html = response.content.decode()
    partner = world.partner_a
    expected_rows = partner_results(partner=partner, lot=pw.a_certified).count()
    assert expected_rows > 0
    assert html.count('data-testid="result-row"') == expected_rows
    assert f'href="{results_csv_url(pw.a_certified.code)}"' in html
    assert listed_documents(response) == {pw.a_certificate.pk: CertificateStatus.ISSUED}
    for url in file_urls(pw.a_certificate.pk):
        assert f'href="{url}"' in html
    token = pw.a_certificate.verification_token
    assert token
    assert f'href="{verification_url(token)}"' in html
    assert "PO-A-1" in html  # the customer's own order reference


def test_a_pending_lot_shows_no_results_and_no_documents(pw: PartnerWorld, partner_a_user: User) -> None:
    response = signed_in(partner_a_user).get(lot_url(pw.a_pending.code))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="result-row"' not in html
    assert 'data-testid="results-csv"' not in html
    assert 'data-testid="no-results"' in html
    assert 'data-testid="no-documents"' in html
    assert listed_documents(response) == {}
    # Its results file is only the header.
    csv_body = signed_in(partner_a_user).get(results_csv_url(pw.a_pending.code)).content.decode()
    assert csv_body.count("\r\n") == 1


def test_superseded_and_revoked_documents_say_so(pw: PartnerWorld, partner_a_user: User, qa: User, qa_manager: User) -> None:
    client = signed_in(partner_a_user)
    client.get(PORTAL)
    before = {url: queries(client, url) for url in (CERTIFICATES, lot_url(pw.a_certified.code))}
    second = certificate_reissue(actor=qa, certificate=pw.a_certificate, password=PASSWORD, reason="PO added", change_summary="reference")
    certificate_render(certificate_id=second.pk)
    certificate_revoke(actor=qa_manager, certificate=pw.a_report, password=PASSWORD, reason="wrong sample mass")
    # One more document, one superseded, one revoked: no query more on either page (no N+1).
    assert {url: queries(client, url) for url in before} == before
    assert max(before.values()) <= 8
    lot_page = client.get(lot_url(pw.a_certified.code))
    assert listed_documents(lot_page) == {pw.a_certificate.pk: "superseded", second.pk: "issued"}
    assert f"by {second.number} rev 1" in lot_page.content.decode()
    listing = client.get(CERTIFICATES)
    assert listed_documents(listing) == {pw.a_certificate.pk: "superseded", second.pk: "issued", pw.a_report.pk: "revoked"}
    assert "wrong sample mass" in listing.content.decode()
    assert listed_documents(client.get(CERTIFICATES, {"kind": "report"})) == {pw.a_report.pk: "revoked"}


def test_the_certificate_list_is_the_partners_own(pw: PartnerWorld, partner_a_user: User, partner_b_user: User) -> None:
    assert set(listed_documents(signed_in(partner_a_user).get(CERTIFICATES))) == {pw.a_certificate.pk, pw.a_report.pk}
    response = signed_in(partner_b_user).get(CERTIFICATES)
    assert set(listed_documents(response)) == {pw.b_certificate.pk}
    for url in file_urls(pw.b_certificate.pk):
        assert f'href="{url}"' in response.content.decode()


# --- Downloads ----------------------------------------------------------------------------------


def test_each_download_is_the_certified_bytes_and_is_audited(pw: PartnerWorld, partner_a_user: User, world: World) -> None:
    client = signed_in(partner_a_user)
    document = pw.a_certificate
    pdf_url, json_url, csv_url = file_urls(document.pk)

    pdf = client.get(pdf_url)
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == document.pdf_sha256
    assert pdf["Content-Disposition"] == f'attachment; filename="{document.number}-rev0.pdf"'
    assert pdf["Cache-Control"] == "private, no-store"
    assert client.get(json_url).content == certified_data_json(document)
    assert client.get(csv_url).content == certified_results_csv(document)
    lot_csv = client.get(results_csv_url(pw.a_certified.code))
    partner = world.partner_a
    assert lot_csv.content == lot_results_csv(partner=partner, lot=pw.a_certified).body
    # The same bytes as the partner API's file: one function builds both.
    assert lot_csv.content == client.get(f"/api/v1/partner/lots/{pw.a_certified.code}/results.csv").content

    events = downloads()
    assert [event.context["what"] for event in events] == ["pdf", "certified json", "certified csv", "lot results csv", "lot results csv"]
    portal_events = events[:4]
    assert {event.actor_id for event in portal_events} == {partner_a_user.pk}
    assert {event.actor_label for event in portal_events} == {"partner_a for PA"}
    assert all(event.context["key"] is None and event.context["partner"] == "PA" for event in portal_events)
    assert [event.object_id for event in portal_events] == [str(document.pk)] * 3 + [str(pw.a_certified.pk)]
    assert portal_events[0].context["sha256"] == document.pdf_sha256
    assert portal_events[3].context["rows"] == partner_results(partner=partner, lot=pw.a_certified).count()


def test_another_partners_lots_documents_and_downloads_are_404_and_leave_no_trace(pw: PartnerWorld, partner_b_user: User) -> None:
    client = signed_in(partner_b_user)
    for lot in (pw.a_certified, pw.a_pending, pw.a_feedstock):
        assert client.get(lot_url(lot.code)).status_code == 404
        assert client.get(results_csv_url(lot.code)).status_code == 404
    for document in (pw.a_certificate, pw.a_report):
        for url in file_urls(document.pk):
            assert client.get(url).status_code == 404, url
    for url in (lot_url("NO-SUCH-LOT"), lot_url("X" * 500), results_csv_url("%00"), file_urls(999_999)[0]):
        assert client.get(url).status_code == 404, url
    assert downloads() == []


def test_staff_are_refused_and_anonymous_sent_to_sign_in(pw: PartnerWorld, technician: User, lab_admin: User) -> None:
    urls = [PORTAL, CERTIFICATES, lot_url(pw.a_certified.code), results_csv_url(pw.a_certified.code), *file_urls(pw.a_certificate.pk)]
    for user in (technician, lab_admin):
        client = signed_in(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user.username, url)
        assert client.get("/").status_code == 200  # their own dashboard, not the portal
    for url in urls:
        response = Client().get(url)
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={url}"), url
    assert downloads() == []


def test_a_document_whose_pdf_is_not_ready_is_a_404(pw: PartnerWorld, partner_b_user: User, qa: User) -> None:
    # A report for partner B signed but not yet rendered (the worker has not run): not listed, not served.
    rendering = certificate_issue(actor=qa, lot=pw.b_feedstock, password=PASSWORD)
    assert rendering.status == CertificateStatus.RENDERING
    client = signed_in(partner_b_user)
    assert client.get(file_urls(rendering.pk)[0]).status_code == 404
    assert rendering.pk not in listed_documents(client.get(CERTIFICATES))
