"""A real browser registers samples: from a lot's page to the Register samples page, a pasted sheet
previewed in place by htmx (errors on their lines, no Confirm), fixed, previewed again, confirmed;
then the lot's labels page, ready to print."""

from __future__ import annotations

from typing import Any

import pytest

from assays.models import LotKind
from assays.services.lots import lot_create
from tests.e2e.conftest import RESULTS
from tests.factories import PASSWORD, PartnerFactory

# tests/e2e/conftest.py says why the data is made before the browser starts (request ``lab`` first).

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "sample_id,lot,lot_kind,product,supplier,sample_mass_g,final_volume_ml,dilution_factor,site"


@pytest.fixture
def lab(world: Any, technician: Any) -> None:
    PartnerFactory(code="RHEIN-EV", name="Rheinland EV-Demontage GmbH", kind="supplier", country="DE")
    lot_create(actor=None, code="FS-2026-001", site=world.uk_site, kind=LotKind.FEEDSTOCK, supplier=world.partner_a)


def test_a_technician_previews_fixes_and_confirms_a_sheet_then_prints_labels(live_server: Any, lab: None, page: Any) -> None:
    from playwright.sync_api import expect

    RESULTS.mkdir(exist_ok=True)
    page.goto(f"{live_server.url}/login/?next=/lots/FS-2026-001/")
    page.get_by_label("Username").fill("tech")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("lot-code")).to_have_text("FS-2026-001")

    # The lot page's link fills in the lot's own columns in the one-sample form.
    page.get_by_test_id("register-samples").click()
    expect(page).to_have_url(f"{live_server.url}/samples/register/?lot=FS-2026-001")
    expect(page.get_by_label("Lot", exact=True)).to_have_value("FS-2026-001")
    expect(page.get_by_label("Supplier")).to_have_value("PA")

    page.wait_for_function("() => window.htmx !== undefined")
    page.evaluate("() => { window.__notReloaded = true; }")
    bad = "\n".join(
        [
            HEADER,
            "S-101,FS-2026-001,feedstock,,PA,0.1002,50,10,UK1",
            "S-101,FS-2026-001,feedstock,,PA,0.0998,50,10,UK1",
            "S-201,FS-2026-002,feedstock,,RHEIN-EV,0.1,50,0.5,UK1",
        ]
    )
    page.get_by_label("Paste the sheet").fill(bad)
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("2 errors: nothing will be registered.")
    expect(page.locator('tr[data-line="3"]')).to_have_attribute("data-outcome", "error")
    expect(page.locator('tr[data-errors-for="3"]')).to_contain_text("sample id 'S-101' is already on line 2")
    expect(page.locator('tr[data-errors-for="4"]')).to_contain_text("'0.5': must be at least 1")
    expect(page.get_by_test_id("confirm-form")).to_have_count(0)
    assert page.evaluate("() => window.__notReloaded") is True  # swapped in place
    page.screenshot(path=RESULTS / "registration-preview-errors.png", full_page=True)

    good = bad.replace("S-101,FS-2026-001,feedstock,,PA,0.0998", "S-102,FS-2026-001,feedstock,,PA,0.0998").replace(",0.5,UK1", ",5,UK1")
    page.get_by_label("Paste the sheet").fill(good)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-ready")).to_contain_text("Ready to register 3 samples")
    expect(page.get_by_test_id("new-lots")).to_contain_text("FS-2026-002")
    page.screenshot(path=RESULTS / "registration-preview.png", full_page=True)
    page.get_by_role("button", name="Confirm: register 3 samples").click()

    expect(page).to_have_url(f"{live_server.url}/samples/register/")
    expect(page.locator(".notice-info").first).to_contain_text("Registered 3 samples; created lot FS-2026-002.")

    page.goto(f"{live_server.url}/lots/FS-2026-001/")
    expect(page.get_by_test_id("samples")).to_contain_text("S-102")
    page.get_by_test_id("print-labels").click()
    expect(page).to_have_url(f"{live_server.url}/labels/FS-2026-001/")
    labels = page.get_by_test_id("label")
    expect(labels).to_have_count(2)
    expect(labels.first.locator("svg.qr")).to_be_visible()
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    page.screenshot(path=RESULTS / "labels-print.png", full_page=True)
