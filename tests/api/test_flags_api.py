"""GET /api/v1/flags/{id}/, POST .../acknowledge/ and .../resolve/, and POST /api/v1/lots/{code}/release-hold/
and .../reject/: QA's decisions over the API, on lots assessed by the real services from an import."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from assays.api.flag_serializers import FlagDetailSerializer, LotHoldDecisionSerializer
from assays.models import AuditAction, AuditEvent, Flag, FlagStatus, Lot, LotStatus
from assays.roles import Role
from assays.services.flags import MAX_REASON
from assays.services.lots import lot_allocate
from tests.assessment_setup import AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.conftest import World
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FLAG_PATHS = {
    "/api/v1/flags/{id}/",
    "/api/v1/flags/{id}/acknowledge/",
    "/api/v1/flags/{id}/resolve/",
    "/api/v1/lots/{code}/release-hold/",
    "/api/v1/lots/{code}/reject/",
}


@pytest.fixture
def lab(world: World, qa_manager: User) -> AssessmentLab:
    return make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)


@pytest.fixture
def held(technician: User, lab: AssessmentLab) -> Lot:
    # A slash in the code: the action routes must still find the lot, not a lot "ND/API-1/reject".
    lot = make_lot(lab, "ND/API-1")
    import_and_assess(technician, lab, lot, fe=60.0)
    lot.refresh_from_db()
    assert lot.status == LotStatus.ON_HOLD
    return lot


@pytest.fixture
def flag(held: Lot) -> Flag:
    return Flag.objects.get(lot=held)


@pytest.fixture
def us_qa(world: World) -> User:
    return UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def post(user: User | None, url: str, body: Any) -> Any:
    return client_for(user).post(url, json.dumps(body), content_type="application/json")


def flag_url(flag: Flag | int, action: str = "") -> str:
    pk = flag.pk if isinstance(flag, Flag) else flag
    return f"/api/v1/flags/{pk}/{action + '/' if action else ''}"


def lot_url(lot: Lot | str, action: str) -> str:
    code = lot.code if isinstance(lot, Lot) else lot
    return f"/api/v1/lots/{code}/{action}/"


def state(flag: Flag) -> tuple[str, str]:
    stored = Flag.objects.select_related("lot").get(pk=flag.pk)
    assert stored.lot is not None
    return stored.status, stored.lot.status


def test_staff_of_the_site_read_a_flag_with_its_history(technician: User, qa: User, flag: Flag) -> None:
    response = client_for(technician).get(flag_url(flag))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == set(FlagDetailSerializer().fields)
    assert (body["id"], body["kind"], body["status"], body["lot"], body["run"], body["method"]) == (
        flag.pk,
        "off_spec",
        "open",
        "ND/API-1",
        None,
        None,
    )
    assert body["raised_by"] is None  # the assessment worker raised it
    assert (body["acknowledged_by"], body["acknowledgement_reason"], body["resolved_at"]) == (None, "", None)
    assert body["details"]["lines"][0]["label"] == "Fe2O3"


def test_qa_acknowledges_then_resolves_and_each_answer_is_the_flag(qa: User, flag: Flag) -> None:
    response = post(qa, flag_url(flag, "acknowledge"), {"reason": "Re-testing both samples"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["acknowledged_by"], body["acknowledgement_reason"]) == ("acknowledged", "qa", "Re-testing both samples")
    assert body["acknowledged_at"]
    assert state(flag) == (FlagStatus.ACKNOWLEDGED, LotStatus.ON_HOLD)

    response = post(qa, flag_url(flag, "resolve"), {"reason": "Re-test conforms"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["resolved_by"], body["resolution_reason"]) == ("resolved", "qa", "Re-test conforms")
    # Resolving the lot's last flag does not release the lot.
    assert state(flag) == (FlagStatus.RESOLVED, LotStatus.ON_HOLD)
    reasons = list(
        AuditEvent.objects.filter(entity="assays.flag", object_id=str(flag.pk), action=AuditAction.TRANSITION, actor=qa)
        .order_by("id")
        .values_list("reason", flat=True)
    )
    assert reasons == ["Re-testing both samples", "Re-test conforms"]


def test_a_body_that_is_not_json_is_refused_not_an_error(qa: User, flag: Flag) -> None:
    client = client_for(qa)
    assert client.post(flag_url(flag, "resolve"), {"reason": "by form"}).status_code == 415
    assert client.post(flag_url(flag, "resolve"), "{not json", content_type="application/json").status_code == 400
    assert Flag.objects.get(pk=flag.pk).status == FlagStatus.OPEN


def test_a_resolved_flag_is_final_400_with_the_reason(qa: User, qa_manager: User, flag: Flag) -> None:
    assert post(qa, flag_url(flag, "resolve"), {"reason": "done"}).status_code == 200
    for action in ("resolve", "acknowledge"):
        response = post(qa_manager, flag_url(flag, action), {"reason": "again"})
        assert response.status_code == 400
        assert "final" in response.json()["detail"]
    assert Flag.objects.get(pk=flag.pk).resolved_by == qa


@pytest.mark.parametrize("body", [{"reason": ""}, {"reason": "   "}, {}, [], "reason", {"reason": None}, {"reason": ["a"]}])
def test_a_missing_or_empty_reason_is_a_400_and_nothing_changes(qa: User, held: Lot, flag: Flag, body: Any) -> None:
    events = AuditEvent.objects.count()
    for url in (flag_url(flag, "acknowledge"), flag_url(flag, "resolve"), lot_url(held, "release-hold"), lot_url(held, "reject")):
        response = post(qa, url, body)
        assert response.status_code == 400, (url, response.content)
        if isinstance(body, dict) and isinstance(body.get("reason"), str):
            assert response.json()["detail"] == "a reason is required"
    assert AuditEvent.objects.count() == events
    assert state(flag) == (FlagStatus.OPEN, LotStatus.ON_HOLD)


def test_a_reason_past_the_limit_is_a_400(qa: User, flag: Flag) -> None:
    assert post(qa, flag_url(flag, "resolve"), {"reason": "x" * (MAX_REASON + 1)}).status_code == 400
    assert state(flag) == (FlagStatus.OPEN, LotStatus.ON_HOLD)


@pytest.mark.parametrize("persona", ["technician", "lab_admin"])
def test_lab_roles_that_do_not_act_on_flags_get_403(request: pytest.FixtureRequest, held: Lot, flag: Flag, persona: str) -> None:
    user = request.getfixturevalue(persona)
    assert client_for(user).get(flag_url(flag)).status_code == 200  # they may read it
    for url in (flag_url(flag, "acknowledge"), flag_url(flag, "resolve"), lot_url(held, "release-hold"), lot_url(held, "reject")):
        for body in ({"reason": "mine"}, {}):  # the role is refused before the body is looked at
            response = post(user, url, body)
            assert response.status_code == 403, (url, response.content)
            assert response.json()["detail"].startswith("only QA may")
    assert state(flag) == (FlagStatus.OPEN, LotStatus.ON_HOLD)


def test_qa_of_another_site_and_partners_even_of_their_own_lot_get_404_anonymous_403(
    world: World, us_qa: User, partner_a_user: User, held: Lot, flag: Flag
) -> None:
    lot_allocate(actor=None, lot=held, customer=world.partner_a, mass_kg=Decimal(10))
    assert client_for(partner_a_user).get(f"/api/v1/lots/{held.code}/").status_code == 200  # the partner sees the lot itself
    urls = (flag_url(flag, "acknowledge"), flag_url(flag, "resolve"), lot_url(held, "release-hold"), lot_url(held, "reject"))
    for user in (us_qa, partner_a_user):
        assert client_for(user).get(flag_url(flag)).status_code == 404
        for url in urls:
            assert post(user, url, {"reason": "x"}).status_code == 404, (user, url)
    assert client_for(None).get(flag_url(flag)).status_code == 403
    for url in urls:
        assert post(None, url, {"reason": "x"}).status_code == 403
    assert state(flag) == (FlagStatus.OPEN, LotStatus.ON_HOLD)


@pytest.mark.parametrize("path", ["/api/v1/flags/999999/", "/api/v1/flags/999999/resolve/", "/api/v1/flags/99999999999999999999999999/"])
def test_a_missing_flag_is_404(qa: User, path: str) -> None:
    response = client_for(qa).get(path) if path.endswith("999999/") else post(qa, path, {"reason": "x"})
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize("code", ["NO-SUCH-LOT", "BAD%00", "X" * 300, "%E2%82%AC"])
def test_a_missing_or_malformed_lot_is_404(qa: User, lab: AssessmentLab, code: str) -> None:
    client = client_for(qa)
    client.raise_request_exception = False
    for action in ("release-hold", "reject"):
        response = client.post(lot_url(code, action), json.dumps({"reason": "x"}), content_type="application/json")
        assert response.status_code == 404, response.content


def test_release_is_refused_while_held_and_allowed_once_nothing_holds_the_lot(
    qa: User, technician: User, lab: AssessmentLab, held: Lot, flag: Flag
) -> None:
    response = post(qa, lot_url(held, "release-hold"), {"reason": "looks fine"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert f"lot ND/API-1 stays on hold: flag {flag.pk} (off specification) is open" in detail
    assert "off specification, not conforming" in detail

    import_and_assess(technician, lab, held, fe=10.0)  # conforming now; the lot stays held
    assert post(qa, flag_url(flag, "resolve"), {"reason": "re-test conforms"}).status_code == 200
    response = post(qa, lot_url(held, "release-hold"), {"reason": "re-test conforms"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == set(LotHoldDecisionSerializer().fields)
    assert (body["lot"], body["status"]) == ("ND/API-1", "assessed")
    assert [(item["id"], item["status"]) for item in body["flags"]] == [(flag.pk, "resolved")]
    event = AuditEvent.objects.filter(entity="assays.lot", object_id=str(held.pk)).latest("id")
    assert (event.action, event.actor, event.reason, event.after) == (
        AuditAction.TRANSITION,
        qa,
        "re-test conforms",
        {"status": "assessed"},
    )
    # Released from hold once: a second release finds no hold.
    response = post(qa, lot_url(held, "release-hold"), {"reason": "again"})
    assert response.status_code == 400
    assert "not on hold" in response.json()["detail"]


def test_qa_rejects_a_held_lot_and_its_flags_are_resolved(qa_manager: User, held: Lot, flag: Flag) -> None:
    response = post(qa_manager, lot_url(held, "reject"), {"reason": "Fe contamination confirmed"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["lot"], body["status"]) == ("ND/API-1", "rejected")
    [item] = body["flags"]
    assert (item["status"], item["resolved_by"], item["resolution_reason"]) == (
        "resolved",
        "qa_manager",
        "lot ND/API-1 rejected: Fe contamination confirmed",
    )
    assert post(qa_manager, lot_url(held, "reject"), {"reason": "twice"}).status_code == 400


def test_the_actions_answer_post_only(qa: User, held: Lot, flag: Flag) -> None:
    client = client_for(qa)
    assert client.get(lot_url(held, "release-hold")).status_code == 405
    assert client.get(flag_url(flag, "resolve")).status_code == 405
    assert client.post(flag_url(flag)).status_code == 405


def test_the_flag_endpoints_are_in_the_schema_with_no_warning(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    assert set(schema["paths"]) >= FLAG_PATHS
    for path in FLAG_PATHS - {"/api/v1/flags/{id}/"}:
        assert {"200", "400", "403", "404"} <= set(schema["paths"][path]["post"]["responses"]), path
    assert {"200", "403", "404"} <= set(schema["paths"]["/api/v1/flags/{id}/"]["get"]["responses"])
    detail = schema["components"]["schemas"]["FlagDetail"]["properties"]
    assert {"acknowledged_by", "acknowledgement_reason", "resolved_by", "resolution_reason"} <= set(detail)
