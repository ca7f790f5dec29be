"""A real browser against a real server: sign in as a technician, read the dashboard, filter the lot
list with htmx, open a lot and see its samples. Debian's chromium, headless, offline: any request to
another host is blocked and fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from assays.models import LotKind
from assays.services.lots import lot_allocate, lot_create, lot_input_add
from assays.services.samples import sample_register
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD, ProductFactory

# Playwright's sync API runs an asyncio loop in this thread; Django refuses ORM calls from a thread
# with a running loop unless told the code is in fact synchronous, which it is here. The ``page``
# fixture says so for the test's duration only: set for the whole process, the variable would leak
# into every subprocess a later test starts (``manage.py check --deploy`` rightly fails on it).
#
# While that loop runs, Django keeps this thread's database connections apart from the ones it
# had before (asgiref stores them per async context). So test data is created before the browser
# starts (fixture order: ``lab`` before ``page``), and any connection opened while the browser is
# up is closed before it stops; otherwise it outlives the test and PostgreSQL refuses to drop the
# test database.

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Imported here: without playwright the conftest skips (or, in CI, fails) the test with a reason.
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    offsite: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        context.set_default_timeout(10_000)

        def only_this_server(route: Any) -> None:
            # The lab may be offline: a page that needs another host is a bug, not a slow load.
            if route.request.url.startswith(live_server.url):
                route.continue_()
            else:
                offsite.append(route.request.url)
                route.abort()

        context.route("**/*", only_this_server)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            connections.close_all()
    assert offsite == [], f"the pages asked for other hosts: {offsite}"
    assert errors == [], f"the browser reported errors: {errors}"


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
