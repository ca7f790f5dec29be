"""Every invariant the domain model declares holds in the database itself.

Each test breaks one constraint by going around the services (``objects.create``, a queryset
``update`` that skips Python's choices, or a second row) and expects the database to refuse with
an ``IntegrityError`` that names that very constraint, so a test cannot pass because some other
rule happened to fire. The last tests tie the list to the models: a constraint added without a
test here, or declared in a model but missing from the migrated schema, fails the suite.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F
from django.utils import timezone

from assays.models import (
    Acquisition,
    Analyte,
    AuditEvent,
    CalibrationNominal,
    Certificate,
    CertificateCounter,
    CertifiedValue,
    ControlBaseline,
    CustodyEvent,
    Element,
    Flag,
    Instrument,
    InternalStandardReading,
    LabProfile,
    Lot,
    LotAllocation,
    LotAssessment,
    LotInput,
    LotKind,
    Measurement,
    Method,
    MethodChannel,
    Oxide,
    Partner,
    PartnerApiKey,
    PartnerMembership,
    PartnerWebhook,
    Product,
    QcCheck,
    QcEvaluation,
    QcLabelPattern,
    QcStandard,
    QcStandardValue,
    QcWaiver,
    Reassessment,
    ReassessmentChunk,
    ReferenceMaterial,
    ResultAcceptance,
    RulePack,
    Run,
    Sample,
    Site,
    SiteMembership,
    Specification,
    SpecificationLine,
    TotpDevice,
    WebhookDelivery,
    WorkerHeartbeat,
)
from tests.factories import (
    InstrumentFactory,
    LotFactory,
    MethodFactory,
    PartnerFactory,
    ProductFactory,
    SampleFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SHA = "a" * 64


def _expected_fragment(model: type[models.Model], name: str) -> str:
    """The text the database's error carries for this constraint (or unique field) on this backend.

    PostgreSQL names the constraint; SQLite names CHECK constraints but reports a unique
    violation by its columns.
    """
    table = model._meta.db_table
    for constraint in model._meta.constraints:
        if constraint.name != name:
            continue
        if isinstance(constraint, models.CheckConstraint) or connection.vendor == "postgresql":
            return name
        assert isinstance(constraint, models.UniqueConstraint)
        columns = [model._meta.get_field(field).column for field in constraint.fields]
        return "UNIQUE constraint failed: " + ", ".join(f"{table}.{column}" for column in columns)
    field = model._meta.get_field(name)
    assert getattr(field, "unique", False), f"{model.__name__}.{name} is neither a constraint nor a unique field"
    column = field.column
    if connection.vendor == "postgresql":
        return f"Key ({column})="
    return f"UNIQUE constraint failed: {table}.{column}"


@contextmanager
def violates(model: type[models.Model], name: str) -> Iterator[None]:
    """The block must fail in the database on exactly constraint ``name`` of ``model``.

    The savepoint lets the test go on (and check more) after the refused statement.
    """
    expected = _expected_fragment(model, name)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        yield
    assert expected in str(caught.value), f"expected a violation of {name!r}, got: {caught.value}"


@pytest.fixture
def site() -> Site:
    return SiteFactory(code="UK1", country="GB")


@pytest.fixture
def lot(site: Site) -> Lot:
    return LotFactory(code="FS-1", site=site, kind=LotKind.FEEDSTOCK, mass_kg=Decimal("100"))


@pytest.fixture
def product() -> Product:
    return ProductFactory(code="NDPR-995")


@pytest.fixture
def product_lot(site: Site, product: Product) -> Lot:
    return LotFactory(code="P-1", site=site, kind=LotKind.PRODUCT, product=product, mass_kg=Decimal("50"))


@pytest.fixture
def user() -> User:
    return UserFactory(username="analyst")


@pytest.fixture
def nd() -> Element:
    return Element.objects.get(symbol="Nd")


@pytest.fixture
def analyte(nd: Element) -> Analyte:
    return Analyte.objects.create(code="146Nd [He]", element=nd, technique="icp-ms", isotope_mass=146, cell_mode="He")


@pytest.fixture
def method() -> Method:
    return MethodFactory(code="M-REE")


@pytest.fixture
def run(site: Site, method: Method, user: User) -> Run:
    instrument = InstrumentFactory(code="ICPMS-1", site=site)
    return Run.objects.create(site=site, instrument=instrument, method=method, analyst=user, source_filename="run.csv", source_sha256=SHA)


@pytest.fixture
def acquisition(run: Run) -> Acquisition:
    return Acquisition.objects.create(run=run, sequence=1, label="Sample 1")


@pytest.fixture
def measurement(acquisition: Acquisition, analyte: Analyte) -> Measurement:
    return Measurement.objects.create(acquisition=acquisition, analyte=analyte, value=12.5, unit="µg/L", basis="solution")


@pytest.fixture
def flag(lot: Lot) -> Flag:
    return Flag.objects.create(kind="off_spec", lot=lot, raised_at=timezone.now())


# --- Reference data -----------------------------------------------------------------------------


def test_element_symbol_name_and_atomic_number_are_unique() -> None:
    praseodymium = Element.objects.filter(symbol="Pr")
    with violates(Element, "symbol"):
        praseodymium.update(symbol="Nd")
    with violates(Element, "name"):
        praseodymium.update(name="Neodymium")
    with violates(Element, "atomic_number"):
        praseodymium.update(atomic_number=60)


def test_element_atomic_weight_is_positive_and_atomic_number_in_the_table() -> None:
    neodymium = Element.objects.filter(symbol="Nd")
    with violates(Element, "element_atomic_weight_positive"):
        neodymium.update(atomic_weight=Decimal(0))
    with violates(Element, "element_atomic_number_range"):
        neodymium.update(atomic_number=0)
    with violates(Element, "element_atomic_number_range"):
        neodymium.update(atomic_number=119)


def test_oxide_formula_is_unique_and_atom_counts_positive(nd: Element) -> None:
    with violates(Oxide, "formula"):
        Oxide.objects.create(element=nd, formula="Nd2O3", metal_atoms=2, oxygen_atoms=3)
    with violates(Oxide, "oxide_atom_counts_positive"):
        Oxide.objects.create(element=nd, formula="NdO", metal_atoms=1, oxygen_atoms=0)
    with violates(Oxide, "oxide_atom_counts_positive"):
        Oxide.objects.filter(formula="Nd2O3").update(metal_atoms=0)


def test_an_element_has_at_most_one_conventional_oxide() -> None:
    alternative = Oxide.objects.filter(is_conventional=False).select_related("element").first()
    assert alternative is not None, "reference data has alternative oxides (Pr2O3, Ce2O3...)"
    assert Oxide.objects.filter(element=alternative.element, is_conventional=True).exists()
    with violates(Oxide, "oxide_one_conventional_per_element"):
        Oxide.objects.filter(pk=alternative.pk).update(is_conventional=True)
    # Any number of non-conventional oxides is fine.
    Oxide.objects.create(element=alternative.element, formula=f"{alternative.element.symbol}5O9", metal_atoms=5, oxygen_atoms=9)


def test_analyte_code_is_unique(analyte: Analyte, nd: Element) -> None:
    with violates(Analyte, "code"):
        Analyte.objects.create(code="146Nd [He]", element=nd, technique="icp-ms")


def test_analyte_technique_and_view_take_known_values(analyte: Analyte) -> None:
    with violates(Analyte, "analyte_technique_valid"):
        Analyte.objects.filter(pk=analyte.pk).update(technique="xrf")
    with violates(Analyte, "analyte_view_valid"):
        Analyte.objects.filter(pk=analyte.pk).update(view="sideways")


def test_analyte_triple_quad_masses_come_in_pairs(analyte: Analyte) -> None:
    with violates(Analyte, "analyte_q1_q2_pair"):
        Analyte.objects.filter(pk=analyte.pk).update(q1_mass=146)
    with violates(Analyte, "analyte_q1_q2_pair"):
        Analyte.objects.filter(pk=analyte.pk).update(q2_mass=162)
    Analyte.objects.filter(pk=analyte.pk).update(q1_mass=146, q2_mass=162)


def test_analyte_wavelength_is_positive(nd: Element) -> None:
    with violates(Analyte, "analyte_wavelength_positive"):
        Analyte.objects.create(code="Nd 0", element=nd, technique="icp-oes", wavelength_nm=Decimal(0))


def test_an_analyte_without_element_needs_a_name() -> None:
    with violates(Analyte, "analyte_element_or_name"):
        Analyte.objects.create(code="nameless", technique="other")
    Analyte.objects.create(code="LOI", technique="gravimetry", name="LOI")


def test_product_code_is_unique(product: Product) -> None:
    with violates(Product, "code"):
        Product.objects.create(code="NDPR-995", name="again")


def test_specification_versions_are_unique_and_positive(product: Product) -> None:
    Specification.objects.create(product=product, version=1)
    with violates(Specification, "specification_unique_version"):
        Specification.objects.create(product=product, version=1)
    with violates(Specification, "specification_version_positive"):
        Specification.objects.create(product=product, version=0)


def test_specification_status_takes_known_values(product: Product) -> None:
    spec = Specification.objects.create(product=product, version=1)
    with violates(Specification, "specification_status_valid"):
        Specification.objects.filter(pk=spec.pk).update(status="bogus")


def test_a_product_has_at_most_one_active_specification_but_any_number_of_drafts(product: Product) -> None:
    Specification.objects.create(product=product, version=1, status="active")
    Specification.objects.create(product=product, version=2, status="draft")
    Specification.objects.create(product=product, version=3, status="draft")
    Specification.objects.create(product=product, version=4, status="retired")
    Specification.objects.create(product=product, version=5, status="retired")
    with violates(Specification, "specification_one_active_per_product"):
        Specification.objects.create(product=product, version=6, status="active")
    with violates(Specification, "specification_one_active_per_product"):
        Specification.objects.filter(product=product, version=2).update(status="active")
    # The rule is per product: another product has its own active version.
    Specification.objects.create(product=ProductFactory(code="ND-999"), version=1, status="active")
    assert Specification.objects.filter(product=product, status="active").count() == 1


# --- Sites and partners ---------------------------------------------------------------------------


def test_site_code_is_unique(site: Site) -> None:
    with violates(Site, "code"):
        Site.objects.create(code="UK1", name="again", country="GB")


def test_there_is_at_most_one_default_site(site: Site) -> None:
    if not Site.objects.filter(is_default=True).exists():
        Site.objects.filter(pk=site.pk).update(is_default=True)
    with violates(Site, "site_one_default"):
        Site.objects.create(code="NEW", name="Second default", country="GB", is_default=True)
    with violates(Site, "site_one_default"):
        Site.objects.filter(is_default=False).update(is_default=True)
    # Non-default sites are not limited.
    Site.objects.create(code="NEW", name="Another plant", country="GB")


@pytest.mark.parametrize("country", ["", "G"])
def test_site_and_partner_country_is_two_letters(site: Site, country: str) -> None:
    # Three letters ("GBR") would not even fit the column (max_length 2): PostgreSQL refuses it
    # as a DataError before any check runs, so the check is exercised with shorter values.
    with violates(Site, "site_country_iso2"):
        Site.objects.filter(pk=site.pk).update(country=country)
    partner = PartnerFactory(code="PA", country="DE")
    with violates(Partner, "partner_country_iso2"):
        Partner.objects.filter(pk=partner.pk).update(country=country)


def test_partner_code_is_unique_and_kind_known() -> None:
    partner = PartnerFactory(code="PA")
    with violates(Partner, "code"):
        Partner.objects.create(code="PA", name="again", kind="customer", country="DE")
    with violates(Partner, "partner_kind_valid"):
        Partner.objects.filter(pk=partner.pk).update(kind="competitor")


def test_a_user_is_a_member_of_a_site_once(site: Site, user: User) -> None:
    SiteMembership.objects.create(user=user, site=site)
    with violates(SiteMembership, "site_membership_unique"):
        SiteMembership.objects.create(user=user, site=site)


def test_a_partner_user_acts_for_one_partner(user: User) -> None:
    PartnerMembership.objects.create(user=user, partner=PartnerFactory(code="PA"))
    with violates(PartnerMembership, "user"):
        PartnerMembership.objects.create(user=user, partner=PartnerFactory(code="PB"))


# --- Lots -----------------------------------------------------------------------------------------


def test_lot_code_is_unique_and_not_empty(lot: Lot, site: Site) -> None:
    with violates(Lot, "code"):
        Lot.objects.create(code="FS-1", site=site, kind=LotKind.FEEDSTOCK)
    with violates(Lot, "lot_code_not_empty"):
        Lot.objects.create(code="", site=site, kind=LotKind.FEEDSTOCK)


def test_lot_provenance_countries_are_two_letters_or_unknown(lot: Lot) -> None:
    # Too long would hit the column width first on PostgreSQL; one letter reaches the check on both.
    with violates(Lot, "lot_country_of_collection_iso2"):
        Lot.objects.filter(pk=lot.pk).update(country_of_collection="G")
    with violates(Lot, "lot_country_of_separation_iso2"):
        Lot.objects.filter(pk=lot.pk).update(country_of_separation="G")
    with violates(Lot, "lot_country_of_oxide_production_iso2"):
        Lot.objects.filter(pk=lot.pk).update(country_of_oxide_production="G")
    Lot.objects.filter(pk=lot.pk).update(country_of_collection="DE", country_of_separation="GB", country_of_oxide_production="")


def test_lot_mass_is_not_negative(lot: Lot, site: Site) -> None:
    with violates(Lot, "lot_mass_non_negative"):
        Lot.objects.filter(pk=lot.pk).update(mass_kg=Decimal("-0.0001"))
    with violates(Lot, "lot_mass_non_negative"):
        Lot.objects.create(code="NEG", site=site, kind=LotKind.FEEDSTOCK, mass_kg=Decimal("-5"))
    # Zero (used up) and unknown are both allowed.
    Lot.objects.filter(pk=lot.pk).update(mass_kg=Decimal(0))
    Lot.objects.filter(pk=lot.pk).update(mass_kg=None)


def test_lot_choice_fields_take_known_values(lot: Lot) -> None:
    # A queryset update skips Python's choices: only the database stands in the way.
    lots = Lot.objects.filter(pk=lot.pk)
    with violates(Lot, "lot_kind_valid"):
        lots.update(kind="bogus")
    with violates(Lot, "lot_status_valid"):
        lots.update(status="bogus")
    with violates(Lot, "lot_feedstock_type_valid"):
        lots.update(feedstock_type="bogus")
    with violates(Lot, "lot_magnet_chemistry_valid"):
        lots.update(magnet_chemistry="bogus")
    lots.update(status="on_hold", feedstock_type="primary", magnet_chemistry="smco")


def test_a_product_lot_names_its_product(site: Site, lot: Lot, product_lot: Lot) -> None:
    with violates(Lot, "lot_product_lot_names_product"):
        Lot.objects.create(code="P-2", site=site, kind=LotKind.PRODUCT)
    with violates(Lot, "lot_product_lot_names_product"):
        Lot.objects.filter(pk=product_lot.pk).update(product=None)
    with violates(Lot, "lot_product_lot_names_product"):
        Lot.objects.filter(code="FS-1").update(kind=LotKind.PRODUCT)


def test_feedstock_type_describes_feedstock_lots_only(lot: Lot, product_lot: Lot, site: Site) -> None:
    Lot.objects.filter(pk=lot.pk).update(feedstock_type="end_of_life_magnets")
    with violates(Lot, "lot_feedstock_type_only_on_feedstock"):
        Lot.objects.filter(pk=product_lot.pk).update(feedstock_type="end_of_life_magnets")
    with violates(Lot, "lot_feedstock_type_only_on_feedstock"):
        Lot.objects.create(code="INT-1", site=site, kind=LotKind.INTERMEDIATE, feedstock_type="manufacturing_swarf")
    with violates(Lot, "lot_feedstock_type_only_on_feedstock"):
        # A feedstock lot with a type cannot be turned into an intermediate while keeping it.
        Lot.objects.filter(pk=lot.pk).update(kind=LotKind.INTERMEDIATE)


def test_a_genealogy_edge_is_unique_not_a_self_edge_and_carries_mass(lot: Lot, product_lot: Lot) -> None:
    LotInput.objects.create(input_lot=lot, output_lot=product_lot, mass_used_kg=Decimal("10"))
    with violates(LotInput, "lot_input_unique_edge"):
        LotInput.objects.create(input_lot=lot, output_lot=product_lot, mass_used_kg=Decimal("5"))
    with violates(LotInput, "lot_input_not_self"):
        LotInput.objects.create(input_lot=product_lot, output_lot=product_lot, mass_used_kg=Decimal("1"))
    for mass in (Decimal(0), Decimal("-1")):
        with violates(LotInput, "lot_input_mass_positive"):
            LotInput.objects.create(input_lot=product_lot, output_lot=lot, mass_used_kg=mass)
    with violates(LotInput, "lot_input_mass_positive"):
        LotInput.objects.filter(input_lot=lot).update(mass_used_kg=Decimal(0))


def test_an_allocation_is_one_per_customer_and_carries_mass(product_lot: Lot) -> None:
    customer = PartnerFactory(code="CUST", kind="customer")
    LotAllocation.objects.create(lot=product_lot, customer=customer, mass_kg=Decimal("10"))
    with violates(LotAllocation, "lot_allocation_unique_customer"):
        LotAllocation.objects.create(lot=product_lot, customer=customer, mass_kg=Decimal("5"))
    other = PartnerFactory(code="CUST2", kind="customer")
    for mass in (Decimal(0), Decimal("-2")):
        with violates(LotAllocation, "lot_allocation_mass_positive"):
            LotAllocation.objects.create(lot=product_lot, customer=other, mass_kg=mass)


# --- Samples and custody --------------------------------------------------------------------------


@pytest.fixture
def sample(lot: Lot) -> Sample:
    return SampleFactory(code="SMP-1", lot=lot)


def test_sample_code_is_unique_and_not_empty(sample: Sample, lot: Lot) -> None:
    with violates(Sample, "code"):
        Sample.objects.create(code="SMP-1", lot=lot, site=lot.site)
    with violates(Sample, "sample_code_not_empty"):
        Sample.objects.create(code="", lot=lot, site=lot.site)


@pytest.mark.parametrize("mass", [Decimal(0), Decimal("-0.1")])
def test_sample_mass_and_volume_are_positive(sample: Sample, mass: Decimal) -> None:
    with violates(Sample, "sample_mass_positive"):
        Sample.objects.filter(pk=sample.pk).update(sample_mass_g=mass)
    with violates(Sample, "sample_volume_positive"):
        Sample.objects.filter(pk=sample.pk).update(final_volume_ml=mass)


def test_a_dilution_factor_is_at_least_one(sample: Sample) -> None:
    with violates(Sample, "sample_dilution_factor_at_least_one"):
        Sample.objects.filter(pk=sample.pk).update(dilution_factor=Decimal("0.9999"))
    with violates(Sample, "sample_dilution_factor_at_least_one"):
        Sample.objects.filter(pk=sample.pk).update(dilution_factor=Decimal(0))
    Sample.objects.filter(pk=sample.pk).update(dilution_factor=Decimal(1))


def test_sample_type_and_status_take_known_values(sample: Sample) -> None:
    with violates(Sample, "sample_type_valid"):
        Sample.objects.filter(pk=sample.pk).update(sample_type="bogus")
    with violates(Sample, "sample_status_valid"):
        Sample.objects.filter(pk=sample.pk).update(status="bogus")


def test_custody_event_kind_takes_known_values(sample: Sample) -> None:
    with violates(CustodyEvent, "custody_event_kind_valid"):
        CustodyEvent.objects.create(sample=sample, kind="lost", at=timezone.now())


def test_a_shipment_goes_to_exactly_one_site_or_partner(sample: Sample, site: Site) -> None:
    partner = PartnerFactory(code="PA")
    now = timezone.now()
    with violates(CustodyEvent, "custody_shipment_has_one_destination"):
        CustodyEvent.objects.create(sample=sample, kind="shipped", at=now)
    with violates(CustodyEvent, "custody_shipment_has_one_destination"):
        CustodyEvent.objects.create(sample=sample, kind="shipped", at=now, to_site=site, to_partner=partner)
    CustodyEvent.objects.create(sample=sample, kind="shipped", at=now, to_site=site)
    received = CustodyEvent.objects.create(sample=sample, kind="received", at=now)
    with violates(CustodyEvent, "custody_shipment_has_one_destination"):
        CustodyEvent.objects.filter(pk=received.pk).update(kind="shipped")


# --- Instruments, methods, runs, measurements ----------------------------------------------------


def test_instrument_and_method_codes_are_unique_and_techniques_known(site: Site, method: Method) -> None:
    instrument = InstrumentFactory(code="ICP-1", site=site)
    with violates(Instrument, "code"):
        Instrument.objects.create(code="ICP-1", name="again", site=site, technique="icp-ms")
    with violates(Instrument, "instrument_technique_valid"):
        Instrument.objects.filter(pk=instrument.pk).update(technique="abacus")
    with violates(Method, "code"):
        Method.objects.create(code="M-REE", name="again", technique="icp-ms")
    with violates(Method, "method_technique_valid"):
        Method.objects.filter(pk=method.pk).update(technique="abacus")


@pytest.fixture
def channel(method: Method, analyte: Analyte, nd: Element) -> MethodChannel:
    return MethodChannel.objects.create(method=method, analyte=analyte, element=nd, lod=0.01, loq=0.03)


def test_a_method_lists_an_analyte_once(channel: MethodChannel, method: Method, analyte: Analyte) -> None:
    with violates(MethodChannel, "method_channel_unique_analyte"):
        MethodChannel.objects.create(method=method, analyte=analyte, role="confirmatory")


def test_one_reporting_channel_per_element_and_confirmatory_ones_beside_it(channel: MethodChannel, method: Method, nd: Element) -> None:
    nd145 = Analyte.objects.create(code="145Nd [He]", element=nd, technique="icp-ms", isotope_mass=145, cell_mode="He")
    nd148 = Analyte.objects.create(code="148Nd [He]", element=nd, technique="icp-ms", isotope_mass=148, cell_mode="He")
    with violates(MethodChannel, "method_channel_one_reporting_per_element"):
        MethodChannel.objects.create(method=method, analyte=nd145, element=nd, role="reporting")
    MethodChannel.objects.create(method=method, analyte=nd145, element=nd, role="confirmatory")
    MethodChannel.objects.create(method=method, analyte=nd148, element=nd, role="confirmatory")
    with violates(MethodChannel, "method_channel_one_reporting_per_element"):
        MethodChannel.objects.filter(method=method, analyte=nd148).update(role="reporting")
    # Another method has its own reporting channel for the element; channels without an
    # element (anions, LOI) are not limited.
    MethodChannel.objects.create(method=MethodFactory(code="M-2"), analyte=nd145, element=nd, role="reporting")
    loi = Analyte.objects.create(code="LOI", technique="gravimetry", name="LOI")
    chloride = Analyte.objects.create(code="Cl-", technique="ic", name="Cl-")
    MethodChannel.objects.create(method=method, analyte=loi, role="reporting")
    MethodChannel.objects.create(method=method, analyte=chloride, role="reporting")


def test_channel_limits_and_uncertainty_are_not_negative_and_loq_not_below_lod(channel: MethodChannel) -> None:
    channels = MethodChannel.objects.filter(pk=channel.pk)
    with violates(MethodChannel, "method_channel_role_valid"):
        channels.update(role="decorative")
    with violates(MethodChannel, "method_channel_lod_non_negative"):
        channels.update(lod=-0.01, loq=None)
    with violates(MethodChannel, "method_channel_loq_non_negative"):
        channels.update(lod=None, loq=-0.01)
    with violates(MethodChannel, "method_channel_loq_not_below_lod"):
        channels.update(lod=0.05, loq=0.04)
    channels.update(lod=0.05, loq=0.05)
    with violates(MethodChannel, "method_channel_uncertainty_non_negative"):
        channels.update(uncertainty_a=-1.0)
    with violates(MethodChannel, "method_channel_uncertainty_non_negative"):
        channels.update(uncertainty_b=-0.01)


def test_a_run_is_stored_once_per_file_hash(run: Run) -> None:
    with violates(Run, "source_sha256"):
        Run.objects.create(
            site=run.site, instrument=run.instrument, method=run.method, analyst=run.analyst, source_filename="copy.csv", source_sha256=SHA
        )


def test_run_status_is_known_and_hash_is_a_full_sha256(run: Run) -> None:
    with violates(Run, "run_status_valid"):
        Run.objects.filter(pk=run.pk).update(status="bogus")
    # 63 characters: a longer value would not fit the column on PostgreSQL (DataError).
    with violates(Run, "run_sha256_length"):
        Run.objects.filter(pk=run.pk).update(source_sha256="b" * 63)
    with violates(Run, "run_sha256_length"):
        Run.objects.filter(pk=run.pk).update(source_sha256="")


def test_acquisitions_have_unique_sequence_numbers_and_known_qc_roles(acquisition: Acquisition) -> None:
    with violates(Acquisition, "acquisition_unique_sequence"):
        Acquisition.objects.create(run=acquisition.run, sequence=1, label="again")
    with violates(Acquisition, "acquisition_qc_role_valid"):
        Acquisition.objects.filter(pk=acquisition.pk).update(qc_role="bogus")


def test_a_measurement_cell_is_unique(measurement: Measurement) -> None:
    with violates(Measurement, "measurement_unique_cell"):
        Measurement.objects.create(
            acquisition=measurement.acquisition, analyte=measurement.analyte, value=1.0, unit="µg/L", basis="solution"
        )


def test_measurement_qualifier_and_basis_take_known_values(measurement: Measurement) -> None:
    with violates(Measurement, "measurement_qualifier_valid"):
        Measurement.objects.filter(pk=measurement.pk).update(qualifier="~")
    with violates(Measurement, "measurement_basis_valid"):
        Measurement.objects.filter(pk=measurement.pk).update(basis="bogus")


def test_a_censored_measurement_sits_at_a_known_non_negative_limit(measurement: Measurement) -> None:
    measurements = Measurement.objects.filter(pk=measurement.pk)
    with violates(Measurement, "measurement_censored_has_lod"):
        measurements.update(qualifier="<", lod=None)
    with violates(Measurement, "measurement_censored_has_lod"):
        measurements.update(qualifier="<", lod=0.1, value=-0.1)
    measurements.update(qualifier="<", lod=0.1, value=0.1, raw_value=-0.02)
    # An uncensored value may be negative (a blank-corrected reading); the raw number is kept.
    measurements.update(qualifier="=", lod=None, value=-0.02)


def test_measurement_limit_and_rsd_are_not_negative(measurement: Measurement) -> None:
    with violates(Measurement, "measurement_lod_non_negative"):
        Measurement.objects.filter(pk=measurement.pk).update(lod=-0.001)
    with violates(Measurement, "measurement_rsd_non_negative"):
        Measurement.objects.filter(pk=measurement.pk).update(rsd_percent=-1.0)


def test_a_reported_uncertainty_comes_with_its_coverage_factor(measurement: Measurement) -> None:
    measurements = Measurement.objects.filter(pk=measurement.pk)
    with violates(Measurement, "measurement_reported_u_with_k"):
        measurements.update(expanded_u=0.65, coverage_factor=None)
    with violates(Measurement, "measurement_reported_u_with_k"):
        measurements.update(expanded_u=None, coverage_factor=2.0)
    with violates(Measurement, "measurement_reported_u_with_k"):
        measurements.update(expanded_u=-0.65, coverage_factor=2.0)
    with violates(Measurement, "measurement_reported_u_with_k"):
        measurements.update(expanded_u=0.65, coverage_factor=0.0)
    measurements.update(expanded_u=0.65, coverage_factor=2.0)


def test_reference_material_lots_and_certified_values_are_unique_and_not_negative(nd: Element) -> None:
    material = ReferenceMaterial.objects.create(name="OREAS 465", lot_number="1")
    with violates(ReferenceMaterial, "reference_material_unique_lot"):
        ReferenceMaterial.objects.create(name="OREAS 465", lot_number="1")
    value = CertifiedValue.objects.create(material=material, element=nd, value=1500.0, expanded_uncertainty=30.0)
    with violates(CertifiedValue, "certified_value_unique_element"):
        CertifiedValue.objects.create(material=material, element=nd, value=1.0)
    with violates(CertifiedValue, "certified_value_non_negative"):
        CertifiedValue.objects.filter(pk=value.pk).update(value=-1.0)
    with violates(CertifiedValue, "certified_uncertainty_non_negative"):
        CertifiedValue.objects.filter(pk=value.pk).update(expanded_uncertainty=-0.5)


def test_an_acquisitions_dilution_and_conversion_factors_are_positive(acquisition: Acquisition) -> None:
    acquisitions = Acquisition.objects.filter(pk=acquisition.pk)
    with violates(Acquisition, "acquisition_dilution_factor_positive"):
        acquisitions.update(dilution_factor=0.0)
    with violates(Acquisition, "acquisition_conversion_factor_positive"):
        acquisitions.update(conversion_factor=-5.0)
    acquisitions.update(dilution_factor=10.0, conversion_factor=5.0)
    acquisitions.update(dilution_factor=None, conversion_factor=None)


def test_only_a_crm_acquisition_names_a_reference_material(acquisition: Acquisition) -> None:
    material = ReferenceMaterial.objects.create(name="OREAS 465", lot_number="1")
    acquisitions = Acquisition.objects.filter(pk=acquisition.pk)
    with violates(Acquisition, "acquisition_reference_material_only_for_crm"):
        acquisitions.update(reference_material=material, qc_role="ccv")
    acquisitions.update(reference_material=material, qc_role="crm")


def test_an_internal_standard_reading_is_unique_per_acquisition_not_negative_and_holds_a_value(
    acquisition: Acquisition, analyte: Analyte
) -> None:
    reading = InternalStandardReading.objects.create(acquisition=acquisition, analyte=analyte, counts_per_second=34068.2)
    with violates(InternalStandardReading, "istd_reading_unique_cell"):
        InternalStandardReading.objects.create(acquisition=acquisition, analyte=analyte, counts_per_second=1.0)
    readings = InternalStandardReading.objects.filter(pk=reading.pk)
    with violates(InternalStandardReading, "istd_reading_cps_non_negative"):
        readings.update(counts_per_second=-1.0)
    with violates(InternalStandardReading, "istd_reading_recovery_non_negative"):
        readings.update(recovery_percent=-0.5)
    with violates(InternalStandardReading, "istd_reading_has_a_value"):
        readings.update(counts_per_second=None, recovery_percent=None)
    readings.update(counts_per_second=None, recovery_percent=97.0)


def test_qc_label_patterns_are_unique_named_and_of_known_kind_and_role(site: Site) -> None:
    instrument = InstrumentFactory(code="ICP-P", site=site)
    pattern = QcLabelPattern.objects.create(instrument=instrument, pattern="Deriv TracesETMaj", match_kind="exact", qc_role="ccv")
    with violates(QcLabelPattern, "qc_label_pattern_unique"):
        QcLabelPattern.objects.create(instrument=instrument, pattern="Deriv TracesETMaj", match_kind="exact", qc_role="icv")
    # The same text as another kind of pattern, or on another instrument, is another pattern.
    QcLabelPattern.objects.create(instrument=instrument, pattern="Deriv TracesETMaj", match_kind="prefix", qc_role="ccv")
    QcLabelPattern.objects.create(instrument=InstrumentFactory(code="ICP-Q", site=site), pattern="Deriv TracesETMaj", qc_role="ccv")
    patterns = QcLabelPattern.objects.filter(pk=pattern.pk)
    with violates(QcLabelPattern, "qc_label_pattern_kind_valid"):
        patterns.update(match_kind="glob")
    with violates(QcLabelPattern, "qc_label_pattern_role_valid"):
        patterns.update(qc_role="")
    with violates(QcLabelPattern, "qc_label_pattern_role_valid"):
        patterns.update(qc_role="bogus")
    with violates(QcLabelPattern, "qc_label_pattern_not_empty"):
        patterns.update(pattern="")


def test_only_a_crm_label_pattern_names_a_reference_material(site: Site) -> None:
    material = ReferenceMaterial.objects.create(name="NIST 610", lot_number="A")
    instrument = InstrumentFactory(code="ICP-R", site=site)
    with violates(QcLabelPattern, "qc_label_pattern_material_only_for_crm"):
        QcLabelPattern.objects.create(instrument=instrument, pattern="NIST 610", qc_role="ccv", reference_material=material)
    QcLabelPattern.objects.create(instrument=instrument, pattern="NIST 610", qc_role="crm", reference_material=material)


# --- A measurement's and a reading's references to its acquisition and analyte -----------------

# On PostgreSQL these four references are checked per statement by triggers (migration 0006, which
# drops their foreign keys: docs/architecture.md), refusing with a foreign_key_violation that names
# the reference as below. On SQLite they are Django's foreign keys, deferred to commit: the check a
# commit runs (``check_constraints``) names the child's column instead.
SET_BASED_REFERENCES: dict[tuple[type[models.Model], str], str] = {
    (Measurement, "acquisition"): "measurement_acquisition_fk",
    (Measurement, "analyte"): "measurement_analyte_fk",
    (InternalStandardReading, "acquisition"): "istd_reading_acquisition_fk",
    (InternalStandardReading, "analyte"): "istd_reading_analyte_fk",
}
REFERENCE_IDS = [f"{model.__name__}.{field}" for model, field in SET_BASED_REFERENCES]


@contextmanager
def violates_reference(model: type[models.Model], field_name: str) -> Iterator[None]:
    """The block must leave a row of ``model`` whose ``field_name`` names no row, and the database
    must refuse it on exactly that reference."""
    column = model._meta.get_field(field_name).column
    if connection.vendor == "postgresql":
        expected = SET_BASED_REFERENCES[(model, field_name)]
    else:
        expected = f"{model._meta.db_table}.{column} contains a value"
    with pytest.raises(IntegrityError) as caught, _checked_as_at_commit(model._meta.db_table):
        yield
    assert expected in str(caught.value), f"expected a violation of {model.__name__}.{field_name}, got: {caught.value}"


@contextmanager
def _checked_as_at_commit(table: str) -> Iterator[None]:
    with transaction.atomic():
        yield
        # What a commit does with SQLite's deferred foreign keys (PostgreSQL has refused already).
        connection.check_constraints(table_names=[table])


def _raw(statement: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _child_row(model: type[models.Model], acquisition: Acquisition, analyte: Analyte) -> models.Model:
    if model is Measurement:
        return Measurement.objects.create(acquisition=acquisition, analyte=analyte, value=12.5, unit="µg/L", basis="solution")
    return InternalStandardReading.objects.create(acquisition=acquisition, analyte=analyte, counts_per_second=34068.2)


def _insert_child(model: type[models.Model], *, acquisition_id: int, analyte_id: int) -> None:
    """A child row by raw SQL: nothing of Django's stands between it and the database."""
    if model is Measurement:
        _raw(
            "INSERT INTO assays_measurement (acquisition_id, analyte_id, value, qualifier, unit, basis, raw_unit, flags)"
            " VALUES (%s, %s, 1.0, '=', 'µg/L', 'solution', '', '[]')",
            [acquisition_id, analyte_id],
        )
    else:
        _raw(
            "INSERT INTO assays_internalstandardreading (acquisition_id, analyte_id, counts_per_second) VALUES (%s, %s, 1.0)",
            [acquisition_id, analyte_id],
        )


def _missing_id(model: type[models.Model]) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


@pytest.mark.parametrize(("model", "field_name"), list(SET_BASED_REFERENCES), ids=REFERENCE_IDS)
def test_a_measurement_or_reading_cannot_name_a_missing_acquisition_or_analyte(
    model: type[models.Model], field_name: str, acquisition: Acquisition, analyte: Analyte
) -> None:
    row = _child_row(model, acquisition, analyte)
    parent = model._meta.get_field(field_name).related_model
    assert parent is not None
    ids = {"acquisition_id": acquisition.pk, "analyte_id": analyte.pk}
    other = Analyte.objects.create(code="147Sm [He]", element=Element.objects.get(symbol="Sm"), technique="icp-ms")
    # A second, valid row beside the orphan: the statement is refused whole.
    ids_ok = {**ids, "analyte_id": other.pk}
    with violates_reference(model, field_name):
        _insert_child(model, **ids_ok)
        _insert_child(model, **{**ids, f"{field_name}_id": _missing_id(parent)})
    assert not model.objects.filter(analyte=other).exists()
    column = model._meta.get_field(field_name).column
    with violates_reference(model, field_name):
        _raw(f'UPDATE "{model._meta.db_table}" SET "{column}" = %s WHERE id = %s', [_missing_id(parent), row.pk])  # noqa: S608
    # An update that leaves the reference alone is not checked again, and passes.
    model.objects.filter(pk=row.pk).update(**{column: getattr(row, column)})


@pytest.mark.parametrize(("model", "field_name"), list(SET_BASED_REFERENCES), ids=REFERENCE_IDS)
def test_an_acquisition_or_analyte_cannot_be_removed_while_a_measurement_or_reading_names_it(
    model: type[models.Model], field_name: str, acquisition: Acquisition, analyte: Analyte
) -> None:
    _child_row(model, acquisition, analyte)
    parent = acquisition if field_name == "acquisition" else analyte
    table = parent._meta.db_table
    with violates_reference(model, field_name):
        _raw(f'DELETE FROM "{table}" WHERE id = %s', [parent.pk])  # noqa: S608
    with violates_reference(model, field_name):
        _raw(f'UPDATE "{table}" SET id = %s WHERE id = %s', [_missing_id(type(parent)), parent.pk])  # noqa: S608
    # An update that keeps the key is fine.
    _raw(f'UPDATE "{table}" SET id = id WHERE id = %s', [parent.pk])  # noqa: S608


@pytest.mark.postgres
@pytest.mark.parametrize(("model", "field_name"), list(SET_BASED_REFERENCES), ids=REFERENCE_IDS)
def test_on_postgresql_truncating_an_acquisition_or_analyte_table_is_refused_while_a_row_names_it(
    model: type[models.Model], field_name: str, acquisition: Acquisition, analyte: Analyte
) -> None:
    _child_row(model, acquisition, analyte)
    parent = acquisition if field_name == "acquisition" else analyte
    # The fixtures' deferred foreign key checks run now: PostgreSQL truncates nothing with any pending.
    _raw("SET CONSTRAINTS ALL IMMEDIATE", [])
    # CASCADE empties the tables that hold real foreign keys to it; the set-based references hold.
    with violates_reference(model, field_name):
        _raw(f'TRUNCATE "{parent._meta.db_table}" CASCADE', [])


def _foreign_key_columns_without_a_constraint() -> set[tuple[str, str]]:
    without: set[tuple[str, str]] = set()
    with connection.cursor() as cursor:
        for model in apps.get_app_config("assays").get_models():
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            constrained = {column for c in constraints.values() if c["foreign_key"] for column in c["columns"]}
            without |= {
                (model.__name__, field.name)
                for field in model._meta.concrete_fields
                if field.is_relation and field.db_constraint and field.column not in constrained
            }
    return without


def test_the_references_checked_per_statement_are_exactly_the_foreign_keys_postgresql_does_not_hold() -> None:
    # A foreign key dropped by accident, or a new set-based reference without its tests above,
    # fails here. SQLite holds every foreign key itself.
    expected = {(model.__name__, field) for model, field in SET_BASED_REFERENCES} if connection.vendor == "postgresql" else set()
    assert _foreign_key_columns_without_a_constraint() == expected


# --- Flags, assessments, certificates, audit -----------------------------------------------------


def test_flag_kind_and_status_take_known_values(flag: Flag) -> None:
    with violates(Flag, "flag_kind_valid"):
        Flag.objects.filter(pk=flag.pk).update(kind="bogus")
    with violates(Flag, "flag_status_valid"):
        Flag.objects.filter(pk=flag.pk).update(status="bogus")


def test_a_flag_is_about_exactly_one_thing(lot: Lot, run: Run, method: Method) -> None:
    now = timezone.now()
    with violates(Flag, "flag_exactly_one_target"):
        Flag.objects.create(kind="qc_failure", raised_at=now)
    for targets in ({"lot": lot, "run": run}, {"run": run, "method": method}, {"lot": lot, "method": method}):
        with violates(Flag, "flag_exactly_one_target"):
            Flag.objects.create(kind="qc_failure", raised_at=now, **targets)
    with violates(Flag, "flag_exactly_one_target"):
        Flag.objects.create(kind="qc_failure", raised_at=now, lot=lot, run=run, method=method)
    for target in ({"lot": lot}, {"run": run}, {"method": method}):
        Flag.objects.create(kind="qc_failure", raised_at=now, **target)


def test_acknowledging_a_flag_says_who_and_why_and_when(flag: Flag, user: User) -> None:
    flags = Flag.objects.filter(pk=flag.pk)
    now = timezone.now()
    with violates(Flag, "flag_acknowledgement_has_who_and_why"):
        flags.update(acknowledged_at=now)
    with violates(Flag, "flag_acknowledgement_has_who_and_why"):
        flags.update(acknowledged_at=now, acknowledged_by=user)
    with violates(Flag, "flag_acknowledgement_has_who_and_why"):
        flags.update(acknowledged_at=now, acknowledgement_reason="known matrix effect")
    with violates(Flag, "flag_acknowledged_has_time"):
        flags.update(status="acknowledged")
    flags.update(status="acknowledged", acknowledged_at=now, acknowledged_by=user, acknowledgement_reason="known matrix effect")


def test_resolving_a_flag_says_who_and_why_and_when(flag: Flag, user: User) -> None:
    flags = Flag.objects.filter(pk=flag.pk)
    now = timezone.now()
    with violates(Flag, "flag_resolution_has_who_and_why"):
        flags.update(resolved_at=now)
    with violates(Flag, "flag_resolution_has_who_and_why"):
        flags.update(resolved_at=now, resolved_by=user)
    with violates(Flag, "flag_resolution_has_who_and_why"):
        flags.update(resolved_at=now, resolution_reason="re-run passed")
    with violates(Flag, "flag_resolved_has_time"):
        flags.update(status="resolved")
    flags.update(status="resolved", resolved_at=now, resolved_by=user, resolution_reason="re-run passed")


def test_assessment_status_takes_known_values(lot: Lot) -> None:
    with violates(LotAssessment, "assessment_status_valid"):
        LotAssessment.objects.create(lot=lot, status="fine", inputs_fingerprint="f" * 64, assessed_at=timezone.now())


def test_an_assessment_fingerprint_is_a_full_sha256(lot: Lot) -> None:
    with violates(LotAssessment, "assessment_fingerprint_sha256_length"):
        LotAssessment.objects.create(lot=lot, status="conforming", inputs_fingerprint="f" * 63, assessed_at=timezone.now())
    LotAssessment.objects.create(lot=lot, status="conforming", inputs_fingerprint="f" * 64, assessed_at=timezone.now())


def test_certificate_numbers_are_unique_per_revision(lot: Lot, site: Site) -> None:
    first = Certificate.objects.create(number="COA-2025-0001", revision=0, lot=lot, issuing_site=site)
    Certificate.objects.create(number="COA-2025-0001", revision=1, lot=lot, issuing_site=site, supersedes=first, revision_reason="typo")
    other = Certificate.objects.create(number="COA-2025-0010", revision=0, lot=lot, issuing_site=site)
    with violates(Certificate, "certificate_unique_number_revision"):
        Certificate.objects.create(number="COA-2025-0001", revision=1, lot=lot, issuing_site=site, supersedes=other, revision_reason="x")


def test_a_revision_supersedes_an_earlier_one_and_says_why(lot: Lot, site: Site) -> None:
    first = Certificate.objects.create(number="COA-2025-0004", revision=0, lot=lot, issuing_site=site)
    with violates(Certificate, "certificate_revision_supersedes_with_reason"):
        Certificate.objects.create(number="COA-2025-0004", revision=1, lot=lot, issuing_site=site)
    with violates(Certificate, "certificate_revision_supersedes_with_reason"):
        Certificate.objects.create(number="COA-2025-0004", revision=1, lot=lot, issuing_site=site, supersedes=first)
    with violates(Certificate, "certificate_revision_supersedes_with_reason"):
        Certificate.objects.create(number="COA-2025-0005", revision=0, lot=lot, issuing_site=site, supersedes=first, revision_reason="x")


def test_an_issued_certificate_has_an_issue_time_a_pdf_and_a_known_status(lot: Lot, site: Site) -> None:
    certificate = Certificate.objects.create(number="COA-2025-0002", lot=lot, issuing_site=site)
    with violates(Certificate, "certificate_issued_has_time"):
        Certificate.objects.filter(pk=certificate.pk).update(status="issued", pdf_sha256="0" * 64)
    with violates(Certificate, "certificate_issued_has_pdf"):
        Certificate.objects.filter(pk=certificate.pk).update(status="issued", issued_at=timezone.now())
    with violates(Certificate, "certificate_status_valid"):
        Certificate.objects.filter(pk=certificate.pk).update(status="bogus")
    Certificate.objects.filter(pk=certificate.pk).update(status="issued", issued_at=timezone.now(), pdf_sha256="0" * 64)


def test_a_revocation_and_a_concession_say_who_and_why(lot: Lot, site: Site) -> None:
    certificate = Certificate.objects.create(number="COA-2025-0006", lot=lot, issuing_site=site)
    with violates(Certificate, "certificate_revoked_has_time"):
        Certificate.objects.filter(pk=certificate.pk).update(status="revoked")
    with violates(Certificate, "certificate_revocation_has_who_and_why"):
        Certificate.objects.filter(pk=certificate.pk).update(status="revoked", revoked_at=timezone.now())
    with violates(Certificate, "certificate_concession_has_reason"):
        Certificate.objects.filter(pk=certificate.pk).update(signature_meaning="approved_under_concession")


def test_a_certificate_kind_token_and_supersession_are_checked(lot: Lot, site: Site) -> None:
    first = Certificate.objects.create(number="COA-2025-0007", lot=lot, issuing_site=site, verification_token="t" * 43)
    with violates(Certificate, "certificate_kind_valid"):
        Certificate.objects.filter(pk=first.pk).update(kind="poster")
    with violates(Certificate, "verification_token"):
        Certificate.objects.create(number="COA-2025-0008", lot=lot, issuing_site=site, verification_token="t" * 43)
    Certificate.objects.create(number="COA-2025-0007", revision=1, lot=lot, issuing_site=site, supersedes=first, revision_reason="typo")
    with violates(Certificate, "supersedes"):
        Certificate.objects.create(
            number="COA-2025-0007", revision=2, lot=lot, issuing_site=site, supersedes=first, revision_reason="again"
        )
    with violates(Certificate, "certificate_not_superseding_itself"):
        Certificate.objects.filter(number="COA-2025-0007", revision=1).update(supersedes=F("pk"))


def test_certificate_counters_lab_profile_and_totp_devices_are_one_per_key() -> None:
    CertificateCounter.objects.create(prefix="COA", year=2025, last_value=3)
    with violates(CertificateCounter, "certificate_counter_unique_prefix_year"):
        CertificateCounter.objects.create(prefix="COA", year=2025)
    LabProfile.objects.create(name="Lab")
    with violates(LabProfile, "singleton"):
        LabProfile.objects.create(name="Second lab")
    with violates(LabProfile, "lab_profile_single_row"):
        LabProfile.objects.update(singleton=False)
    user = UserFactory()
    TotpDevice.objects.create(user=user, secret="JBSWY3DPEHPK3PXP")
    with violates(TotpDevice, "user"):
        TotpDevice.objects.create(user=user, secret="JBSWY3DPEHPK3PXQ")


def test_a_certificate_pdf_digest_is_empty_or_a_full_sha256(lot: Lot, site: Site) -> None:
    certificate = Certificate.objects.create(number="COA-2025-0003", lot=lot, issuing_site=site)
    with violates(Certificate, "certificate_pdf_sha256_length"):
        Certificate.objects.filter(pk=certificate.pk).update(pdf_sha256="0" * 40)
    Certificate.objects.filter(pk=certificate.pk).update(pdf_sha256="0" * 64)


def test_audit_events_have_a_known_action_and_an_actor_label(lot: Lot) -> None:
    # Inserts, not updates: the audit table is append-only and may refuse any UPDATE first.
    common = {"at": timezone.now(), "entity": "assays.lot", "object_id": str(lot.pk), "object_repr": str(lot)}
    with violates(AuditEvent, "audit_action_valid"):
        AuditEvent.objects.create(action="erase", actor_label="tech", **common)
    with violates(AuditEvent, "audit_actor_label_not_empty"):
        AuditEvent.objects.create(action="create", actor_label="", **common)


def test_worker_heartbeat_hostname_is_unique() -> None:
    WorkerHeartbeat.objects.create(hostname="worker-1", last_seen_at=timezone.now())
    with violates(WorkerHeartbeat, "hostname"):
        WorkerHeartbeat.objects.create(hostname="worker-1", last_seen_at=timezone.now())


# --- The list above is complete -----------------------------------------------------------------

# Constraints that cannot be broken through the database and so have no violation test here.
# Empty: every declared constraint and unique field is exercised. Add an entry only with a
# comment saying why it cannot be violated.
UNTESTABLE: frozenset[tuple[str, str]] = frozenset()


def _declared() -> set[tuple[str, str]]:
    """(model, constraint name) for every constraint, and (model, field) for every unique field."""
    declared: set[tuple[str, str]] = set()
    for model in apps.get_app_config("assays").get_models():
        declared |= {(model.__name__, constraint.name) for constraint in model._meta.constraints if constraint.name}
        declared |= {
            (model.__name__, field.name)
            for field in model._meta.concrete_fields
            if getattr(field, "unique", False) and not field.primary_key
        }
    return declared


def test_every_constraint_and_unique_field_has_a_violation_test_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    untested = sorted(
        f"{model}.{name}"
        for model, name in _declared() - UNTESTABLE
        if not re.search(rf'violates\(\s*{re.escape(model)}\s*,\s*"{re.escape(name)}"\s*\)', source)
    )
    assert not untested, f"constraints without a violation test in {Path(__file__).name}: {untested}"
    assert len(_declared()) > 50, "the introspection found the models' constraints"


def test_every_declared_constraint_exists_in_the_migrated_schema() -> None:
    missing: list[str] = []
    with connection.cursor() as cursor:
        for model in apps.get_app_config("assays").get_models():
            present = set(connection.introspection.get_constraints(cursor, model._meta.db_table))
            missing += [f"{model._meta.db_table}.{c.name}" for c in model._meta.constraints if c.name not in present]
    assert not missing, f"declared in models but absent from the database: {missing}"


def test_the_migrations_match_the_models() -> None:
    # Constraints live "in migrations": a model change without its migration fails here.
    call_command("makemigrations", "assays", check=True, dry_run=True, verbosity=0)


# --- Run QC (issue 4) -------------------------------------------------------------------------------


@pytest.fixture
def rule_pack() -> Any:
    return RulePack.objects.create(
        code="t-pack", version=1, title="t", source_text='code = "t-pack"', definition={}, created_at=timezone.now()
    )


@pytest.fixture
def evaluation(run: Run, rule_pack: Any) -> Any:
    return QcEvaluation.objects.create(run=run, rule_pack=rule_pack, evaluated_at=timezone.now(), status="accepted")


@pytest.fixture
def qc_check(evaluation: Any, acquisition: Acquisition) -> Any:
    return QcCheck.objects.create(
        evaluation=evaluation, key="ccv:1:*", kind="ccv", acquisition=acquisition, passed=False, message="m", effect="bracket"
    )


def test_rule_pack_versions_are_unique_positive_and_named(rule_pack: Any) -> None:
    now = timezone.now()
    with violates(RulePack, "rule_pack_unique_version"):
        RulePack.objects.create(code="t-pack", version=1, title="t", source_text="", definition={}, created_at=now)
    with violates(RulePack, "rule_pack_version_positive"):
        RulePack.objects.create(code="t-pack", version=0, title="t", source_text="", definition={}, created_at=now)
    with violates(RulePack, "rule_pack_code_not_empty"):
        RulePack.objects.create(code="", version=1, title="t", source_text="", definition={}, created_at=now)


def test_a_method_has_one_qc_standard_per_kind_with_nominals_or_levels(method: Method, analyte: Analyte) -> None:
    standard = QcStandard.objects.create(method=method, kind="ccv")
    with violates(QcStandard, "qc_standard_one_per_kind"):
        QcStandard.objects.create(method=method, kind="ccv")
    with violates(QcStandard, "qc_standard_kind_valid"):
        QcStandard.objects.create(method=method, kind="bogus")
    QcStandardValue.objects.create(standard=standard, analyte=analyte, nominal=10.0)
    with violates(QcStandardValue, "qc_standard_value_unique"):
        QcStandardValue.objects.create(standard=standard, analyte=analyte, calibration_level=4)
    icv = QcStandard.objects.create(method=method, kind="icv")
    with violates(QcStandardValue, "qc_standard_value_nominal_or_level"):
        QcStandardValue.objects.create(standard=icv, analyte=analyte)
    with violates(QcStandardValue, "qc_standard_value_nominal_or_level"):
        QcStandardValue.objects.create(standard=icv, analyte=analyte, nominal=1.0, calibration_level=4)
    with violates(QcStandardValue, "qc_standard_value_nominal_positive"):
        QcStandardValue.objects.create(standard=icv, analyte=analyte, nominal=0.0)
    with violates(QcStandardValue, "qc_standard_value_level_positive"):
        QcStandardValue.objects.create(standard=icv, analyte=analyte, calibration_level=0)


def test_calibration_nominals_are_unique_per_level_and_not_negative(method: Method, analyte: Analyte) -> None:
    CalibrationNominal.objects.create(method=method, analyte=analyte, level=2, value=0.1)
    with violates(CalibrationNominal, "calibration_nominal_unique"):
        CalibrationNominal.objects.create(method=method, analyte=analyte, level=2, value=0.2)
    with violates(CalibrationNominal, "calibration_nominal_level_positive"):
        CalibrationNominal.objects.create(method=method, analyte=analyte, level=0, value=0.2)
    with violates(CalibrationNominal, "calibration_nominal_non_negative"):
        CalibrationNominal.objects.create(method=method, analyte=analyte, level=3, value=-1.0)


def test_a_run_has_one_current_decided_evaluation_and_a_requested_one_says_why(
    run: Run, rule_pack: Any, evaluation: Any, user: User
) -> None:
    now = timezone.now()
    with violates(QcEvaluation, "qc_evaluation_one_current_per_run"):
        QcEvaluation.objects.create(run=run, rule_pack=rule_pack, evaluated_at=now, status="accepted")
    evaluations = QcEvaluation.objects.filter(pk=evaluation.pk)
    with violates(QcEvaluation, "qc_evaluation_status_decided"):
        evaluations.update(status="pending_qc")
    with violates(QcEvaluation, "qc_evaluation_status_valid"):
        evaluations.update(status="bogus")
    with violates(QcEvaluation, "qc_evaluation_request_has_reason"):
        evaluations.update(requested_by=user, reason="")
    with violates(QcEvaluation, "qc_evaluation_rejection_has_who_and_why"):
        evaluations.update(run_rejected_at=now, run_rejected_by=user, run_rejection_reason="")
    with violates(QcEvaluation, "qc_evaluation_rejection_has_who_and_why"):
        evaluations.update(run_rejected_at=now, run_rejection_reason="drift")


def test_qc_checks_have_unique_keys_and_known_kinds_and_effects(qc_check: Any, evaluation: Any) -> None:
    with violates(QcCheck, "qc_check_unique_key"):
        QcCheck.objects.create(evaluation=evaluation, key="ccv:1:*", kind="ccv", passed=True, message="m", effect="bracket")
    checks = QcCheck.objects.filter(pk=qc_check.pk)
    with violates(QcCheck, "qc_check_kind_valid"):
        checks.update(kind="bogus")
    with violates(QcCheck, "qc_check_effect_valid"):
        checks.update(effect="bogus")


def test_a_waiver_is_one_per_check_and_says_why(qc_check: Any, user: User) -> None:
    now = timezone.now()
    with violates(QcWaiver, "qc_waiver_has_reason"):
        QcWaiver.objects.create(check_result=qc_check, decided_by=user, decided_at=now, reason="")
    QcWaiver.objects.create(check_result=qc_check, decided_by=user, decided_at=now, reason="known drift, re-run")
    with violates(QcWaiver, "check_result"):
        QcWaiver.objects.create(check_result=qc_check, decided_by=user, decided_at=now, reason="again")


def test_a_result_acceptance_state_is_known(measurement: Measurement, evaluation: Any) -> None:
    with violates(ResultAcceptance, "result_acceptance_state_valid"):
        ResultAcceptance.objects.create(measurement=measurement, evaluation=evaluation, state="bogus")


def test_a_control_baseline_is_an_ordered_period_with_a_reason_and_a_material_only_for_crm(
    method: Method, analyte: Analyte, user: User
) -> None:
    now = timezone.now()
    material = ReferenceMaterial.objects.create(name="OREAS 460", lot_number="A1")
    base = {"method": method, "analyte": analyte, "set_by": user, "set_at": now, "reason": "validation period"}
    with violates(ControlBaseline, "control_baseline_series_valid"):
        ControlBaseline.objects.create(series="bogus", starts_at=now - dt.timedelta(days=9), ends_at=now, **base)
    with violates(ControlBaseline, "control_baseline_period_ordered"):
        ControlBaseline.objects.create(series="ccv", starts_at=now, ends_at=now, **base)
    with violates(ControlBaseline, "control_baseline_material_for_crm_only"):
        ControlBaseline.objects.create(series="crm", starts_at=now - dt.timedelta(days=9), ends_at=now, **base)
    with violates(ControlBaseline, "control_baseline_material_for_crm_only"):
        ControlBaseline.objects.create(series="ccv", reference_material=material, starts_at=now - dt.timedelta(days=9), ends_at=now, **base)
    with violates(ControlBaseline, "control_baseline_has_reason"):
        ControlBaseline.objects.create(series="ccv", starts_at=now - dt.timedelta(days=9), ends_at=now, **{**base, "reason": ""})


def test_a_crm_digest_is_positive() -> None:
    with violates(ReferenceMaterial, "reference_material_digest_positive"):
        ReferenceMaterial.objects.create(name="OREAS 460", lot_number="A2", digest_mass_g=0)
    with violates(ReferenceMaterial, "reference_material_digest_positive"):
        ReferenceMaterial.objects.create(name="OREAS 460", lot_number="A3", digest_volume_ml=-5)
    with violates(ReferenceMaterial, "reference_material_digest_positive"):
        ReferenceMaterial.objects.create(name="OREAS 460", lot_number="A4", digest_dilution_factor=0)


# --- Specifications as data (issue 5) ------------------------------------------------------------


@pytest.fixture
def spec_line(product: Product, nd: Element) -> SpecificationLine:
    spec = Specification.objects.create(product=product, version=1)
    return SpecificationLine.objects.create(
        specification=spec, position=1, quantity="oxide", element=nd, oxide=Oxide.objects.get(formula="Nd2O3"), maximum="0.001", unit="%"
    )


def test_specification_lines_have_unique_positions_and_known_quantities_units_methods_and_rules(spec_line: SpecificationLine) -> None:
    with violates(SpecificationLine, "specification_line_unique_position"):
        SpecificationLine.objects.create(specification=spec_line.specification, position=1, quantity="treo", minimum="99", unit="%")
    lines = SpecificationLine.objects.filter(pk=spec_line.pk)
    with violates(SpecificationLine, "specification_line_quantity_valid"):
        lines.update(quantity="bogus")
    with violates(SpecificationLine, "specification_line_unit_valid"):
        lines.update(unit="ppm")
    with violates(SpecificationLine, "specification_line_comparison_valid"):
        lines.update(comparison="nearest")
    with violates(SpecificationLine, "specification_line_rule_valid"):
        lines.update(rule="lenient")


def test_a_guard_band_line_compares_the_unrounded_value(spec_line: SpecificationLine) -> None:
    lines = SpecificationLine.objects.filter(pk=spec_line.pk)
    assert spec_line.comparison == "rounding"
    with violates(SpecificationLine, "specification_line_guard_band_absolute"):
        lines.update(rule="guard_band")
    lines.update(rule="guard_band", comparison="absolute")
    with violates(SpecificationLine, "specification_line_guard_band_absolute"):
        lines.update(comparison="rounding")


def test_an_element_or_oxide_line_names_its_element_and_oxide_and_an_anion_line_its_anion(spec_line: SpecificationLine) -> None:
    lines = SpecificationLine.objects.filter(pk=spec_line.pk)
    with violates(SpecificationLine, "specification_line_names_its_element"):
        lines.update(element=None)
    with violates(SpecificationLine, "specification_line_oxide_named"):
        lines.update(oxide=None)
    spec = spec_line.specification
    with violates(SpecificationLine, "specification_line_names_its_element"):
        SpecificationLine.objects.create(specification=spec, position=2, quantity="element", maximum="20", unit="mg/kg")
    with violates(SpecificationLine, "specification_line_anion_named"):
        SpecificationLine.objects.create(specification=spec, position=3, quantity="anion", maximum="300", unit="mg/kg")
    # A line about the whole sample names neither; a line without limits is report-only.
    SpecificationLine.objects.create(specification=spec, position=4, quantity="treo", unit="%")
    SpecificationLine.objects.create(specification=spec, position=5, quantity="anion", anion="Cl-", maximum="300", unit="mg/kg")


# --- Reassessment (issue 5) -------------------------------------------------------------------------


@pytest.fixture
def reassessment(product: Product) -> Reassessment:
    spec = Specification.objects.create(product=product, version=1)
    return Reassessment.objects.create(product=product, specification=spec, reason="spec v1", requested_at=timezone.now(), total_lots=4)


def test_a_reassessment_counts_within_its_lots_and_finishes_when_done(reassessment: Reassessment) -> None:
    rows = Reassessment.objects.filter(pk=reassessment.pk)
    with violates(Reassessment, "reassessment_status_valid"):
        rows.update(status="paused")
    with violates(Reassessment, "reassessment_done_within_total"):
        rows.update(done_lots=5)
    with violates(Reassessment, "reassessment_counts_within_done"):
        rows.update(done_lots=1, changed_lots=2)
    with violates(Reassessment, "reassessment_finished_when_done"):
        rows.update(status="done", finished_at=timezone.now(), done_lots=3)
    with violates(Reassessment, "reassessment_has_reason"):
        rows.update(reason="")
    rows.update(status="done", finished_at=timezone.now(), done_lots=4, changed_lots=2)


def test_reassessment_chunks_are_unique_and_count_within_their_lots(reassessment: Reassessment) -> None:
    ReassessmentChunk.objects.create(reassessment=reassessment, position=0, first_lot_id=10, lot_ids=[10, 11], lot_count=2)
    with violates(ReassessmentChunk, "reassessment_chunk_unique_position"):
        ReassessmentChunk.objects.create(reassessment=reassessment, position=0, first_lot_id=12, lot_ids=[12], lot_count=1)
    with violates(ReassessmentChunk, "reassessment_chunk_unique_first_lot"):
        ReassessmentChunk.objects.create(reassessment=reassessment, position=1, first_lot_id=10, lot_ids=[10], lot_count=1)
    with violates(ReassessmentChunk, "reassessment_chunk_not_empty"):
        ReassessmentChunk.objects.create(reassessment=reassessment, position=2, first_lot_id=13, lot_ids=[], lot_count=0)
    with violates(ReassessmentChunk, "reassessment_chunk_counts_within_lots"):
        ReassessmentChunk.objects.create(reassessment=reassessment, position=3, first_lot_id=14, lot_ids=[14], lot_count=1, changed_lots=2)


# --- Partner access (issue 7) -----------------------------------------------------------------------


@pytest.fixture
def partner() -> Partner:
    return Partner.objects.create(code="PX", name="Partner X", kind="both", country="DE")


def test_a_partner_key_has_a_unique_prefix_and_a_revocation_time(partner: Partner) -> None:
    key, _ = PartnerApiKey.objects.create_key(partner=partner, name="ERP", scopes=["lots"])
    with violates(PartnerApiKey, "partner_api_key_revoked_has_time"):
        PartnerApiKey.objects.filter(pk=key.pk).update(revoked=True)
    with violates(PartnerApiKey, "prefix"):
        PartnerApiKey.objects.create(id="other", prefix=key.prefix, hashed_key="x", partner=partner, name="copy")
    PartnerApiKey.objects.filter(pk=key.pk).update(revoked=True, revoked_at=timezone.now())


def test_a_webhook_has_a_secret_and_its_deliveries_a_known_state(partner: Partner) -> None:
    with violates(PartnerWebhook, "partner_webhook_secret_not_empty"):
        PartnerWebhook.objects.create(partner=partner, url="https://erp.example.com/hook", events=["certificate.issued"], secret="")
    webhook = PartnerWebhook.objects.create(partner=partner, url="https://erp.example.com/hook", events=["certificate.issued"], secret="s")
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="certificate.issued")
    rows = WebhookDelivery.objects.filter(pk=delivery.pk)
    with violates(WebhookDelivery, "webhook_delivery_status_valid"):
        rows.update(status="lost")
    with violates(WebhookDelivery, "webhook_delivery_event_valid"):
        rows.update(event="lot.created")
    with violates(WebhookDelivery, "webhook_delivery_delivered_has_time"):
        rows.update(status="delivered")
    with violates(WebhookDelivery, "event_id"):
        WebhookDelivery.objects.create(webhook=webhook, event="certificate.issued", event_id=delivery.event_id)
    rows.update(status="delivered", delivered_at=timezone.now())
