"""QA's certificate pages: the lot review and signing form, a certificate's page (document, QR code,
amendment, revocation, PDF), the list and bulk issuance; who sees and who may act.

The signing services are real. Rendering runs on commit, which these tests' transaction never
reaches, so a certificate stays "being rendered" unless a test renders it on purpose (with the
``lab_signing`` fixture's key pair) or marks it issued as the worker would.
"""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
import segno
from django.contrib.auth.models import User
from django.test import Client
from pypdf import PdfReader

from assays.models import (
    AuditEvent,
    Certificate,
    CertificateBatch,
    CertificateCounter,
    CertificateStatus,
    LabProfile,
    LotAllocation,
    LotStatus,
    Partner,
    SignatureMeaning,
)
from assays.roles import Role
from assays.services.certificates import certificate_issue, certificate_render
from tests.assessment_setup import import_and_assess
from tests.certificate_setup import CertificateLab, feedstock_lot, make_certificate_lab, more_conforming_lots
from tests.conftest import World
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STAND_IN_PDF = b"%PDF-1.7\n% stand-in for the signed file\n%%EOF\n"


@pytest.fixture
def setup(technician: User, qa_manager: User, world: World) -> CertificateLab:
    return make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)


@pytest.fixture
def us_qa(world: World) -> User:
    return UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def review_url(setup: CertificateLab, *, off_spec: bool = False) -> str:
    return f"/review/{(setup.off_spec if off_spec else setup.conforming).code}/"


def issued(certificate: Certificate) -> Certificate:
    """What the worker leaves once it has rendered: the digest stored, the status issued."""
    Certificate.objects.filter(pk=certificate.pk).update(
        pdf_sha256=hashlib.sha256(STAND_IN_PDF).hexdigest(), status=CertificateStatus.ISSUED
    )
    certificate.refresh_from_db()
    return certificate


def part(html: str, testid: str) -> str:
    """The element carrying ``data-testid=testid`` up to the end of the enclosing section or form."""
    after = html.split(f'data-testid="{testid}"', 1)[1]
    return after.split("</section>", 1)[0]


# --- The review page and signing --------------------------------------------------------------------


def test_qa_reviews_a_conforming_lot_and_signs_it_which_releases_the_lot(setup: CertificateLab, qa: User) -> None:
    client = signed_in(qa)
    page = client.get(review_url(setup))
    assert page.status_code == 200
    html = page.content.decode()
    # The assessment, every result with its run and the run's QC, flags, genealogy and provenance.
    assert 'data-testid="assessment-status"' in html
    run_ids = set(re.findall(r'href="/runs/(\d+)/" data-testid="review-run-link"', html))
    assert run_ids, "each result's run is linked"
    assert 'data-testid="review-run-qc"' in html
    assert f"{setup.conforming.code}-S1" in html
    assert f"{setup.conforming.code}-S2" in html
    assert 'data-testid="lot-flags"' in html
    assert 'data-testid="review-provenance"' in html
    assert "Issue certificate" in html
    meaning = part(html, "issue-form")
    assert "By signing you approve this lot for release" in meaning
    assert 'name="password"' in meaning
    assert 'name="totp_code"' not in meaning  # the lab does not ask for a second factor
    assert 'name="concession_reason"' not in meaning  # the lot conforms

    response = client.post(review_url(setup), {"password": PASSWORD, "customer": ""})
    certificate = Certificate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/certificates/{certificate.pk}/"
    setup.conforming.refresh_from_db()
    assert setup.conforming.status == LotStatus.RELEASED
    assert certificate.signature_meaning == SignatureMeaning.APPROVED_FOR_RELEASE
    assert certificate.signer_name
    assert certificate.signer_role == "QA"

    detail = client.get(response["Location"])
    body = detail.content.decode()
    assert certificate.number in body
    assert "lot" in " ".join(str(m) for m in detail.context["messages"]).lower()
    assert "Being rendered" in part(body, "certificate-document")
    # The document part polls itself every second while the worker renders.
    assert 'hx-trigger="every 1s"' in body
    assert 'hx-swap="outerHTML"' in body
    # The review now lists the certificate and offers no second one for the lot as a whole.
    again = client.get(review_url(setup)).content.decode()
    assert certificate.number in part(again, "review-certificates")
    assert "already has a live certificate" in part(again, "issue")


def test_the_certificate_page_shows_the_signature_and_the_verification_qr(setup: CertificateLab, qa: User) -> None:
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    html = signed_in(qa).get(f"/certificates/{certificate.pk}/").content.decode()
    url = certificate.payload["verification_url"]
    link = re.search(r'<a href="([^"]+)"[^>]*data-testid="verification-link"', html)
    assert link is not None
    assert link.group(1) == url
    # The page's QR code is the certificate's: exactly the payload's URL, at the same error level.
    assert segno.make(url, error="m", micro=False, boost_error=False).svg_inline(scale=3, border=4, dark="#000") in html
    facts = part(html, "certificate-facts")
    assert certificate.signer_name in facts
    assert "Approved for release" in facts
    assert certificate.issued_at.strftime("%Y-%m-%d %H:%M") in facts
    assert "UTC" in facts


def test_a_wrong_password_signs_nothing_and_shows_the_form_again(setup: CertificateLab, qa: User) -> None:
    response = signed_in(qa).post(review_url(setup), {"password": "not-my-password", "customer": ""})
    assert response.status_code == 403
    html = response.content.decode()
    assert "password is not right" in part(html, "issue")
    assert 'data-testid="issue-form"' in html
    assert not Certificate.objects.exists()
    assert not CertificateCounter.objects.filter(last_value__gt=0).exists()
    setup.conforming.refresh_from_db()
    assert setup.conforming.status == LotStatus.ASSESSED
    # A form without the password is a 400, also with nothing signed.
    assert signed_in(qa).post(review_url(setup), {"customer": ""}).status_code == 400
    assert not Certificate.objects.exists()


def test_the_lab_asks_for_an_authenticator_code_when_it_says_so(setup: CertificateLab, qa: User) -> None:
    LabProfile.objects.update_or_create(singleton=True, defaults={"name": "Lab", "require_totp": True})
    client = signed_in(qa)
    html = client.get(review_url(setup)).content.decode()
    assert 'name="totp_code"' in part(html, "issue-form")
    assert 'data-testid="totp-missing"' in html  # qa has no authenticator yet
    response = client.post(review_url(setup), {"password": PASSWORD, "customer": ""})
    assert response.status_code == 403
    assert "authenticator" in part(response.content.decode(), "issue")
    assert not Certificate.objects.exists()


def test_a_customer_is_chosen_from_the_lots_allocations(setup: CertificateLab, qa: User, world: World) -> None:
    LotAllocation.objects.create(lot=setup.conforming, customer=world.partner_a, mass_kg=200, reference="PO-77")
    client = signed_in(qa)
    html = client.get(review_url(setup)).content.decode()
    assert f'value="{world.partner_a.pk}"' in html
    assert f'value="{world.partner_b.pk}"' not in html
    refused = client.post(review_url(setup), {"password": PASSWORD, "customer": str(world.partner_b.pk)})
    assert refused.status_code == 400
    assert not Certificate.objects.exists()
    client.post(review_url(setup), {"password": PASSWORD, "customer": str(world.partner_a.pk)})
    assert Certificate.objects.get().customer == world.partner_a


def test_an_off_spec_lot_is_issued_only_by_a_qa_manager_under_concession(setup: CertificateLab, qa: User, qa_manager: User) -> None:
    html = signed_in(qa).get(review_url(setup, off_spec=True)).content.decode()
    issue = part(html, "issue")
    assert "Not eligible" in issue
    assert "off specification" in issue
    assert 'data-testid="issue-form"' not in issue
    assert "Only a QA manager may issue this lot under concession" in issue
    # A crafted POST from QA is refused by the service, and nothing is signed.
    crafted = signed_in(qa).post(review_url(setup, off_spec=True), {"password": PASSWORD, "concession_reason": "customer agrees"})
    assert crafted.status_code == 403
    assert not Certificate.objects.exists()

    manager = signed_in(qa_manager)
    page = manager.get(review_url(setup, off_spec=True)).content.decode()
    form = part(page, "issue-form")
    assert 'name="concession_reason"' in form
    assert "under concession" in form
    without = manager.post(review_url(setup, off_spec=True), {"password": PASSWORD, "concession_reason": "  "})
    assert without.status_code == 400
    assert not Certificate.objects.exists()
    response = manager.post(review_url(setup, off_spec=True), {"password": PASSWORD, "concession_reason": "customer accepts Fe to 120"})
    assert response.status_code == 302
    certificate = Certificate.objects.get()
    assert certificate.signature_meaning == SignatureMeaning.APPROVED_UNDER_CONCESSION
    setup.off_spec.refresh_from_db()
    assert setup.off_spec.status == LotStatus.RELEASED
    detail = manager.get(response["Location"]).content.decode()
    assert "customer accepts Fe to 120" in part(detail, "certificate-concession")


def test_a_feedstock_lot_gets_a_report_of_analysis_through_the_same_form(
    setup: CertificateLab, qa: User, technician: User, qa_manager: User
) -> None:
    lot = feedstock_lot(setup=setup, technician=technician, qa_manager=qa_manager)
    client = signed_in(qa)
    html = client.get(f"/review/{lot.code}/").content.decode()
    assert "Issue report of analysis" in html
    assert "no statement of conformity" in part(html, "issue-form")
    response = client.post(f"/review/{lot.code}/", {"password": PASSWORD})
    assert response.status_code == 302
    assert Certificate.objects.get().number.startswith("ROA-")


def test_a_lot_code_with_a_slash_round_trips(setup: CertificateLab, qa: User, technician: User) -> None:
    (lot,) = more_conforming_lots(setup, technician, count=1, prefix="ND/2026")
    client = signed_in(qa)
    assert client.get(f"/review/{lot.code}/").status_code == 200
    assert client.post(f"/review/{lot.code}/", {"password": PASSWORD}).status_code == 302
    assert Certificate.objects.get().lot == lot


# --- Who sees and who acts --------------------------------------------------------------------------


def test_a_technician_reads_the_pages_but_has_no_forms_and_every_post_is_refused(
    setup: CertificateLab, qa: User, qa_manager: User, technician: User
) -> None:
    certificate = issued(certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD))
    client = signed_in(technician)
    review = client.get(review_url(setup, off_spec=True))
    assert review.status_code == 200
    assert 'data-testid="issue-form"' not in review.content.decode()
    assert "Your role does not sign certificates" in review.content.decode()
    detail = client.get(f"/certificates/{certificate.pk}/").content.decode()
    assert 'data-testid="amend-form"' not in detail
    assert 'data-testid="revoke-form"' not in detail
    assert "Your role does not amend or revoke" in detail
    assert client.get("/certificates/").status_code == 200
    assert client.get("/certificates/bulk/").status_code == 403
    posts = [
        (review_url(setup, off_spec=True), {"password": PASSWORD, "concession_reason": "x"}),
        (f"/certificates/{certificate.pk}/amend/", {"amend-password": PASSWORD, "amend-reason": "x", "amend-change_summary": "y"}),
        (f"/certificates/{certificate.pk}/revoke/", {"revoke-password": PASSWORD, "revoke-reason": "x"}),
        (f"/certificates/{certificate.pk}/retry-render/", {}),
        ("/certificates/bulk/", {"password": PASSWORD, "lot": [str(setup.off_spec.pk)]}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert Certificate.objects.count() == 1
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ISSUED


def test_partners_and_other_sites_get_404(setup: CertificateLab, qa: User, us_qa: User, partner_a_user: User, world: World) -> None:
    LotAllocation.objects.create(lot=setup.conforming, customer=world.partner_a, mass_kg=100)
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    for user in (partner_a_user, us_qa):
        client = signed_in(user)
        for url in (review_url(setup), f"/certificates/{certificate.pk}/", f"/certificates/{certificate.pk}/pdf/"):
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(review_url(setup), {"password": PASSWORD}).status_code == 404
        assert client.post(f"/certificates/{certificate.pk}/amend/", {}).status_code == 404
        assert client.post(f"/certificates/{certificate.pk}/revoke/", {}).status_code == 404
    # The list is the lab's: a partner is turned away, another site's QA sees none of these.
    assert signed_in(partner_a_user).get("/certificates/").status_code == 403
    other = signed_in(us_qa).get("/certificates/")
    assert other.status_code == 200
    assert certificate.number not in other.content.decode()
    assert Certificate.objects.count() == 1


def test_anonymous_users_are_sent_to_sign_in(setup: CertificateLab) -> None:
    for url in (review_url(setup), "/certificates/", "/certificates/1/", "/certificates/bulk/", "/certificates/batches/1/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


# --- Amend and revoke -------------------------------------------------------------------------------


def test_qa_amends_an_issued_certificate_with_a_new_revision(setup: CertificateLab, qa: User) -> None:
    first = issued(certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD))
    client = signed_in(qa)
    page = client.get(f"/certificates/{first.pk}/").content.decode()
    assert 'data-testid="amend-form"' in page
    assert 'data-testid="revoke-form"' not in page  # QA amends; a QA manager revokes
    missing = client.post(f"/certificates/{first.pk}/amend/", {"amend-password": PASSWORD, "amend-reason": "PO added"})
    assert missing.status_code == 400
    wrong = client.post(
        f"/certificates/{first.pk}/amend/",
        {"amend-password": "nope", "amend-reason": "PO added", "amend-change_summary": "customer reference"},
    )
    assert wrong.status_code == 403
    assert "password is not right" in wrong.content.decode()
    assert Certificate.objects.count() == 1
    response = client.post(
        f"/certificates/{first.pk}/amend/",
        {"amend-password": PASSWORD, "amend-reason": "PO added", "amend-change_summary": "customer reference"},
    )
    assert response.status_code == 302
    second = Certificate.objects.get(supersedes=first)
    assert response["Location"] == f"/certificates/{second.pk}/"
    assert (second.number, second.revision) == (first.number, 1)
    first.refresh_from_db()
    assert first.status == CertificateStatus.SUPERSEDED
    old = client.get(f"/certificates/{first.pk}/").content.decode()
    assert f'href="/certificates/{second.pk}/" data-testid="superseded-by-link"' in old
    assert 'data-testid="amend-form"' not in old
    new = client.get(f"/certificates/{second.pk}/").content.decode()
    assert f'href="/certificates/{first.pk}/" data-testid="supersedes-link"' in new
    assert "customer reference" in new
    assert "PO added" in new
    # A revision of a superseded certificate is refused even when posted directly.
    again = client.post(f"/certificates/{first.pk}/amend/", {"amend-password": PASSWORD, "amend-reason": "r", "amend-change_summary": "c"})
    assert again.status_code == 400
    assert Certificate.objects.count() == 2


def test_a_qa_manager_revokes_with_a_reason_and_the_lot_goes_back_on_hold(setup: CertificateLab, qa: User, qa_manager: User) -> None:
    certificate = issued(certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD))
    assert (
        signed_in(qa).post(f"/certificates/{certificate.pk}/revoke/", {"revoke-password": PASSWORD, "revoke-reason": "x"}).status_code
        == 403
    )
    client = signed_in(qa_manager)
    assert 'data-testid="revoke-form"' in client.get(f"/certificates/{certificate.pk}/").content.decode()
    no_reason = client.post(f"/certificates/{certificate.pk}/revoke/", {"revoke-password": PASSWORD, "revoke-reason": ""})
    assert no_reason.status_code == 400
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ISSUED
    response = client.post(f"/certificates/{certificate.pk}/revoke/", {"revoke-password": PASSWORD, "revoke-reason": "sample mix-up"})
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.REVOKED
    assert certificate.revocation_reason == "sample mix-up"
    setup.conforming.refresh_from_db()
    assert setup.conforming.status == LotStatus.ON_HOLD
    assert AuditEvent.objects.filter(entity="assays.certificate", object_id=str(certificate.pk), reason="sample mix-up").exists()
    page = client.get(f"/certificates/{certificate.pk}/").content.decode()
    assert "sample mix-up" in part(page, "revoked-notice")
    assert 'data-testid="revoke-form"' not in page


# --- The document, its polling and the PDF ----------------------------------------------------------


def test_the_pdf_is_404_until_rendered_then_downloads_as_an_attachment(setup: CertificateLab, qa: User, lab_signing: Any) -> None:
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    client = signed_in(qa)
    assert client.get(f"/certificates/{certificate.pk}/pdf/").status_code == 404
    # The polled part answers itself, still polling, while rendering.
    polled = client.get(f"/certificates/{certificate.pk}/", headers={"HX-Request": "true"})
    assert polled.status_code == 200
    assert 'hx-trigger="every 1s"' in polled.content.decode()
    assert "HX-Refresh" not in polled

    certificate_render(certificate_id=certificate.pk)
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ISSUED
    response = client.get(f"/certificates/{certificate.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{certificate.number}-rev0.pdf"'
    pdf = b"".join(response.streaming_content)
    assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256
    # Once issued, the poll stops and reloads the page; the page offers the download.
    done = client.get(f"/certificates/{certificate.pk}/", headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true"
    assert "hx-trigger" not in done.content.decode()
    page = client.get(f"/certificates/{certificate.pk}/").content.decode()
    assert certificate.pdf_sha256 in part(page, "certificate-document")
    assert f'href="/certificates/{certificate.pk}/pdf/"' in page
    assert "Issued" in part(page, "certificate-status")


@pytest.mark.cjk_fonts
def test_a_customer_named_in_chinese_gets_a_certificate_that_prints_its_name(
    setup: CertificateLab, qa: User, lab_signing: Any, world: World
) -> None:
    # The plant's customers in the supply chain's other half: the name as their purchase orders write it.
    name = "宁波韵升股份有限公司"
    Partner.objects.filter(pk=world.partner_a.pk).update(name=name)
    world.partner_a.refresh_from_db()
    LotAllocation.objects.create(lot=setup.conforming, customer=world.partner_a, mass_kg=200, reference="NB-2026-118")
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD, customer=world.partner_a)
    certificate_render(certificate_id=certificate.pk)
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ISSUED, certificate.render_error
    response = signed_in(qa).get(f"/certificates/{certificate.pk}/pdf/")
    pdf = b"".join(response.streaming_content)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert name in text


def test_a_failed_render_is_shown_and_qa_retries_it(
    setup: CertificateLab, qa: User, lab_signing: Any, django_capture_on_commit_callbacks: Any
) -> None:
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    Certificate.objects.filter(pk=certificate.pk).update(render_error="SigningError: the key file was unreadable")
    client = signed_in(qa)
    page = client.get(f"/certificates/{certificate.pk}/").content.decode()
    assert "the key file was unreadable" in part(page, "render-error")
    assert 'data-testid="retry-render-form"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/certificates/{certificate.pk}/retry-render/")
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ISSUED
    assert certificate.render_error == ""
    # Asking again for a rendered certificate changes nothing.
    client.post(f"/certificates/{certificate.pk}/retry-render/")
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ISSUED


# --- The list ---------------------------------------------------------------------------------------


def test_the_list_is_scoped_filtered_and_costs_a_fixed_number_of_queries(
    setup: CertificateLab, qa: User, qa_manager: User, technician: User, us_qa: User, django_assert_max_num_queries: Any
) -> None:
    first = issued(certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD))
    client = signed_in(qa)
    html = client.get("/certificates/").content.decode()
    assert first.number in html
    assert "Issue in bulk" in html
    assert first.number in client.get("/certificates/", {"status": "issued"}).content.decode()
    assert first.number not in client.get("/certificates/", {"status": "revoked"}).content.decode()
    assert first.number not in client.get("/certificates/", {"kind": "report"}).content.decode()
    # A tampered filter drops that filter; a page out of range is the last page: never a 500.
    assert client.get("/certificates/", {"status": "nonsense", "page": "999"}).status_code == 200
    partial = client.get("/certificates/", headers={"HX-Request": "true"}).content.decode()
    assert 'id="certificate-table"' in partial
    assert "<html" not in partial

    with django_assert_max_num_queries(50) as small:
        client.get("/certificates/")
    for lot in more_conforming_lots(setup, technician, count=6):
        certificate_issue(actor=qa_manager, lot=lot, password=PASSWORD)
    with django_assert_max_num_queries(len(small.captured_queries)):
        many = client.get("/certificates/")
    assert len(re.findall(r'data-testid="certificate-row"', many.content.decode())) == 7
    assert first.number not in signed_in(us_qa).get("/certificates/").content.decode()


# --- Bulk issuance ----------------------------------------------------------------------------------


def test_bulk_issuance_lists_eligible_lots_and_signs_them_in_one_batch(
    setup: CertificateLab, qa: User, technician: User, us_qa: User
) -> None:
    lots = more_conforming_lots(setup, technician, count=2)
    certified = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    client = signed_in(qa)
    page = client.get("/certificates/bulk/").content.decode()
    listed = part(page, "eligible-lots")
    assert all(f'value="{lot.pk}"' in listed for lot in lots)
    assert f'value="{setup.off_spec.pk}"' not in listed  # off specification, on hold
    assert f'value="{certified.lot_id}"' not in listed  # already certified
    assert 'data-testid="no-eligible-lots"' in signed_in(us_qa).get("/certificates/bulk/").content.decode()

    wrong = client.post("/certificates/bulk/", {"password": "nope", "lot": [str(lot.pk) for lot in lots]})
    assert wrong.status_code == 403
    assert not CertificateBatch.objects.exists()
    tampered = client.post("/certificates/bulk/", {"password": PASSWORD, "lot": ["abc"]})
    assert tampered.status_code == 400
    none = client.post("/certificates/bulk/", {"password": PASSWORD})
    assert none.status_code == 400
    # Another site's QA may not name these lots.
    assert signed_in(us_qa).post("/certificates/bulk/", {"password": PASSWORD, "lot": [str(lots[0].pk)]}).status_code == 400
    assert Certificate.objects.count() == 1

    chosen = [str(lot.pk) for lot in lots] + [str(setup.off_spec.pk)]
    response = client.post("/certificates/bulk/", {"password": PASSWORD, "lot": chosen})
    assert response.status_code == 302
    batch = CertificateBatch.objects.get()
    assert response["Location"] == f"/certificates/batches/{batch.pk}/"
    assert batch.total == 2
    assert [item["lot"] for item in batch.skipped] == [setup.off_spec.code]
    assert set(Certificate.objects.filter(batch=batch).values_list("lot_id", flat=True)) == {lot.pk for lot in lots}
    for lot in lots:
        lot.refresh_from_db()
        assert lot.status == LotStatus.RELEASED

    progress = client.get(response["Location"]).content.decode()
    assert "0 of 2 rendered" in part(progress, "batch-counts")
    assert setup.off_spec.code in part(progress, "batch-skipped")
    assert 'hx-trigger="every 1s"' in progress  # still rendering: it polls
    polled = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'id="batch-progress"' in polled
    assert "<html" not in polled
    # The batch is its requester's (and cross-site staff's): another site's QA gets a 404.
    assert signed_in(us_qa).get(response["Location"]).status_code == 404
    # Rendered (as the worker leaves them), the batch page says done and stops polling.
    for certificate in Certificate.objects.filter(batch=batch):
        issued(certificate)
    CertificateBatch.objects.filter(pk=batch.pk).update(rendered=2)
    finished = client.get(response["Location"]).content.decode()
    assert "2 of 2 rendered" in finished
    assert 'data-testid="batch-done"' in finished
    assert "hx-trigger" not in finished


def test_the_review_page_costs_the_same_queries_however_many_runs_measured_the_lot(
    setup: CertificateLab, qa: User, technician: User, django_assert_max_num_queries: Any
) -> None:
    one, two = more_conforming_lots(setup, technician, count=2, prefix="ND-Q")
    # The second lot is measured again in another run (the same values: it still conforms).
    import_and_assess(technician, setup.lab, two, fe=11.0)
    client = signed_in(qa)
    with django_assert_max_num_queries(200) as baseline:
        assert client.get(f"/review/{one.code}/").status_code == 200
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        html = client.get(f"/review/{two.code}/").content.decode()
    assert len(re.findall(r'data-testid="review-run"', html)) == 2


def test_the_lot_page_leads_qa_to_the_review_page(setup: CertificateLab, qa: User, technician: User) -> None:
    lot_page = f"/lots/{setup.conforming.code}/"
    for_qa = signed_in(qa).get(lot_page).content.decode()
    assert f'href="{review_url(setup)}"' in for_qa
    assert "Review and certify" in for_qa
    for_technician = signed_in(technician).get(lot_page).content.decode()
    assert "Review and certify" not in for_technician
    assert "Certificate review" in for_technician
