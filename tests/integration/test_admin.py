"""The Django admin: master data editable by lab admins, regulated records read-only for everyone."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.test import Client
from django.utils import timezone

from assays.models import (
    Acquisition,
    Analyte,
    AssessmentStatus,
    AuditEvent,
    Basis,
    Certificate,
    ChannelRole,
    CustodyEvent,
    Element,
    Flag,
    FlagKind,
    Instrument,
    Lot,
    LotAllocation,
    LotAssessment,
    LotInput,
    Measurement,
    Method,
    Oxide,
    Partner,
    PartnerMembership,
    Product,
    ReferenceMaterial,
    Run,
    Sample,
    Site,
    SiteMembership,
    Specification,
    SpecificationStatus,
    Technique,
    WorkerHeartbeat,
)
from assays.roles import Role
from assays.services.demo import DemoSeedResult, demo_password, demo_seed
from assays.spec_schema import catalogue

pytestmark = pytest.mark.django_db

MASTER_DATA = (
    Element,
    Oxide,
    Analyte,
    Product,
    Specification,
    Instrument,
    Method,
    ReferenceMaterial,
    Partner,
    Site,
    SiteMembership,
    PartnerMembership,
    get_user_model(),
)
REGULATED = (
    Lot,
    LotInput,
    LotAllocation,
    Sample,
    CustodyEvent,
    Run,
    Acquisition,
    Measurement,
    Flag,
    LotAssessment,
    Certificate,
    AuditEvent,
    WorkerHeartbeat,
)


def _url(model: type[models.Model], view: str = "changelist", pk: object = None) -> str:
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    return {"changelist": base, "add": f"{base}add/", "change": f"{base}{pk}/change/", "delete": f"{base}{pk}/delete/"}[view]


@pytest.fixture
def demo(lab_signing: object) -> DemoSeedResult:
    # lab_signing: the demo signs its certificates with the tests' pair, stored in the test's folder.
    result = demo_seed()
    # Records the demo does not make yet (the demo's own certificates and assessments are there too).
    lot = Lot.objects.get(code="US1-ND-26-0201")
    sample = Sample.objects.get(code="US1-ND-26-0201-R1")
    run = Run.objects.create(
        site=lot.site,
        instrument=Instrument.objects.get(code="US1-ICPMS-01"),
        method=Method.objects.get(is_manual=False),
        analyst=get_user_model().objects.get(username="tech_us"),
        source_filename="2026-10-24_batch1.csv",
        source_sha256="a" * 64,
    )
    acquisition = Acquisition.objects.create(run=run, sequence=1, label=sample.code, sample=sample)
    Measurement.objects.create(
        acquisition=acquisition, analyte=Analyte.objects.get(code="139La [No Gas]"), value=0.52, unit="µg/L", basis=Basis.SOLUTION
    )
    Flag.objects.create(kind=FlagKind.QC_FAILURE, run=run, raised_at=timezone.now())
    LotAssessment.objects.create(
        lot=lot,
        specification=Specification.objects.get(product__code="ND2O3"),
        status=AssessmentStatus.CONFORMING,
        inputs_fingerprint="f" * 64,
        assessed_at=timezone.now(),
    )
    WorkerHeartbeat.objects.create(hostname="worker-1", last_seen_at=timezone.now())
    return result


def _client_for(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=demo_password(username))
    return client


@pytest.fixture
def lab_admin_client(demo: DemoSeedResult) -> Client:
    return _client_for("lab_admin")


# One test walks every model (rather than one test per model): each would seed the whole demo.
def test_the_lab_admin_opens_the_list_and_a_record_of_every_model(lab_admin_client):
    for model in MASTER_DATA + REGULATED:
        assert lab_admin_client.get(_url(model)).status_code == 200, model.__name__
        record = model._default_manager.order_by("pk").first()
        assert record is not None, model.__name__
        assert lab_admin_client.get(_url(model, "change", record.pk)).status_code == 200, model.__name__


def test_the_admin_index_names_master_data_and_regulated_records(lab_admin_client):
    page = lab_admin_client.get("/admin/").content.decode()
    for model in MASTER_DATA + REGULATED:
        assert _url(model) in page, model.__name__


def test_no_one_adds_changes_or_deletes_a_regulated_record_in_the_admin(lab_admin_client):
    for model in REGULATED:
        name = model.__name__
        record = model._default_manager.order_by("pk").first()
        before = model._default_manager.count()

        assert lab_admin_client.get(_url(model, "add")).status_code == 403, name
        assert lab_admin_client.post(_url(model, "add"), {}).status_code == 403, name
        assert lab_admin_client.post(_url(model, "change", record.pk), {}).status_code == 403, name
        assert lab_admin_client.get(_url(model, "delete", record.pk)).status_code == 403, name
        assert lab_admin_client.post(_url(model, "delete", record.pk), {"post": "yes"}).status_code == 403, name
        assert "delete_selected" not in lab_admin_client.get(_url(model)).content.decode(), name
        assert model._default_manager.count() == before, name


def test_a_posted_change_to_a_lot_leaves_it_as_it_was(lab_admin_client):
    lot = Lot.objects.get(code="UK1-PRND-26-0101")
    before = (lot.code, lot.mass_kg, lot.status)
    assert before == ("UK1-PRND-26-0101", Decimal(2400), "on_hold")  # the demo's insufficient-data lot
    response = lab_admin_client.post(_url(Lot, "change", lot.pk), {"code": "RENAMED", "mass_kg": "1", "status": "released"})
    assert response.status_code == 403
    lot.refresh_from_db()
    assert (lot.code, lot.mass_kg, lot.status) == before


def test_even_a_superuser_cannot_change_a_lot_in_the_admin(demo):
    root = get_user_model().objects.create_superuser("root", "root@example.org", "root-password-1")
    client = Client()
    client.force_login(root)
    lot = Lot.objects.first()
    assert client.get(_url(Lot, "change", lot.pk)).status_code == 200
    assert client.post(_url(Lot, "change", lot.pk), {"code": "X"}).status_code == 403
    assert client.get(_url(Lot, "add")).status_code == 403


def test_the_lab_admin_adds_a_product_with_its_main_oxides(lab_admin_client):
    oxides = Oxide.objects.filter(formula__in=["La2O3"])
    response = lab_admin_client.post(
        _url(Product, "add"), {"code": "LA2O3", "name": "Lanthanum oxide", "main_oxides": [o.pk for o in oxides]}
    )

    assert response.status_code == 302
    product = Product.objects.get(code="LA2O3")
    assert list(product.main_oxides.values_list("formula", flat=True)) == ["La2O3"]
    assert LogEntry.objects.filter(object_id=str(product.pk), user__username="lab_admin").exists()


def test_the_lab_admin_edits_an_element(lab_admin_client):
    element = Element.objects.get(symbol="Nd")
    data = {"symbol": "Nd", "name": "Neodymium", "atomic_number": 60, "atomic_weight": "144.242", "is_rare_earth": "on"}
    data["name"] = "Neodymium (edited)"

    response = lab_admin_client.post(_url(Element, "change", element.pk), data)

    assert response.status_code == 302
    element.refresh_from_db()
    assert element.name == "Neodymium (edited)"


def test_an_oxide_shows_its_computed_factor_and_a_formula_must_match_its_atoms(lab_admin_client):
    nd2o3 = Oxide.objects.get(formula="Nd2O3")
    page = lab_admin_client.get(_url(Oxide, "change", nd2o3.pk)).content.decode()
    assert f"{nd2o3.factor:.6f}" in page
    assert "1.166" in page

    neodymium = Element.objects.get(symbol="Nd")
    mismatched = {"formula": "NdO2", "element": neodymium.pk, "metal_atoms": 2, "oxygen_atoms": 3}
    response = lab_admin_client.post(_url(Oxide, "add"), mismatched)

    assert response.status_code == 200
    assert "NdO2 means element Nd, 1 metal atom(s), 2 oxygen atom(s)" in response.content.decode()
    assert not Oxide.objects.filter(formula="NdO2").exists()
    bad_formula = lab_admin_client.post(_url(Oxide, "add"), {**mismatched, "formula": "Xx2O3"})
    assert bad_formula.status_code == 200
    assert not Oxide.objects.filter(formula="Xx2O3").exists()


def test_an_analyte_gets_its_canonical_code_and_a_second_spelling_is_refused(lab_admin_client):
    neodymium = Element.objects.get(symbol="Nd")
    data = {"element": neodymium.pk, "technique": Technique.ICP_MS, "isotope_mass": 145, "cell_mode": "  He "}

    assert lab_admin_client.post(_url(Analyte, "add"), data).status_code == 302
    assert Analyte.objects.filter(code="145Nd [He]").exists()
    again = lab_admin_client.post(_url(Analyte, "add"), {**data, "cell_mode": "He"})
    assert again.status_code == 200
    assert "exists already" in again.content.decode()
    assert Analyte.objects.filter(code="145Nd [He]").count() == 1


def _method_post(channels: list[tuple[Analyte, str]]) -> dict[str, object]:
    data: dict[str, object] = {
        "code": "ICPMS-FE-TEST",
        "name": "Iron in oxides",
        "technique": Technique.ICP_MS,
        "standard": "",
        "rule_pack_code": "plant-default",
        "qc_standards-TOTAL_FORMS": 0,
        "qc_standards-INITIAL_FORMS": 0,
        "qc_standards-MIN_NUM_FORMS": 0,
        "qc_standards-MAX_NUM_FORMS": 1000,
        "channels-TOTAL_FORMS": len(channels),
        "channels-INITIAL_FORMS": 0,
        "channels-MIN_NUM_FORMS": 0,
        "channels-MAX_NUM_FORMS": 1000,
    }
    for i, (analyte, role) in enumerate(channels):
        data |= {
            f"channels-{i}-analyte": analyte.pk,
            f"channels-{i}-role": role,
            f"channels-{i}-unit": "µg/L",
            f"channels-{i}-lod": "0.3",
            f"channels-{i}-loq": "1.0",
            f"channels-{i}-uncertainty_a": "1.0",
            f"channels-{i}-uncertainty_b": "0.08",
        }
    return data


def test_a_method_has_one_reporting_channel_per_element_and_channels_take_the_analytes_element(lab_admin_client):
    fe56, fe57 = Analyte.objects.get(code="56Fe [He]"), Analyte.objects.get(code="57Fe [He]")

    refused = lab_admin_client.post(_url(Method, "add"), _method_post([(fe56, ChannelRole.REPORTING), (fe57, ChannelRole.REPORTING)]))
    assert refused.status_code == 200
    assert "both reporting channels of one element" in refused.content.decode()
    assert not Method.objects.filter(code="ICPMS-FE-TEST").exists()

    accepted = lab_admin_client.post(_url(Method, "add"), _method_post([(fe56, ChannelRole.REPORTING), (fe57, ChannelRole.CONFIRMATORY)]))
    assert accepted.status_code == 302
    method = Method.objects.get(code="ICPMS-FE-TEST")
    assert {(c.analyte.code, c.role, c.element.symbol) for c in method.channels.all()} == {
        ("56Fe [He]", ChannelRole.REPORTING, "Fe"),
        ("57Fe [He]", ChannelRole.CONFIRMATORY, "Fe"),
    }


def test_specifications_are_read_only_and_a_qa_manager_adds_a_version_as_json_through_the_service(demo):
    lab_admin = _client_for("lab_admin")
    active = Specification.objects.get(product__code="ND2O3")
    page = lab_admin.get(_url(Specification, "change", active.pk))
    assert page.status_code == 200
    # The version's lines are shown inline, read-only (no form fields for them).
    html = page.content.decode()
    assert "Fe2O3" in html
    assert "0.0005" in html
    assert "lines-0-minimum" not in html
    assert lab_admin.get(_url(Specification, "add")).status_code == 403

    manager = get_user_model().objects.get(username="qa_manager")
    manager.is_staff = True
    manager.save()
    qa_manager = _client_for("qa_manager")
    # A version is never edited or deleted, not even by the QA manager.
    assert qa_manager.post(_url(Specification, "change", active.pk), {"grade": "X"}).status_code == 403
    assert qa_manager.post(_url(Specification, "delete", active.pk), {"post": "yes"}).status_code == 403
    active.refresh_from_db()
    assert active.grade == "Nd2O3-04 (4N)"
    assert qa_manager.get(_url(Specification, "add")).status_code == 200

    shipped = catalogue()["ND2O3"][1].canonical()
    counts = (Specification.objects.count(), AuditEvent.objects.count())

    def post(spec: dict[str, object], **extra: str) -> str:
        response = qa_manager.post(_url(Specification, "add"), {"spec_json": json.dumps(spec), "activate": "on", **extra})
        assert response.status_code == 200, "expected the form again, with its errors"
        return response.content.decode()

    # A limit as a JSON number, an unknown product, the same content again: form errors, nothing stored.
    as_number = json.dumps(shipped).replace('"min": "99.99"', '"min": 99.99')
    response = qa_manager.post(_url(Specification, "add"), {"spec_json": as_number, "activate": "on"})
    assert response.status_code == 200
    assert "lines[1].min" in response.content.decode()
    assert "not a JSON number" in response.content.decode()
    assert "no product &#x27;ND2O3-9N&#x27;" in post({**shipped, "product": "ND2O3-9N"})
    assert "no new version made" in post(shipped)
    assert (Specification.objects.count(), AuditEvent.objects.count()) == counts

    # A changed specification: the next version, active, the previous one retired, audited.
    changed = {**shipped, "lines": [{**line, "max": "0.0004"} if line.get("oxide") == "Fe2O3" else line for line in shipped["lines"]]}
    response = qa_manager.post(_url(Specification, "add"), {"spec_json": json.dumps(changed), "activate": "on"})
    assert response.status_code == 302
    v2 = Specification.objects.get(product__code="ND2O3", version=2)
    active.refresh_from_db()
    assert (v2.status, active.status) == (SpecificationStatus.ACTIVE, SpecificationStatus.RETIRED)
    assert v2.lines.get(oxide__formula="Fe2O3").maximum == "0.0004"
    event = AuditEvent.objects.get(entity="assays.specification", object_id=str(v2.pk), action="create")
    assert (event.actor_label, event.context["line_count"]) == ("qa_manager", len(shipped["lines"]))
    assert qa_manager.get(_url(Specification, "change", v2.pk)).status_code == 200


def test_the_user_admin_shows_memberships_and_a_lab_admin_cannot_grant_superuser(lab_admin_client):
    user_model = get_user_model()
    tech = user_model.objects.get(username="tech_uk")
    page = lab_admin_client.get(_url(user_model, "change", tech.pk)).content.decode()
    assert "site_memberships-TOTAL_FORMS" in page
    assert "partner_membership-TOTAL_FORMS" in page

    data = {
        "username": "tech_uk",
        "first_name": "Priya",
        "last_name": "Shah",
        "email": "tech_uk@example.org",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [Group.objects.get(name=Role.TECHNICIAN.value).pk],
        "site_memberships-TOTAL_FORMS": 1,
        "site_memberships-INITIAL_FORMS": 1,
        "site_memberships-MIN_NUM_FORMS": 0,
        "site_memberships-MAX_NUM_FORMS": 1000,
        "site_memberships-0-id": SiteMembership.objects.get(user=tech).pk,
        "site_memberships-0-user": tech.pk,
        "site_memberships-0-site": Site.objects.get(code="UK1").pk,
        "partner_membership-TOTAL_FORMS": 0,
        "partner_membership-INITIAL_FORMS": 0,
        "partner_membership-MIN_NUM_FORMS": 0,
        "partner_membership-MAX_NUM_FORMS": 1,
    }
    response = lab_admin_client.post(_url(user_model, "change", tech.pk), data)

    assert response.status_code == 302
    tech.refresh_from_db()
    assert tech.is_staff
    assert not tech.is_superuser


def test_a_lab_admin_cannot_change_a_superuser(lab_admin_client):
    root = get_user_model().objects.create_superuser("root", "root@example.org", "root-password-1")
    assert lab_admin_client.post(_url(get_user_model(), "change", root.pk), {"username": "root2"}).status_code == 403
    assert lab_admin_client.get(f"/admin/auth/user/{root.pk}/password/").status_code == 403
    root.refresh_from_db()
    assert root.username == "root"


def test_a_technician_without_staff_status_is_sent_to_the_admin_login(demo):
    client = _client_for("tech_uk")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get(_url(Lot)).status_code == 302


def test_staff_status_without_the_lab_admin_role_opens_nothing(demo):
    qa = get_user_model().objects.get(username="qa")
    qa.is_staff = True
    qa.save()
    client = _client_for("qa")

    index = client.get("/admin/")
    assert index.status_code == 200
    assert _url(Lot) not in index.content.decode()
    for model in (Lot, AuditEvent, Product, get_user_model()):
        assert client.get(_url(model)).status_code == 403, model.__name__


def test_anonymous_visitors_are_sent_to_the_admin_login(demo):
    response = Client().get(_url(Lot))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
