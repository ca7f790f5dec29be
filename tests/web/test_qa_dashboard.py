"""The QA dashboard, a flag's page, the lot page's flag panel and QA's htmx decisions, over lots
assessed by the real services from an import of results (tests.assessment_setup)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assays.models import AuditAction, AuditEvent, Flag, FlagKind, FlagStatus, Lot, LotAssessment, LotKind, LotStatus
from assays.roles import Role
from assays.selectors.assessments import assessment_rows
from assays.selectors.qa_dashboard import QA_LOTS_PER_PAGE
from assays.services.flags import flag_acknowledge, flag_resolve
from assays.services.lots import lot_allocate
from tests.assessment_setup import AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.conftest import World
from tests.factories import LotFactory, MethodFactory, ProductFactory, RunFactory, UserFactory

pytestmark = pytest.mark.django_db

QA_PAGE = "/qa/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def lot_rows(page: str) -> list[str]:
    """The lot codes of the dashboard's table, in order."""
    return [html.unescape(code) for code in re.findall(r'<tr data-lot="([^"]+)" data-testid="qa-lot-row">', page)]


def row_of(page: str, code: str) -> str:
    match = re.search(rf'<tr data-lot="{re.escape(html.escape(code))}" data-testid="qa-lot-row">(.*?)</tr>', page, re.S)
    assert match is not None, f"no row for {code}"
    return match.group(1)


@pytest.fixture
def us_qa(world: World) -> User:
    return UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])


@pytest.fixture
def lab(world: World, qa_manager: User) -> AssessmentLab:
    return make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)


@pytest.fixture
def lots(technician: User, qa: User, lab: AssessmentLab) -> dict[str, Lot]:
    """Created oldest first: a lot with an acknowledged flag, a conforming lot, a lot with an open
    flag and a lot not assessed yet; the dashboard orders them open, acknowledged, then the rest."""
    acknowledged = make_lot(lab, "ND/ACK-1")
    import_and_assess(technician, lab, acknowledged, fe=70.0)
    flag_acknowledge(actor=qa, flag=Flag.objects.get(lot=acknowledged), reason="re-testing")
    conforming = make_lot(lab, "ND-OK-1")
    import_and_assess(technician, lab, conforming, fe=10.0)
    held = make_lot(lab, "ND/OPEN-1")
    import_and_assess(technician, lab, held, fe=60.0)
    fresh = make_lot(lab, "ND-NEW-1")
    return {code: Lot.objects.get(code=code) for code in ("ND/ACK-1", "ND-OK-1", "ND/OPEN-1", "ND-NEW-1")} | {
        "held": Lot.objects.get(pk=held.pk),
        "fresh": fresh,
    }


# --- The dashboard ----------------------------------------------------------------------------------


def test_lots_with_open_flags_come_first_then_acknowledged_then_the_rest(qa: User, lots: dict[str, Lot]) -> None:
    response = signed_in(qa).get(QA_PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert lot_rows(page) == ["ND/OPEN-1", "ND/ACK-1", "ND-NEW-1", "ND-OK-1"]

    held = row_of(page, "ND/OPEN-1")
    assert 'href="/lots/ND/OPEN-1/"' in held
    assert "ND2O3-UI" in held
    assert "UK1" in held
    assert "On hold" in held
    assert "Off specification" in text(held)
    assert re.search(r'data-testid="qa-flags"><span class="badge badge-rejected">1 open</span>', held)
    assessment = LotAssessment.objects.filter(lot=lots["held"]).latest("assessed_at")
    purity = next(row for row in assessment_rows(assessment) if row.quantity == "relative_purity")
    shown = re.search(r'data-testid="qa-purity">(.*?)</td>', held, re.S)
    assert shown is not None
    assert text(shown.group(1)) == f"{purity.value} %"
    assert 'data-testid="qa-review"' in held

    assert "1 acknowledged" in text(row_of(page, "ND/ACK-1"))
    conforming = text(row_of(page, "ND-OK-1"))
    assert "Conforming" in conforming
    assert "none" in conforming
    assert "Assessed" in conforming
    assert "not assessed" in text(row_of(page, "ND-NEW-1"))
    assert 'data-testid="qa-review"' not in row_of(page, "ND-OK-1")
    # Lots by status count every visible lot.
    counts = dict(re.findall(r'<li data-status="(\w+)">.*?data-testid="count">(\d+)</span>', page, re.S))
    assert counts == {"open": "1", "assessed": "1", "on_hold": "2", "released": "0", "rejected": "0"}


def test_a_lot_with_newer_results_is_marked_stale(qa: User, lots: dict[str, Lot]) -> None:
    Lot.objects.filter(code="ND-OK-1").update(assessment_stale_since=timezone.now())
    page = signed_in(qa).get(QA_PAGE).content.decode()
    assert 'data-testid="qa-stale"' in row_of(page, "ND-OK-1")
    assert 'data-testid="qa-stale"' not in row_of(page, "ND/OPEN-1")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=on_hold", ["ND/OPEN-1", "ND/ACK-1"]),
        ("status=assessed", ["ND-OK-1"]),
        ("flags=open", ["ND/OPEN-1"]),
        ("flags=unresolved", ["ND/OPEN-1", "ND/ACK-1"]),
        ("flags=none", ["ND-NEW-1", "ND-OK-1"]),
        ("product=ND2O3-UI&site=UK1&flags=open", ["ND/OPEN-1"]),
        ("product=OTHER-OX", []),
        ("site=US1", ["ND/OPEN-1", "ND/ACK-1", "ND-NEW-1", "ND-OK-1"]),  # not the user's site: the filter is dropped
        ("status=bogus&flags=%00&product=" + "x" * 500, ["ND/OPEN-1", "ND/ACK-1", "ND-NEW-1", "ND-OK-1"]),
    ],
)
def test_filters_narrow_the_lots_and_a_tampered_one_is_ignored(qa: User, lots: dict[str, Lot], query: str, expected: list[str]) -> None:
    ProductFactory(code="OTHER-OX", name="Another oxide")
    response = signed_in(qa).get(f"{QA_PAGE}?{query}")
    assert response.status_code == 200
    assert lot_rows(response.content.decode()) == expected


def test_a_filter_from_htmx_answers_the_table_alone(qa: User, lots: dict[str, Lot]) -> None:
    response = signed_in(qa).get(f"{QA_PAGE}?flags=open", **HTMX)
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="qa-lots">')
    assert "<html" not in page
    assert lot_rows(page) == ["ND/OPEN-1"]


def test_the_lots_are_paged(world: World, qa: User) -> None:
    for n in range(QA_LOTS_PER_PAGE + 3):
        LotFactory(code=f"PAGED-{n:02d}", site=world.uk_site)
    client = signed_in(qa)
    first = client.get(QA_PAGE).content.decode()
    assert len(lot_rows(first)) == QA_LOTS_PER_PAGE
    assert f"of {QA_LOTS_PER_PAGE + 3}" in first
    second = client.get(f"{QA_PAGE}?page=2").content.decode()
    assert len(lot_rows(second)) == 3
    assert not set(lot_rows(first)) & set(lot_rows(second))
    for page in ("abc", "999", "-1", "%00"):
        assert client.get(f"{QA_PAGE}?page={page}").status_code == 200


def test_the_dashboard_is_scoped_to_the_users_sites(world: World, us_qa: User, qa_manager: User, lots: dict[str, Lot]) -> None:
    LotFactory(code="US-LOT-1", site=world.us_site)
    assert lot_rows(signed_in(us_qa).get(QA_PAGE).content.decode()) == ["US-LOT-1"]
    assert set(lot_rows(signed_in(qa_manager).get(QA_PAGE).content.decode())) == {*(code for code in lots if "-" in code), "US-LOT-1"}


def test_run_and_method_flags_are_listed_with_their_forms(world: World, qa: User, us_qa: User, technician: User) -> None:
    run_flag = Flag.objects.create(kind=FlagKind.QC_FAILURE, run=RunFactory(site=world.uk_site), raised_at=timezone.now())
    method_flag = Flag.objects.create(kind=FlagKind.METHOD_DRIFT, method=MethodFactory(code="DRIFTY"), raised_at=timezone.now())
    page = signed_in(qa).get(QA_PAGE).content.decode()
    other = page.split('data-testid="qa-other-flags"')[1]
    assert f'data-flag="{run_flag.pk}"' in other
    assert f'data-flag="{method_flag.pk}"' in other
    assert other.count('data-testid="acknowledge-form"') == 2
    # QA of another site sees the method flag, not the run's; a technician sees both, without forms.
    us_page = signed_in(us_qa).get(QA_PAGE).content.decode().split('data-testid="qa-other-flags"')[1]
    assert f'data-flag="{run_flag.pk}"' not in us_page
    assert f'data-flag="{method_flag.pk}"' in us_page
    tech_page = signed_in(technician).get(QA_PAGE).content.decode().split('data-testid="qa-other-flags"')[1]
    assert f'data-flag="{run_flag.pk}"' in tech_page
    assert 'data-testid="acknowledge-form"' not in tech_page


def test_the_dashboard_is_the_labs(partner_a_user: User, lots: dict[str, Lot]) -> None:
    assert signed_in(partner_a_user).get(QA_PAGE).status_code == 403
    response = Client().get(QA_PAGE)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_navigation_and_the_lab_dashboard_lead_to_it(qa: User, technician: User) -> None:
    nav = signed_in(qa).get("/").content.decode()
    assert '<a href="/qa/">QA review</a>' in nav
    assert '<a href="/qa/" aria-current="page">QA review</a>' in signed_in(qa).get(QA_PAGE).content.decode()
    tech = signed_in(technician).get("/").content.decode()
    assert ">QA review</a>" not in tech.split("</nav>")[0]
    assert 'data-testid="qa-dashboard-link"' in tech


def test_the_dashboard_costs_the_same_queries_for_three_lots_or_thirty(world: World, qa: User, lots: dict[str, Lot]) -> None:
    client = signed_in(qa)
    client.get(QA_PAGE)
    with CaptureQueriesContext(connection) as few:
        assert client.get(QA_PAGE).status_code == 200

    # Twenty more lots, each assessed (a copy of a stored assessment) and flagged twice.
    template = LotAssessment.objects.filter(lot=lots["held"]).latest("assessed_at")
    for n in range(20):
        lot = LotFactory(
            code=f"MANY-{n:02d}", site=world.uk_site, kind=LotKind.PRODUCT, product=lots["held"].product, status=LotStatus.ON_HOLD
        )
        LotAssessment.objects.create(
            lot=lot,
            status=template.status,
            inputs_fingerprint=template.inputs_fingerprint,
            assessed_at=timezone.now(),
            outcome=template.outcome,
            summary=template.summary,
        )
        for kind in (FlagKind.OFF_SPEC, FlagKind.QC_FAILURE):
            Flag.objects.create(kind=kind, lot=lot, raised_at=timezone.now())
    with CaptureQueriesContext(connection) as many:
        page = client.get(QA_PAGE).content.decode()
    assert len(lot_rows(page)) == 24
    assert "2 open" in text(row_of(page, "MANY-07"))
    assert len(many.captured_queries) == len(few.captured_queries), [query["sql"] for query in many.captured_queries]
    assert len(few.captured_queries) <= 14


# --- A flag's page ----------------------------------------------------------------------------------


def test_a_flags_page_shows_its_history_and_qas_forms(
    qa: User, technician: User, us_qa: User, partner_a_user: User, lots: dict[str, Lot]
) -> None:
    flag = Flag.objects.get(lot__code="ND/ACK-1")
    url = reverse("web:qa_flag_detail", args=[flag.pk])
    page = signed_in(qa).get(url).content.decode()
    assert "Acknowledged by qa" in text(page)
    assert "re-testing" in page
    assert 'data-testid="resolve-form"' in page
    assert 'data-testid="acknowledge-form"' not in page
    assert "Fe2O3" in text(page)
    tech = signed_in(technician).get(url)
    assert tech.status_code == 200
    assert 'data-testid="resolve-form"' not in tech.content.decode()
    assert signed_in(us_qa).get(url).status_code == 404
    assert signed_in(partner_a_user).get(url).status_code == 404
    assert signed_in(qa).get(reverse("web:qa_flag_detail", args=[10**9])).status_code == 404


# --- The lot page's panel and the htmx decisions ----------------------------------------------------


def panel_of(page: str, lot: Lot) -> str:
    match = re.search(rf'<section class="card"[^>]*id="lot-flags-{lot.pk}".*?</section>', page, re.S)
    assert match is not None, "no flag panel"
    return match.group(0)


def test_the_lot_page_loads_the_flag_panel_which_has_forms_for_qa_only(qa: User, technician: User, lots: dict[str, Lot]) -> None:
    held = lots["held"]
    panel_url = reverse("web:qa_lot_flags", args=[held.code])
    lot_page = signed_in(qa).get(reverse("web:lot_detail", args=[held.code])).content.decode()
    # The lot page costs no query for it: the panel loads itself, or opens as a page without JavaScript.
    placeholder = re.search(r'<section[^>]*data-testid="lot-flags-lazy"[^>]*>.*?</section>', lot_page, re.S)
    assert placeholder is not None
    assert f'hx-get="{panel_url}"' in placeholder.group(0)
    assert f'href="{panel_url}"' in placeholder.group(0)

    client = signed_in(qa)
    partial = client.get(panel_url, **HTMX).content.decode()
    assert "<html" not in partial
    panel = panel_of(partial, held)
    assert 'data-testid="acknowledge-form"' in panel
    assert 'data-testid="resolve-form"' in panel
    assert 'data-testid="reject-lot-form"' in panel
    # Still held by its open flag and its off-spec assessment: no release form, and why.
    assert 'data-testid="release-form"' not in panel
    blockers = text(panel.split('data-testid="hold-blockers"')[1].split("</div>")[0])
    assert "is open" in blockers
    assert "off specification" in blockers
    full = client.get(panel_url).content.decode()
    assert "<html" in full
    assert panel_of(full, held).count("<form") == panel.count("<form")

    tech_panel = panel_of(signed_in(technician).get(panel_url, **HTMX).content.decode(), held)
    assert "<form" not in tech_panel
    assert "Your role does not act on flags" in tech_panel


def test_a_partner_sees_no_flag_panel_on_its_own_lot(world: World, partner_a_user: User, lots: dict[str, Lot]) -> None:
    held = lots["held"]
    lot_allocate(actor=None, lot=held, customer=world.partner_a, mass_kg=held.mass_kg or 1)
    client = signed_in(partner_a_user)
    page = client.get(reverse("web:lot_detail", args=[held.code]))
    assert page.status_code == 200
    assert "lot-flags" not in page.content.decode()
    assert client.get(reverse("web:qa_lot_flags", args=[held.code]), **HTMX).status_code == 404


def test_htmx_acknowledge_in_the_panel_answers_the_updated_panel(qa: User, lots: dict[str, Lot]) -> None:
    held = lots["held"]
    flag = Flag.objects.get(lot=held)
    response = signed_in(qa).post(
        reverse("web:qa_flag_acknowledge", args=[flag.pk]), {"reason": "Re-testing both samples", "panel": "lot"}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    panel = panel_of(body, held)
    assert f"Acknowledged flag {flag.pk}" in text(panel)
    assert "Acknowledged by qa" in text(panel)
    assert "Re-testing both samples" in panel
    assert 'data-testid="acknowledge-form"' not in panel
    assert 'data-testid="resolve-form"' in panel
    stored = Flag.objects.get(pk=flag.pk)
    assert (stored.status, stored.acknowledged_by, stored.acknowledgement_reason) == (
        FlagStatus.ACKNOWLEDGED,
        qa,
        "Re-testing both samples",
    )
    event = AuditEvent.objects.filter(entity="assays.flag", object_id=str(flag.pk)).latest("id")
    assert (event.action, event.actor, event.reason) == (AuditAction.TRANSITION, qa, "Re-testing both samples")


def test_htmx_resolve_outside_a_panel_answers_the_flag_alone(world: World, qa: User) -> None:
    method_flag = Flag.objects.create(kind=FlagKind.METHOD_DRIFT, method=MethodFactory(code="DRIFTY"), raised_at=timezone.now())
    response = signed_in(qa).post(reverse("web:qa_flag_resolve", args=[method_flag.pk]), {"reason": "recalibrated"}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode().strip()
    assert body.startswith("<article")
    assert f'id="flag-{method_flag.pk}"' in body
    assert 'data-status="resolved"' in body
    assert "Resolved by qa" in text(body)
    assert "<form" not in body
    assert Flag.objects.get(pk=method_flag.pk).status == FlagStatus.RESOLVED


def test_a_refusal_comes_back_inside_the_partial_and_changes_nothing(qa: User, lots: dict[str, Lot]) -> None:
    held = lots["held"]
    flag = Flag.objects.get(lot=held)
    events = AuditEvent.objects.count()
    client = signed_in(qa)
    response = client.post(reverse("web:qa_flag_resolve", args=[flag.pk]), {"reason": "   ", "panel": "lot"}, **HTMX)
    assert response.status_code == 200
    assert "The flag was not resolved: a reason is required." in text(panel_of(response.content.decode(), held))
    response = client.post(reverse("web:qa_lot_release", args=[held.code]), {"reason": "looks fine"}, **HTMX)
    assert response.status_code == 200
    error = text(response.content.decode().split('data-testid="flag-error"')[1].split("</div>")[0])
    assert f"Lot ND/OPEN-1 was not released from hold: lot ND/OPEN-1 stays on hold: flag {flag.pk} (off specification) is open" in error
    assert AuditEvent.objects.count() == events
    assert Flag.objects.get(pk=flag.pk).status == FlagStatus.OPEN
    assert Lot.objects.get(pk=held.pk).status == LotStatus.ON_HOLD


def test_release_from_the_panel_once_nothing_holds_the_lot(qa: User, technician: User, lab: AssessmentLab, lots: dict[str, Lot]) -> None:
    held = lots["held"]
    import_and_assess(technician, lab, held, fe=10.0)
    flag_resolve(actor=qa, flag=Flag.objects.get(lot=held), reason="re-test conforms")
    client = signed_in(qa)
    panel = panel_of(client.get(reverse("web:qa_lot_flags", args=[held.code])).content.decode(), held)
    assert 'data-testid="release-form"' in panel
    assert 'data-testid="hold-blockers"' not in panel

    response = client.post(reverse("web:qa_lot_release", args=[held.code]), {"reason": "re-test conforms"}, **HTMX)
    panel = panel_of(response.content.decode(), held)
    assert "Released lot ND/OPEN-1 from hold" in text(panel)
    assert 'class="badge badge-assessed"' in panel
    assert 'data-testid="hold-forms"' not in panel
    assert Lot.objects.get(pk=held.pk).status == LotStatus.ASSESSED
    event = AuditEvent.objects.filter(entity="assays.lot", object_id=str(held.pk)).latest("id")
    assert (event.actor, event.reason, event.after) == (qa, "re-test conforms", {"status": "assessed"})


def test_reject_without_javascript_redirects_back_with_a_message(qa_manager: User, lots: dict[str, Lot]) -> None:
    held = lots["held"]
    lot_page = reverse("web:lot_detail", args=[held.code])
    client = signed_in(qa_manager)
    response = client.post(reverse("web:qa_lot_reject", args=[held.code]), {"reason": "Fe contamination", "next": lot_page})
    assert response.status_code == 302
    assert response["Location"] == lot_page
    page = client.get(lot_page).content.decode()
    assert "Rejected lot ND/OPEN-1: final." in page
    assert Lot.objects.get(pk=held.pk).status == LotStatus.REJECTED
    assert Flag.objects.get(lot=held).resolution_reason == "lot ND/OPEN-1 rejected: Fe contamination"
    # An off-site "next" is not followed.
    response = client.post(reverse("web:qa_lot_reject", args=[held.code]), {"reason": "again", "next": "https://evil.example/"})
    assert response["Location"] == lot_page


def test_who_may_not_decide_is_refused_and_nothing_changes(
    technician: User, us_qa: User, partner_a_user: User, lots: dict[str, Lot]
) -> None:
    held = lots["held"]
    flag = Flag.objects.get(lot=held)
    urls = [
        reverse("web:qa_flag_acknowledge", args=[flag.pk]),
        reverse("web:qa_flag_resolve", args=[flag.pk]),
        reverse("web:qa_lot_release", args=[held.code]),
        reverse("web:qa_lot_reject", args=[held.code]),
    ]
    events = AuditEvent.objects.count()
    for user, status in ((technician, 403), (us_qa, 404), (partner_a_user, 404)):
        client = signed_in(user)
        for url in urls:
            assert client.post(url, {"reason": "mine"}, **HTMX).status_code == status, (user, url)
        assert client.get(reverse("web:qa_lot_flags", args=[held.code])).status_code == (200 if status == 403 else 404)
    assert Client().post(urls[0], {"reason": "x"}).status_code == 302  # to the sign-in page
    assert AuditEvent.objects.count() == events
    assert (Flag.objects.get(pk=flag.pk).status, Lot.objects.get(pk=held.pk).status) == (FlagStatus.OPEN, LotStatus.ON_HOLD)


def test_the_decisions_are_post_only(qa: User, lots: dict[str, Lot]) -> None:
    flag = Flag.objects.get(lot=lots["held"])
    client = signed_in(qa)
    assert client.get(reverse("web:qa_flag_resolve", args=[flag.pk])).status_code == 405
    assert client.get(reverse("web:qa_lot_release", args=[lots["held"].code])).status_code == 405
