"""Each persona sees exactly its lots and samples on the list and detail endpoints, and nothing of
another partner's business."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from assays.roles import Role
from assays.services.lots import lot_create
from tests.api.conftest import ALL_LOTS, ALL_SAMPLES
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UK_LOTS = {"F-UK-A", "P-UK-SPLIT", "P-UK-TRADED"}
US_LOTS = {"F-US-B", "I-US-1", "P-US-B"}
LOTS_SEEN = {
    "technician": UK_LOTS,
    "qa": UK_LOTS,
    "us_technician": US_LOTS,
    "qa_manager": ALL_LOTS,
    "lab_admin": ALL_LOTS,
    # Supplied F-UK-A and P-UK-TRADED, allocated part of P-UK-SPLIT.
    "partner_a_user": {"F-UK-A", "P-UK-SPLIT", "P-UK-TRADED"},
    # Supplied F-US-B, allocated part of P-UK-SPLIT, all of P-US-B and P-UK-TRADED.
    "partner_b_user": {"F-US-B", "P-UK-SPLIT", "P-US-B", "P-UK-TRADED"},
}
SAMPLES_SEEN = {
    # Site staff see the samples their site holds, wherever the lot was made.
    # S-FA-US is a UK lot's sample held at the US lab: both sites' staff see it.
    "technician": {"S-FA-1", "S-FA-US", "S-SPLIT-1", "S-TRADED-1"},
    "qa": {"S-FA-1", "S-FA-US", "S-SPLIT-1", "S-TRADED-1"},
    "us_technician": {"S-FA-US", "S-FB-1", "S-INT-1", "S-PB-1"},
    "qa_manager": ALL_SAMPLES,
    "lab_admin": ALL_SAMPLES,
    # Partners see the samples of their lots.
    # Samples are internal lab records; partners get results and certificates (a later issue).
    "partner_a_user": set(),
    "partner_b_user": set(),
}


def _codes(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["code"] for row in response.json()["results"]}


@pytest.mark.parametrize("persona", sorted(LOTS_SEEN))
def test_each_persona_lists_exactly_its_lots(plant, client_for, persona):
    assert _codes(client_for(persona).get("/api/v1/lots/")) == LOTS_SEEN[persona]


@pytest.mark.parametrize("persona", sorted(SAMPLES_SEEN))
def test_each_persona_lists_exactly_its_samples(plant, client_for, persona):
    assert _codes(client_for(persona).get("/api/v1/samples/")) == SAMPLES_SEEN[persona]


@pytest.mark.parametrize("persona", sorted(LOTS_SEEN))
def test_a_lot_outside_the_scope_answers_404_like_a_missing_one(plant, client_for, persona):
    client = client_for(persona)
    for code in sorted(ALL_LOTS):
        response = client.get(f"/api/v1/lots/{code}/")
        expected = 200 if code in LOTS_SEEN[persona] else 404
        assert response.status_code == expected, (persona, code, response.content)
        if expected == 404:
            missing = client.get(f"/api/v1/lots/{code}-X/")
            assert missing.status_code == 404
            assert missing.json()["detail"].replace(f"{code}-X", code) == response.json()["detail"]


@pytest.mark.parametrize("persona", sorted(SAMPLES_SEEN))
def test_a_sample_outside_the_scope_answers_404(plant, client_for, persona):
    client = client_for(persona)
    for code in sorted(ALL_SAMPLES):
        response = client.get(f"/api/v1/samples/{code}/")
        assert response.status_code == (200 if code in SAMPLES_SEEN[persona] else 404), (persona, code)


@pytest.mark.parametrize("path", ["/api/v1/lots/", "/api/v1/lots/P-UK-SPLIT/", "/api/v1/samples/", "/api/v1/samples/S-SPLIT-1/"])
def test_anonymous_is_refused_everywhere(plant, client_for, path):
    response = client_for("anonymous").get(path)
    assert response.status_code == 403
    assert "P-UK-SPLIT" not in response.content.decode()


def test_a_signed_in_user_without_a_role_is_refused(plant, client_for, world):
    # Site membership alone grants nothing: the role says what, the membership says where.
    user = UserFactory(username="nobody", sites=[world.uk_site])
    client = client_for("anonymous")
    client.force_login(user)
    assert client.get("/api/v1/lots/").status_code == 403
    assert client.get("/api/v1/samples/S-FA-1/").status_code == 403


def test_a_superuser_without_groups_sees_every_site(plant, client_for):
    client = client_for("anonymous")
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    assert _codes(client.get("/api/v1/lots/")) == ALL_LOTS


def test_losing_the_role_closes_the_api_on_the_next_request(plant, client_for, technician):
    client = client_for("technician")
    assert client.get("/api/v1/lots/").status_code == 200
    technician.groups.remove(Group.objects.get(name=Role.TECHNICIAN.value))
    assert client.get("/api/v1/lots/").status_code == 403


# --- Lot detail: samples, genealogy, allocations -----------------------------------------------


def test_staff_see_the_whole_lot_with_inputs_and_every_allocation(plant, client_for):
    body = client_for("technician").get("/api/v1/lots/P-UK-SPLIT/").json()
    assert body["site"] == "UK1"
    assert body["kind"] == "product"
    assert body["product"] == "NDPR-OX"
    assert body["mass_kg"] == "500.0000"
    assert body["samples"] == ["S-SPLIT-1"]
    assert body["inputs"] == [{"lot": "F-UK-A", "kind": "feedstock", "site": "UK1", "mass_used_kg": "400.0000"}]
    assert [(row["customer"], row["mass_kg"], row["reference"]) for row in body["allocations"]] == [
        ("PA", "100.0000", "PO-A-1"),
        ("PB", "200.0000", "PO-B-7"),
    ]


def test_feedstock_detail_carries_its_provenance(plant, client_for):
    body = client_for("qa").get("/api/v1/lots/F-UK-A/").json()
    assert body["supplier"] == "PA"
    assert body["feedstock_type"] == "end_of_life_magnets"
    assert body["is_recycled"] is True
    assert body["country_of_collection"] == "DE"
    assert body["allocations"] == []
    assert body["inputs"] == []
    # The UK view of a UK lot lists its samples, the one that travelled to the US lab included.
    assert body["samples"] == ["S-FA-1", "S-FA-US"]


def test_a_lot_detail_lists_only_samples_the_caller_can_also_open(plant, client_for):
    client = client_for("qa_manager")
    body = client.get("/api/v1/lots/F-UK-A/").json()
    assert body["samples"] == ["S-FA-1", "S-FA-US"]
    for code in body["samples"]:
        assert client.get(f"/api/v1/samples/{code}/").status_code == 200


def test_partner_b_sees_its_allocation_but_not_partner_as_on_a_split_lot(plant, client_for):
    response = client_for("partner_b_user").get("/api/v1/lots/P-UK-SPLIT/")
    body = response.json()
    assert [(row["customer"], row["mass_kg"], row["reference"]) for row in body["allocations"]] == [("PB", "200.0000", "PO-B-7")]
    # Nothing of partner A anywhere: not its allocation, order reference, name, or the feedstock it supplied.
    text = response.content.decode()
    for secret in ('"PA"', "PO-A-1", "Partner A", "F-UK-A"):
        assert secret not in text, secret
    assert body["inputs"] == []


def test_partner_a_sees_its_allocation_and_its_own_feedstock_as_input(plant, client_for):
    body = client_for("partner_a_user").get("/api/v1/lots/P-UK-SPLIT/").json()
    assert [row["customer"] for row in body["allocations"]] == ["PA"]
    assert [row["lot"] for row in body["inputs"]] == ["F-UK-A"]
    text = json.dumps(body)
    assert "PO-B-7" not in text
    assert '"PB"' not in text


def test_a_customer_does_not_learn_who_supplied_the_lot_it_bought(plant, client_for):
    as_b = client_for("partner_b_user")
    detail = as_b.get("/api/v1/lots/P-UK-TRADED/").json()
    assert detail["supplier"] is None
    assert [row["customer"] for row in detail["allocations"]] == ["PB"]
    listed = {row["code"]: row for row in as_b.get("/api/v1/lots/").json()["results"]}
    assert listed["P-UK-TRADED"]["supplier"] is None
    assert listed["F-US-B"]["supplier"] == "PB"
    assert "Partner A" not in json.dumps(detail)


def test_the_supplier_sees_itself_but_not_the_customer_it_supplied(plant, client_for):
    body = client_for("partner_a_user").get("/api/v1/lots/P-UK-TRADED/").json()
    assert body["supplier"] == "PA"
    assert body["allocations"] == []


def test_staff_see_supplier_and_customer_of_a_traded_lot(plant, client_for):
    body = client_for("lab_admin").get("/api/v1/lots/P-UK-TRADED/").json()
    assert body["supplier"] == "PA"
    assert [row["customer"] for row in body["allocations"]] == ["PB"]


def test_a_partner_sees_no_genealogy_edge_to_a_lot_it_may_not_open(plant, client_for):
    # P-US-B is made from the internal intermediate, which partner B may not see.
    assert client_for("partner_b_user").get("/api/v1/lots/P-US-B/").json()["inputs"] == []
    body = client_for("us_technician").get("/api/v1/lots/P-US-B/").json()
    assert body["inputs"] == [{"lot": "I-US-1", "kind": "intermediate", "site": "US1", "mass_used_kg": "300.0000"}]


def test_sample_detail_names_lot_site_and_preparation(plant, client_for):
    body = client_for("us_technician").get("/api/v1/samples/s-fa-us/").json()
    assert body == {
        "code": "S-FA-US",
        "lot": "F-UK-A",
        "site": "US1",
        "sample_type": "routine",
        "status": "registered",
        "sample_mass_g": None,
        "final_volume_ml": None,
        "dilution_factor": "1.0000",
        "sampled_by": "",
        "sampled_at": None,
        "sampling_method": "",
        "registered_at": body["registered_at"],
    }
    assert body["registered_at"]


def test_the_lot_list_costs_a_fixed_number_of_queries(plant, client_for, django_assert_max_num_queries, world):
    client = client_for("lab_admin")
    client.get("/api/v1/lots/")  # the first request fills per-process caches (content types, session)
    for n in range(20):
        lot_create(actor=None, code=f"EXTRA-{n:02d}", site=world.us_site, kind="feedstock", supplier=world.partner_b)
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/lots/")
    assert len(response.json()["results"]) == 26


@pytest.mark.parametrize("path", ["/api/v1/lots/", "/api/v1/lots/P-UK-SPLIT/", "/api/v1/samples/?lot=x%00", "/api/v1/samples/S-SPLIT-1/"])
def test_the_browsable_api_renders_for_a_signed_in_user(plant, client_for, path):
    response = client_for("qa").get(path, HTTP_ACCEPT="text/html")
    assert response.status_code in {200, 400}
    assert response["Content-Type"].startswith("text/html")


def test_writes_are_not_offered_yet(plant, client_for):
    client = client_for("lab_admin")
    client.enforce_csrf_checks = False
    assert client.post("/api/v1/lots/", {"code": "NEW"}, format="json").status_code == 405
    assert client.delete("/api/v1/lots/P-UK-SPLIT/").status_code == 405


def test_a_lot_code_with_a_slash_is_addressable(plant, client_for, world):
    lot_create(actor=None, code="LOT/2026/01", site=world.uk_site, kind="feedstock")
    body = client_for("technician").get("/api/v1/lots/LOT/2026/01/").json()
    assert body["code"] == "LOT/2026/01"
    assert client_for("us_technician").get("/api/v1/lots/LOT/2026/01/").status_code == 404
    assert client_for("technician").get("/api/v1/lots/P-UK-SPLIT/extra/").status_code == 404
