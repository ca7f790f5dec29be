"""A real browser issues a certificate end to end: the QA user reviews a conforming lot, signs with
the password, waits for the worker to render and sign the PDF, downloads it, opens the public
verification page through the address the QR code carries, and checks the downloaded file there
(it matches byte for byte) and a copy with one byte changed (it does not)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from assays.models import Certificate
from assays.roles import Role
from tests.certificate_setup import make_certificate_lab
from tests.e2e.conftest import RESULTS
from tests.factories import PASSWORD, UserFactory

# tests/e2e/conftest.py says why the data is made before the browser starts (request ``lot`` first).

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lot(world: Any, technician: Any, qa_manager: Any, lab_signing: Any, settings: Any, live_server: Any) -> str:
    # The QR code (and the verification link) point at this server, as they point at the lab's
    # public address in production.
    settings.LIMS_PUBLIC_BASE_URL = live_server.url
    setup = make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)
    UserFactory(username="signer", first_name="Quinn", last_name="Able", roles=[Role.QA], sites=[world.uk_site])
    return setup.conforming.code


def test_qa_issues_a_certificate_and_a_recipient_verifies_the_pdf(live_server: Any, lot: str, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    review = f"/review/{lot}/"
    page.goto(f"{live_server.url}{review}")
    page.get_by_label("Username").fill("signer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}{review}")

    expect(page.get_by_test_id("assessment-status")).to_contain_text("Conforming")
    expect(page.get_by_test_id("review-run").first).to_be_visible()
    form = page.get_by_test_id("issue-form")
    expect(form.get_by_test_id("signature-meaning")).to_contain_text("By signing you approve this lot for release")
    page.screenshot(path=RESULTS / "certificate-review.png", full_page=True)
    form.get_by_label("Your password").fill(PASSWORD)
    form.get_by_role("button", name="Sign and issue").click()

    expect(page).to_have_url(f"{live_server.url}/certificates/{Certificate.objects.get().pk}/")
    # Rendering and signing happen in the worker; the page follows it (htmx) until it is issued.
    expect(page.get_by_test_id("certificate-status")).to_have_text("Issued", timeout=60_000)
    expect(page.get_by_test_id("certificate-signer")).to_contain_text("Quinn Able, QA")
    expect(page.get_by_test_id("certificate-meaning")).to_have_text("Approved for release")
    expect(page.get_by_test_id("verification-qr").locator("svg")).to_be_visible()
    page.screenshot(path=RESULTS / "certificate-issued.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_test_id("pdf-download").click()
    download = download_info.value
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    certificate = Certificate.objects.get()
    assert download.suggested_filename == f"{certificate.number}-rev0.pdf"

    # The link beside the QR code is exactly the address the QR code (and the PDF's) encodes.
    address = page.get_by_test_id("verification-link").get_attribute("href")
    assert address == certificate.payload["verification_url"]
    assert address.startswith(live_server.url)
    page.goto(address)
    expect(page.get_by_test_id("verify-number")).to_have_text(certificate.number)
    expect(page.get_by_test_id("verify-status")).to_contain_text("Valid")

    original = tmp_path / "certificate.pdf"
    original.write_bytes(pdf)
    page.get_by_test_id("verify-file").set_input_files(str(original))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_test_id("verify-result")).to_contain_text("matches the issued certificate byte for byte")
    page.screenshot(path=RESULTS / "certificate-verified.png", full_page=True)

    changed = tmp_path / "certificate-changed.pdf"
    middle = len(pdf) // 2
    changed.write_bytes(pdf[:middle] + bytes([pdf[middle] ^ 0x01]) + pdf[middle + 1 :])
    page.get_by_test_id("verify-file").set_input_files(str(changed))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_test_id("verify-result")).to_contain_text("does NOT match")


@pytest.fixture
def lot_without_key(world: Any, technician: Any, qa_manager: Any, lab_signing: Any, settings: Any, tmp_path: Path) -> str:
    # The lab's key is not where the settings say: the first rendering fails.
    settings.LIMS_SIGNING_KEY_FILE = tmp_path / "missing-key.pem"
    setup = make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)
    UserFactory(username="signer", roles=[Role.QA], sites=[world.uk_site])
    return setup.conforming.code


def test_the_certificate_page_shows_a_failed_render_and_follows_the_retry_until_issued(
    live_server: Any, lot_without_key: str, page: Any, settings: Any, lab_signing: Any
) -> None:
    from playwright.sync_api import expect

    from assays.services.certificates import certificate_render

    review = f"/review/{lot_without_key}/"
    page.goto(f"{live_server.url}{review}")
    page.get_by_label("Username").fill("signer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("issue-form").get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign and issue").click()

    expect(page.get_by_test_id("certificate-status")).to_have_text("Being rendered")
    expect(page.get_by_test_id("render-error")).to_contain_text("no signing key or certificate")
    expect(page.get_by_test_id("retry-render-form")).to_be_visible()
    page.screenshot(path=RESULTS / "certificate-render-failed.png", full_page=True)

    # The key is put in place and the worker's sweep renders it; the open page notices by itself.
    # The worker is a thread of its own: this one runs Playwright's event loop, and signing runs
    # pyHanko's.
    settings.LIMS_SIGNING_KEY_FILE = lab_signing[0]
    certificate_id = Certificate.objects.get().pk
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            certificate_render(certificate_id=certificate_id)
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert failures == []
    expect(page.get_by_test_id("certificate-status")).to_have_text("Issued", timeout=20_000)
    expect(page.get_by_test_id("pdf-download")).to_be_visible()
    expect(page.get_by_test_id("render-error")).to_have_count(0)
