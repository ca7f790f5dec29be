"""The Specifications pages: products with their active specification, a product's lines and its
reassessments, whose progress row polls itself (htmx, every second) while one runs and stops once
it has finished. Lab staff only; QA managers and lab admins may ask for a reassessment."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from assays.models import Product, Reassessment
from tests.assessment_setup import PRODUCT, AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world: World, qa_manager: User, technician: User) -> AssessmentLab:
    made = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)
    for code in ("WEB-1", "WEB-2"):
        import_and_assess(technician, made, make_lot(made, code))
    Product.objects.create(code="BARE-OX", name="Bare oxide")  # no specification yet
    return made


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def product_url(code: str = PRODUCT) -> str:
    return reverse("web:specification_product", args=[code])


def test_the_list_shows_each_products_active_version_and_line_count(lab: AssessmentLab, technician: User) -> None:
    response = client_for(technician).get(reverse("web:specification_list"))
    assert response.status_code == 200
    text = response.content.decode()
    rows = re.findall(r'<tr data-testid="specification-row">(.*?)</tr>', text, re.S)
    cells = {
        re.sub(r"<[^>]+>", "", row.split("</td>")[0]).strip(): [re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in row.split("</td>")]
        for row in rows
    }
    assert cells[PRODUCT][2] == "v1"
    assert cells[PRODUCT][3] == "4"
    assert cells["BARE-OX"][2] == "none active"
    assert 'href="/specifications/"' in text  # the navigation's entry
    assert 'aria-current="page">Specifications' in text


def test_the_product_page_lists_the_active_lines_and_offers_no_form_to_a_technician(lab: AssessmentLab, technician: User) -> None:
    text = client_for(technician).get(product_url()).content.decode()
    assert len(re.findall(r'data-testid="spec-line"', text)) == 4
    assert "Fe2O3" in text
    assert 'data-testid="active-version">v1' in text
    assert 'data-testid="reassess-form"' not in text
    # A technician's POST anyway is refused with the service's message, and nothing is asked for.
    client = client_for(technician)
    response = client.post(reverse("web:reassess_product", args=[PRODUCT]), {"reason": "try"}, follow=True)
    assert response.status_code == 200
    assert "only a QA manager or a lab admin" in response.content.decode()
    assert not Reassessment.objects.exists()


@pytest.mark.parametrize("who", ["qa_manager", "lab_admin"])
def test_a_qa_manager_or_lab_admin_reassesses_and_the_progress_polls_until_done(
    lab: AssessmentLab, who: str, request: pytest.FixtureRequest, django_capture_on_commit_callbacks: Any
) -> None:
    user = request.getfixturevalue(who)
    client = client_for(user)
    page = client.get(product_url()).content.decode()
    assert 'data-testid="reassess-form"' in page
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("web:reassess_product", args=[PRODUCT]), {"reason": "new uncertainty models"})
    assert response.status_code == 302
    assert response["Location"] == product_url()
    reassessment = Reassessment.objects.get()
    assert (reassessment.requested_by, reassessment.reason, reassessment.status) == (user, "new uncertainty models", "queued")
    page = client.get(product_url()).content.decode()
    assert "Reassessment" in page
    assert f"{reassessment.pk}" in page
    progress_url = reverse("web:reassessment_progress", args=[reassessment.pk])
    # While it is queued, the row asks for itself again every second.
    row = client.get(progress_url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in row
    assert f'hx-get="{progress_url}"' in row
    assert 'data-status="queued"' in row
    assert "0/2 lots" in row
    for callback in callbacks:  # the chunks run, as a worker would
        callback()
    row = client.get(progress_url, headers={"HX-Request": "true"}).content.decode()
    assert 'data-status="done"' in row
    assert "hx-trigger" not in row  # finished: the polling stops
    assert "2/2 lots" in row
    assert 'value="2"' in row
    # A plain request for the row goes to the product's page.
    plain = client.get(progress_url)
    assert plain.status_code == 302
    assert plain["Location"] == product_url()


def test_a_refusal_by_the_service_comes_back_as_a_message(lab: AssessmentLab, qa_manager: User) -> None:
    client = client_for(qa_manager)
    for code, body, says in [
        (PRODUCT, {"reason": " "}, "a reason is required"),
        (PRODUCT, {"reason": "x" * 2001}, "longer than 2000"),
        ("BARE-OX", {"reason": "x"}, "no active specification"),
    ]:
        text = client.post(reverse("web:reassess_product", args=[code]), body, follow=True).content.decode()
        assert says in text
    assert not Reassessment.objects.exists()
    assert client.post(reverse("web:reassess_product", args=["NO-SUCH"]), {"reason": "x"}).status_code == 404
    assert client.get(reverse("web:reassess_product", args=[PRODUCT])).status_code == 405


def test_partners_and_strangers_get_404_and_anonymous_the_login(
    lab: AssessmentLab, qa_manager: User, partner_a_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        client_for(qa_manager).post(reverse("web:reassess_product", args=[PRODUCT]), {"reason": "x"})
    reassessment = Reassessment.objects.get()
    urls = [
        reverse("web:specification_list"),
        product_url(),
        reverse("web:reassessment_progress", args=[reassessment.pk]),
    ]
    partner = client_for(partner_a_user)
    for url in urls:
        assert partner.get(url, headers={"HX-Request": "true"}).status_code == 404, url
    assert partner.post(reverse("web:reassess_product", args=[PRODUCT]), {"reason": "x"}).status_code == 404
    assert "Specifications" not in partner.get(reverse("web:dashboard")).content.decode()
    anonymous = Client()
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client_for(qa_manager).get(product_url("NO-SUCH")).status_code == 404
    assert client_for(qa_manager).get(reverse("web:reassessment_progress", args=[10**9]), headers={"HX-Request": "true"}).status_code == 404
