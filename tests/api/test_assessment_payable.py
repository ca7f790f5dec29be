"""GET /api/v1/lots/<code>/assessment/ for a feedstock lot: the ``payable`` composition of its report of
analysis (no verdict), checked against numbers computed here from the imported results and the lot
mass; null for an assessment with verdicts. The CLI prints the same body."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from statistics import mean

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from assays.api.assessment_serializers import LotAssessmentSerializer, PayableLineSerializer
from assays.models import Oxide
from tests.assessment_setup import import_and_assess, make_assessment_lab, make_lot
from tests.conftest import World
from tests.feedstock_setup import (
    CENSORED_LOD_PERCENT,
    SAMPLES,
    FeedstockLab,
    import_and_assess_feedstock,
    make_feedstock_lab,
    make_feedstock_lot,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def feedstock_lab(world: World, qa_manager: User) -> FeedstockLab:
    return make_feedstock_lab(qa_manager=qa_manager, site=world.uk_site)


def body_of(user: User, code: str) -> dict[str, object]:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(f"/api/v1/lots/{code}/assessment/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert isinstance(data, dict)
    return data


def test_a_feedstock_assessment_answers_its_payable_contents_and_masses(technician: User, feedstock_lab: FeedstockLab) -> None:
    lot = make_feedstock_lot(feedstock_lab, "FS-API-1", mass_kg=Decimal("8000"))
    assessment = import_and_assess_feedstock(technician, feedstock_lab, lot)
    body = body_of(technician, lot.code)
    assert body["status"] == "no_verdict"
    assert set(body) == set(LotAssessmentSerializer().fields)
    payable = body["payable"]
    assert isinstance(payable, list)
    assert all(set(line) == set(PayableLineSerializer().fields) for line in payable)
    by_label = {line["label"]: line for line in payable}
    assert list(by_label) == ["TREO", "Nd2O3", "Pr6O11", "Dy2O3", "Tb4O7"]
    assert [line["quantity"] for line in payable] == ["treo", "oxide", "oxide", "oxide", "oxide"]
    assert [line["oxide"] for line in payable] == [None, "Nd2O3", "Pr6O11", "Dy2O3", "Tb4O7"]

    stored = {line["label"]: line for line in assessment.outcome["lines"]}
    for symbol, formula in (("Nd", "Nd2O3"), ("Pr", "Pr6O11"), ("Dy", "Dy2O3")):
        line = by_label[formula]
        percent = mean(float(sample[symbol] or 0) for sample in SAMPLES) * Oxide.objects.get(formula=formula).factor
        assert line["percent"] == pytest.approx(percent, rel=1e-12)
        assert line["expanded_u_percent"] == pytest.approx(stored[formula]["expanded_u"], rel=1e-12)
        assert line["censored"] is False
        assert line["lod"] is None
        # Payable mass: lot mass times content, and its U the lot mass times the content's U.
        assert line["mass_kg"] == pytest.approx(8000 * percent / 100, rel=1e-12)
        assert line["mass_u_kg"] == pytest.approx(8000 * stored[formula]["expanded_u"] / 100, rel=1e-12)
    # Nd: (22.0 + 22.8) / 2 = 22.4 % of the scrap, 26.13 % as Nd2O3, 2090 kg of the 8 t lot.
    assert by_label["Nd2O3"]["mass_kg"] == pytest.approx(2090.1, abs=0.1)
    treo = by_label["TREO"]
    assert treo["percent"] == pytest.approx(stored["treo"]["best"], rel=1e-12)
    assert treo["mass_kg"] == pytest.approx(80 * treo["percent"], rel=1e-12)

    tb = by_label["Tb4O7"]
    assert tb["censored"] is True
    assert (tb["percent"], tb["expanded_u_percent"], tb["mass_kg"], tb["mass_u_kg"]) == (None, None, None, None)
    assert tb["lod"] == pytest.approx(CENSORED_LOD_PERCENT * Oxide.objects.get(formula="Tb4O7").factor, rel=1e-12)

    # The CLI prints the same body (nothing changed, so the same latest assessment).
    out = io.StringIO()
    call_command("assess_lot", lot.code, "--json", stdout=out)
    assert json.loads(out.getvalue()) == body


def test_without_a_lot_mass_the_payable_masses_are_null(technician: User, feedstock_lab: FeedstockLab) -> None:
    lot = make_feedstock_lot(feedstock_lab, "FS-API-2", mass_kg=None)
    import_and_assess_feedstock(technician, feedstock_lab, lot)
    payable = body_of(technician, lot.code)["payable"]
    assert isinstance(payable, list)
    assert len(payable) == 5
    assert all(line["mass_kg"] is None and line["mass_u_kg"] is None for line in payable)
    assert all(line["percent"] is not None for line in payable if not line["censored"])


def test_an_assessment_with_verdicts_has_no_payable_list(world: World, technician: User, qa_manager: User) -> None:
    lab = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)
    lot = make_lot(lab, "ND-API-PAY")
    import_and_assess(technician, lab, lot)
    body = body_of(technician, lot.code)
    assert body["status"] == "conforming"
    assert body["payable"] is None
