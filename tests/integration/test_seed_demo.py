"""``python manage.py seed_demo``: a realistic demo that is safe to load twice."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from assays.certificates.signing import verify_signed_pdf
from assays.models import (
    AuditEvent,
    Certificate,
    CertificateKind,
    CertificateStatus,
    ChannelRole,
    CustodyEvent,
    CustodyEventKind,
    Flag,
    FlagKind,
    FlagStatus,
    Instrument,
    LabProfile,
    Lot,
    LotAllocation,
    LotInput,
    LotKind,
    MagnetChemistry,
    Method,
    Partner,
    PartnerKind,
    Product,
    QcCheck,
    ReferenceMaterial,
    ResultAcceptance,
    Run,
    RunStatus,
    Sample,
    SampleType,
    Site,
    SiteMembership,
    SpecificationStatus,
)
from assays.reference_data import reference_data_ensure
from assays.roles import Role
from assays.services.demo import demo_password
from assays.spec_schema import catalogue
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _signing(lab_signing: tuple[Path, Path]) -> tuple[Path, Path]:
    """The demo signs with the tests' pair and stores its PDFs in the test's folder (never var/)."""
    return lab_signing


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _row_counts() -> dict[str, int]:
    """Every table of every installed app: the domain, auth, the admin log, pghistory's events."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def _printed_credentials(output: str) -> dict[str, tuple[str, str, str]]:
    """username -> (role, site/partner, password) from the printed table."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("username"))
    rule = lines[header + 1]
    # Columns are separated by two spaces under the dashes of the rule line.
    spans, start = [], 0
    for dashes in rule.split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    rows = {}
    for line in lines[header + 2 :]:
        if not line.strip() or not line[0].isalnum() or line.startswith(("Fixed", "Store")):
            break
        cells = [line[a:b].strip() for a, b in spans[:-1]] + [line[spans[-1][0] :].strip()]
        rows[cells[0]] = (cells[1], cells[2], cells[3])
    return rows


def _lineage_reaches_feedstock(lot: Lot) -> bool:
    frontier, seen = [lot], set()
    while frontier:
        current = frontier.pop()
        if current.kind == LotKind.FEEDSTOCK:
            return True
        seen.add(current.pk)
        frontier += [edge.input_lot for edge in current.inputs.select_related("input_lot") if edge.input_lot_id not in seen]
    return False


def test_a_second_run_changes_nothing_and_writes_no_audit_event():
    first = _seed()
    after_first = _row_counts()
    audit_after_first = AuditEvent.objects.count()

    second = _seed()

    assert "Demo data created" in first
    assert "nothing to do" in second
    assert audit_after_first > 0
    assert AuditEvent.objects.count() == audit_after_first
    assert _row_counts() == after_first


def test_regulated_records_are_created_through_the_audited_services_by_the_lab_admin():
    _seed()
    for model in (Lot, LotInput, LotAllocation, Sample, CustodyEvent):
        entity = model._meta.label_lower
        events = AuditEvent.objects.filter(entity=entity, action="create")
        assert events.count() == model.objects.count(), entity
        assert set(events.values_list("actor_label", flat=True)) == {"lab_admin"}
    # The four oxides' and the NdFeB feedstock's.
    assert AuditEvent.objects.filter(entity="assays.specification").count() == 5
    # What else touched the lots: the runs' QC judgements (stale), and the assessments that
    # followed (stale cleared; assessed or on hold), all by the system.
    later = AuditEvent.objects.filter(entity="assays.lot").exclude(action="create")
    by_system = later.filter(actor_label="system")
    assert set(by_system.values_list("action", flat=True)) == {"update", "transition"}
    for action, reason in by_system.values_list("action", "reason"):
        assert ("assessment out of date" in reason or reason == "assessed") if action == "update" else reason.startswith("assessment ")
    # The rest are the certificates' doing, by the QA users who signed: releases, a concession, a revocation.
    by_qa = later.exclude(actor_label="system")
    assert set(by_qa.values_list("actor_label", "action")) == {("qa", "transition"), ("qa_manager", "transition")}
    for reason in by_qa.values_list("reason", flat=True):
        assert reason.startswith(("COA-", "ROA-", "concession for COA-")), reason


def test_the_demo_has_a_run_that_passes_its_qc_and_a_re_run_whose_ccv_drifted():
    _seed()
    passed = Run.objects.get(source_filename="UK1-ICPMS-01_demo_batch.csv")
    drifted = Run.objects.get(source_filename="UK1-ICPMS-01_demo_batch_rerun.csv")
    assert passed.status == RunStatus.ACCEPTED
    assert drifted.status == RunStatus.PARTIALLY_ACCEPTED
    failed = QcCheck.objects.filter(evaluation__run=drifted, evaluation__is_current=True, passed=False)
    assert {(check.kind, check.analyte.element.symbol) for check in failed.select_related("analyte__element")} == {
        ("ccv", "Pr"),
        ("ccv", "Nd"),
    }
    rejected = ResultAcceptance.objects.filter(evaluation__run=drifted).exclude(state="accepted")
    assert {r.measurement.analyte.element.symbol for r in rejected.select_related("measurement__analyte__element")} == {"Pr", "Nd"}
    assert Flag.objects.filter(run=drifted, kind=FlagKind.QC_FAILURE).count() == 1
    assert not Flag.objects.filter(run=passed).exists()


def test_it_has_two_sites_and_the_uk_plant_is_the_only_default():
    reference_data_ensure()  # the settings' placeholder site (MAIN) exists before the demo
    placeholder = Site.objects.get(is_default=True)

    _seed()

    assert sorted(Site.objects.values_list("code", "country")) == [("UK1", "GB"), ("US1", "US")]
    default = Site.objects.get(is_default=True)
    assert default.code == "UK1"
    # The empty placeholder was taken over rather than left behind as a third site.
    assert default.pk == placeholder.pk


def test_a_placeholder_site_with_records_is_kept_and_the_uk_plant_becomes_default():
    reference_data_ensure()
    placeholder = Site.objects.get(is_default=True)
    LotFactory(code="OLD-1", site=placeholder)

    _seed()

    placeholder.refresh_from_db()
    assert not placeholder.is_default
    assert Site.objects.get(is_default=True).code == "UK1"
    assert Site.objects.filter(is_default=True).count() == 1
    assert Lot.objects.get(code="OLD-1").site == placeholder


def test_three_suppliers_in_three_countries_supply_both_magnet_chemistries():
    _seed()
    suppliers = Partner.objects.filter(kind=PartnerKind.SUPPLIER)
    assert suppliers.count() == 3
    assert len(set(suppliers.values_list("country", flat=True))) == 3
    feedstock = Lot.objects.filter(kind=LotKind.FEEDSTOCK)
    assert set(feedstock.values_list("magnet_chemistry", flat=True)) == {MagnetChemistry.NDFEB, MagnetChemistry.SMCO}
    for lot in feedstock:
        assert lot.supplier is not None
        assert lot.supplier.is_supplier
        assert lot.mass_kg is not None
        assert lot.mass_kg > 0
        assert lot.received_on is not None
        assert len(lot.country_of_collection) == 2
        assert lot.feedstock_type


def test_the_four_products_each_have_their_main_oxides_and_one_active_specification():
    _seed()
    expected = {"ND2O3": {"Nd2O3"}, "PRND": {"Pr6O11", "Nd2O3"}, "DY2O3": {"Dy2O3"}, "TB4O7": {"Tb4O7"}}
    # Besides the oxides, the NdFeB feedstock's report-only specification (payable content).
    assert set(Product.objects.values_list("code", flat=True)) == {*expected, "FS-NDFEB"}
    shipped = catalogue()
    feedstock_spec = Product.objects.get(code="FS-NDFEB").specifications.get(status=SpecificationStatus.ACTIVE)
    assert feedstock_spec.content_sha256 == shipped["FS-NDFEB"][1].content_sha256
    for product in Product.objects.exclude(code="FS-NDFEB"):
        assert set(product.main_oxides.values_list("formula", flat=True)) == expected[product.code]
        active = product.specifications.filter(status=SpecificationStatus.ACTIVE)
        assert active.count() == 1
        # The shipped catalogue's specification, loaded with its lines by the QA manager.
        spec = active.get()
        assert spec.content_sha256 == shipped[product.code][1].content_sha256
        assert spec.lines.count() == len(shipped[product.code][1].lines) > 0
        event = AuditEvent.objects.get(entity="assays.specification", object_id=str(spec.pk))
        assert event.actor_label == "qa_manager"
    assert "GB/T 5240-1992" in Product.objects.get(code="ND2O3").specifications.get().source
    assert Product.objects.get(code="TB4O7").specifications.get().source.startswith("producer data sheet")
    assert Product.objects.get(code="PRND").specifications.get().source == "plant default"
    prnd_ratios = Product.objects.get(code="PRND").specifications.get().lines.filter(quantity="ratio")
    assert [(line.ratio_oxides, line.minimum) for line in prnd_ratios] == [(["Pr6O11", "Nd2O3"], "99"), (["Nd2O3"], "75")]


def test_every_product_lot_has_genealogy_back_to_feedstock_with_a_plausible_mass_balance():
    _seed()
    product_lots = Lot.objects.filter(kind=LotKind.PRODUCT)
    assert set(product_lots.values_list("product__code", flat=True)) == {"ND2O3", "PRND", "DY2O3", "TB4O7"}
    for lot in product_lots:
        assert _lineage_reaches_feedstock(lot), lot.code
        assert lot.country_of_separation
        assert lot.country_of_oxide_production
        assert lot.is_recycled
    for lot in Lot.objects.exclude(kind=LotKind.FEEDSTOCK):
        used = sum((edge.mass_used_kg for edge in lot.inputs.all()), Decimal(0))
        # Processing loses mass: no output weighs more than what went into it.
        assert lot.mass_kg is not None
        assert 0 < lot.mass_kg <= used, lot.code
    for lot in Lot.objects.all():
        consumed = sum((edge.mass_used_kg for edge in lot.consumed_by.all()), Decimal(0))
        assert lot.mass_kg is not None
        assert consumed <= lot.mass_kg, lot.code


def test_product_lots_are_allocated_to_two_customers_and_one_lot_is_split_between_them():
    _seed()
    allocations = LotAllocation.objects.select_related("lot", "customer")
    customers = {allocation.customer for allocation in allocations}
    assert len(customers) == 2
    assert all(customer.is_customer for customer in customers)
    by_lot: dict[str, set[str]] = defaultdict(set)
    for allocation in allocations:
        by_lot[allocation.lot.code].add(allocation.customer.code)
        assert allocation.reference
    assert any(len(codes) == 2 for codes in by_lot.values())
    assert set(by_lot) == set(Lot.objects.filter(kind=LotKind.PRODUCT).values_list("code", flat=True))
    for lot in Lot.objects.filter(kind=LotKind.PRODUCT):
        assert lot.mass_kg is not None
        assert sum(a.mass_kg for a in lot.allocations.all()) <= lot.mass_kg


def test_every_lot_has_routine_duplicate_and_retain_samples_with_preparation_data():
    _seed()
    for lot in Lot.objects.all():
        types = set(lot.samples.values_list("sample_type", flat=True))
        assert {SampleType.ROUTINE, SampleType.DUPLICATE, SampleType.RETAIN} <= types, lot.code
    analysed = Sample.objects.filter(sample_type__in=[SampleType.ROUTINE, SampleType.DUPLICATE])
    assert analysed.exists()
    for sample in analysed:
        assert sample.sample_mass_g is not None, sample.code
        assert sample.final_volume_ml is not None, sample.code
        assert sample.dilution_factor > 1, sample.code
        assert sample.site == sample.lot.site
    routine = Sample.objects.get(code="US1-ND-26-0201-R1")
    assert (routine.final_volume_ml, routine.dilution_factor) == (Decimal(50), Decimal(10))
    assert routine.sample_mass_g is not None
    assert Decimal("0.09") < routine.sample_mass_g < Decimal("0.11")


def test_custody_starts_at_registration_and_includes_a_carrier_shipment_to_a_customer():
    _seed()
    for sample in Sample.objects.all():
        assert sample.custody_events.filter(kind=CustodyEventKind.REGISTERED).count() == 1
    to_customer = CustodyEvent.objects.filter(kind=CustodyEventKind.SHIPPED, to_partner__isnull=False)
    assert to_customer.exists()
    assert all(event.carrier_reference and event.to_partner.is_customer for event in to_customer)
    assert CustodyEvent.objects.filter(kind=CustodyEventKind.SHIPPED, to_site__code="US1").exists()


def test_each_site_has_an_icp_ms_and_the_method_has_reporting_and_confirmatory_channels():
    _seed()
    assert Instrument.objects.get(site__code="UK1", technique="icp-ms").model == "7900"
    assert Instrument.objects.get(site__code="US1", technique="icp-ms").model == "iCAP RQ"
    method = Method.objects.get(is_manual=False)
    channels = method.channels.select_related("analyte", "element")
    assert {channel.role for channel in channels} == {ChannelRole.REPORTING, ChannelRole.CONFIRMATORY}
    for channel in channels:
        assert channel.element == channel.analyte.element
        assert channel.lod is not None
        assert channel.loq is not None
        assert 0 < channel.lod <= channel.loq
    reporting_elements = [c.element_id for c in channels if c.role == ChannelRole.REPORTING]
    assert len(reporting_elements) == len(set(reporting_elements))
    crm = ReferenceMaterial.objects.get()
    assert crm.certified_values.count() >= 5
    assert all(value.expanded_uncertainty for value in crm.certified_values.all())


def test_one_user_per_role_logs_in_with_the_printed_password():
    output = _seed()
    printed = _printed_credentials(output)
    user_model = get_user_model()
    roles_seen = set()
    for username, (role, scope, password) in printed.items():
        assert password == demo_password(username)
        assert Client().login(username=username, password=password), username
        user = user_model.objects.get(username=username)
        assert set(user.groups.values_list("name", flat=True)) == {role}
        roles_seen.add(Role(role))
        if Role(role) == Role.PARTNER_USER:
            assert user.partner_membership.partner.code == scope
            assert user.partner_membership.partner.is_customer
        else:
            assert SiteMembership.objects.filter(user=user).exists()
    assert roles_seen == set(Role)
    assert user_model.objects.get(username="lab_admin").is_staff
    assert not user_model.objects.get(username="tech_uk").is_staff


def test_a_password_changed_after_seeding_is_neither_reset_nor_printed():
    _seed()
    user = get_user_model().objects.get(username="qa")
    user.set_password("the-qa-lead-chose-this")
    user.save()

    printed = _printed_credentials(_seed())

    assert printed["qa"][2] == "(changed since seeding)"
    assert Client().login(username="qa", password="the-qa-lead-chose-this")


def test_it_refuses_to_run_in_production(settings):
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        _seed()
    assert not Lot.objects.exists()
    assert not get_user_model().objects.filter(username="lab_admin").exists()


def test_in_production_when_allowed_new_users_get_random_passwords_shown_once(settings):
    settings.IS_PRODUCTION = True
    printed = _printed_credentials(_seed("--allow-production"))

    for username, (_role, _scope, password) in printed.items():
        assert password != demo_password(username)
        assert len(password) >= 12
        assert Client().login(username=username, password=password)
    again = _printed_credentials(_seed("--allow-production"))
    assert all(password.startswith("(") for _role, _scope, password in again.values())


def test_the_demo_lots_show_each_assessment_outcome_with_its_flag():
    """Conforming (Tb4O7), off-spec (iron in the Dy2O3), insufficient data (PrNd majors not
    measured) and inconclusive (an outside laboratory's Fe limit above the 4N maximum)."""
    from assays.models import LotAssessment

    _seed()
    latest = {code: LotAssessment.objects.filter(lot__code=code).latest("assessed_at") for code in (
        "UK1-TB-26-0101", "UK1-DY-26-0101", "UK1-PRND-26-0101", "US1-ND-26-0201")}  # fmt: skip
    assert {code: assessment.status for code, assessment in latest.items()} == {
        "UK1-TB-26-0101": "conforming",
        "UK1-DY-26-0101": "off_spec",
        "UK1-PRND-26-0101": "insufficient_data",
        "US1-ND-26-0201": "inconclusive",
    }
    flags = set(Flag.objects.filter(lot__isnull=False).exclude(status=FlagStatus.RESOLVED).values_list("lot__code", "kind"))
    assert flags == {
        ("UK1-DY-26-0101", FlagKind.OFF_SPEC),
        ("UK1-PRND-26-0101", FlagKind.INSUFFICIENT_DATA),
        ("US1-ND-26-0201", FlagKind.INCONCLUSIVE),
    }
    # Certified, hence released (test_the_demo_has_each_certificate_outcome).
    assert Lot.objects.get(code="UK1-TB-26-0101").status == "released"
    assert set(Lot.objects.filter(code__in=["UK1-DY-26-0101", "UK1-PRND-26-0101", "US1-ND-26-0201"]).values_list("status", flat=True)) == {
        "on_hold"
    }
    fe = next(line for line in latest["UK1-DY-26-0101"].outcome["lines"] if line["label"] == "Fe2O3")
    assert (fe["verdict"], fe["maximum"]) == ("fail", "50")


def test_the_nd2o3_lots_of_the_spring_and_summer_give_the_lot_pages_trend_a_history():
    """Eight earlier Nd2O3 lots, all conforming, with the praseodymium creeping up over the summer
    until the separation circuit was re-balanced: the trend on the autumn lot's page shows the
    relative purity falling towards the 4N minimum and recovering."""
    from assays.models import LotAssessment
    from assays.selectors.purity_trend import purity_trend
    from assays.services.demo import US_ND_HISTORY

    _seed()
    history = [code for code, *_ in US_ND_HISTORY]
    for code in history:
        lot = Lot.objects.get(code=code)
        assert LotAssessment.objects.filter(lot=lot).latest("assessed_at").status == "conforming", code
        assert lot.status == "assessed"
        assert _lineage_reaches_feedstock(lot)
    assert not Flag.objects.filter(lot__code__in=history).exists()

    autumn = Lot.objects.get(code="US1-ND-26-0201")
    qa = get_user_model().objects.get(username="qa_manager")  # QA across both sites
    trend = purity_trend(actor=qa, lot=autumn)
    assert trend is not None
    assert [point.lot_code for point in trend.points] == [*history, autumn.code]
    assert trend.spec_minimum == "99.99"
    summer = trend.points[: len(history)]
    assert all(point.verdict == "pass" and point.relative_purity_pct is not None for point in summer)
    purity = [point.relative_purity_pct or 0.0 for point in summer]
    # Each lot purer or less pure as its praseodymium fell or rose, the worst in August, and every
    # one above the minimum.
    praseodymium = [float(pr) for *_, pr in US_ND_HISTORY]
    assert sorted(range(len(purity)), key=purity.__getitem__) == sorted(range(len(praseodymium)), key=lambda i: -praseodymium[i])
    assert min(purity) == purity[history.index("US1-ND-26-0107")] > 99.99

    client = Client()
    client.force_login(qa)
    page = client.get(f"/lots/{autumn.code}/").content.decode()
    assert page.count('class="point') >= len(history) + 1
    assert all(code in page for code in history)


def test_what_the_demo_types_in_has_uncertainty_models_so_loi_treo_and_the_main_oxide_show_their_u():
    # LOI and chloride are typed in; the demo's manual method gives them channels with the lab's
    # models, so the Tb4O7 lot's LOI line (two samples at 0.31 %) has U = 2 u(0.31 %), no spread,
    # and TREO and the main oxide by difference, which LOI and the anions enter, have a U too.
    from assays.chemistry.purity import model_uncertainty
    from assays.models import LotAssessment
    from assays.services.demo import DEMO_HAND_UNCERTAINTY

    _seed()
    latest = LotAssessment.objects.filter(lot__code="UK1-TB-26-0101").latest("assessed_at")
    lines = {line["quantity"]: line for line in latest.outcome["lines"]}
    _, a, b = DEMO_HAND_UNCERTAINTY["LOI"]
    assert lines["loi"]["expanded_u"] == pytest.approx(2 * model_uncertainty(value=0.31 * 10_000, a=a, b=b) / 10_000)
    by_difference = [lines[quantity] for quantity in ("treo", "main_oxide") if quantity in lines]
    assert by_difference
    assert all(line["expanded_u"] is not None and line["expanded_u"] > lines["loi"]["expanded_u"] for line in by_difference)


def test_the_feedstock_laboratorys_stated_uncertainty_gives_the_payable_content_its_u():
    # The feedstock assays are typed in with the report's U (k = 2): Nd 21.8 % ± 0.65 % in the
    # routine sample, 22.1 % (the duplicate) with the same U. As Nd2O3: u = U / k per sample, the
    # lot's U = 2 √(u_meas² + s² / n) with the duplicate's spread.
    import statistics

    from assays.models import LotAssessment, Measurement, Oxide

    _seed()
    nd = Measurement.objects.get(acquisition__sample__code="UK1-FS-26-0101-R1", analyte__code="Nd")
    assert (nd.value, nd.unit, nd.expanded_u, nd.coverage_factor) == (21.8, "%", 0.65, 2.0)
    latest = LotAssessment.objects.filter(lot__code="UK1-FS-26-0101").latest("assessed_at")
    lines = {line["label"]: line for line in latest.outcome["lines"]}
    factor = Oxide.objects.get(formula="Nd2O3").factor
    u_measurement = 0.65 / 2 * factor
    spread = statistics.stdev([21.8 * factor, 22.1 * factor])
    assert lines["Nd2O3"]["expanded_u"] == pytest.approx(2 * (u_measurement**2 + spread**2 / 2) ** 0.5, rel=1e-12)
    # Every payable line has its U now (a result below the LOD contributes LOD/√12).
    assert all(line["expanded_u"] is not None and line["expanded_u"] > 0 for line in latest.outcome["lines"])


def _stored(certificate: Certificate) -> bytes:
    with certificate.pdf.open("rb") as stored:
        data: bytes = stored.read()
    return data


def test_the_demo_has_each_certificate_outcome(lab_signing: tuple[Path, Path]):
    """Issued (Tb4O7), superseded by an amendment (the second Tb4O7 lot), revoked (the Dy2O3 lot,
    issued under concession) and a feedstock lot's report of analysis: signed through the real
    services by the demo's QA users, rendered, signed (PAdES) and stored."""
    _seed()
    by_lot = {(c.lot.code, c.revision): c for c in Certificate.objects.select_related("lot", "customer", "supersedes")}
    assert set(by_lot) == {
        ("UK1-TB-26-0101", 0),
        ("UK1-TB-26-0102", 0),
        ("UK1-TB-26-0102", 1),
        ("UK1-DY-26-0101", 0),
        ("UK1-FS-26-0101", 0),
    }
    trust = lab_signing[1].read_bytes()
    for certificate in by_lot.values():
        pdf = _stored(certificate)
        assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256, certificate
        assert verify_signed_pdf(pdf=pdf, trust_cert_pem=trust).ok, certificate
        assert AuditEvent.objects.filter(entity="assays.certificate", object_id=str(certificate.pk), action="create").exists()

    issued = by_lot[("UK1-TB-26-0101", 0)]
    assert (issued.kind, issued.status, issued.customer.code) == (CertificateKind.CERTIFICATE, CertificateStatus.ISSUED, "LIBERTY-MAG")
    assert (issued.signer_name, issued.signer_role, issued.signature_meaning) == ("Fiona Grant", "QA", "approved_for_release")
    assert Lot.objects.get(code="UK1-TB-26-0101").status == "released"

    first, amended = by_lot[("UK1-TB-26-0102", 0)], by_lot[("UK1-TB-26-0102", 1)]
    assert (first.status, amended.status) == (CertificateStatus.SUPERSEDED, CertificateStatus.ISSUED)
    assert amended.number == first.number
    assert amended.supersedes == first
    assert "0.31 %" in amended.revision_reason
    assert "0.24 %" in amended.revision_reason
    assert amended.payload["supersedes"]["number"] == first.number
    loi = {c.revision: next(row["result"] for row in c.payload["results"] if row["quantity"] == "LOI") for c in (first, amended)}
    assert loi == {0: "0.310", 1: "0.240"}
    # The corrected result made the assessment differ from the certified one: flagged, reviewed by QA.
    differs = Flag.objects.get(lot__code="UK1-TB-26-0102", kind=FlagKind.DIFFERS_FROM_CERTIFIED)
    assert (differs.status, differs.resolved_by.username) == (FlagStatus.RESOLVED, "qa")

    revoked = by_lot[("UK1-DY-26-0101", 0)]
    assert revoked.status == CertificateStatus.REVOKED
    assert (revoked.signer_role, revoked.signature_meaning) == ("QA manager", "approved_under_concession")
    assert "AEM-DEV-026" in revoked.concession_reason
    assert revoked.payload["concession"] == revoked.concession_reason
    assert revoked.revoked_by.username == "qa_manager"
    assert "withdrew" in revoked.revocation_reason
    assert Lot.objects.get(code="UK1-DY-26-0101").status == "on_hold"

    report = by_lot[("UK1-FS-26-0101", 0)]
    assert (report.kind, report.status, report.signature_meaning) == (CertificateKind.REPORT, CertificateStatus.ISSUED, "reported")
    assert report.number.startswith("ROA-")
    assert report.payload["summary"]["status"] == "no_verdict"
    assert {row["quantity"] for row in report.payload["results"]} >= {"TREO", "Nd2O3", "Pr6O11", "Dy2O3", "Tb4O7"}
    assert all(row["verdict"] == "" for row in report.payload["results"])

    # The public verification page tells each one's status from its QR code's token.
    client = Client()
    for certificate, says in ((issued, "Valid"), (first, f"Superseded by {first.number} rev 1"), (revoked, "Revoked"), (report, "Valid")):
        page = client.get(f"/verify/{certificate.verification_token}/")
        assert page.status_code == 200
        assert says in page.content.decode(), certificate


def test_the_demo_samples_say_who_sampled_them_when_and_how_and_the_lab_profile_is_filled_in():
    _seed()
    for sample in Sample.objects.select_related("lot"):
        assert sample.sampled_by, sample.code
        assert sample.sampled_at is not None, sample.code
        assert sample.sampling_method, sample.code
    feedstock = Sample.objects.get(code="UK1-FS-26-0101-R1")
    assert feedstock.sampled_at is not None
    assert feedstock.lot.received_on is not None
    assert feedstock.sampled_at.date() > feedstock.lot.received_on
    certificate = Certificate.objects.get(lot__code="UK1-TB-26-0101")
    printed = {row["code"]: row for row in certificate.payload["samples"]}
    assert printed["UK1-TB-26-0101-R1"]["sampled_by"] == "Priya Shah, UK1 laboratory"
    assert printed["UK1-TB-26-0101-R1"]["sampling_method"].startswith("Sampling spear")
    profile = LabProfile.objects.get()
    assert profile.address
    assert profile.accreditation
    assert profile.seller_declaration
    assert "Tb" in profile.accredited_scope
    assert certificate.payload["provenance"]["seller_declaration"] == profile.seller_declaration


def test_without_a_signing_pair_the_demo_makes_a_self_signed_one_and_says_so(settings, tmp_path: Path):
    settings.LIMS_SIGNING_KEY_FILE = tmp_path / "signing" / "lab-key.pem"
    settings.LIMS_SIGNING_CERT_FILE = tmp_path / "signing" / "lab-cert.pem"

    output = _seed()

    assert "SELF-SIGNED" in output
    key, cert = settings.LIMS_SIGNING_KEY_FILE, settings.LIMS_SIGNING_CERT_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    pair = (key.read_bytes(), cert.read_bytes())
    certificate = Certificate.objects.get(lot__code="UK1-TB-26-0101")
    check = verify_signed_pdf(pdf=_stored(certificate), trust_cert_pem=pair[1])
    assert check.ok
    assert "self-signed demo key" in check.signer_subject

    again = _seed()
    assert "SELF-SIGNED" not in again
    assert (key.read_bytes(), cert.read_bytes()) == pair


@pytest.mark.parametrize("case", ["half a pair", "production without a key"])
def test_when_it_cannot_sign_the_demo_issues_no_certificate_and_says_why(settings, tmp_path: Path, case: str):
    settings.LIMS_SIGNING_KEY_FILE = tmp_path / "lab-key.pem"
    settings.LIMS_SIGNING_CERT_FILE = tmp_path / "lab-cert.pem"
    arguments: tuple[str, ...] = ()
    if case == "half a pair":
        settings.LIMS_SIGNING_KEY_FILE.write_bytes(b"a key the lab put here")
    else:
        settings.IS_PRODUCTION = True
        arguments = ("--allow-production",)

    output = _seed(*arguments)

    assert "Certificates not issued" in output
    assert not Certificate.objects.exists()
    assert Lot.objects.get(code="UK1-TB-26-0101").status == "assessed"  # the rest of the demo stands
    assert not settings.LIMS_SIGNING_CERT_FILE.exists()
    if case == "half a pair":
        assert settings.LIMS_SIGNING_KEY_FILE.read_bytes() == b"a key the lab put here"
