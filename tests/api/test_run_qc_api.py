"""Run QC over the API: a run's evaluation and checks, QA's three decisions, a method's control charts.

The same small runs as the web tests (tests.qc_setup): the middle CCV recovers 113.8 %, outside
the CCV-only pack's 90-110 %, and rejects the two samples it brackets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from assays.api.qc_serializers import FiniteFloatField
from assays.models import AuditEvent, QcCheck, QcEvaluation, QcWaiver, ResultAcceptance, Run, RunStatus
from assays.roles import Role
from tests.conftest import World
from tests.factories import UserFactory
from tests.qc_setup import CCV_WIDE, LA, PASSING_CCVS, import_run, make_qc_lab, make_rule_pack
from tests.runs_setup import RunLab

pytestmark = pytest.mark.django_db

QC_PATHS = {
    "/api/v1/runs/{id}/qc/",
    "/api/v1/runs/{id}/qc/checks/{check_id}/waive/",
    "/api/v1/runs/{id}/reject/",
    "/api/v1/runs/{id}/evaluate/",
    "/api/v1/methods/{code}/control-charts/",
}


@pytest.fixture
def lab(world: World) -> RunLab:
    return make_qc_lab(site=world.uk_site)


@pytest.fixture
def run(technician, lab) -> Run:
    return import_run(analyst=technician, lab=lab)


@pytest.fixture
def failed_check(run) -> QcCheck:
    return QcCheck.objects.get(evaluation__run=run, evaluation__is_current=True, passed=False)


def post(client: APIClient, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, format="json")


def waive_url(run: Run, check: QcCheck) -> str:
    return f"/api/v1/runs/{run.pk}/qc/checks/{check.pk}/waive/"


# --- Reading ---------------------------------------------------------------------------------------


def test_a_runs_qc_lists_the_evaluation_and_its_checks(client_for, run, failed_check):
    response = client_for("qa").get(f"/api/v1/runs/{run.pk}/qc/")
    assert response.status_code == 200
    body = response.json()
    assert (body["run_id"], body["run_status"]) == (run.pk, RunStatus.REJECTED)
    evaluation = body["evaluation"]
    assert {key: evaluation["rule_pack"][key] for key in ("code", "version")} == {"code": "ccv-only", "version": 1}
    assert evaluation["status"] == "rejected"
    assert evaluation["counts"] == {"accepted": 0, "rejected": 2, "redilute": 0, "excluded": 0}
    assert evaluation["run_rejected"] is None
    assert evaluation["requested_by"] is None
    assert "3 checks, 1 failed" in evaluation["note"]
    assert len(body["checks"]) == 3
    failed = next(check for check in body["checks"] if not check["passed"])
    assert failed == {
        "id": failed_check.pk,
        "key": f"ccv:3:{LA}",
        "kind": "ccv",
        "sequence": 3,
        "label": "CCV 2",
        "analyte": LA,
        "measured": pytest.approx(113.8),
        "expected": 100.0,
        "low": 90.0,
        "high": 110.0,
        "unit": "%",
        "passed": False,
        "message": "CCV recovery 113.8 % (11.38 of 10 µg/L), outside 90-110 %",
        "effect": "bracket",
        "waiver": None,
    }


def test_failed_1_lists_only_the_failed_checks(client_for, run, failed_check):
    body = client_for("qa").get(f"/api/v1/runs/{run.pk}/qc/", {"failed": "1"}).json()
    assert [check["id"] for check in body["checks"]] == [failed_check.pk]
    assert client_for("qa").get(f"/api/v1/runs/{run.pk}/qc/", {"failed": "maybe"}).status_code == 400


def test_a_run_pending_qc_has_no_evaluation(client_for, technician, lab):
    pending = import_run(analyst=technician, lab=lab, ccvs=PASSING_CCVS, judge=False)
    body = client_for("technician").get(f"/api/v1/runs/{pending.pk}/qc/").json()
    assert body == {"run_id": pending.pk, "run_status": "pending_qc", "evaluation": None, "checks": []}


def test_reading_needs_staff_who_see_the_run(client_for, run):
    assert client_for("technician").get(f"/api/v1/runs/{run.pk}/qc/").status_code == 200
    assert client_for("qa_manager").get(f"/api/v1/runs/{run.pk}/qc/").status_code == 200
    assert client_for("us_technician").get(f"/api/v1/runs/{run.pk}/qc/").status_code == 404
    assert client_for("partner_a_user").get(f"/api/v1/runs/{run.pk}/qc/").status_code == 403
    assert client_for("anonymous").get(f"/api/v1/runs/{run.pk}/qc/").status_code == 403
    assert client_for("qa").get(f"/api/v1/runs/{2**70}/qc/").status_code == 404


# --- Waiving a check -----------------------------------------------------------------------------------


def test_qa_waives_a_failed_check_and_the_results_count(client_for, qa, run, failed_check):
    response = post(client_for("qa"), waive_url(run, failed_check), {"reason": "CCV re-run at 101 %"})
    assert response.status_code == 200, response.json()
    evaluation = response.json()
    assert evaluation["status"] == "accepted"
    assert evaluation["counts"]["accepted"] == 2
    assert "1 failed check(s) waived by QA" in evaluation["note"]
    waiver = QcWaiver.objects.get(check_result=failed_check)
    assert (waiver.decided_by, waiver.reason) == (qa, "CCV re-run at 101 %")
    assert set(ResultAcceptance.objects.filter(measurement__acquisition__run=run).values_list("state", flat=True)) == {"accepted"}
    assert AuditEvent.objects.filter(entity="assays.qcwaiver", object_id=str(waiver.pk), actor=qa).exists()

    check = next(c for c in client_for("qa").get(f"/api/v1/runs/{run.pk}/qc/").json()["checks"] if c["id"] == failed_check.pk)
    assert check["waiver"]["by"] == "qa"
    assert check["waiver"]["reason"] == "CCV re-run at 101 %"
    assert check["waiver"]["at"]
    # Twice: refused, with the service's message.
    again = post(client_for("qa"), waive_url(run, failed_check), {"reason": "again"})
    assert again.status_code == 400
    assert again.json()["detail"] == "this check has already been waived"


def test_the_analyst_is_refused_with_the_services_message(world, run, lab):
    analyst = UserFactory(username="tech_qa", roles=[Role.TECHNICIAN, Role.QA], sites=[world.uk_site])
    own = import_run(analyst=analyst, lab=lab, ccvs=(10.2, 11.5, 10.0))
    check = QcCheck.objects.get(evaluation__run=own, passed=False)
    client = APIClient()
    client.force_login(analyst)
    for url, body in (
        (waive_url(own, check), {"reason": "fine"}),
        (f"/api/v1/runs/{own.pk}/reject/", {"reason": "mine"}),
        (f"/api/v1/runs/{own.pk}/evaluate/", {"reason": "a wider window for my run"}),
    ):
        response = post(client, url, body)
        assert response.status_code == 403
        assert response.json()["detail"] == "the run's analyst cannot review their own run: another QA user must decide"
    assert not QcWaiver.objects.exists()
    assert QcEvaluation.objects.get(run=own).run_rejected_at is None


@pytest.mark.parametrize("persona", ["technician", "lab_admin", "partner_a_user", "anonymous"])
def test_roles_that_do_not_review_are_refused(client_for, run, failed_check, persona):
    client = client_for(persona)
    for url, body in (
        (waive_url(run, failed_check), {"reason": "x"}),
        (f"/api/v1/runs/{run.pk}/reject/", {"reason": "x"}),
        (f"/api/v1/runs/{run.pk}/evaluate/", {"reason": "x"}),
    ):
        assert post(client, url, body).status_code == 403
    assert not QcWaiver.objects.exists()
    assert QcEvaluation.objects.filter(run=run).count() == 1


@pytest.mark.parametrize("body", [{"reason": ""}, {"reason": "   "}, {}])
def test_a_missing_or_empty_reason_is_a_400_and_nothing_changes(client_for, run, failed_check, body):
    client = client_for("qa")
    for url in (waive_url(run, failed_check), f"/api/v1/runs/{run.pk}/reject/", f"/api/v1/runs/{run.pk}/evaluate/"):
        response = post(client, url, body)
        assert response.status_code == 400
        if body:
            assert response.json()["detail"] == "a reason is required"
        else:
            assert "reason" in response.json()
    assert not QcWaiver.objects.exists()
    assert QcEvaluation.objects.filter(run=run).count() == 1
    assert QcEvaluation.objects.get(run=run).run_rejected_at is None
    assert set(ResultAcceptance.objects.values_list("state", flat=True)) == {"rejected"}


def test_a_check_of_another_run_is_not_found(client_for, technician, lab, run, failed_check):
    other = import_run(analyst=technician, lab=lab, ccvs=(10.2, 11.5, 10.0))
    client = client_for("qa")
    assert post(client, f"/api/v1/runs/{other.pk}/qc/checks/{failed_check.pk}/waive/", {"reason": "x"}).status_code == 404
    assert post(client, f"/api/v1/runs/{run.pk}/qc/checks/{2**70}/waive/", {"reason": "x"}).status_code == 404
    assert post(client_for("qa_manager"), f"/api/v1/runs/{run.pk + 1000}/reject/", {"reason": "x"}).status_code == 404
    assert not QcWaiver.objects.exists()


def test_qa_of_another_site_does_not_find_the_run(world, run, failed_check):
    client = APIClient()
    client.force_login(UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site]))
    assert post(client, waive_url(run, failed_check), {"reason": "x"}).status_code == 404
    assert post(client, f"/api/v1/runs/{run.pk}/reject/", {"reason": "x"}).status_code == 404


# --- Rejecting and re-evaluating ----------------------------------------------------------------------


def test_qa_rejects_a_whole_run(client_for, qa_manager, run, failed_check):
    response = post(client_for("qa_manager"), f"/api/v1/runs/{run.pk}/reject/", {"reason": "argon supply failed"})
    assert response.status_code == 200
    evaluation = response.json()
    assert evaluation["status"] == "rejected"
    assert evaluation["run_rejected"]["by"] == "qa_manager"
    assert evaluation["run_rejected"]["reason"] == "argon supply failed"
    run.refresh_from_db()
    assert run.status == RunStatus.REJECTED
    assert QcEvaluation.objects.get(run=run).run_rejected_by == qa_manager
    # A rejected run's checks can no longer be waived.
    waive = post(client_for("qa_manager"), waive_url(run, failed_check), {"reason": "x"})
    assert waive.status_code == 400
    assert "rejected this run as a whole" in waive.json()["detail"]


def test_qa_re_evaluates_by_another_version(client_for, qa, run):
    wide = make_rule_pack(source=CCV_WIDE, version=2)
    response = post(client_for("qa"), f"/api/v1/runs/{run.pk}/evaluate/", {"reason": "SOP rev. 3", "rule_pack_id": wide.pk})
    assert response.status_code == 201
    evaluation = response.json()
    assert (evaluation["rule_pack"]["version"], evaluation["status"], evaluation["requested_by"]) == (2, "accepted", "qa")
    assert evaluation["is_current"] is True
    assert QcEvaluation.objects.filter(run=run).count() == 2
    # Without a version: the latest of the method's pack (v2 now).
    latest = post(client_for("qa"), f"/api/v1/runs/{run.pk}/evaluate/", {"reason": "again"})
    assert latest.status_code == 201
    assert latest.json()["rule_pack"]["id"] == wide.pk


@pytest.mark.parametrize("rule_pack_id", [999999, 0, "abc", 2**70])
def test_an_unknown_rule_pack_is_a_400(client_for, run, rule_pack_id):
    response = post(client_for("qa"), f"/api/v1/runs/{run.pk}/evaluate/", {"reason": "x", "rule_pack_id": rule_pack_id})
    assert response.status_code == 400
    assert QcEvaluation.objects.filter(run=run).count() == 1


# --- Control charts -----------------------------------------------------------------------------------


@pytest.fixture
def drifting(settings, technician, lab) -> list[Run]:
    settings.LIMS_SPC_BASELINE_POINTS = 6
    return [
        import_run(analyst=technician, lab=lab, ccvs=(9.9, 10.1, 10.0)),
        import_run(analyst=technician, lab=lab, ccvs=(10.05, 9.95, 10.02)),
        import_run(analyst=technician, lab=lab, ccvs=(10.3, 10.4, 10.35)),
    ]


def test_a_methods_control_charts(client_for, lab, drifting):
    response = client_for("qa").get(f"/api/v1/methods/{lab.method.code}/control-charts/")
    assert response.status_code == 200
    (chart,) = response.json()
    assert (chart["analyte"], chart["series"], chart["reference_material_id"]) == (LA, "ccv", None)
    assert [point["value"] for point in chart["points"]] == pytest.approx([99, 101, 100, 100.5, 99.5, 100.2, 103, 104, 103.5])
    assert [point["run_id"] for point in chart["points"]] == [run.pk for run in drifting for _ in range(3)]
    assert [point["sequence"] for point in chart["points"][:3]] == [1, 3, 5]
    assert chart["points"][0]["label"] == "CCV 1"
    assert chart["baseline"]["n"] == 6
    assert chart["baseline"]["mean"] == pytest.approx(100.0333, abs=1e-3)
    assert chart["baseline"]["source"] == "first 6 points"
    assert chart["judged_from"] == 6
    rules = {violation["rule"] for violation in chart["violations"]}
    assert "1-3s" in rules
    assert all(violation["index"] >= 6 for violation in chart["violations"])
    assert all(violation["index"] in violation["involved"] for violation in chart["violations"])


def test_control_charts_filter_by_analyte_and_are_for_staff(client_for, lab, drifting):
    url = f"/api/v1/methods/{lab.method.code}/control-charts/"
    assert len(client_for("technician").get(url, {"analyte": LA}).json()) == 1
    assert client_for("technician").get(url, {"analyte": "56Fe [He]"}).json() == []
    assert client_for("qa").get("/api/v1/methods/NO-SUCH/control-charts/").status_code == 404
    assert client_for("partner_a_user").get(url).status_code == 403
    assert client_for("anonymous").get(url).status_code == 403


def test_a_chart_without_a_baseline_says_so(client_for, lab, run):
    (chart,) = client_for("qa").get(f"/api/v1/methods/{lab.method.code}/control-charts/").json()
    assert chart["baseline"] is None
    assert chart["violations"] == []
    assert "no baseline yet" in chart["baseline_note"]


# --- The schema -------------------------------------------------------------------------------------


def test_the_qc_endpoints_are_in_the_schema_with_no_warning(tmp_path: Path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    assert set(schema["paths"]) >= QC_PATHS
    waive = schema["paths"]["/api/v1/runs/{id}/qc/checks/{check_id}/waive/"]["post"]
    assert {"200", "400", "403", "404"} <= set(waive["responses"])
    assert {"reason"} <= set(schema["components"]["schemas"]["ReasonRequest"]["properties"])
    check = schema["components"]["schemas"]["QcCheck"]["properties"]
    assert {"id", "key", "kind", "sequence", "label", "analyte", "measured", "expected", "low", "high", "unit", "passed"} <= set(check)
    assert {"message", "effect", "waiver"} <= set(check)
    qc = schema["paths"]["/api/v1/runs/{id}/qc/"]["get"]
    assert "failed" in {parameter["name"] for parameter in qc["parameters"]}
    charts = schema["paths"]["/api/v1/methods/{code}/control-charts/"]["get"]
    assert "analyte" in {parameter["name"] for parameter in charts["parameters"]}


@pytest.mark.parametrize(("value", "shown"), [(113.8, 113.8), (float("inf"), None), (float("nan"), None), (None, None)])
def test_a_number_that_is_not_finite_is_written_as_null(value, shown):
    assert FiniteFloatField().to_representation(value) == shown
