"""A feedstock lot assessed against the shipped report-only NdFeB specification (FS-NDFEB, payable
content, no limits) through the real services: shared by the web and API tests of payable content.

Plain functions, as in ``tests.assessment_setup``. Two samples of NdFeB magnet scrap with rare
earths in % of the solid; terbium is "<0.001" % in both, so the Tb4O7 line is censored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.contrib.auth.models import User
from django.test import TestCase

import assays
from assays.models import (
    Analyte,
    Element,
    Instrument,
    Lot,
    LotAssessment,
    LotKind,
    MagnetChemistry,
    Method,
    MethodChannel,
    Product,
    Site,
    Technique,
)
from assays.services.runs import run_import
from assays.services.specifications import specification_load
from tests.factories import InstrumentFactory, LotFactory, MethodFactory, SampleFactory

CATALOGUE = Path(assays.__file__).parent / "spec_catalogue" / "feedstock.json"
REE = ("La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y")
# Each sample's element mass fractions in % of the solid; None: "<" the LOD given in CENSORED.
SAMPLES: tuple[dict[str, float | None], ...] = (
    {"La": 0.1, "Ce": 0.2, "Pr": 5.0, "Nd": 22.0, "Sm": 0.05, "Gd": 0.05, "Dy": 3.0, "Y": 0.02},
    {"La": 0.12, "Ce": 0.22, "Pr": 5.4, "Nd": 22.8, "Sm": 0.05, "Gd": 0.06, "Dy": 3.2, "Y": 0.02},
)
CENSORED_LOD_PERCENT = 0.001  # every element not listed above, in both samples


@dataclass(frozen=True)
class FeedstockLab:
    product: Product
    method: Method
    instrument: Instrument
    site: Site


def make_feedstock_lab(*, qa_manager: User, site: Site, instrument_code: str = "") -> FeedstockLab:
    """The shipped FS-NDFEB specification, loaded by the QA manager, and an ICP method whose
    channels (every rare earth, by symbol) carry an uncertainty model, judged by the "none" pack."""
    [definition] = [item for item in json.loads(CATALOGUE.read_text(encoding="utf-8")) if item["product"] == "FS-NDFEB"]
    product = Product.objects.create(code="FS-NDFEB", name="NdFeB feedstock (tests)")
    specification_load(actor=qa_manager, data=definition, file_name="feedstock.json")
    method = MethodFactory(code="FS-ICP", technique=Technique.ICP_MS, rule_pack_code="none")
    for symbol in REE:
        element = Element.objects.get(symbol=symbol)
        analyte, _ = Analyte.objects.get_or_create(code=symbol, defaults={"element": element, "technique": Technique.OTHER})
        MethodChannel.objects.create(method=method, analyte=analyte, element=element, unit="µg/L", uncertainty_a=0.5, uncertainty_b=0.03)
    instrument = InstrumentFactory(code=instrument_code or f"{site.code}-FS", site=site)
    return FeedstockLab(product=product, method=method, instrument=instrument, site=site)


def make_feedstock_lot(lab: FeedstockLab, code: str, *, mass_kg: Decimal | None = Decimal("8000")) -> Lot:
    lot = LotFactory(
        code=code, site=lab.site, kind=LotKind.FEEDSTOCK, product=None, magnet_chemistry=MagnetChemistry.NDFEB, mass_kg=mass_kg
    )
    for index in range(1, len(SAMPLES) + 1):
        SampleFactory(code=f"{code}-S{index}", lot=lot, sample_mass_g=Decimal("0.25"), final_volume_ml=Decimal("100"))
    return lot


def feedstock_csv(lot: Lot) -> bytes:
    rows = ["sample_id,analyte,value,unit"]
    for sample, values in zip(lot.samples.order_by("code"), SAMPLES, strict=True):
        for symbol in REE:
            value = values.get(symbol)
            rows.append(f"{sample.code},{symbol},{value if value is not None else f'<{CENSORED_LOD_PERCENT}'},%")
    return ("\n".join(rows) + "\n").encode()


def import_and_assess_feedstock(technician: User, lab: FeedstockLab, lot: Lot) -> LotAssessment:
    """Import the lot's results and let the commit's tasks run (judgement, then assessment) as a worker would."""
    data = feedstock_csv(lot)
    name = hashlib.sha256(data).hexdigest()[:12] + ".csv"
    with TestCase.captureOnCommitCallbacks(execute=True):
        run_import(actor=technician, data=data, file_name=name, instrument=lab.instrument, method=lab.method)
    return LotAssessment.objects.filter(lot=lot).latest("assessed_at")
