"""The lot page's Assessment card: the latest assessment of the lot, made by the real services from an
import of results, shown to lab staff of the lot's site only (not to partners yet, not to other sites).

Expected texts are computed here from the stored outcome with ``round_with_uncertainty``: U to two
significant figures and the value to the same place; a censored line shows its LOD instead.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from assays.chemistry.rounding import format_decimal, round_with_uncertainty
from assays.models import Lot, LotAssessment, Oxide
from assays.selectors.assessments import lot_assessment_latest
from assays.services.lots import lot_allocate
from tests.assessment_setup import AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world: World, qa_manager: User) -> AssessmentLab:
    return make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)


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


def line_row(card_html: str, label: str) -> list[str]:
    """The cells of the line ``label`` (tags stripped, entities decoded), and the row's title first."""
    for row in re.findall(r"<tr title=\"([^\"]*)\">(.*?)</tr>", card_html, re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)]
        if cells and cells[0] == label:
            return [html.unescape(row[0]), *cells]
    raise AssertionError(f"no line {label} in the assessment card")


def test_staff_see_the_latest_assessment_with_rounded_values_limits_verdicts_and_reasons(
    world: World, technician: User, lab: AssessmentLab
) -> None:
    lot = make_lot(lab, "ND-UI-1")
    assessment = import_and_assess(technician, lab, lot, fe=60.0)
    assert assessment.status == "off_spec"
    lines = {line["label"]: line for line in assessment.outcome["lines"]}
    fe, ce = lines["Fe2O3"], lines["CeO2"]
    # The stored best is the mean of the two samples' Fe2O3 (Fe 60 and 61 mg/kg).
    assert fe["best"] == pytest.approx(60.5 * Oxide.objects.get(formula="Fe2O3").factor)

    shown = card(page(technician, lot))
    assert "Off specification" in shown
    assert re.search(r'<span class="code">ND2O3-UI</span> v1\b', shown)
    assert re.search(r"<dt>Samples</dt><dd>2</dd>", shown)
    assert html.escape(assessment.reasons[0]) in shown

    value, uncertainty = round_with_uncertainty(value=fe["best"], expanded_uncertainty=fe["expanded_u"])
    assert uncertainty is not None
    assert len(uncertainty.normalize().as_tuple().digits) <= 2
    title, label, text, unit, limit, verdict = line_row(shown, "Fe2O3")
    assert (label, text, unit, limit, verdict) == (
        "Fe2O3",
        f"{format_decimal(value)} ± {format_decimal(uncertainty)}",
        "mg/kg",
        "<= 50",
        "fail",
    )
    assert title == fe["reason"]
    assert 'class="badge badge-verdict-fail"' in shown

    # Ce was "<0.5" in every sample: the line shows its LOD, to two significant figures.
    assert ce["censored"]
    assert ce["lod"] is not None
    _, _, text, _, limit, verdict = line_row(shown, "CeO2")
    assert (text, limit, verdict) == (f"< LOD {float(ce['lod']):.2g}", "<= 20", "pass")
    _, _, _, _, limit, verdict = line_row(shown, "Relative purity")
    assert (limit, verdict) == (">= 99.9", "pass")


def test_a_reassessment_replaces_the_shown_one_and_a_differing_one_says_so(world: World, technician: User, lab: AssessmentLab) -> None:
    lot = make_lot(lab, "ND-UI-2")
    first = import_and_assess(technician, lab, lot, fe=60.0)
    newest = import_and_assess(technician, lab, lot, fe=10.0)
    assert (first.status, newest.status) == ("off_spec", "conforming")
    shown = card(page(technician, lot))
    assert "Conforming" in shown
    assert "Off specification" not in shown
    assert "differs from the one the lot was certified with" not in shown

    LotAssessment.objects.filter(pk=newest.pk).update(differs_from_certified=True)
    assert "differs from the one the lot was certified with" in card(page(technician, lot))


def test_a_lot_not_assessed_says_so_and_a_stale_one_says_an_assessment_is_pending(
    world: World, technician: User, lab: AssessmentLab
) -> None:
    lot = make_lot(lab, "ND-UI-3")
    shown = card(page(technician, lot))
    assert "Not assessed yet" in shown
    assert "assessment pending" not in shown

    Lot.objects.filter(pk=lot.pk).update(assessment_stale_since=timezone.now())
    shown = card(page(technician, lot))
    assert "Not assessed yet" in shown
    assert "assessment pending" in shown


def test_partner_users_see_their_lot_but_no_assessment_yet(
    world: World, technician: User, partner_a_user: User, lab: AssessmentLab
) -> None:
    lot = make_lot(lab, "ND-UI-4")
    import_and_assess(technician, lab, lot, fe=60.0)
    lot_allocate(actor=None, lot=lot, customer=world.partner_a, mass_kg=Decimal(10))
    text = page(partner_a_user, lot)
    assert "ND-UI-4" in text
    assert 'data-testid="assessment"' not in text
    assert "Off specification" not in text
    assert "Fe2O3" not in text
    assert lot_assessment_latest(actor=partner_a_user, lot=lot) is None


def test_staff_of_another_site_get_404_and_the_selector_gives_them_nothing(
    world: World, technician: User, us_technician: User, lab: AssessmentLab
) -> None:
    lot = make_lot(lab, "ND-UI-5")
    assessment = import_and_assess(technician, lab, lot)
    client = Client()
    client.force_login(us_technician)
    assert client.get(reverse("web:lot_detail", args=[lot.code])).status_code == 404
    # Handed the lot directly, the selector still applies the lot's site scope.
    assert lot_assessment_latest(actor=us_technician, lot=lot) is None
    assert lot_assessment_latest(actor=technician, lot=lot) == assessment


def test_anonymous_visitors_are_sent_to_sign_in(world: World, technician: User, lab: AssessmentLab) -> None:
    lot = make_lot(lab, "ND-UI-6")
    path = reverse("web:lot_detail", args=[lot.code])
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={path}"
