"""Run QC on the web: the run page's QC panel and the reviewer's decisions, acceptance in the grid,
the method page with its control charts, and the lot page's method control.

The runs are small generic-long files judged by a CCV-only rule pack (tests.qc_setup): the middle
CCV recovers 113.8 %, outside 90-110 %, and rejects the two samples it brackets.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assays.models import AuditEvent, QcCheck, QcEvaluation, QcWaiver, ResultAcceptance, Run, RunStatus
from assays.roles import Role
from assays.selectors.qc_pages import lot_method_control
from assays.selectors.runs import run_grid
from tests.conftest import World
from tests.factories import UserFactory
from tests.qc_setup import CCV_WIDE, LA, ND, PASSING_CCVS, import_run, make_qc_lab, make_rule_pack
from tests.runs_setup import RunLab

pytestmark = pytest.mark.django_db


def signed_in(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def lab(world: World) -> RunLab:
    return make_qc_lab(site=world.uk_site)


@pytest.fixture
def run(technician: User, lab: RunLab) -> Run:
    return import_run(analyst=technician, lab=lab)


@pytest.fixture
def failed_check(run: Run) -> QcCheck:
    return QcCheck.objects.get(evaluation__run=run, evaluation__is_current=True, passed=False)


@pytest.fixture
def analyst_qa(world: World) -> User:
    """A user who both imports runs and reviews QC: the service never lets them review their own."""
    return UserFactory(username="tech_qa", roles=[Role.TECHNICIAN, Role.QA], sites=[world.uk_site])


def page(client: Client, run: Run, **query: str) -> str:
    response = client.get(f"/runs/{run.pk}/", query)
    assert response.status_code == 200
    return response.content.decode()


def panel(html: str) -> str:
    return html.split('data-testid="qc-panel"')[1].split("</section>")[0]


def flash(response: Any) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def sample_cells(html: str) -> list[str]:
    """The <td> of every sample row's La cell."""
    body = html.split('data-testid="run-grid"')[1].split("</tbody>")[0]
    rows = re.findall(r'<tr class="row-sample".*?</tr>', body, re.S)
    return [re.findall(r"<td class=\"num[^\"]*\"[^>]*>", row)[-1] for row in rows]


# --- The panel -------------------------------------------------------------------------------------


def test_the_panel_shows_the_evaluation_and_the_failing_check(qa, run, failed_check):
    html = panel(page(signed_in(qa), run))
    assert re.search(r'data-testid="qc-rule-pack">ccv-only v1<', html)
    assert "badge-rejected" in html.split('data-testid="qc-status"')[1].split("</dd>")[0]
    assert "3 checks, 1 failed" in html
    counts = html.split('data-testid="qc-acceptance-counts"')[1].split("</dd>")[0]
    assert 'data-state="rejected">Rejected 2<' in counts
    assert 'data-state="accepted">Accepted 0<' in counts
    assert re.search(r"<td>CCV recovery</td><td class=\"num\">2</td><td class=\"num\">1</td>", html)
    checks = html.split('data-testid="qc-checks"')[1].split("</table>")[0]
    assert checks.count("<tr class=") == 1, "only the failed check by default"
    row = checks.split(f'data-check="{failed_check.pk}"')[1].split("</tr>")[0]
    assert '<td class="num">3</td>' in row
    assert "CCV 2" in row
    assert LA in row
    assert "113.8 % (90-110 %)" in row
    assert "outside 90-110 %" in row
    assert 'data-testid="waive-form"' in row
    assert 'name="csrfmiddlewaretoken"' in row
    assert 'data-testid="reject-form"' in html
    assert 'data-testid="evaluate-form"' in html


def test_a_run_not_judged_yet_says_qc_pending(qa, technician, lab):
    pending = import_run(analyst=technician, lab=lab, ccvs=PASSING_CCVS, judge=False)
    html = panel(page(signed_in(qa), pending))
    assert 'data-testid="qc-pending"' in html
    assert "QC pending" in html
    assert 'data-testid="qc-checks"' not in html
    assert 'data-testid="waive-form"' not in html
    assert 'data-testid="evaluate-form"' in html  # QA may judge it now


def test_all_checks_are_one_toggle_away_and_htmx_gets_the_panel_alone(qa, run):
    client = signed_in(qa)
    html = panel(page(client, run))
    assert f'href="/runs/{run.pk}/?qc=all#qc-panel"' in html
    assert "Show all 3 checks" in html
    every = panel(page(client, run, qc="all"))
    assert every.split('data-testid="qc-checks"')[1].split("</table>")[0].count("<tr class=") == 3
    assert every.count("row-passed") == 2
    assert "Show failed checks only" in every

    response = client.get(f"/runs/{run.pk}/", {"qc": "all"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="qc-panel")
    partial = response.content.decode()
    assert "<html" not in partial
    assert partial.lstrip().startswith('<section class="card qc-panel" id="qc-panel"')
    assert 'data-testid="run-grid"' not in partial
    assert "HX-Target" in response["Vary"]
    # The grid's own htmx requests still get the grid alone.
    grid = client.get(f"/runs/{run.pk}/", {"page": "1"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="run-grid").content.decode()
    assert grid.lstrip().startswith('<div id="run-grid">')


def test_the_run_page_links_to_its_method(qa, run, lab):
    html = page(signed_in(qa), run)
    assert f'href="{reverse("web:method_detail", args=[lab.method.code])}" data-testid="method-link"' in html


# --- Who sees the forms ------------------------------------------------------------------------------


def test_the_analyst_sees_the_panel_without_forms_and_is_refused(analyst_qa, lab, world):
    own = import_run(analyst=analyst_qa, lab=lab)
    check = QcCheck.objects.get(evaluation__run=own, passed=False)
    client = signed_in(analyst_qa)
    html = panel(page(client, own))
    assert "113.8 % (90-110 %)" in html
    assert 'data-testid="waive-form"' not in html
    assert 'data-testid="qc-review-forms"' not in html
    assert "You are this run&#x27;s analyst: another QA user must review it." in html

    response = client.post(reverse("web:run_qc_waive", args=[own.pk, check.pk]), {"reason": "looks fine to me"}, follow=True)
    assert response.status_code == 200
    assert "the run's analyst cannot review their own run" in flash(response)
    assert not QcWaiver.objects.exists()
    rejected = client.post(reverse("web:run_qc_reject", args=[own.pk]), {"reason": "mine"}, follow=True)
    assert "the run's analyst cannot review their own run" in flash(rejected)
    own.refresh_from_db()
    assert own.status == RunStatus.REJECTED  # as judged, not as the analyst asked
    assert QcEvaluation.objects.get(run=own).run_rejected_at is None


def test_a_technician_sees_the_panel_without_forms_and_why(technician, run, failed_check):
    client = signed_in(technician)
    html = panel(page(client, run))
    assert "113.8 % (90-110 %)" in html
    assert "Your role does not review run QC" in html
    assert "<form" not in html
    response = client.post(reverse("web:run_qc_waive", args=[run.pk, failed_check.pk]), {"reason": "fine"}, follow=True)
    assert "only QA may review a run's QC" in flash(response)
    assert not QcWaiver.objects.exists()


# --- Decisions --------------------------------------------------------------------------------------


def test_another_qa_user_accepts_the_failed_check_and_the_results_count(qa, run, failed_check):
    client = signed_in(qa)
    before = page(client, run, show="samples")
    assert [cell.split('title="')[0] for cell in sample_cells(before)] == ['<td class="num acc-rejected" '] * 2
    assert all("QC: rejected — CCV recovery at 3 (CCV 2)" in cell for cell in sample_cells(before))

    response = client.post(
        reverse("web:run_qc_waive", args=[run.pk, failed_check.pk]), {"reason": "CCV re-run at 101 %, see logbook p. 12"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/runs/{run.pk}/#qc-panel"
    waiver = QcWaiver.objects.get(check_result=failed_check)
    assert (waiver.decided_by, waiver.reason) == (qa, "CCV re-run at 101 %, see logbook p. 12")
    assert set(ResultAcceptance.objects.filter(measurement__acquisition__run=run).values_list("state", flat=True)) == {"accepted"}
    run.refresh_from_db()
    assert run.status == RunStatus.ACCEPTED
    assert AuditEvent.objects.filter(entity="assays.qcwaiver", object_id=str(waiver.pk), actor=qa).exists()

    after = client.get(response["Location"])
    assert "Accepted the failed check CCV 2" in flash(after)
    html = after.content.decode()
    qc = panel(html)
    assert 'data-testid="qc-waiver"' in qc
    assert "Accepted by qa" in qc
    assert "see logbook p. 12" in qc
    assert 'data-testid="waive-form"' not in qc
    assert 'data-state="accepted">Accepted 2<' in qc
    cells = sample_cells(page(client, run, show="samples"))
    assert len(cells) == 2
    assert all("acc-accepted" in cell and "acc-rejected" not in cell for cell in cells)


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_empty_reason_is_refused_and_nothing_changes(qa, run, failed_check, reason):
    states = list(ResultAcceptance.objects.order_by("pk").values_list("state", flat=True))
    client = signed_in(qa)
    for url in (reverse("web:run_qc_waive", args=[run.pk, failed_check.pk]), reverse("web:run_qc_reject", args=[run.pk])):
        response = client.post(url, {"reason": reason}, follow=True)
        assert response.status_code == 200
        assert "a reason is required" in flash(response)
    assert not QcWaiver.objects.exists()
    assert list(ResultAcceptance.objects.order_by("pk").values_list("state", flat=True)) == states
    assert QcEvaluation.objects.get(run=run).run_rejected_at is None


def test_a_post_without_the_csrf_token_is_refused(qa, run, failed_check):
    client = signed_in(qa, enforce_csrf_checks=True)
    response = client.post(reverse("web:run_qc_waive", args=[run.pk, failed_check.pk]), {"reason": "fine"})
    assert response.status_code == 403
    assert not QcWaiver.objects.exists()


def test_qa_rejects_the_whole_run(qa_manager, run):
    client = signed_in(qa_manager)
    response = client.post(reverse("web:run_qc_reject", args=[run.pk]), {"reason": "argon supply failed mid-run"}, follow=True)
    assert "Rejected the whole run" in flash(response)
    run.refresh_from_db()
    assert run.status == RunStatus.REJECTED
    evaluation = QcEvaluation.objects.get(run=run, is_current=True)
    assert (evaluation.run_rejected_by, evaluation.run_rejection_reason) == (qa_manager, "argon supply failed mid-run")
    html = panel(response.content.decode())
    assert "argon supply failed mid-run" in html.split('data-testid="qc-run-rejected"')[1]
    assert 'data-testid="waive-form"' not in html
    assert 'data-testid="reject-form"' not in html


def test_qa_re_evaluates_by_another_pack_version_and_the_history_keeps_the_first(qa, run):
    wide = make_rule_pack(source=CCV_WIDE, version=2)
    client = signed_in(qa)
    html = panel(page(client, run))
    assert f'<option value="{wide.pk}">ccv-only v2 — CCV only, wide</option>' in html
    response = client.post(
        reverse("web:run_qc_evaluate", args=[run.pk]), {"rule_pack": str(wide.pk), "reason": "SOP rev. 3 widens the CCV window"}
    )
    after = client.get(response["Location"])
    assert "Judged the run again by ccv-only v2: Accepted" in flash(after)
    run.refresh_from_db()
    assert run.status == RunStatus.ACCEPTED
    qc = panel(after.content.decode())
    assert 'data-testid="qc-rule-pack">ccv-only v2<' in qc
    history = qc.split('data-testid="qc-history"')[1].split("</details>")[0]
    assert "1 earlier evaluation" in history
    assert "ccv-only v1" in history
    assert "after import" in history
    assert QcEvaluation.objects.filter(run=run).count() == 2


@pytest.mark.parametrize("choice", ["999999", "abc", "-1", "9" * 30])
def test_an_unknown_rule_pack_choice_is_a_message_not_an_error(qa, run, choice):
    response = signed_in(qa).post(reverse("web:run_qc_evaluate", args=[run.pk]), {"rule_pack": choice, "reason": "try"}, follow=True)
    assert response.status_code == 200
    assert "choose a rule pack version from the list" in flash(response)
    assert QcEvaluation.objects.filter(run=run).count() == 1


def test_a_check_of_another_run_is_not_found(qa, technician, lab, run, failed_check):
    other = import_run(analyst=technician, lab=lab, ccvs=(10.2, 11.5, 10.0))
    client = signed_in(qa)
    assert client.post(reverse("web:run_qc_waive", args=[other.pk, failed_check.pk]), {"reason": "x"}).status_code == 404
    assert client.post(f"/runs/{run.pk}/qc/checks/{2**70}/waive/", {"reason": "x"}).status_code == 404
    assert not QcWaiver.objects.exists()


def test_staff_of_another_site_partners_and_visitors_cannot_reach_the_decisions(world, partner_a_user, client, run, failed_check):
    us_qa = UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])
    urls = [
        reverse("web:run_qc_waive", args=[run.pk, failed_check.pk]),
        reverse("web:run_qc_reject", args=[run.pk]),
        reverse("web:run_qc_evaluate", args=[run.pk]),
    ]
    for user in (us_qa, partner_a_user):
        for url in urls:
            assert signed_in(user).post(url, {"reason": "x"}).status_code == 404
    for url in urls:
        response = client.post(url, {"reason": "x"})
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('login')}?next=")
    assert client.get(f"/runs/{run.pk}/").status_code == 302
    assert signed_in(partner_a_user).get(f"/runs/{run.pk}/").status_code == 403
    assert not QcWaiver.objects.exists()
    assert QcEvaluation.objects.get(run=run).run_rejected_at is None


def test_a_get_cannot_decide(qa, run, failed_check):
    assert signed_in(qa).get(reverse("web:run_qc_waive", args=[run.pk, failed_check.pk]), {"reason": "x"}).status_code == 405


# --- The grid -----------------------------------------------------------------------------------------


def test_the_grid_marks_acceptance_with_a_legend_and_keeps_its_query_count(qa, technician, lab, run):
    html = page(signed_in(qa), run)
    legend = html.split('data-testid="acceptance-legend"')[1].split("</span></span>")[0]
    for state in ("accepted", "rejected", "redilute", "excluded"):
        assert f"acc-{state}" in legend
    qc_rows = re.findall(r'<tr class="row-qc".*?</tr>', html, re.S)
    assert len(qc_rows) == 3
    assert not any("acc-" in row for row in qc_rows), "QC items have no acceptance"

    pending = import_run(analyst=technician, lab=lab, ccvs=PASSING_CCVS, judge=False)

    def queries(of: Run) -> int:
        run_grid(actor=qa, run=of)  # the user's roles and sites are cached on the first call
        with CaptureQueriesContext(connection) as captured:
            grid = run_grid(actor=qa, run=of)
        assert grid.rows
        return len(captured)

    assert queries(run) == queries(pending)
    judged = run_grid(actor=qa, run=run, show="samples")
    assert [cell.acceptance for row in judged.rows for cell in row.cells if cell is not None] == ["rejected", "rejected"]


# --- The method page ------------------------------------------------------------------------------


@pytest.fixture
def drifting(settings, technician, lab) -> list[Run]:
    """Two in-control runs (six CCV points, the baseline), then one whose CCVs drift to 103-104 %:
    inside the 90-110 % window, so the run passes, but far beyond +3s of the baseline."""
    settings.LIMS_SPC_BASELINE_POINTS = 6
    return [
        import_run(analyst=technician, lab=lab, ccvs=(9.9, 10.1, 10.0)),
        import_run(analyst=technician, lab=lab, ccvs=(10.05, 9.95, 10.02)),
        import_run(analyst=technician, lab=lab, ccvs=(10.3, 10.4, 10.35)),
    ]


def test_the_method_page_shows_its_pack_standards_and_charts(qa, lab, drifting):
    response = signed_in(qa).get(reverse("web:method_detail", args=[lab.method.code]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="rule-pack-version">ccv-only v1<' in html
    source = html.split('data-testid="rule-pack-source">')[1].split("</pre>")[0]
    assert "[ccv]" in source
    assert "window = [90, 110]" in source
    assert "CCV mix 1" in html.split('data-testid="qc-standards"')[1]
    assert "3 calibration nominals" in html
    assert drifting[-1].status == RunStatus.ACCEPTED  # in the window: only the chart sees the drift
    charts = html.split('data-testid="ccv-charts"')[1]
    assert charts.count("<svg") == 1
    chart = charts.split("</figure>")[0]
    assert 'class="chart-card chart-violating"' in chart
    assert 'class="point violation"' in chart
    assert "1-3s" in chart.split('data-testid="chart-violations"')[1]
    assert "first 6 points" in chart
    assert 'data-testid="violating-count"' in html


def test_the_method_page_filters_by_analyte(qa, lab, drifting):
    client = signed_in(qa)
    url = reverse("web:method_detail", args=[lab.method.code])
    assert client.get(url, {"analyte": LA}).content.decode().count("<svg") == 1
    other = client.get(url, {"analyte": "56Fe [He]"}).content.decode()
    assert "<svg" not in other
    assert 'data-testid="no-charts"' in other
    partial = client.get(url, {"analyte": LA}, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="method-charts"')
    assert partial.count("<svg") == 1


def test_violating_charts_come_first(settings, qa, technician, lab):
    # La stays in control, Nd drifts: Nd's chart comes first although La sorts before it.
    settings.LIMS_SPC_BASELINE_POINTS = 6
    import_run(analyst=technician, lab=lab, ccvs=(9.9, 10.1, 10.0), others={ND: (9.9, 10.1, 10.0)})
    import_run(analyst=technician, lab=lab, ccvs=(10.05, 9.95, 10.02), others={ND: (10.05, 9.95, 10.02)})
    import_run(analyst=technician, lab=lab, ccvs=(10.0, 9.97, 10.03), others={ND: (10.3, 10.4, 10.35)})
    html = signed_in(qa).get(reverse("web:method_detail", args=[lab.method.code])).content.decode()
    charts = re.findall(r'<figure class="([^"]+)" data-testid="control-chart" data-analyte="([^"]+)"', html)
    assert charts == [("chart-card chart-violating", ND), ("chart-card", LA)]


def test_without_points_the_method_page_says_so(qa, lab):
    html = signed_in(qa).get(reverse("web:method_detail", args=[lab.method.code])).content.decode()
    assert 'data-testid="no-charts"' in html
    assert "<svg" not in html


def test_the_method_page_is_for_staff_only(partner_a_user, client, lab):
    url = reverse("web:method_detail", args=[lab.method.code])
    assert signed_in(partner_a_user).get(url).status_code == 404
    assert client.get(url).status_code == 302
    qa_user = UserFactory(username="qa2", roles=[Role.QA])
    assert signed_in(qa_user).get(reverse("web:method_detail", args=["NO-SUCH"])).status_code == 404
    assert signed_in(qa_user).get("/methods/%00/").status_code == 404


# --- The lot page ------------------------------------------------------------------------------------


def test_the_lot_page_shows_the_ccv_charts_of_its_methods_collapsed(qa, lab, drifting):
    html = signed_in(qa).get(reverse("web:lot_detail", args=[lab.lot.code])).content.decode()
    section = html.split('data-testid="method-control"')[1].split("</section>")[0]
    details = re.findall(r'<details class="chart-details[^"]*"[^>]*>', section)
    assert len(details) == 1
    assert " open" not in details[0]
    assert f'data-analyte="{LA}"' in details[0]
    assert "chart-violating" in details[0]
    assert section.count("<svg") == 1
    assert f'href="{reverse("web:method_detail", args=[lab.method.code])}"' in section


def test_partners_see_no_method_control(partner_a_user, lab, drifting):
    assert lot_method_control(actor=partner_a_user, lot=lab.lot) == []
