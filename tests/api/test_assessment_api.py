"""GET /api/v1/lots/<code>/assessment/ and GET /api/v1/flags/: a lot's latest assessment (the same body as
``manage.py assess_lot --json``) and the flags lab staff may see, over assessments made by the real
services from an import of results."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from assays.api.assessment_serializers import AssessmentLineSerializer, LotAssessmentSerializer
from assays.models import Flag, FlagKind, FlagStatus, Lot
from assays.services.lots import lot_allocate
from tests.assessment_setup import AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world: World, qa_manager: User) -> AssessmentLab:
    return make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)


@pytest.fixture
def off_spec_lot(technician: User, lab: AssessmentLab) -> Lot:
    # A slash in the code: the assessment route must still find the lot, not a lot "ND/UI-1/assessment".
    lot = make_lot(lab, "ND/UI-1")
    import_and_assess(technician, lab, lot, fe=60.0)
    return lot


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def assessment_url(lot: Lot) -> str:
    return f"/api/v1/lots/{lot.code}/assessment/"


def test_staff_read_the_latest_assessment_as_the_cli_prints_it(technician: User, off_spec_lot: Lot) -> None:
    response = client_for(technician).get(assessment_url(off_spec_lot))
    assert response.status_code == 200, response.content
    body = response.json()
    # The CLI assesses again; nothing changed, so it prints the same (latest) assessment.
    out = io.StringIO()
    call_command("assess_lot", off_spec_lot.code, "--json", stdout=out)
    assert body == json.loads(out.getvalue())
    assert (body["lot"], body["product"], body["spec_version"], body["status"], body["n_samples"]) == (
        "ND/UI-1",
        "ND2O3-UI",
        1,
        "off_spec",
        2,
    )
    lines = {line["label"]: line for line in body["lines"]}
    assert lines["Fe2O3"]["verdict"] == "fail"
    assert lines["Fe2O3"]["limit"] == {"min": None, "max": "50", "unit": "mg/kg"}
    assert lines["CeO2"]["censored"] is True
    # The schema describes exactly the body.
    assert set(body) == set(LotAssessmentSerializer().fields)
    assert all(set(line) == set(AssessmentLineSerializer().fields) for line in body["lines"])
    # The lot itself is still read at its own route.
    assert client_for(technician).get(f"/api/v1/lots/{off_spec_lot.code}/").json()["code"] == "ND/UI-1"


def test_the_newest_assessment_is_answered(technician: User, lab: AssessmentLab, off_spec_lot: Lot) -> None:
    import_and_assess(technician, lab, off_spec_lot, fe=10.0)
    assert client_for(technician).get(assessment_url(off_spec_lot)).json()["status"] == "conforming"


def test_a_lot_not_assessed_or_missing_is_404(technician: User, lab: AssessmentLab) -> None:
    lot = make_lot(lab, "ND-UI-NONE")
    assert client_for(technician).get(assessment_url(lot)).status_code == 404
    assert client_for(technician).get("/api/v1/lots/NO-SUCH-LOT/assessment/").status_code == 404
    assert client_for(technician).get("/api/v1/lots/BAD%00/assessment/").status_code == 404


def test_partners_even_of_their_own_lot_and_other_site_staff_get_404_anonymous_403(
    world: World, partner_a_user: User, us_technician: User, off_spec_lot: Lot
) -> None:
    lot_allocate(actor=None, lot=off_spec_lot, customer=world.partner_a, mass_kg=Decimal(10))
    # The partner may read the lot, not (yet) its assessment.
    assert client_for(partner_a_user).get(f"/api/v1/lots/{off_spec_lot.code}/").status_code == 200
    assert client_for(partner_a_user).get(assessment_url(off_spec_lot)).status_code == 404
    assert client_for(us_technician).get(assessment_url(off_spec_lot)).status_code == 404
    assert client_for(None).get(assessment_url(off_spec_lot)).status_code == 403


def flags(user: User | None, query: str = "") -> Any:
    return client_for(user).get(f"/api/v1/flags/{query}")


def test_staff_list_the_open_flags_of_a_lot(technician: User, qa_manager: User, lab: AssessmentLab, off_spec_lot: Lot) -> None:
    other = make_lot(lab, "ND-UI-OTHER")
    import_and_assess(technician, lab, other, fe=70.0)
    response = flags(technician, f"?lot={off_spec_lot.code}&status=open")
    assert response.status_code == 200, response.content
    [flag] = response.json()["results"]
    stored = Flag.objects.get(lot=off_spec_lot)
    assert (flag["id"], flag["kind"], flag["status"], flag["lot"], flag["run"], flag["method"]) == (
        stored.pk,
        FlagKind.OFF_SPEC,
        FlagStatus.OPEN,
        "ND/UI-1",
        None,
        None,
    )
    assert flag["details"]["lines"][0]["label"] == "Fe2O3"
    assert flag["raised_at"]
    # Both lots' flags without the lot filter; none once resolved and filtered on open.
    assert {item["lot"] for item in flags(technician).json()["results"]} == {"ND/UI-1", "ND-UI-OTHER"}
    Flag.objects.filter(pk=stored.pk).update(
        status=FlagStatus.RESOLVED, resolved_at=stored.raised_at, resolved_by=qa_manager, resolution_reason="re-tested"
    )
    assert flags(technician, f"?lot={off_spec_lot.code}&status=open").json()["results"] == []
    assert len(flags(technician, f"?lot={off_spec_lot.code}&status=resolved").json()["results"]) == 1


def test_flags_are_scoped_to_the_lot_site_and_closed_to_partners_and_anonymous(
    world: World, us_technician: User, partner_a_user: User, off_spec_lot: Lot
) -> None:
    assert Flag.objects.filter(lot=off_spec_lot).exists()
    assert flags(us_technician).json()["results"] == []
    assert flags(us_technician, f"?lot={off_spec_lot.code}").json()["results"] == []
    lot_allocate(actor=None, lot=off_spec_lot, customer=world.partner_a, mass_kg=Decimal(10))
    assert flags(partner_a_user).status_code == 403
    assert flags(None).status_code == 403


def test_a_malformed_flag_filter_is_400(technician: User) -> None:
    assert flags(technician, "?status=bogus").status_code == 400
    assert flags(technician, "?kind=bogus").status_code == 400
