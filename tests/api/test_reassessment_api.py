"""POST /api/v1/products/<code>/reassess/ and GET /api/v1/reassessments/<id>/: a QA manager or a lab
admin asks for every lot of a product to be reassessed, and any lab staff reads its progress."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from assays.api.reassessment_views import ReassessmentSerializer
from assays.models import LotAssessment, Reassessment
from tests.assessment_setup import PRODUCT, AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world: World, qa_manager: User, technician: User) -> AssessmentLab:
    made = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)
    for code in ("API-1", "API-2", "API-3"):
        import_and_assess(technician, made, make_lot(made, code))
    return made


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def reassess(user: User | None, body: Any, code: str = PRODUCT) -> Any:
    return client_for(user).post(f"/api/v1/products/{code}/reassess/", body, format="json")


def test_a_qa_manager_asks_and_reads_the_progress_to_the_end(
    lab: AssessmentLab, qa_manager: User, technician: User, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.LIMS_REASSESS_CHUNK = 2
    with django_capture_on_commit_callbacks(execute=True):
        response = reassess(qa_manager, {"reason": "new uncertainty models"})
        assert response.status_code == 202, response.content
        asked = response.json()
        # Answered as soon as it is queued; the chunks run once the request commits.
        assert (asked["status"], asked["total_lots"], asked["done_lots"], asked["percent_done"]) == ("queued", 3, 0, 0)
    assert (asked["product"], asked["spec_version"], asked["requested_by"], asked["reason"]) == (
        PRODUCT,
        1,
        "qa_manager",
        "new uncertainty models",
    )
    serializer = ReassessmentSerializer(data=asked)
    assert serializer.is_valid(), serializer.errors
    # Any lab staff reads the progress.
    done = client_for(technician).get(f"/api/v1/reassessments/{asked['id']}/")
    assert done.status_code == 200, done.content
    body = done.json()
    assert (body["status"], body["done_lots"], body["changed_lots"], body["failed_lots"], body["percent_done"]) == ("done", 3, 0, 0, 100)
    assert body["finished_at"] is not None
    assert LotAssessment.objects.count() == 3  # the inputs had not changed: nothing new


def test_a_lab_admin_may_ask_too(lab: AssessmentLab, lab_admin: User) -> None:
    response = reassess(lab_admin, {"reason": "check"})
    assert response.status_code == 202, response.content
    assert response.json()["requested_by"] == "lab_admin"


@pytest.mark.parametrize("who", ["technician", "qa", "partner_a_user"])
def test_others_may_not_ask(lab: AssessmentLab, who: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(who)
    response = reassess(user, {"reason": "please"})
    assert response.status_code == 403, response.content
    assert "detail" in response.json()
    assert not Reassessment.objects.exists()


def test_anonymous_may_not_ask_or_read(lab: AssessmentLab, qa_manager: User) -> None:
    assert reassess(None, {"reason": "x"}).status_code == 403
    asked = reassess(qa_manager, {"reason": "x"}).json()
    assert client_for(None).get(f"/api/v1/reassessments/{asked['id']}/").status_code == 403


def test_a_partner_may_not_read_a_reassessment(lab: AssessmentLab, qa_manager: User, partner_a_user: User) -> None:
    asked = reassess(qa_manager, {"reason": "x"}).json()
    assert client_for(partner_a_user).get(f"/api/v1/reassessments/{asked['id']}/").status_code == 403


@pytest.mark.parametrize(
    ("code", "body", "status", "says"),
    [
        (PRODUCT, {"reason": "  "}, 400, "reason is required"),
        (PRODUCT, {}, 400, "reason"),
        (PRODUCT, {"reason": "x" * 2001}, 400, "reason"),
        (PRODUCT, ["not", "an", "object"], 400, ""),
        ("NO-SUCH", {"reason": "x"}, 404, "no product"),
        ("NUL\x00", {"reason": "x"}, 404, ""),
    ],
)
def test_bad_requests_are_refused_clearly(lab: AssessmentLab, qa_manager: User, code: str, body: Any, status: int, says: str) -> None:
    response = reassess(qa_manager, body, code=code)
    assert response.status_code == status, response.content
    assert says in response.content.decode()


def test_a_product_without_an_active_specification_is_refused(lab: AssessmentLab, qa_manager: User) -> None:
    from assays.models import Product

    Product.objects.create(code="BARE", name="no specification")
    response = reassess(qa_manager, {"reason": "x"}, code="BARE")
    assert response.status_code == 400
    assert "no active specification" in response.json()["detail"]


def test_an_unknown_reassessment_is_404(lab: AssessmentLab, technician: User) -> None:
    response = client_for(technician).get("/api/v1/reassessments/999999/")
    assert response.status_code == 404
    assert "detail" in response.json()
