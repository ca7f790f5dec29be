"""A real browser reviews run QC: the QA user opens a run whose middle CCV failed, reads the QC
panel and the rejected cells of the grid, accepts the failed check with a reason and sees the
results count again; then opens the method page and its control chart."""

from __future__ import annotations

from typing import Any

import pytest

from assays.roles import Role
from tests.e2e.conftest import RESULTS
from tests.factories import PASSWORD, UserFactory
from tests.qc_setup import import_run, make_qc_lab

# tests/e2e/conftest.py says why the data is made before the browser starts (request ``review`` first).

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def review(world: Any, technician: Any) -> dict[str, Any]:
    lab = make_qc_lab(site=world.uk_site)
    run = import_run(analyst=technician, lab=lab)
    UserFactory(username="reviewer", roles=[Role.QA], sites=[world.uk_site])
    return {"run": run.pk, "method": lab.method.code}


def test_a_qa_user_accepts_a_failed_ccv_with_a_reason_and_the_bracketed_results_count_again(
    live_server: Any, review: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    path = f"/runs/{review['run']}/"
    page.goto(f"{live_server.url}{path}")
    page.get_by_label("Username").fill("reviewer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}{path}")

    panel = page.get_by_test_id("qc-panel")
    expect(panel.get_by_test_id("qc-rule-pack")).to_have_text("ccv-only v1")
    # Both samples sit next to the failed CCV: none of their La results counts.
    expect(panel.get_by_test_id("qc-status")).to_contain_text("Rejected")
    expect(panel.get_by_test_id("qc-reading")).to_contain_text("113.8 %")
    grid = page.get_by_test_id("run-grid")
    expect(grid.locator("td.acc-rejected")).to_have_count(2)
    page.screenshot(path=RESULTS / "qc-panel-failed.png", full_page=True)

    panel.get_by_test_id("waive-form").get_by_role("textbox").fill("CCV re-prepared and re-run at 101 %")
    panel.get_by_role("button", name="Accept with reason").click()
    expect(page.get_by_test_id("qc-waiver")).to_contain_text("Accepted by reviewer")
    expect(page.get_by_test_id("qc-waiver")).to_contain_text("CCV re-prepared and re-run at 101 %")
    expect(page.get_by_test_id("qc-status")).to_contain_text("Accepted")
    expect(page.get_by_test_id("run-grid").locator("td.acc-rejected")).to_have_count(0)
    page.screenshot(path=RESULTS / "qc-panel-waived.png", full_page=True)

    page.goto(f"{live_server.url}/methods/{review['method']}/")
    expect(page.get_by_role("heading", name=review["method"])).to_be_visible()
    expect(page.locator("svg").first).to_be_visible()
    page.screenshot(path=RESULTS / "method-page.png", full_page=True)
