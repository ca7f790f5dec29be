"""The lot page's assessment card, item 7 of the purity assessment: the relative-purity trend across the
product's lots (visible lots only, latest assessment per lot, this lot ringed), a feedstock lot's
payable composition (report of analysis, no verdict) and rounding of values shown without U.

Expected numbers are computed here from the results the tests import (means, gravimetric factors,
the lot mass), not read back from the page's own code; U comes from the stored outcome, whose
computation the assessment's own tests cover.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from statistics import mean

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assays.chemistry.rounding import format_decimal, round_half_even, round_with_uncertainty
from assays.models import Lot, LotAssessment, Oxide
from assays.selectors.purity_trend import purity_trend
from assays.services.lots import lot_allocate
from tests.assessment_setup import SPEC, AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.conftest import World
from tests.factories import InstrumentFactory
from tests.feedstock_setup import (
    CENSORED_LOD_PERCENT,
    SAMPLES,
    FeedstockLab,
    import_and_assess_feedstock,
    make_feedstock_lab,
    make_feedstock_lot,
)

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def lab(world: World, qa_manager: User) -> AssessmentLab:
    return make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)


@pytest.fixture
def us_lab(world: World, lab: AssessmentLab) -> AssessmentLab:
    """The same product and method, measured on an instrument of the US site."""
    return AssessmentLab(
        product=lab.product, method=lab.method, instrument=InstrumentFactory(code="US1-UI", site=world.us_site), site=world.us_site
    )


def page(user: User, lot: Lot) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("web:lot_detail", args=[lot.code]))
    assert response.status_code == 200
    return response.content.decode()


def card(text: str) -> str:
    match = re.search(r'<section class="card"[^>]*data-testid="assessment">(.*?)</section>', text, re.S)
    assert match is not None, "no assessment card on the page"
    return match.group(1)


def trend_svg(card_html: str) -> ET.Element:
    match = re.search(r'data-testid="purity-trend">.*?(<svg .*?</svg>)', card_html, re.S)
    assert match is not None, "no trend chart in the card"
    return ET.fromstring(match.group(1))  # noqa: S314 (our own markup, parsed to check it)


def point_titles(root: ET.Element) -> list[str]:
    titles = []
    for circle in root.iter(f"{SVG}circle"):
        if "point" in (circle.get("class") or "").split():
            title = circle.find(f"{SVG}title")
            assert title is not None
            titles.append(title.text or "")
    return titles


def purity_text(assessment: LotAssessment) -> str:
    [line] = [line for line in assessment.outcome["lines"] if line["quantity"] == "relative_purity"]
    shown, u = round_with_uncertainty(value=line["best"], expanded_uncertainty=line["expanded_u"])
    assert u is not None
    return f"{format_decimal(shown)} ± {format_decimal(u)} %"


def dated(lot: Lot, day: int) -> Lot:
    Lot.objects.filter(pk=lot.pk).update(produced_on=dt.date(2026, 1, day))
    lot.refresh_from_db()
    return lot


# --- Trend -----------------------------------------------------------------------------------------


def test_the_trend_shows_the_latest_assessment_of_each_visible_lot_in_production_order(
    world: World, technician: User, us_technician: User, qa_manager: User, lab: AssessmentLab, us_lab: AssessmentLab
) -> None:
    first = dated(make_lot(lab, "ND-T-1"), 1)
    second = dated(make_lot(lab, "ND-T-2"), 3)
    third = dated(make_lot(lab, "ND-T-3"), 2)
    import_and_assess(technician, lab, first, fe=60.0)
    latest_first = import_and_assess(technician, lab, first, fe=10.0)
    assessed = {
        "ND-T-1": latest_first,
        "ND-T-2": import_and_assess(technician, lab, second),
        "ND-T-3": import_and_assess(technician, lab, third, fe=20.0),
    }
    # The same product made at the US site, which the UK technician may not see.
    us_lot = dated(make_lot(us_lab, "ND-US-SECRET"), 2)
    import_and_assess(us_technician, us_lab, us_lot)
    # Another product's lot at the UK site is no point of this product's trend.
    other_lab = make_assessment_lab(
        qa_manager=qa_manager, site=world.uk_site, spec={**SPEC, "product": "OTHER-UI"}, method_code="IMP-UI2", instrument_code="UK1-UI2"
    )
    import_and_assess(technician, other_lab, make_lot(other_lab, "OTHER-1"))

    text = page(technician, third)
    assert "ND-US-SECRET" not in text
    assert "OTHER-1" not in text
    root = trend_svg(card(text))
    titles = point_titles(root)
    # Produced on 1, 2 and 3 January: ND-T-1, ND-T-3, ND-T-2; each with its latest assessment's value.
    assert [title.split(" · ")[0] for title in titles] == ["ND-T-1", "ND-T-3", "ND-T-2"]
    for title, code, day in zip(titles, ["ND-T-1", "ND-T-3", "ND-T-2"], [1, 2, 3], strict=True):
        assert title.startswith(f"{code} · 2026-01-0{day} — {purity_text(assessed[code])} — pass")
    # This lot is ringed, and only this one.
    ringed = [c for c in root.iter(f"{SVG}circle") if "current" in (c.get("class") or "").split()]
    assert len(ringed) == 1
    ringed_title = ringed[0].find(f"{SVG}title")
    assert ringed_title is not None
    assert (ringed_title.text or "").startswith("ND-T-3 ")
    assert (ringed_title.text or "").endswith("(this lot)")
    # The minimum of the specification is drawn.
    assert [t.text for t in root.iter(f"{SVG}text") if "trend-minimum-label" in (t.get("class") or "")] == ["min 99.9 %"]

    # A QA manager works across sites: the US lot is a point of the same trend for them.
    assert [title.split(" · ")[0] for title in point_titles(trend_svg(card(page(qa_manager, third))))] == [
        "ND-T-1",
        "ND-T-3",
        "ND-US-SECRET",
        "ND-T-2",
    ]


def test_a_lot_not_assessed_still_shows_its_products_trend_and_says_it_is_not_on_it(technician: User, lab: AssessmentLab) -> None:
    for number in (1, 2):
        import_and_assess(technician, lab, dated(make_lot(lab, f"ND-N-{number}"), number))
    pending = make_lot(lab, "ND-N-PENDING")
    shown = card(page(technician, pending))
    assert "Not assessed yet" in shown
    assert len(point_titles(trend_svg(shown))) == 2
    assert "This lot is not on the chart" in shown


def test_one_assessed_lot_is_no_trend_yet(technician: User, lab: AssessmentLab) -> None:
    lot = make_lot(lab, "ND-ONE")
    import_and_assess(technician, lab, lot)
    root = trend_svg(card(page(technician, lot)))
    assert "trend-chart-empty" in (root.get("class") or "")
    assert point_titles(root) == []


def test_partners_see_no_trend(world: World, technician: User, partner_a_user: User, lab: AssessmentLab) -> None:
    lots = [make_lot(lab, f"ND-P-{number}") for number in (1, 2)]
    for lot in lots:
        import_and_assess(technician, lab, lot)
    lot_allocate(actor=None, lot=lots[0], customer=world.partner_a, mass_kg=Decimal(5))
    text = page(partner_a_user, lots[0])
    assert "purity-trend" not in text
    assert "ND-P-2" not in text
    assert purity_trend(actor=partner_a_user, lot=lots[0]) is None


def test_the_trend_reads_the_latest_lots_only_in_two_queries(technician: User, lab: AssessmentLab) -> None:
    lots = [dated(make_lot(lab, f"ND-L-{number}", samples=1), number) for number in range(1, 5)]
    for lot in lots:
        import_and_assess(technician, lab, lot)
    import_and_assess(technician, lab, lots[0], fe=60.0)  # a second assessment of one lot
    with CaptureQueriesContext(connection) as queries:
        trend = purity_trend(actor=technician, lot=lots[0], limit=3)
    assert trend is not None
    assert len(queries.captured_queries) <= 2
    assert trend.truncated
    # The newest three, oldest first; the lot of the page is older than all of them.
    assert [point.lot_code for point in trend.points] == ["ND-L-2", "ND-L-3", "ND-L-4"]
    assert not trend.includes_current
    assert trend.spec_minimum == "99.9"
    full = purity_trend(actor=technician, lot=lots[0])
    assert full is not None
    assert not full.truncated
    assert [point.lot_code for point in full.points] == ["ND-L-1", "ND-L-2", "ND-L-3", "ND-L-4"]
    assert [point.is_current for point in full.points] == [True, False, False, False]


# --- Feedstock: payable composition ----------------------------------------------------------------


@pytest.fixture
def feedstock_lab(world: World, qa_manager: User) -> FeedstockLab:
    return make_feedstock_lab(qa_manager=qa_manager, site=world.uk_site)


def table_rows(card_html: str, testid: str) -> dict[str, list[str]]:
    match = re.search(rf'<table class="data" data-testid="{testid}">(.*?)</table>', card_html, re.S)
    assert match is not None, f"no {testid} table"
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def stored_u(assessment: LotAssessment, label: str) -> float:
    [line] = [line for line in assessment.outcome["lines"] if line["label"] == label]
    assert line["unit"] == "%"
    return float(line["expanded_u"])


def expected_texts(*, percent: float, u: float, lot_mass: Decimal) -> tuple[str, str]:
    content, content_u = round_with_uncertainty(value=percent, expanded_uncertainty=u)
    mass, mass_u = round_with_uncertainty(value=float(lot_mass) * percent / 100, expanded_uncertainty=float(lot_mass) * u / 100)
    assert content_u is not None
    assert mass_u is not None
    return f"{format_decimal(content)} ± {format_decimal(content_u)}", f"{format_decimal(mass)} ± {format_decimal(mass_u)}"


def test_a_feedstock_lot_shows_its_payable_composition_and_masses_without_verdicts(technician: User, feedstock_lab: FeedstockLab) -> None:
    lot = make_feedstock_lot(feedstock_lab, "FS-PAY-1", mass_kg=Decimal("8000"))
    assessment = import_and_assess_feedstock(technician, feedstock_lab, lot)
    assert assessment.status == "no_verdict"
    shown = card(page(technician, lot))
    assert "Report of analysis — no verdict" in shown
    assert "Payable composition" in shown
    assert 'data-testid="assessment-lines"' not in shown
    assert "Verdict" not in shown
    assert "badge-verdict" not in shown
    assert 'data-testid="purity-trend"' not in shown  # a feedstock lot has no product to trend

    rows = table_rows(shown, "payable")
    assert list(rows) == ["TREO", "Nd2O3", "Pr6O11", "Dy2O3", "Tb4O7"]
    for symbol, formula in (("Nd", "Nd2O3"), ("Pr", "Pr6O11"), ("Dy", "Dy2O3")):
        # The lot's content is the mean of the samples' element fractions times the oxide's factor.
        percent = mean(float(sample[symbol] or 0) for sample in SAMPLES) * Oxide.objects.get(formula=formula).factor
        assert rows[formula] == list(expected_texts(percent=percent, u=stored_u(assessment, formula), lot_mass=Decimal("8000"))), formula
    # Nd2O3: (22.0 + 22.8) / 2 % of Nd is about 26.1 % of oxide, about 2090 kg of 8000 kg.
    assert rows["Nd2O3"][0].startswith("26.1 ± ")
    assert rows["Nd2O3"][1].startswith("2090 ± ")

    # Terbium was below its LOD in both samples: "< LOD", and the mass bound is the lot mass times it.
    tb_lod = CENSORED_LOD_PERCENT * Oxide.objects.get(formula="Tb4O7").factor
    lod_text, _ = round_with_uncertainty(value=tb_lod, expanded_uncertainty=tb_lod)
    bound, _ = round_with_uncertainty(value=8000 * tb_lod / 100, expanded_uncertainty=8000 * tb_lod / 100)
    assert rows["Tb4O7"] == [f"< LOD {format_decimal(lod_text)}", f"< {format_decimal(bound)}"]
    assert rows["Tb4O7"] == ["< LOD 0.0012", "< 0.094"]
    assert "Payable mass = lot mass 8,000 kg \N{MULTIPLICATION SIGN} content" in html.unescape(shown)


def test_a_feedstock_lot_without_a_mass_shows_contents_only(technician: User, feedstock_lab: FeedstockLab) -> None:
    lot = make_feedstock_lot(feedstock_lab, "FS-PAY-2", mass_kg=None)
    import_and_assess_feedstock(technician, feedstock_lab, lot)
    shown = card(page(technician, lot))
    rows = table_rows(shown, "payable")
    assert all(len(cells) == 1 for cells in rows.values())
    assert rows["Tb4O7"] == ["< LOD 0.0012"]
    assert "Payable mass" not in shown
    assert "No lot mass recorded" in shown


# --- Item 3: every line of a judged assessment -----------------------------------------------------


def test_every_line_shows_quantity_value_limit_and_verdict_and_a_value_without_u_is_rounded(technician: User, lab: AssessmentLab) -> None:
    lot = make_lot(lab, "ND-LINES")
    assessment = import_and_assess(technician, lab, lot)
    lines = {line["quantity"] if line["quantity"] != "oxide" else line["label"]: line for line in assessment.outcome["lines"]}
    shown = card(page(technician, lot))
    rows = {}
    for row in re.findall(r"<tr title=\"[^\"]*\">(.*?)</tr>", shown, re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[cells[0]] = cells[1:]
    assert set(rows) == {"Relative purity", "Fe2O3", "CeO2", "LOI"}
    assert all(len(cells) == 4 and cells[0] and cells[2] and cells[3] for cells in rows.values())
    assert rows["CeO2"][0].startswith("< LOD ")
    assert rows["CeO2"][2:] == ["<= 20", "pass"]
    # LOI has no uncertainty model: its value is rounded two places beyond the limit's last digit
    # ("1" -> 0.30), not printed as a float.
    loi = lines["loi"]
    assert loi["expanded_u"] is None
    assert rows["LOI"] == [format_decimal(round_half_even(loi["best"], places=2)), "%", "<= 1", "pass"]
    assert rows["LOI"][0] == "0.30"
