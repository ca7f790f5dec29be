"""A realistic, idempotent demonstration data set (``python manage.py seed_demo``).

Two plants (Teesside, GB, the default site; Texas, US), three suppliers in three countries, NdFeB
and SmCo feedstock, process genealogy into product lots of PrNd oxide, Nd2O3, Dy2O3 and Tb4O7,
allocations to two customers, samples with their preparation, sampling and chain of custody, one
user per role; runs, assessments, and certificates signed by the demo's QA users (one issued, one
amended, one issued under concession and revoked, a feedstock lot's report of analysis) with a
self-signed key the seed makes when there is none (docs/certificates.md). Regulated records go
through the same services as real use, so the audit trail reads as it would in production; master
data is created directly, as a lab admin would in the admin.

Every record is looked up by its natural key first and left alone when it exists, so a second run
creates nothing and writes no audit event. Later issues extend the demo by adding steps to
``demo_seed`` that follow the same rule.

The content is fictional: company names, serial numbers, order and carrier references.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction

from assays.chemistry.channels import channel_code
from assays.chemistry.rounding import format_decimal, round_with_uncertainty
from assays.errors import DomainError
from assays.importers.analytes import CHLORIDE, LOI
from assays.models import (
    Analyte,
    ApiScope,
    CalibrationNominal,
    Certificate,
    CertifiedValue,
    ChannelRole,
    CustodyEvent,
    CustodyEventKind,
    Element,
    FeedstockType,
    Flag,
    FlagStatus,
    Instrument,
    LabProfile,
    Lot,
    LotAllocation,
    LotInput,
    LotKind,
    MagnetChemistry,
    Method,
    MethodChannel,
    Oxide,
    Partner,
    PartnerApiKey,
    PartnerKind,
    PartnerMembership,
    Product,
    QcStandard,
    QcStandardKind,
    QcStandardValue,
    ReferenceMaterial,
    RulePack,
    Sample,
    SampleType,
    Site,
    SiteMembership,
    Technique,
)
from assays.reference_data import reference_data_ensure
from assays.roles import Role
from assays.services.certificates import certificate_issue, certificate_reissue, certificate_render, certificate_revoke
from assays.services.lots import lot_allocate, lot_create, lot_input_add
from assays.services.run_qc import run_evaluate
from assays.services.samples import custody_event_record, sample_register
from assays.services.specifications import specification_load_definition
from assays.spec_schema import catalogue

DEMO_REASON = "demo data (seed_demo)"
SEED_ACTOR_USERNAME = "lab_admin"

# --- Content ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSite:
    code: str
    name: str
    country: str
    address: str
    is_default: bool = False


SITES: tuple[DemoSite, ...] = (
    DemoSite("UK1", "Teesside magnet recycling plant", "GB", "Teesside, North Yorkshire, United Kingdom", is_default=True),
    DemoSite("US1", "Texas magnet recycling and separation plant", "US", "Gulf Coast, Texas, United States"),
)


@dataclass(frozen=True)
class DemoPartner:
    code: str
    name: str
    kind: PartnerKind
    country: str
    what: str


PARTNERS: tuple[DemoPartner, ...] = (
    DemoPartner("RHEIN-EV", "Rheinland EV-Demontage GmbH", PartnerKind.SUPPLIER, "DE", "end-of-life NdFeB from EV traction motors"),
    DemoPartner("KANTO-HDD", "Kanto HDD Recycling K.K.", PartnerKind.SUPPLIER, "JP", "NdFeB voice-coil magnets from hard-disk drives"),
    DemoPartner("CASCADE-AERO", "Cascade Aerospace Alloys Inc.", PartnerKind.SUPPLIER, "US", "Sm2Co17 machining swarf"),
    DemoPartner("LIBERTY-MAG", "Liberty Magnetics Corp.", PartnerKind.CUSTOMER, "US", "sintered NdFeB magnets for defence programmes"),
    # A closed loop: the motor maker buys oxide and sends its own grinding swarf back.
    DemoPartner("ALBION-EMOTORS", "Albion e-Motors Ltd", PartnerKind.BOTH, "GB", "EV traction motors; returns NdFeB swarf"),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    first_name: str
    last_name: str
    sites: tuple[str, ...] = ()
    partner: str = ""
    is_staff: bool = False


USERS: tuple[DemoUser, ...] = (
    DemoUser("tech_uk", Role.TECHNICIAN, "Priya", "Shah", sites=("UK1",)),
    DemoUser("tech_us", Role.TECHNICIAN, "Luis", "Garza", sites=("US1",)),
    DemoUser("qa", Role.QA, "Fiona", "Grant", sites=("UK1",)),
    DemoUser("qa_manager", Role.QA_MANAGER, "Daniel", "Okafor", sites=("UK1", "US1")),
    # The admin opens only to is_staff users; the lab admin is also the demo's seeding actor.
    DemoUser(SEED_ACTOR_USERNAME, Role.LAB_ADMIN, "Helen", "Marsh", sites=("UK1", "US1"), is_staff=True),
    DemoUser("partner_liberty", Role.PARTNER_USER, "Jordan", "Reyes", partner="LIBERTY-MAG"),
    DemoUser("partner_albion", Role.PARTNER_USER, "Tom", "Hughes", partner="ALBION-EMOTORS"),
)


def demo_password(username: str) -> str:
    """The fixed password of a demo user in development mode, so the README can name it."""
    return f"reo-demo-{username}"


@dataclass(frozen=True)
class DemoProduct:
    code: str
    name: str
    main_oxides: tuple[str, ...]


# The codes are the shipped catalogue's (assays/spec_catalogue/, docs/specifications.md): each
# product's specification is loaded from there through the specification service.
PRODUCTS: tuple[DemoProduct, ...] = (
    DemoProduct("ND2O3", "Neodymium oxide", ("Nd2O3",)),
    DemoProduct("PRND", "Praseodymium-neodymium oxide (didymium)", ("Pr6O11", "Nd2O3")),
    DemoProduct("DY2O3", "Dysprosium oxide", ("Dy2O3",)),
    DemoProduct("TB4O7", "Terbium oxide", ("Tb4O7",)),
    # NdFeB feedstock lots are judged by this report-only specification (payable rare-earth
    # content, no verdict); a feedstock lot gets a report of analysis rather than a certificate.
    DemoProduct("FS-NDFEB", "NdFeB magnet feedstock", ()),
)
# Specifications decide what "conforming" means: loaded by the QA manager, not the seeding lab admin.
SPEC_MANAGER_USERNAME = "qa_manager"
SPEC_EFFECTIVE_FROM = dt.date(2026, 1, 1)


@dataclass(frozen=True)
class DemoLot:
    code: str
    site: str
    kind: LotKind
    mass_kg: str
    description: str
    supplier: str = ""
    feedstock_type: FeedstockType = FeedstockType.NONE
    magnet_chemistry: MagnetChemistry = MagnetChemistry.NONE
    received_on: dt.date | None = None
    produced_on: dt.date | None = None
    country_of_collection: str = ""
    product: str = ""
    country_of_separation: str = ""
    country_of_oxide_production: str = ""
    # (input lot code, kg of it used)
    inputs: tuple[tuple[str, str], ...] = ()
    # (customer code, kg, order reference)
    allocations: tuple[tuple[str, str, str], ...] = ()


# The Nd2O3 lots of the spring and summer (lot, produced on, customer, order, Pr in mg/kg): the
# outside laboratory's results, typed in. Praseodymium, the hardest neighbour to separate from
# neodymium, crept up over the summer as the solvent-extraction circuit drifted, until it was
# re-balanced in September; every lot still met the 4N specification (Pr6O11 <= 30 mg/kg, relative
# purity >= 99.99 %), which the trend chart shows with the margin narrowing and recovering.
US_ND_HISTORY: tuple[tuple[str, dt.date, str, str, str], ...] = (
    ("US1-ND-26-0101", dt.date(2026, 4, 8), "LIBERTY-MAG", "LM-PO-26-0131", "5.8"),
    ("US1-ND-26-0102", dt.date(2026, 4, 29), "ALBION-EMOTORS", "AEM-PO-5302", "6.6"),
    ("US1-ND-26-0103", dt.date(2026, 5, 20), "LIBERTY-MAG", "LM-PO-26-0188", "8.9"),
    ("US1-ND-26-0104", dt.date(2026, 6, 10), "LIBERTY-MAG", "LM-PO-26-0214", "12.4"),
    ("US1-ND-26-0105", dt.date(2026, 7, 1), "ALBION-EMOTORS", "AEM-PO-5377", "15.1"),
    ("US1-ND-26-0106", dt.date(2026, 7, 22), "LIBERTY-MAG", "LM-PO-26-0262", "19.7"),
    ("US1-ND-26-0107", dt.date(2026, 8, 12), "ALBION-EMOTORS", "AEM-PO-5410", "22.3"),
    ("US1-ND-26-0108", dt.date(2026, 9, 16), "LIBERTY-MAG", "LM-PO-26-0339", "7.2"),
)

# Masses follow a plausible balance: sintered NdFeB is ~31 % rare earths, so a tonne of magnet
# gives ~360 kg of mixed oxide; EV magnets carry more Dy and Tb than hard-disk magnets.
LOTS: tuple[DemoLot, ...] = (
    # Teesside: NdFeB from EV motors (DE) and closed-loop swarf (GB) -> mixed oxide -> PrNd, Dy, Tb.
    DemoLot(
        "UK1-FS-26-0101",
        "UK1",
        LotKind.FEEDSTOCK,
        "8000",
        "End-of-life NdFeB rotor magnets from EV traction motors",
        supplier="RHEIN-EV",
        feedstock_type=FeedstockType.END_OF_LIFE_MAGNETS,
        magnet_chemistry=MagnetChemistry.NDFEB,
        received_on=dt.date(2026, 9, 8),
        country_of_collection="DE",
    ),
    DemoLot(
        "UK1-FS-26-0102",
        "UK1",
        LotKind.FEEDSTOCK,
        "1500",
        "NdFeB grinding swarf returned by a motor maker",
        supplier="ALBION-EMOTORS",
        feedstock_type=FeedstockType.MANUFACTURING_SWARF,
        magnet_chemistry=MagnetChemistry.NDFEB,
        received_on=dt.date(2026, 9, 15),
        country_of_collection="GB",
    ),
    DemoLot(
        "UK1-MREO-26-0101",
        "UK1",
        LotKind.INTERMEDIATE,
        "3250",
        "Mixed rare-earth oxide (calcined oxalate) from leach and precipitation",
        magnet_chemistry=MagnetChemistry.NDFEB,
        produced_on=dt.date(2026, 10, 2),
        inputs=(("UK1-FS-26-0101", "7500"), ("UK1-FS-26-0102", "1500")),
    ),
    DemoLot(
        "UK1-PRND-26-0101",
        "UK1",
        LotKind.PRODUCT,
        "2400",
        "PrNd oxide from solvent extraction",
        product="PRND",
        produced_on=dt.date(2026, 10, 20),
        country_of_separation="GB",
        country_of_oxide_production="GB",
        inputs=(("UK1-MREO-26-0101", "2450"),),
        allocations=(("ALBION-EMOTORS", "2000", "AEM-PO-5498"),),
    ),
    DemoLot(
        "UK1-DY-26-0101",
        "UK1",
        LotKind.PRODUCT,
        "300",
        "Dy2O3 from the heavy rare-earth fraction",
        product="DY2O3",
        produced_on=dt.date(2026, 10, 27),
        country_of_separation="GB",
        country_of_oxide_production="GB",
        inputs=(("UK1-MREO-26-0101", "320"),),
        allocations=(("ALBION-EMOTORS", "250", "AEM-PO-5499"),),
    ),
    DemoLot(
        "UK1-TB-26-0101",
        "UK1",
        LotKind.PRODUCT,
        "40",
        "Tb4O7 from the heavy rare-earth fraction",
        product="TB4O7",
        produced_on=dt.date(2026, 10, 29),
        country_of_separation="GB",
        country_of_oxide_production="GB",
        inputs=(("UK1-MREO-26-0101", "45"),),
        allocations=(("LIBERTY-MAG", "30", "LM-PO-26-0422"),),
    ),
    # A second Tb4O7 lot: its certificate is amended (revision 1) after its LOI was re-determined.
    DemoLot(
        "UK1-TB-26-0102",
        "UK1",
        LotKind.PRODUCT,
        "35",
        "Tb4O7 from the heavy rare-earth fraction, second campaign",
        product="TB4O7",
        produced_on=dt.date(2026, 11, 3),
        country_of_separation="GB",
        country_of_oxide_production="GB",
        inputs=(("UK1-MREO-26-0101", "40"),),
        allocations=(("ALBION-EMOTORS", "30", "AEM-PO-5530"),),
    ),
    # Texas, spring and summer: the Nd2O3 lots made before this autumn's campaign, whose relative
    # purity the lot page's trend chart draws (US_ND_HISTORY). Hard-disk NdFeB (JP) -> mixed oxide.
    DemoLot(
        "US1-FS-26-0101",
        "US1",
        LotKind.FEEDSTOCK,
        "9000",
        "End-of-life NdFeB voice-coil magnets from hard-disk drives, spring collection",
        supplier="KANTO-HDD",
        feedstock_type=FeedstockType.END_OF_LIFE_MAGNETS,
        magnet_chemistry=MagnetChemistry.NDFEB,
        received_on=dt.date(2026, 3, 4),
        country_of_collection="JP",
    ),
    DemoLot(
        "US1-MREO-26-0101",
        "US1",
        LotKind.INTERMEDIATE,
        "3100",
        "Mixed rare-earth oxide (calcined oxalate), spring campaign",
        magnet_chemistry=MagnetChemistry.NDFEB,
        produced_on=dt.date(2026, 3, 25),
        inputs=(("US1-FS-26-0101", "8800"),),
    ),
    *(
        DemoLot(
            code,
            "US1",
            LotKind.PRODUCT,
            "250",
            "Nd2O3 separated and calcined in the US",
            product="ND2O3",
            produced_on=produced_on,
            country_of_separation="US",
            country_of_oxide_production="US",
            inputs=(("US1-MREO-26-0101", "270"),),
            allocations=((customer, "250", reference),),
        )
        for code, produced_on, customer, reference, _ in US_ND_HISTORY
    ),
    # Texas: hard-disk NdFeB (JP) -> mixed oxide -> Nd2O3 split between both customers;
    # aerospace SmCo swarf (US) -> samarium oxalate concentrate.
    DemoLot(
        "US1-FS-26-0201",
        "US1",
        LotKind.FEEDSTOCK,
        "6000",
        "End-of-life NdFeB voice-coil magnets from hard-disk drives",
        supplier="KANTO-HDD",
        feedstock_type=FeedstockType.END_OF_LIFE_MAGNETS,
        magnet_chemistry=MagnetChemistry.NDFEB,
        received_on=dt.date(2026, 9, 10),
        country_of_collection="JP",
    ),
    DemoLot(
        "US1-FS-26-0202",
        "US1",
        LotKind.FEEDSTOCK,
        "2500",
        "Sm2Co17 machining swarf from aerospace actuator magnets",
        supplier="CASCADE-AERO",
        feedstock_type=FeedstockType.MANUFACTURING_SWARF,
        magnet_chemistry=MagnetChemistry.SMCO,
        received_on=dt.date(2026, 9, 22),
        country_of_collection="US",
    ),
    DemoLot(
        "US1-MREO-26-0201",
        "US1",
        LotKind.INTERMEDIATE,
        "2050",
        "Mixed rare-earth oxide (calcined oxalate)",
        magnet_chemistry=MagnetChemistry.NDFEB,
        produced_on=dt.date(2026, 10, 5),
        inputs=(("US1-FS-26-0201", "5800"),),
    ),
    DemoLot(
        "US1-SMOX-26-0201",
        "US1",
        LotKind.INTERMEDIATE,
        "1400",
        "Samarium oxalate concentrate after cobalt removal",
        magnet_chemistry=MagnetChemistry.SMCO,
        produced_on=dt.date(2026, 10, 9),
        inputs=(("US1-FS-26-0202", "2400"),),
    ),
    DemoLot(
        "US1-ND-26-0201",
        "US1",
        LotKind.PRODUCT,
        "1450",
        "Nd2O3 separated and calcined in the US",
        product="ND2O3",
        produced_on=dt.date(2026, 10, 23),
        country_of_separation="US",
        country_of_oxide_production="US",
        inputs=(("US1-MREO-26-0201", "1500"),),
        allocations=(("LIBERTY-MAG", "1000", "LM-PO-26-0417"), ("ALBION-EMOTORS", "400", "AEM-PO-5521")),
    ),
)


LOTS_BY_CODE = {lot.code: lot for lot in LOTS}


@dataclass(frozen=True)
class Preparation:
    """Digest of ``mass_g`` made up to ``volume_ml``, diluted ``dilution`` times further."""

    mass_g: str
    volume_ml: str
    dilution: str


# Oxides dissolve readily and are pure, so 0.1 g into 50 mL then x10 keeps the impurities above
# LOQ; magnet scrap is 60-70 % iron, so it is diluted further to spare the cones.
PREPARATION: dict[LotKind, tuple[Preparation, Preparation]] = {
    LotKind.FEEDSTOCK: (Preparation("0.2503", "100", "100"), Preparation("0.2496", "100", "100")),
    LotKind.INTERMEDIATE: (Preparation("0.1001", "100", "50"), Preparation("0.0998", "100", "50")),
    LotKind.PRODUCT: (Preparation("0.1004", "50", "10"), Preparation("0.0997", "50", "10")),
}


@dataclass(frozen=True)
class DemoSample:
    code: str
    lot: str
    sample_type: SampleType
    preparation: Preparation | None


def _lot_samples(lot: DemoLot) -> tuple[DemoSample, ...]:
    routine, duplicate = PREPARATION[lot.kind]
    return (
        DemoSample(f"{lot.code}-R1", lot.code, SampleType.ROUTINE, routine),
        DemoSample(f"{lot.code}-D1", lot.code, SampleType.DUPLICATE, duplicate),
        # A retain is kept as taken, for a re-test or a dispute: it has no preparation yet.
        DemoSample(f"{lot.code}-RET", lot.code, SampleType.RETAIN, None),
    )


# Who took each lot's samples, when and by which plan: printed on certificates (ISO/IEC 17025
# §7.8.2). Feedstock is sampled at goods-in the day after receipt, process lots when made.
SAMPLERS = {
    ("UK1", LotKind.FEEDSTOCK): "Megan Doyle, UK1 goods-in",
    ("US1", LotKind.FEEDSTOCK): "Carlos Mendez, US1 goods-in",
    ("UK1", LotKind.INTERMEDIATE): "Priya Shah, UK1 laboratory",
    ("US1", LotKind.INTERMEDIATE): "Luis Garza, US1 laboratory",
    ("UK1", LotKind.PRODUCT): "Priya Shah, UK1 laboratory",
    ("US1", LotKind.PRODUCT): "Luis Garza, US1 laboratory",
}
SAMPLING_METHODS = {
    LotKind.FEEDSTOCK: "30 increments from the conveyor after crushing, combined and riffled (plant SOP SMP-01, after ISO 3082)",
    LotKind.INTERMEDIATE: "Grab sample from every calcination tray, combined and riffled (plant SOP SMP-03)",
    LotKind.PRODUCT: "Sampling spear through every drum of the lot, composite riffled to 50 g (plant SOP SMP-05)",
}


def _sampling(lot: DemoLot) -> tuple[str, dt.datetime | None, str]:
    """(sampled by, sampled at, sampling method) of a demo lot's samples."""
    day = lot.received_on + dt.timedelta(days=1) if lot.received_on else lot.produced_on
    moment = dt.datetime.combine(day, dt.time(10, 30), tzinfo=dt.UTC) if day else None
    return SAMPLERS[(lot.site, lot.kind)], moment, SAMPLING_METHODS[lot.kind]


CUSTOMER_SAMPLE_CARRIER_REFERENCE = "FedEx 7781 2203 4410"
SAMPLES: tuple[DemoSample, ...] = (
    *(sample for lot in LOTS for sample in _lot_samples(lot)),
    # Split retains sent to a customer for its own incoming inspection.
    DemoSample("US1-ND-26-0201-C1", "US1-ND-26-0201", SampleType.RETAIN, None),
    DemoSample("UK1-TB-26-0101-C1", "UK1-TB-26-0101", SampleType.RETAIN, None),
)


@dataclass(frozen=True)
class DemoCustody:
    sample: str
    kind: CustodyEventKind
    from_location: str = ""
    to_location: str = ""
    to_site: str = ""
    to_partner: str = ""
    carrier_reference: str = ""
    note: str = ""


def _custody_events() -> tuple[DemoCustody, ...]:
    events: list[DemoCustody] = []
    for sample in SAMPLES:
        site = sample.code.split("-", 1)[0]
        if sample.sample_type in {SampleType.ROUTINE, SampleType.DUPLICATE}:
            events.append(DemoCustody(sample.code, CustodyEventKind.RECEIVED, f"{site} sampling point", f"{site} ICP-MS laboratory"))
        elif not sample.code.endswith("-C1"):
            store = f"{site} retain store, cabinet 3"
            events.append(DemoCustody(sample.code, CustodyEventKind.TRANSFERRED, f"{site} sampling point", store))
    events += [
        DemoCustody(
            "UK1-TB-26-0101-D1",
            CustodyEventKind.SHIPPED,
            "UK1 ICP-MS laboratory",
            "US1 ICP-MS laboratory",
            to_site="US1",
            carrier_reference="DHL Express 4471 9032 18",
            note="Inter-laboratory comparison of the Tb4O7 impurity method",
        ),
        *(
            DemoCustody(
                code,
                CustodyEventKind.SHIPPED,
                f"{code[:3]} sample dispatch",
                "Liberty Magnetics incoming inspection",
                to_partner="LIBERTY-MAG",
                carrier_reference=CUSTOMER_SAMPLE_CARRIER_REFERENCE,
                note="Demonstration samples for the customer's incoming inspection",
            )
            for code in ("US1-ND-26-0201-C1", "UK1-TB-26-0101-C1")
        ),
    ]
    return tuple(events)


CUSTODY_EVENTS = _custody_events()


@dataclass(frozen=True)
class DemoInstrument:
    code: str
    name: str
    site: str
    vendor: str
    model: str
    serial_number: str


INSTRUMENTS: tuple[DemoInstrument, ...] = (
    DemoInstrument("UK1-ICPMS-01", "Agilent 7900 ICP-MS", "UK1", "Agilent", "7900", "DEMO-7900-0117"),
    DemoInstrument("US1-ICPMS-01", "Thermo iCAP RQ ICP-MS", "US1", "Thermo Fisher Scientific", "iCAP RQ", "DEMO-IRQ-0342"),
)


@dataclass(frozen=True)
class DemoChannel:
    element: str
    isotope_mass: int
    cell_mode: str
    role: ChannelRole
    lod: float  # µg/L in the measured solution
    loq: float
    uncertainty_a: float  # mg/kg
    uncertainty_b: float  # relative


def _ree(element: str, isotope_mass: int, lod: float = 0.002) -> DemoChannel:
    # Rare earths are measured without gas: few interferences, best sensitivity.
    return DemoChannel(element, isotope_mass, "No Gas", ChannelRole.REPORTING, lod, round(lod * 10 / 3, 4), 0.1, 0.05)


def _he(element: str, isotope_mass: int, lod: float, role: ChannelRole = ChannelRole.REPORTING) -> DemoChannel:
    # Helium KED removes the argide and oxide interferences on Fe, Ca, Ni, Cu, Zn.
    return DemoChannel(element, isotope_mass, "He", role, lod, round(lod * 10 / 3, 4), 1.0, 0.08)


METHOD_CODE = "ICPMS-REO-IMP"
METHOD_NAME = "Rare-earth and non-rare-earth impurities in rare-earth oxides by ICP-MS"
METHOD_STANDARD = "GB/T 18115 and GB/T 12690 (ICP-MS parts)"
METHOD_CHANNELS: tuple[DemoChannel, ...] = (
    _ree("Y", 89),
    _ree("La", 139),
    _ree("Ce", 140),
    _ree("Pr", 141),
    _ree("Nd", 146),
    _ree("Sm", 147, lod=0.004),
    _ree("Eu", 153),
    _ree("Gd", 157, lod=0.004),
    _ree("Tb", 159, lod=0.001),
    _ree("Dy", 163, lod=0.003),
    _ree("Ho", 165, lod=0.001),
    _ree("Er", 166),
    _ree("Tm", 169, lod=0.001),
    _ree("Yb", 172, lod=0.003),
    _ree("Lu", 175, lod=0.001),
    _he("Al", 27, 0.2),
    _he("Si", 28, 0.5),
    _he("Ca", 44, 1.5),
    _he("Fe", 56, 0.3),
    _he("Fe", 57, 1.0, ChannelRole.CONFIRMATORY),
    _he("Co", 59, 0.005),
    _he("Ni", 60, 0.03),
    _he("Cu", 63, 0.02),
    _he("Cu", 65, 0.04, ChannelRole.CONFIRMATORY),
    _he("Zn", 66, 0.1),
)

CRM_NAME = "Demo REO-IMP-Nd (impurities in Nd2O3)"
CRM_LOT = "DEMO-2026-01"
CRM_PRODUCER = "Fictional Reference Materials Ltd (demo data)"
CRM_EXPIRES_ON = dt.date(2028, 12, 31)
# element: (certified value, expanded uncertainty k = 2), mg/kg
CRM_VALUES: dict[str, tuple[float, float]] = {
    "Y": (4.9, 0.4),
    "La": (10.4, 0.6),
    "Ce": (12.1, 0.8),
    "Pr": (47.5, 2.5),
    "Sm": (5.2, 0.4),
    "Gd": (2.1, 0.3),
    "Dy": (6.3, 0.5),
    "Al": (8.7, 1.2),
    "Ca": (19.5, 2.4),
    "Fe": (14.8, 1.6),
}


# --- Result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoCredential:
    username: str
    role: str
    scope: str
    # None when it cannot be shown: set on an earlier run (production) or changed since.
    password: str | None
    note: str = ""


@dataclass
class DemoSeedResult:
    created: Counter[str] = field(default_factory=Counter)
    credentials: list[DemoCredential] = field(default_factory=list)
    # What the person seeding should know (a self-signed key made, a step skipped and why).
    notes: list[str] = field(default_factory=list)

    @property
    def created_anything(self) -> bool:
        return sum(self.created.values()) > 0


# --- Seeding ----------------------------------------------------------------------------------


def demo_seed(*, allow_production: bool = False) -> DemoSeedResult:
    """Create whatever of the demo is missing; return what was created and the credentials.

    Refuses in production unless ``allow_production``: there the new users get random passwords
    (shown once, in the result) instead of the fixed development ones.
    """
    if settings.IS_PRODUCTION and not allow_production:
        raise DomainError("refusing to load demo data into a production installation (LIMS_ENV=production); pass --allow-production")
    result = DemoSeedResult()
    with transaction.atomic():
        # After a database flush (transactional tests) the migration's reference data is gone.
        missing_groups = Group.objects.filter(name__in=[role.value for role in Role]).count() < len(Role)
        if missing_groups or not Oxide.objects.exists() or not RulePack.objects.exists():
            reference_data_ensure()
        sites = _ensure_sites(result)
        partners = _ensure_partners(result)
        users = _ensure_users(result, sites=sites, partners=partners, random_passwords=settings.IS_PRODUCTION)
        actor = users[SEED_ACTOR_USERNAME]
        products = _ensure_products(result, spec_manager=users[SPEC_MANAGER_USERNAME])
        _ensure_instruments_and_method(result, sites=sites)
        _ensure_reference_material(result)
        lots = _ensure_lots(result, actor=actor, sites=sites, partners=partners, products=products)
        samples = _ensure_samples(result, actor=actor, lots=lots)
        _ensure_custody(result, actor=actor, samples=samples, sites=sites, partners=partners)
        _ensure_demo_run(result, analyst=users[DEMO_RUN_ANALYST], samples=samples)
        _ensure_hand_results(result, users=users)
        _ensure_hand_result_uncertainties()
        _ensure_feedstock_results(result, users=users)
        # Assessed here too, not only by the tasks the judgements enqueue on commit: the demo is
        # the same whether a worker runs or not (lot_assess is idempotent by its inputs).
        from assays.services.assessment import lot_assess

        for lot in lots.values():
            lot_assess(lot_id=lot.pk)
        _ensure_certificates(result, users=users, lots=lots, partners=partners)
        _ensure_partner_key(result, admin=users[SEED_ACTOR_USERNAME], partner=partners[DEMO_KEY_PARTNER])
    return result


# --- A partner API key ------------------------------------------------------------------------

DEMO_KEY_PARTNER = "LIBERTY-MAG"
DEMO_KEY_NAME = "Demo ERP connector"


def _ensure_partner_key(result: DemoSeedResult, *, admin: User, partner: Partner) -> None:
    """One read-only key for the demo customer, printed once: the partner API can be tried at once."""
    from assays.services.partner_keys import api_key_issue

    if PartnerApiKey.objects.filter(partner=partner, name=DEMO_KEY_NAME, revoked=False).exists():
        return
    _, raw = api_key_issue(actor=admin, partner=partner, name=DEMO_KEY_NAME, scopes=list(ApiScope.values))
    result.created["partner API key"] += 1
    result.notes.append(
        f"Partner API key for {partner.code} (shown this once): {raw}\n"
        f"  try: curl -H 'Authorization: Api-Key {raw}' {settings.LIMS_PUBLIC_BASE_URL}/api/v1/partner/lots/"
    )


# --- A demo ICP-MS run ------------------------------------------------------------------------

DEMO_RUN_ANALYST = "tech_uk"
DEMO_RUN_INSTRUMENT = "UK1-ICPMS-01"
DEMO_RUN_FILE = "UK1-ICPMS-01_demo_batch.csv"
# A re-run of some of the same samples whose middle CCV drifted on Pr and Nd: the run QC rejects
# exactly the Pr and Nd results that CCV brackets, and QA has something to review.
DEMO_DRIFT_RUN_FILE = "UK1-ICPMS-01_demo_batch_rerun.csv"
DEMO_DRIFT_ELEMENTS = {"Pr", "Nd"}
# Main components of each demo product are far above the impurity range: an impurity method does
# not report them (they come by difference), so their cells stay empty, as for an uncalibrated
# channel. Every other channel is an impurity at a few mg/kg of the solid.
_MAIN_ELEMENTS = {"PRND": {"Pr", "Nd"}, "ND2O3": {"Nd"}, "DY2O3": {"Dy"}, "TB4O7": {"Tb"}}
# The method's calibration (µg/L, every channel) and the CCV, which is level 3 re-run.
DEMO_CALIBRATION_LEVELS = {1: 0.0, 2: 0.1, 3: 1.0, 4: 10.0, 5: 100.0}
DEMO_CCV_LEVEL = 3
DEMO_SAMPLES_PER_CCV = 10


# The Dy2O3 lot picked up iron in calcination: 30 µg/L is 150 mg/kg of Fe, far above the limit.
_HIGH_IMPURITY: dict[str, dict[str, float]] = {"DY2O3": {"Fe": 30.0}}
DEMO_DAILY_CHECKS = 10  # days of calibration + two CCVs before the demo runs: the charts' baseline


def _demo_batch(samples: list[Sample], *, seed: int, start: str, drifting_ccv: int | None = None) -> bytes:
    """An Agilent MassHunter batch table for UK1 product samples: a calibration (blank and four
    standards), a CCV, the samples with a CCV after every ten, a CCB and a closing CCV.
    ``drifting_ccv`` (1-based among the CCVs) reads Pr and Nd 15 % high. Deterministic: the same
    bytes on every seed, so a second seed finds the run already imported (same SHA-256)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo readings, not a secret
    label_row = ["Sample", "", "", "", "", "", ""]
    header_row = ["", "Rjct", "Data File", "Acq. Date-Time", "Type", "Level", "Sample Name"]
    for channel in METHOD_CHANNELS:
        label_row += [f"{channel.isotope_mass}  {channel.element}  [ {channel.cell_mode} ] ", "", "", ""]
        header_row += ["CPS", "CPS RSD", "Conc. [ ppb ]", "Conc. RSD"]
    # (vendor type, level, label, main elements of a sample)
    sequence: list[tuple[str, str, str, set[str]]] = [("CalBlk", "1", "Blank", set())]
    sequence += [("CalStd", str(level), f"Std {nominal:g} ppb", set()) for level, nominal in DEMO_CALIBRATION_LEVELS.items() if level > 1]
    sequence.append(("Sample", "", "CCV", set()))
    product_of = {sample.code: sample.lot.product.code if sample.lot.product else "" for sample in samples}
    for position, sample in enumerate(samples, start=1):
        product = product_of[sample.code]
        sequence.append(("Sample", "", sample.code, _MAIN_ELEMENTS.get(product, set())))
        if position % DEMO_SAMPLES_PER_CCV == 0 and position < len(samples):
            sequence.append(("Sample", "", "CCV", set()))
    sequence += [("Sample", "", "CCB", set()), ("Sample", "", "CCV", set())]
    lines = [";".join(label_row), ";".join(header_row)]
    ccv_number = 0
    for number, (vendor_type, level, label, main) in enumerate(sequence, start=1):
        ccv_number += label == "CCV"
        row = ["", "FALSE", f"{number:03d}SMPL.d", f"{start} {9 + number // 60:02d}:{number % 60:02d}", vendor_type, level, label]
        for channel in METHOD_CHANNELS:
            text = ""
            if vendor_type == "CalStd":
                concentration = DEMO_CALIBRATION_LEVELS[int(level)] * rng.uniform(0.97, 1.03)
            elif label == "CCV":
                drift = 1.15 if ccv_number == drifting_ccv and channel.element in DEMO_DRIFT_ELEMENTS else 1.0
                concentration = DEMO_CALIBRATION_LEVELS[DEMO_CCV_LEVEL] * rng.uniform(0.96, 1.04) * drift
            elif vendor_type == "CalBlk" or label == "CCB":
                concentration = rng.uniform(-0.002, 0.002)
            elif channel.element in main:
                concentration = None
            elif channel.element in _HIGH_IMPURITY.get(product_of.get(label, ""), {}):
                concentration = _HIGH_IMPURITY[product_of[label]][channel.element] * rng.uniform(0.95, 1.05)
            else:
                # About 0.1 µg/L (0.5 mg/kg of the solid): a clean separated oxide.
                concentration = rng.lognormvariate(-2.3, 0.5)
            if concentration is not None:
                text = "<0.000" if concentration < 0 else f"{concentration:.5f}"
            cps = f"{max(concentration or 0, 0) * 12_000 + 35:.1f}"
            row += [cps, f"{rng.uniform(0.5, 4):.2f}", text, f"{rng.uniform(0.3, 5):.2f}"]
        lines.append(";".join(row))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _ensure_demo_run(result: DemoSeedResult, *, analyst: User, samples: dict[str, Sample]) -> None:
    """The demo's runs: one that passes its QC and a re-run whose middle CCV drifted."""
    from assays.services.runs import run_import

    uk_product_samples = sorted(
        (
            sample
            for sample in samples.values()
            if sample.site.code == "UK1" and sample.lot.kind == LotKind.PRODUCT and sample.sample_mass_g is not None
        ),
        key=lambda sample: sample.code,
    )
    if not uk_product_samples:
        return
    instrument = Instrument.objects.get(code=DEMO_RUN_INSTRUMENT)
    method = Method.objects.get(code=METHOD_CODE)
    # Daily calibration checks first (no samples): their CCVs give the control charts a baseline,
    # so the drifted CCV of the re-run also shows as a Westgard violation (method drift).
    daily = tuple(
        (f"UK1-ICPMS-01_daily_check_2026-11-{day:02d}.csv", _demo_batch([], seed=20261100 + day, start=f"2026-11-{day:02d}"))
        for day in range(5, 5 + DEMO_DAILY_CHECKS)
    )
    batches = (
        *daily,
        (DEMO_RUN_FILE, _demo_batch(uk_product_samples, seed=20261127, start="2026-11-20")),
        (DEMO_DRIFT_RUN_FILE, _demo_batch(uk_product_samples[:15], seed=20261204, start="2026-11-23", drifting_ccv=2)),
    )
    for file_name, data in batches:
        # The evaluation is enqueued on commit; the demo runs in one transaction, so judge here
        # (idempotent: the task finds the run judged).
        summary = run_import(actor=analyst, data=data, file_name=file_name, instrument=instrument, method=method)
        result.created["run"] += int(not summary.existing)
        if summary.run_id is not None:
            run_evaluate(run_id=summary.run_id)


# Results typed in by hand (LOI at 1000 °C, chloride by ion chromatography) for the UK product
# lots: the PrNd lot's majors were not measured, so its Nd2O3/TREO cannot be computed
# (insufficient data). The US Nd2O3 lot's results come from an outside laboratory whose Fe limit
# (< 10 mg/kg) is above the 4N maximum: not determinable, so the lot is inconclusive.
_HAND_RESULTS = {"LOI": ("0.31", "%"), "Cl-": ("35", "mg/kg")}
_OUTSIDE_LAB_ND = {
    **dict.fromkeys(("La", "Ce", "Pr", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y"), ("0.4", "mg/kg")),
    "Si": ("12", "mg/kg"),
    "Ca": ("20", "mg/kg"),
    "LOI": ("0.42", "%"),
}


_HISTORY_FE = ("2.1", "2.6", "1.8", "2.4")  # mg/kg: Fe2O3 3 to 4 mg/kg, under the 4N's 5


def _ensure_hand_results(result: DemoSeedResult, *, users: dict[str, User]) -> None:
    from assays.services.manual_entry import ManualRow, manual_results_save

    entries: list[tuple[User, str, list[ManualRow], str]] = []
    for lot_code in ("UK1-TB-26-0101", "UK1-TB-26-0102", "UK1-DY-26-0101", "UK1-PRND-26-0101"):
        rows = [
            ManualRow(number=0, sample=f"{lot_code}-{suffix}", analyte=analyte, value=value, unit=unit)
            for suffix in ("R1", "D1")
            for analyte, (value, unit) in _HAND_RESULTS.items()
        ]
        entries.append((users[DEMO_RUN_ANALYST], lot_code, rows, "LOI 1000 °C 1 h; Cl- by IC"))
    us_lot = "US1-ND-26-0201"
    rows = [
        ManualRow(number=0, sample=f"{us_lot}-{suffix}", analyte=analyte, value=value, unit=unit)
        for suffix in ("R1", "D1")
        for analyte, (value, unit) in _OUTSIDE_LAB_ND.items()
    ]
    rows += [ManualRow(number=0, sample=f"{us_lot}-{suffix}", analyte="Fe", value="<", lod="10", unit="mg/kg") for suffix in ("R1", "D1")]
    entries.append((users["tech_us"], us_lot, rows, "Outside laboratory report OL-26-1187"))
    # The spring and summer lots, from the same laboratory, whose iron method then still reached 2 mg/kg.
    for number, (lot_code, _, _, _, praseodymium) in enumerate(US_ND_HISTORY):
        values = {**_OUTSIDE_LAB_ND, "Pr": (praseodymium, "mg/kg"), "Fe": (_HISTORY_FE[number % len(_HISTORY_FE)], "mg/kg")}
        rows = [
            ManualRow(
                number=0,
                sample=f"{lot_code}-{suffix}",
                analyte=analyte,
                value=value if suffix == "R1" else _duplicate_value(value),
                unit=unit,
            )
            for suffix in ("R1", "D1")
            for analyte, (value, unit) in values.items()
        ]
        entries.append((users["tech_us"], lot_code, rows, f"Outside laboratory report OL-26-{430 + 37 * number:04d}"))
    for actor, lot_code, rows, reference in entries:
        numbered = [dataclasses.replace(row, number=number) for number, row in enumerate(rows, start=1)]
        saved = manual_results_save(actor=actor, lot_code=lot_code, rows=numbered, reference=reference)
        if saved.errors:
            raise DomainError(f"demo hand results for {lot_code}: {saved.errors}")
        if saved.summary is not None and saved.summary.run_id is not None:
            result.created["run"] += int(not saved.summary.existing)
            run_evaluate(run_id=saved.summary.run_id)


# What is typed in by hand has the lab's validated uncertainty models too, as channels of the
# manual method (a in mg/kg, b relative): LOI at 1000 °C for 1 h, u = √(0.02² + (0.02 · LOI)²) %,
# and chloride by ion chromatography, u = √(5² + (0.05 · w)²) mg/kg. With them the LOI line, TREO
# and the main oxide (by difference, LOI and anions included) carry an expanded uncertainty.
DEMO_HAND_UNCERTAINTY: dict[str, tuple[str, float, float]] = {LOI: ("%", 200.0, 0.02), CHLORIDE: ("mg/kg", 5.0, 0.05)}


def _ensure_hand_result_uncertainties() -> None:
    from assays.services.manual_entry import manual_method

    method = manual_method()
    for code, (unit, a, b) in DEMO_HAND_UNCERTAINTY.items():
        analyte = Analyte.objects.filter(code=code).first()
        if analyte is not None:
            MethodChannel.objects.get_or_create(
                method=method, analyte=analyte, defaults={"unit": unit, "uncertainty_a": a, "uncertainty_b": b}
            )


# Incoming NdFeB feedstock, assayed for its payable rare-earth content (ICP-OES after a peroxide
# fusion, reported by the feedstock laboratory and typed in): element, % or mg/kg of the material
# as received. EV rotor magnets carry more Dy and Tb than hard-disk magnets; "<" is below the LOD.
_FEEDSTOCK_REFERENCE = "ICP-OES after sodium peroxide fusion, feedstock laboratory"
_FEEDSTOCK_LOD_MG_KG = "20"
_FEEDSTOCK_RESULTS: dict[str, dict[str, tuple[str, str]]] = {
    "UK1-FS-26-0101": {
        "Nd": ("21.8", "%"), "Pr": ("6.9", "%"), "Dy": ("3.1", "%"), "Tb": ("0.62", "%"),
        "Ce": ("1500", "mg/kg"), "La": ("600", "mg/kg"), "Gd": ("500", "mg/kg"), "Ho": ("900", "mg/kg"),
        "Sm": ("120", "mg/kg"), "Y": ("250", "mg/kg"), "Er": ("80", "mg/kg"),
        "Eu": ("<", "mg/kg"), "Tm": ("<", "mg/kg"), "Yb": ("<", "mg/kg"), "Lu": ("<", "mg/kg"),
    },
    "UK1-FS-26-0102": {
        "Nd": ("22.6", "%"), "Pr": ("7.2", "%"), "Dy": ("2.4", "%"), "Tb": ("0.45", "%"),
        "Ce": ("1200", "mg/kg"), "La": ("500", "mg/kg"), "Gd": ("400", "mg/kg"), "Ho": ("700", "mg/kg"),
        "Sm": ("100", "mg/kg"), "Y": ("300", "mg/kg"), "Er": ("60", "mg/kg"),
        "Eu": ("<", "mg/kg"), "Tm": ("<", "mg/kg"), "Yb": ("<", "mg/kg"), "Lu": ("<", "mg/kg"),
    },
    "US1-FS-26-0101": {
        "Nd": ("24.7", "%"), "Pr": ("4.8", "%"), "Dy": ("0.78", "%"), "Tb": ("380", "mg/kg"),
        "Ce": ("2300", "mg/kg"), "La": ("850", "mg/kg"), "Gd": ("320", "mg/kg"), "Ho": ("190", "mg/kg"),
        "Sm": ("140", "mg/kg"), "Y": ("210", "mg/kg"),
        "Er": ("<", "mg/kg"), "Eu": ("<", "mg/kg"), "Tm": ("<", "mg/kg"), "Yb": ("<", "mg/kg"), "Lu": ("<", "mg/kg"),
    },
    "US1-FS-26-0201": {
        "Nd": ("25.1", "%"), "Pr": ("4.6", "%"), "Dy": ("0.85", "%"), "Tb": ("400", "mg/kg"),
        "Ce": ("2500", "mg/kg"), "La": ("900", "mg/kg"), "Gd": ("300", "mg/kg"), "Ho": ("200", "mg/kg"),
        "Sm": ("150", "mg/kg"), "Y": ("200", "mg/kg"),
        "Er": ("<", "mg/kg"), "Eu": ("<", "mg/kg"), "Tm": ("<", "mg/kg"), "Yb": ("<", "mg/kg"), "Lu": ("<", "mg/kg"),
    },
}  # fmt: skip
# The duplicate reads a little differently from the routine sample: the lot's spread.
_DUPLICATE_FACTOR = Decimal("1.012")
# The feedstock laboratory's report states each result's expanded uncertainty (k = 2): about 3 %
# of a major element (in %), 8 % of a minor one (in mg/kg), to two significant figures. They
# give the payable content its U; a result below the LOD has none (LOD/√12 stands for it).
_FEEDSTOCK_RELATIVE_U = {"%": Decimal("0.03"), "mg/kg": Decimal("0.08")}
_FEEDSTOCK_K = "2"


def _reported_u(value: str, unit: str) -> str:
    if value == "<":
        return ""
    _, stated = round_with_uncertainty(value=value, expanded_uncertainty=Decimal(value) * _FEEDSTOCK_RELATIVE_U[unit])
    assert stated is not None  # a positive value, so a positive U
    return format_decimal(stated)


def _duplicate_value(value: str) -> str:
    if value == "<":
        return value
    exact = Decimal(value)
    return str((exact * _DUPLICATE_FACTOR).quantize(exact))


def _ensure_feedstock_results(result: DemoSeedResult, *, users: dict[str, User]) -> None:
    """The NdFeB feedstock lots' assays, typed in like the other hand results (the same path)."""
    from assays.services.manual_entry import ManualRow, manual_results_save

    for lot_code, values in _FEEDSTOCK_RESULTS.items():
        rows = [
            ManualRow(
                number=0,
                sample=f"{lot_code}-{suffix}",
                analyte=element,
                value=value if suffix == "R1" else _duplicate_value(value),
                lod=_FEEDSTOCK_LOD_MG_KG if value == "<" else "",
                unit=unit,
                expanded_u=_reported_u(value, unit),
                coverage_factor=_FEEDSTOCK_K if value != "<" else "",
            )
            for suffix in ("R1", "D1")
            for element, (value, unit) in values.items()
        ]
        numbered = [dataclasses.replace(row, number=number) for number, row in enumerate(rows, start=1)]
        analyst = users["tech_uk" if lot_code.startswith("UK1") else "tech_us"]
        saved = manual_results_save(actor=analyst, lot_code=lot_code, rows=numbered, reference=_FEEDSTOCK_REFERENCE)
        if saved.errors:
            raise DomainError(f"demo feedstock results for {lot_code}: {saved.errors}")
        if saved.summary is not None and saved.summary.run_id is not None:
            result.created["run"] += int(not saved.summary.existing)
            run_evaluate(run_id=saved.summary.run_id)


# --- Certificates -----------------------------------------------------------------------------

LAB_NAME = "Teesside Rare Earth Recycling - Assay Laboratory"
LAB_ADDRESS = "Teesside, North Yorkshire, United Kingdom"
LAB_ACCREDITATION = "ISO/IEC 17025:2017, testing laboratory No. 0000 (fictional: demonstration data)"
# The ICP-MS rare-earth determinations are inside the (fictional) accreditation scope; the
# non-rare-earth impurities, LOI and chloride are not.
LAB_ACCREDITED_SCOPE = ["Y", "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"]
LAB_SELLER_DECLARATION = (
    "The seller declares that the rare-earth content of this material derives from the recycled feedstock lots listed "
    "above, and that separation and oxide production took place in the countries stated; no covered material was mined, "
    "refined, separated, melted or produced in China, Russia, North Korea or Iran (10 U.S.C. 4872, DFARS 252.225-7052). "
    "Demonstration text: not a legal declaration."
)
SIGNING_CERTIFICATE_DAYS = 3650

# The demo's certificates, one of each outcome (lot codes):
CERT_ISSUED = "UK1-TB-26-0101"  # conforming, issued to Liberty Magnetics
CERT_AMENDED = "UK1-TB-26-0102"  # conforming, issued, then amended: revision 1 supersedes revision 0
CERT_REVOKED = "UK1-DY-26-0101"  # off-spec, issued under concession by the QA manager, then revoked
REPORT_FEEDSTOCK = "UK1-FS-26-0101"  # feedstock: a report of analysis (payable content, no verdict)
# The amendment: the Tb4O7 lot's LOI was determined again after issue.
AMENDED_LOI = "0.24"
AMENDMENT_REFERENCE = "LOI repeated in pre-ignited crucibles (SOP QA-LOI-02)"
AMENDMENT_REASON = (
    "The first LOI determination used crucibles not ignited to constant mass; the repeat in pre-ignited crucibles "
    "gave 0.24 % instead of 0.31 %"
)
AMENDMENT_CHANGE = "LOI corrected from 0.31 % to 0.24 % (the mean of the routine and duplicate samples)"
CONCESSION_REASON = "Albion e-Motors accepts Fe2O3 up to 200 mg/kg for its prototype motor build (customer deviation AEM-DEV-026)"
REVOCATION_REASON = (
    "Albion e-Motors withdrew deviation AEM-DEV-026 (the prototype build was cancelled): the lot returns to hold for re-processing"
)


def _ensure_lab_profile(result: DemoSeedResult) -> LabProfile:
    profile = LabProfile.objects.first()
    # A row made on the fly with only a placeholder name (services.certificates.lab_profile) is
    # filled in; one a lab admin has edited is left alone.
    if profile is not None and (profile.address or profile.name != "Laboratory"):
        return profile
    values = {
        "name": LAB_NAME,
        "address": LAB_ADDRESS,
        "accreditation": LAB_ACCREDITATION,
        "accredited_scope": LAB_ACCREDITED_SCOPE,
        "seller_declaration": LAB_SELLER_DECLARATION,
    }
    profile, _ = LabProfile.objects.update_or_create(singleton=True, defaults=values)
    result.created["lab profile"] += 1
    return profile


def _ensure_signing_pair(result: DemoSeedResult, *, profile: LabProfile) -> bool:
    """The lab's signing key and certificate at the settings' paths; a self-signed pair is made
    when neither exists (never in production, never over one half of a pair). True when usable."""
    from assays.certificates.signing import generate_self_signed_pair

    key_path, cert_path = Path(settings.LIMS_SIGNING_KEY_FILE), Path(settings.LIMS_SIGNING_CERT_FILE)
    present = [path.is_file() for path in (key_path, cert_path)]
    if all(present):
        return True
    if any(present):
        result.notes.append(
            f"Certificates not issued: only one of the signing key ({key_path}) and certificate ({cert_path}) exists. "
            "Put the other beside it, or remove it to have a self-signed demo pair made."
        )
        return False
    if settings.IS_PRODUCTION:
        result.notes.append(
            f"Certificates not issued: no signing key at {key_path}. A production installation signs with the lab's own "
            "key and certificate (LIMS_SIGNING_KEY_FILE, LIMS_SIGNING_CERT_FILE; docs/certificates.md)."
        )
        return False
    key_pem, cert_pem = generate_self_signed_pair(
        # X.509 names hold at most 64 characters.
        common_name="Certificate signing (self-signed demo key)",
        organisation=profile.name[:64],
        days=SIGNING_CERTIFICATE_DAYS,
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    # Owner-only from the first byte: the key signs in the lab's name.
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key_pem)
    cert_path.write_bytes(cert_pem)
    result.created["signing key pair"] += 1
    result.notes.append(
        f"Signing: made a SELF-SIGNED key and certificate for the demo ({key_path}, {cert_path}). Certificates signed "
        "with it verify only against that certificate; a lab puts its own there (docs/certificates.md)."
    )
    return True


def _password(result: DemoSeedResult, username: str) -> str | None:
    """A demo user's password, when the seed knows it (set by this seed, or the fixed one unchanged)."""
    return next((c.password for c in result.credentials if c.username == username), None)


def _ensure_certificates(result: DemoSeedResult, *, users: dict[str, User], lots: dict[str, Lot], partners: dict[str, Partner]) -> None:
    """Certificates through the real services, signed by the demo's QA users with their passwords:
    one issued, one amended (revision 1 supersedes revision 0), one issued under concession and
    revoked, and a feedstock lot's report of analysis. Each is rendered here as well as by the task
    enqueued on commit, so the demo is the same with or without a worker (rendering is idempotent).

    In a savepoint: if signing or rendering fails, no certificate is left half made, the rest of
    the demo stands, and the note says why (a later seed tries again)."""
    wanted = (CERT_ISSUED, CERT_AMENDED, CERT_REVOKED, REPORT_FEEDSTOCK)
    profile = _ensure_lab_profile(result)
    if Certificate.objects.filter(lot__code__in=wanted).exists():
        return  # issued by an earlier seed (or by hand): left as they are
    if not _ensure_signing_pair(result, profile=profile):
        return
    qa_password, manager_password = _password(result, "qa"), _password(result, "qa_manager")
    if not qa_password or not manager_password:
        result.notes.append("Certificates not issued: the passwords of the demo QA users are not known to the seed (changed since).")
        return
    counted = Counter(result.created)
    try:
        with transaction.atomic():
            _issue_demo_certificates(
                result, users=users, lots=lots, partners=partners, qa_password=qa_password, manager_password=manager_password
            )
    except (DomainError, OSError) as error:
        result.created = counted  # what the savepoint rolled back was not created
        result.notes.append(f"Certificates not issued: {type(error).__name__}: {error}")


def _issue_demo_certificates(
    result: DemoSeedResult,
    *,
    users: dict[str, User],
    lots: dict[str, Lot],
    partners: dict[str, Partner],
    qa_password: str,
    manager_password: str,
) -> None:
    from assays.services.assessment import lot_assess
    from assays.services.flags import flag_resolve
    from assays.services.manual_entry import ManualRow, manual_results_save

    qa, manager = users["qa"], users["qa_manager"]

    def issue(lot_code: str, **kwargs: Any) -> Certificate:
        signer, password = (manager, manager_password) if kwargs.get("concession_reason") else (qa, qa_password)
        certificate = certificate_issue(actor=signer, lot=Lot.objects.get(pk=lots[lot_code].pk), password=password, **kwargs)
        result.created["certificate"] += 1
        return _rendered(certificate)

    # Issued, and stays so.
    issue(CERT_ISSUED, customer=partners["LIBERTY-MAG"])

    # Issued, then amended: the LOI is determined again and typed in as a new result (a certified
    # result is never edited in place); the new assessment differs from the certified one, which
    # raises a flag; QA reviews it and signs revision 1, which supersedes revision 0.
    first = issue(CERT_AMENDED, customer=partners["ALBION-EMOTORS"])
    rows = [
        ManualRow(number=number, sample=f"{CERT_AMENDED}-{suffix}", analyte="LOI", value=AMENDED_LOI, unit="%")
        for number, suffix in enumerate(("R1", "D1"), start=1)
    ]
    saved = manual_results_save(actor=users[DEMO_RUN_ANALYST], lot_code=CERT_AMENDED, rows=rows, reference=AMENDMENT_REFERENCE)
    if saved.errors or saved.summary is None or saved.summary.run_id is None:
        raise DomainError(f"the corrected LOI of {CERT_AMENDED} was not saved: {saved.errors}")
    result.created["run"] += int(not saved.summary.existing)
    run_evaluate(run_id=saved.summary.run_id)
    lot_assess(lot_id=lots[CERT_AMENDED].pk)
    for flag in Flag.objects.filter(lot_id=lots[CERT_AMENDED].pk, status__in=(FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED)):
        flag_resolve(actor=qa, flag=flag, reason=f"corrected LOI reviewed: {first.number} is amended (revision 1)")
    amended = certificate_reissue(
        actor=qa, certificate=first, password=qa_password, reason=AMENDMENT_REASON, change_summary=AMENDMENT_CHANGE
    )
    result.created["certificate"] += 1
    _rendered(amended)

    # Issued under concession by the QA manager (the lot is off-spec), then revoked: back on hold.
    conceded = issue(CERT_REVOKED, customer=partners["ALBION-EMOTORS"], concession_reason=CONCESSION_REASON)
    certificate_revoke(actor=manager, certificate=conceded, password=manager_password, reason=REVOCATION_REASON)

    # A feedstock lot's report of analysis: payable composition with U, no verdict.
    issue(REPORT_FEEDSTOCK)


def _rendered(certificate: Certificate) -> Certificate:
    """``certificate`` with its PDF rendered, signed and stored now (an amendment needs it issued)."""
    stored = certificate_render(certificate_id=certificate.pk)
    if stored is None or not stored.pdf_sha256:
        raise DomainError(f"{certificate} was signed but its PDF was not made")
    return stored


def _site_is_unused(site: Site) -> bool:
    return not (
        site.lots.exists()
        or site.samples.exists()
        or site.instruments.exists()
        or site.runs.exists()
        or site.certificates.exists()
        or site.memberships.exists()
        or CustodyEvent.objects.filter(to_site=site).exists()
    )


def _ensure_sites(result: DemoSeedResult) -> dict[str, Site]:
    sites: dict[str, Site] = {}
    for demo in SITES:
        site = Site.objects.filter(code=demo.code).first()
        if site is None and demo.is_default:
            # A fresh installation has one empty placeholder site from the settings (MAIN):
            # the demo's default plant takes it over rather than leaving a third, empty site.
            placeholder = Site.objects.filter(is_default=True, code=settings.LIMS_DEFAULT_SITE_CODE).first()
            if placeholder is not None and _site_is_unused(placeholder):
                for attribute in ("code", "name", "country", "address"):
                    setattr(placeholder, attribute, getattr(demo, attribute))
                placeholder.save(update_fields=["code", "name", "country", "address"])
                site = placeholder
                result.created["site"] += 1
        if site is None:
            site = Site.objects.create(code=demo.code, name=demo.name, country=demo.country, address=demo.address)
            result.created["site"] += 1
        if demo.is_default and not site.is_default:
            # One default at a time (a partial unique index): clear the old one first.
            Site.objects.filter(is_default=True).update(is_default=False)
            site.is_default = True
            site.save(update_fields=["is_default"])
            result.created["default site switch"] += 1
        sites[demo.code] = site
    return sites


def _ensure_partners(result: DemoSeedResult) -> dict[str, Partner]:
    partners: dict[str, Partner] = {}
    for demo in PARTNERS:
        partner, created = Partner.objects.get_or_create(
            code=demo.code, defaults={"name": demo.name, "kind": demo.kind, "country": demo.country}
        )
        result.created["partner"] += int(created)
        partners[demo.code] = partner
    return partners


def _ensure_users(
    result: DemoSeedResult, *, sites: dict[str, Site], partners: dict[str, Partner], random_passwords: bool
) -> dict[str, User]:
    user_model = get_user_model()
    users: dict[str, User] = {}
    for demo in USERS:
        user = user_model.objects.filter(username=demo.username).first()
        password: str | None
        note = ""
        if user is None:
            password = secrets.token_urlsafe(12) if random_passwords else demo_password(demo.username)
            user = user_model.objects.create_user(
                username=demo.username,
                email=f"{demo.username}@example.org",
                password=password,
                first_name=demo.first_name,
                last_name=demo.last_name,
                is_staff=demo.is_staff,
            )
            result.created["user"] += 1
        elif random_passwords:
            password, note = None, "set when first seeded; not shown again"
        elif user.check_password(demo_password(demo.username)):
            password = demo_password(demo.username)
        else:
            password, note = None, "changed since seeding"
        group, _ = Group.objects.get_or_create(name=demo.role.value)
        if not user.groups.filter(pk=group.pk).exists():
            user.groups.add(group)
            result.created["role grant"] += 1
        for code in demo.sites:
            _, created = SiteMembership.objects.get_or_create(user=user, site=sites[code])
            result.created["site membership"] += int(created)
        if demo.partner:
            _, created = PartnerMembership.objects.get_or_create(user=user, defaults={"partner": partners[demo.partner]})
            result.created["partner membership"] += int(created)
        scope = demo.partner or ", ".join(demo.sites)
        if demo.role in {Role.QA_MANAGER, Role.LAB_ADMIN}:
            scope = "all sites"
        result.credentials.append(DemoCredential(demo.username, demo.role.value, scope, password, note))
        users[demo.username] = user
    return users


def _ensure_products(result: DemoSeedResult, *, spec_manager: User) -> dict[str, Product]:
    shipped = catalogue()
    products: dict[str, Product] = {}
    for demo in PRODUCTS:
        product, created = Product.objects.get_or_create(code=demo.code, defaults={"name": demo.name})
        if created:
            product.main_oxides.set(Oxide.objects.filter(formula__in=demo.main_oxides))
            result.created["product"] += 1
        file_name, definition = shipped[demo.code]
        # Loaded once: a later version made by a QA manager is not overridden by a re-seed.
        if not product.specifications.filter(content_sha256=definition.content_sha256).exists():
            loaded = specification_load_definition(
                actor=spec_manager, definition=definition, file_name=file_name, activate=True, effective_from=SPEC_EFFECTIVE_FROM
            )
            result.created["specification"] += int(loaded.created)
        products[demo.code] = product
    return products


def _ensure_analyte(result: DemoSeedResult, *, element: Element, channel: DemoChannel) -> Analyte:
    code = channel_code(element=element.symbol, isotope_mass=channel.isotope_mass, cell_mode=channel.cell_mode)
    analyte, created = Analyte.objects.get_or_create(
        code=code,
        defaults={"element": element, "technique": Technique.ICP_MS, "isotope_mass": channel.isotope_mass, "cell_mode": channel.cell_mode},
    )
    result.created["analyte"] += int(created)
    return analyte


def _ensure_instruments_and_method(result: DemoSeedResult, *, sites: dict[str, Site]) -> None:
    for demo in INSTRUMENTS:
        _, created = Instrument.objects.get_or_create(
            code=demo.code,
            defaults={
                "name": demo.name,
                "site": sites[demo.site],
                "technique": Technique.ICP_MS,
                "vendor": demo.vendor,
                "model": demo.model,
                "serial_number": demo.serial_number,
            },
        )
        result.created["instrument"] += int(created)
    method, created = Method.objects.get_or_create(
        code=METHOD_CODE, defaults={"name": METHOD_NAME, "technique": Technique.ICP_MS, "standard": METHOD_STANDARD}
    )
    result.created["method"] += int(created)
    elements = {element.symbol: element for element in Element.objects.filter(symbol__in={c.element for c in METHOD_CHANNELS})}
    for channel in METHOD_CHANNELS:
        element = elements[channel.element]
        analyte = _ensure_analyte(result, element=element, channel=channel)
        _, created = MethodChannel.objects.get_or_create(
            method=method,
            analyte=analyte,
            defaults={
                "element": element,
                "role": channel.role,
                "unit": "µg/L",
                "lod": channel.lod,
                "loq": channel.loq,
                "uncertainty_a": channel.uncertainty_a,
                "uncertainty_b": channel.uncertainty_b,
            },
        )
        result.created["method channel"] += int(created)
    _ensure_method_qc(result, method=method)


def _ensure_method_qc(result: DemoSeedResult, *, method: Method) -> None:
    """The demo method's calibration standards and its CCV (a re-run of calibration level 3)."""
    analytes = [channel.analyte for channel in method.channels.select_related("analyte")]
    for analyte in analytes:
        for level, nominal in DEMO_CALIBRATION_LEVELS.items():
            _, created = CalibrationNominal.objects.get_or_create(method=method, analyte=analyte, level=level, defaults={"value": nominal})
            result.created["calibration nominal"] += int(created)
    ccv, created = QcStandard.objects.get_or_create(
        method=method, kind=QcStandardKind.CCV, defaults={"name": "Calibration level 3 (1 ppb)"}
    )
    result.created["QC standard"] += int(created)
    for analyte in analytes:
        QcStandardValue.objects.get_or_create(standard=ccv, analyte=analyte, defaults={"calibration_level": DEMO_CCV_LEVEL})


def _ensure_reference_material(result: DemoSeedResult) -> None:
    material, created = ReferenceMaterial.objects.get_or_create(
        name=CRM_NAME, lot_number=CRM_LOT, defaults={"producer": CRM_PRODUCER, "expires_on": CRM_EXPIRES_ON}
    )
    result.created["reference material"] += int(created)
    elements = {element.symbol: element for element in Element.objects.filter(symbol__in=CRM_VALUES)}
    for symbol, (value, uncertainty) in CRM_VALUES.items():
        _, created = CertifiedValue.objects.get_or_create(
            material=material, element=elements[symbol], defaults={"value": value, "expanded_uncertainty": uncertainty, "unit": "mg/kg"}
        )
        result.created["certified value"] += int(created)


def _ensure_lots(
    result: DemoSeedResult, *, actor: User, sites: dict[str, Site], partners: dict[str, Partner], products: dict[str, Product]
) -> dict[str, Lot]:
    lots: dict[str, Lot] = {}
    # LOTS lists every input before the lots made from it.
    for demo in LOTS:
        lot = Lot.objects.filter(code=demo.code).first()
        if lot is None:
            lot = lot_create(
                actor=actor,
                code=demo.code,
                site=sites[demo.site],
                kind=demo.kind,
                product=products[demo.product] if demo.product else None,
                mass_kg=Decimal(demo.mass_kg),
                supplier=partners[demo.supplier] if demo.supplier else None,
                feedstock_type=demo.feedstock_type,
                magnet_chemistry=demo.magnet_chemistry,
                is_recycled=True,
                received_on=demo.received_on,
                produced_on=demo.produced_on,
                country_of_collection=demo.country_of_collection,
                country_of_separation=demo.country_of_separation,
                country_of_oxide_production=demo.country_of_oxide_production,
                reason=DEMO_REASON,
            )
            result.created["lot"] += 1
        lots[demo.code] = lot
        for input_code, mass in demo.inputs:
            if not LotInput.objects.filter(input_lot=lots[input_code], output_lot=lot).exists():
                lot_input_add(actor=actor, input_lot=lots[input_code], output_lot=lot, mass_used_kg=Decimal(mass), reason=DEMO_REASON)
                result.created["lot input"] += 1
        for customer_code, mass, reference in demo.allocations:
            customer = partners[customer_code]
            if not LotAllocation.objects.filter(lot=lot, customer=customer).exists():
                lot_allocate(actor=actor, lot=lot, customer=customer, mass_kg=Decimal(mass), reference=reference, reason=DEMO_REASON)
                result.created["lot allocation"] += 1
    return lots


def _ensure_samples(result: DemoSeedResult, *, actor: User, lots: dict[str, Lot]) -> dict[str, Sample]:
    samples: dict[str, Sample] = {}
    for demo in SAMPLES:
        sample = Sample.objects.filter(code=demo.code).first()
        if sample is None:
            prep = demo.preparation
            sampled_by, sampled_at, sampling_method = _sampling(LOTS_BY_CODE[demo.lot])
            sample = sample_register(
                actor=actor,
                code=demo.code,
                lot=lots[demo.lot],
                sample_type=demo.sample_type,
                sample_mass_g=Decimal(prep.mass_g) if prep else None,
                final_volume_ml=Decimal(prep.volume_ml) if prep else None,
                dilution_factor=Decimal(prep.dilution) if prep else Decimal(1),
                sampled_by=sampled_by,
                sampled_at=sampled_at,
                sampling_method=sampling_method,
                reason=DEMO_REASON,
            )
            result.created["sample"] += 1
        samples[demo.code] = sample
    return samples


def _ensure_custody(
    result: DemoSeedResult, *, actor: User, samples: dict[str, Sample], sites: dict[str, Site], partners: dict[str, Partner]
) -> None:
    for demo in CUSTODY_EVENTS:
        to_site = sites[demo.to_site] if demo.to_site else None
        to_partner = partners[demo.to_partner] if demo.to_partner else None
        sample = samples[demo.sample]
        # A custody event has no natural key: the same hand-over of the same sample is the same event.
        if CustodyEvent.objects.filter(
            sample=sample, kind=demo.kind, to_location=demo.to_location, to_site=to_site, to_partner=to_partner
        ).exists():
            continue
        custody_event_record(
            actor=actor,
            sample=sample,
            kind=demo.kind,
            from_location=demo.from_location,
            to_location=demo.to_location,
            to_site=to_site,
            to_partner=to_partner,
            carrier_reference=demo.carrier_reference,
            note=demo.note or DEMO_REASON,
        )
        result.created["custody event"] += 1
