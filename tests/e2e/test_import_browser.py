"""A real browser imports the real Agilent batch: drop the file on the upload page, read the preview,
confirm it and land on the run's page with its grid; then type LOI results for a lot by hand.
Debian's chromium, headless, offline: any request to another host is blocked and fails the test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RESULTS
from tests.factories import PASSWORD
from tests.runs_setup import AGILENT, make_run_lab

# tests/e2e/conftest.py says why the data is made before the browser starts (request ``lab`` first).

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    # The upload waits for its confirm under MEDIA_ROOT: the test's own folder, not the developer's.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def lab(world: Any, technician: Any) -> None:
    make_run_lab(site=world.uk_site)


def sign_in(page: Any, live_server: Any, path: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}{path}")
    page.get_by_label("Username").fill("tech")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}{path}")


def test_a_technician_drops_the_real_batch_confirms_the_preview_and_sees_the_run(live_server: Any, lab: None, page: Any) -> None:
    from playwright.sync_api import expect

    RESULTS.mkdir(exist_ok=True)
    sign_in(page, live_server, "/runs/")
    page.get_by_test_id("import-run").click()
    expect(page.get_by_role("heading", name="Import a run")).to_be_visible()

    page.get_by_label("Instrument").select_option("UK1-ICPMS-01")
    page.get_by_label("Method").select_option("REE-ICPMS")
    # Drag and drop, as a person does it: a DataTransfer holding the file, dropped on the zone.
    page.wait_for_function("() => document.querySelector('[data-dropzone]') !== null")
    transfer = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, {type: "text/csv"}));
            return transfer;
        }""",
        [AGILENT.name, AGILENT.read_text(encoding="ascii")],
    )
    zone = page.get_by_test_id("dropzone")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_class("dropzone dropzone-over")
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(page.get_by_test_id("dropzone-file")).to_contain_text(AGILENT.name)
    expect(page.get_by_test_id("dropzone-file")).to_contain_text("332.6 kB")
    page.screenshot(path=RESULTS / "run-upload.png", full_page=True)

    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_test_id("preview-ready")).to_be_visible()
    expect(page.get_by_test_id("preview-format")).to_have_text("agilent-masshunter")
    expect(page.get_by_test_id("count-acquisitions")).to_have_text("110")
    expect(page.get_by_test_id("count-matched")).to_have_text("6")
    expect(page.get_by_test_id("matched-samples")).to_contain_text("TS1")
    expect(page.get_by_test_id("unmatched-labels")).to_contain_text("0")
    expect(page.get_by_test_id("preview-warnings")).to_be_visible()
    page.screenshot(path=RESULTS / "run-preview.png", full_page=True)

    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/runs/\d+/$"), timeout=60_000)
    # Run numbers come from the database's sequence, which a transactional test does not reset.
    run_id = page.get_by_test_id("run-id").inner_text()
    expect(page.get_by_text(f"Imported run {run_id}: 110 acquisitions")).to_be_visible()
    expect(page.get_by_test_id("run-file")).to_have_text(AGILENT.name)
    grid = page.get_by_test_id("run-grid")
    expect(grid.locator("tbody tr")).to_have_count(100)
    expect(grid.locator("thead th").nth(4)).to_have_text("23Na [He]")
    expect(grid.locator("td.cell-censored").first).to_have_text("< LOD")
    page.screenshot(path=RESULTS / "run-detail.png")

    # htmx swaps the grid in place: the second page of acquisitions, and a filter, without a reload.
    page.evaluate("() => { window.__notReloaded = true; }")
    page.get_by_role("link", name="Next →").click()
    expect(page.get_by_test_id("grid-count")).to_contain_text("Acquisitions 101\u2013110 of 110")
    page.get_by_label("Show").select_option("samples")
    expect(grid.locator("tbody tr")).to_have_count(6)
    expect(grid).to_contain_text("TS1")
    assert page.evaluate("() => window.__notReloaded") is True
    page.screenshot(path=RESULTS / "run-detail-samples.png", full_page=True)

    # The same file again: the preview says it was imported, with a link, and offers no confirm.
    page.goto(f"{live_server.url}/runs/import/")
    page.get_by_label("Instrument").select_option("UK1-ICPMS-01")
    page.get_by_label("Method").select_option("REE-ICPMS")
    page.locator("input[type=file][name=file]").set_input_files(str(AGILENT))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_test_id("already-imported")).to_contain_text(f"Already imported as run {run_id}")
    expect(page.get_by_role("button", name="Confirm import")).to_have_count(0)
    page.get_by_test_id("existing-run-link").click()
    expect(page).to_have_url(f"{live_server.url}/runs/{run_id}/")


def test_a_technician_types_loi_results_for_a_lot(live_server: Any, lab: None, page: Any) -> None:
    from playwright.sync_api import expect

    RESULTS.mkdir(exist_ok=True)
    sign_in(page, live_server, "/lots/FS-26-001/")
    page.get_by_test_id("enter-results").click()
    expect(page.get_by_role("heading", name="Enter results for FS-26-001")).to_be_visible()

    # "Same analyte on every row", then a value for four samples; the third is below its LOD.
    page.get_by_label("Same analyte on every row").fill("LOI")
    page.locator("#fill-unit").select_option("%")
    page.get_by_role("button", name="Fill in").click()
    expect(page.get_by_label("Analyte, row 1")).to_have_value("LOI")
    page.get_by_label("Value, row 1").fill("0.42")
    page.get_by_label("Value, row 2").fill("0.38")
    page.get_by_label("Value, row 3").fill("<")
    page.get_by_label("LOD, row 3").fill("0.05")
    page.get_by_label("Value, row 4").fill("0.51")

    # Add a row through htmx: an outside laboratory's chloride for TS1.
    page.wait_for_function("() => window.htmx !== undefined")
    rows_before = page.locator("#manual-rows tr[data-row]").count()
    page.get_by_test_id("add-row").click()
    new = rows_before + 1
    expect(page.get_by_label(f"Sample, row {new}")).to_be_visible()
    page.get_by_label(f"Sample, row {new}").select_option("TS1")
    page.get_by_label(f"Analyte, row {new}").fill("Cl-")
    page.get_by_label(f"Value, row {new}").fill("120")
    page.get_by_label(f"Unit, row {new}").select_option("mg/kg")
    page.get_by_test_id("add-row").click()
    expect(page.get_by_label(f"Sample, row {new + 1}")).to_be_visible()
    page.get_by_label("Reference (optional)").fill("LOI 2026-11-27")
    page.screenshot(path=RESULTS / "manual-entry.png", full_page=True)

    # Rows 5 and 6 (the other samples) and the last added row stay empty: they are not results.
    page.get_by_role("button", name="Save results").click()
    expect(page.get_by_text("Saved 5 results for lot FS-26-001 as run")).to_be_visible()
    grid = page.get_by_test_id("run-grid")
    expect(grid.locator("tbody tr")).to_have_count(4)
    expect(grid.locator("td.cell-censored")).to_have_text(["< LOD"])
    expect(page.get_by_test_id("run-file")).to_have_text("manual entry, lot FS-26-001 (LOI 2026-11-27)")
    page.screenshot(path=RESULTS / "manual-entry-run.png", full_page=True)
