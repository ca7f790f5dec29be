"""A partner user in a real browser: signs in at the login page, lands in the portal, opens a
released lot, downloads its certificate's PDF (the bytes are the issued ones: same SHA-256), and
finds another partner's lot answered with 404."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RESULTS
from tests.factories import PASSWORD
from tests.partner_setup import PartnerWorld, make_partner_world

# tests/e2e/conftest.py says why the data is made before the browser starts (request ``pw`` first).

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pw(
    world: Any, technician: Any, qa: Any, qa_manager: Any, partner_a_user: Any, lab_signing: Any, settings: Any, live_server: Any
) -> PartnerWorld:
    # The verification links point at this server, as they point at the lab's public address in production.
    settings.LIMS_PUBLIC_BASE_URL = live_server.url
    return make_partner_world(technician=technician, qa=qa, qa_manager=qa_manager, world=world)


def test_a_partner_signs_in_opens_a_released_lot_and_downloads_the_issued_pdf(live_server: Any, pw: PartnerWorld, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    page.get_by_label("Username").fill("partner_a")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/portal/")

    rows = page.get_by_test_id("portal-lot-row")
    expect(rows).to_have_count(3)
    expect(page.locator(f'[data-lot="{pw.b_certified.code}"]')).to_have_count(0)
    page.screenshot(path=RESULTS / "portal-lots.png", full_page=True)

    page.get_by_role("link", name=pw.a_certified.code, exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/portal/lots/{pw.a_certified.code}/")
    expect(page.get_by_test_id("lot-release")).to_have_text("Released")
    expect(page.get_by_test_id("result-row").first).to_be_visible()
    document = page.locator(f'[data-testid="portal-document-row"][data-document="{pw.a_certificate.pk}"]')
    expect(document.get_by_test_id("document-status")).to_have_text("Issued")
    assert document.get_by_test_id("document-verification").get_attribute("href") == pw.a_certificate.payload["verification_url"]
    page.screenshot(path=RESULTS / "portal-lot.png", full_page=True)

    with page.expect_download() as download_info:
        document.get_by_test_id("document-pdf").click()
    download = download_info.value
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"%PDF-")
    assert hashlib.sha256(body).hexdigest() == pw.a_certificate.pdf_sha256
    assert download.suggested_filename == f"{pw.a_certificate.number}-rev0.pdf"

    # Another partner's lot, asked for with this browser's session: not found, as if it did not exist.
    other = page.request.get(f"{live_server.url}/portal/lots/{pw.b_certified.code}/")
    assert other.status == 404
    other_pdf = page.request.get(f"{live_server.url}/portal/certificates/{pw.b_certificate.pk}/pdf/")
    assert other_pdf.status == 404
