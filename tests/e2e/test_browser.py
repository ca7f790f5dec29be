"""A real browser against a real server: sign in as a technician, read the dashboard, filter the lot
list with htmx, open a lot and see its samples. Debian's chromium, headless, offline: any request to
another host is blocked and fails the test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from assays.models import LotKind
from assays.services.lots import lot_allocate, lot_create, lot_input_add
from assays.services.samples import sample_register
from tests.e2e.conftest import RESULTS
from tests.factories import PASSWORD, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lab(world: Any, technician: Any) -> None:
    product = ProductFactory(code="NDPR-OX", name="NdPr oxide 99.5%")
    feed = lot_create(
        actor=technician,
        code="FS-2024-001",
        site=world.uk_site,
        kind=LotKind.FEEDSTOCK,
        mass_kg=Decimal("1200"),
        supplier=world.partner_a,
        feedstock_type="end_of_life_magnets",
        magnet_chemistry="ndfeb",
        is_recycled=True,
        country_of_collection="DE",
    )
    oxide = lot_create(
        actor=technician,
        code="PR-2024-017",
        site=world.uk_site,
        kind=LotKind.PRODUCT,
        product=product,
        mass_kg=Decimal("500"),
        is_recycled=True,
        country_of_collection="DE",
        country_of_separation="GB",
        country_of_oxide_production="GB",
    )
    lot_input_add(actor=technician, input_lot=feed, output_lot=oxide, mass_used_kg=Decimal("612.5"))
    lot_allocate(actor=technician, lot=oxide, customer=world.partner_b, mass_kg=Decimal("300"), reference="PO-B-0042")
    for code, mass in [("PR17-A", "0.1002"), ("PR17-B", "0.0998"), ("PR17-DUP", "0.1011")]:
        sample_register(
            actor=technician,
            code=code,
            lot=oxide,
            sample_mass_g=Decimal(mass),
            final_volume_ml=Decimal("50"),
            dilution_factor=Decimal("20"),
        )
    # Another site's lot: it must not appear anywhere for this technician.
    lot_create(actor=None, code="US-FS-9", site=world.us_site, kind=LotKind.FEEDSTOCK, mass_kg=Decimal("100"))


def test_a_technician_signs_in_and_opens_a_lot(live_server: Any, lab: None, page: Any) -> None:
    from playwright.sync_api import expect

    RESULTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/lots/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/lots/")
    page.get_by_label("Username").fill("tech")
    page.get_by_label("Password").fill(PASSWORD)
    page.screenshot(path=RESULTS / "login.png")
    page.get_by_role("button", name="Sign in").click()

    # ``next`` is honoured; then the dashboard through the navigation.
    expect(page).to_have_url(f"{live_server.url}/lots/")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Laboratory dashboard")).to_be_visible()
    expect(page.get_by_test_id("lots-total")).to_contain_text("2")
    expect(page.get_by_test_id("samples-by-status").locator('[data-status="registered"]')).to_contain_text("3")
    expect(page.locator(".who")).to_contain_text("Technician")
    expect(page.get_by_test_id("affiliation")).to_have_text("UK1")
    page.screenshot(path=RESULTS / "dashboard.png", full_page=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lots").click()
    expect(page).to_have_url(f"{live_server.url}/lots/")
    table = page.get_by_test_id("lot-table")
    expect(table).to_contain_text("FS-2024-001")
    expect(table).to_contain_text("PR-2024-017")
    expect(table).not_to_contain_text("US-FS-9")

    # htmx swaps the table in place: the page (and this marker on its window) survives the filter.
    page.wait_for_function("() => window.htmx !== undefined")
    page.evaluate("() => { window.__notReloaded = true; }")
    page.get_by_label("Kind").select_option("product")
    expect(page).to_have_url(f"{live_server.url}/lots/?status=&kind=product&q=")
    expect(page.get_by_test_id("lot-table")).not_to_contain_text("FS-2024-001")
    expect(page.get_by_test_id("lot-table")).to_contain_text("PR-2024-017")
    assert page.evaluate("() => window.__notReloaded") is True
    page.screenshot(path=RESULTS / "lot-list.png", full_page=True)

    page.get_by_role("link", name="PR-2024-017").click()
    expect(page).to_have_url(f"{live_server.url}/lots/PR-2024-017/")
    expect(page.get_by_test_id("lot-code")).to_have_text("PR-2024-017")
    samples = page.get_by_test_id("samples")
    for code in ("PR17-A", "PR17-B", "PR17-DUP"):
        expect(samples).to_contain_text(code)
    expect(page.get_by_test_id("inputs")).to_contain_text("FS-2024-001")
    expect(page.get_by_test_id("allocations")).to_contain_text("Partner B Motors Ltd")
    expect(page.get_by_test_id("custody")).to_contain_text("Registered")
    page.screenshot(path=RESULTS / "lot-detail.png", full_page=True)

    # Signing out is a POST from the frame; afterwards the lab pages ask for a login again.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
