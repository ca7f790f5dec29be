"""A product with a specification and a lot assessed against it through the real services: shared
by the web and API tests of lot assessments.

Plain functions, as in ``tests.qc_setup``. The specification has a relative-purity line, a Fe2O3
maximum (judged on measured iron) and a CeO2 maximum; cerium is reported "<0.5" mg/kg in every
sample, so the CeO2 line is censored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.test import TestCase

from assays.models import Analyte, Element, Instrument, Lot, LotAssessment, LotKind, Method, MethodChannel, Oxide, Product, Site, Technique
from assays.services.runs import run_import
from assays.services.specifications import specification_load
from tests.factories import InstrumentFactory, LotFactory, MethodFactory, SampleFactory

PRODUCT = "ND2O3-UI"
ELEMENTS = ("La", "Ce", "Pr", "Fe")
SPEC = {
    "product": PRODUCT,
    "name": "Neodymium oxide for the lot page",
    "source": "plant default",
    "main": ["Nd"],
    "basis": "as_received",
    "lines": [
        {"quantity": "relative_purity", "min": "99.9", "unit": "%"},
        {"quantity": "oxide", "element": "Fe", "oxide": "Fe2O3", "max": "50", "unit": "mg/kg"},
        {"quantity": "oxide", "element": "Ce", "oxide": "CeO2", "max": "20", "unit": "mg/kg"},
        {"quantity": "loi", "max": "1", "unit": "%"},
    ],
    "required_analytes": ["La", "Ce", "Pr", "Fe", "LOI"],
}


@dataclass(frozen=True)
class AssessmentLab:
    product: Product
    method: Method
    instrument: Instrument
    site: Site


def make_assessment_lab(
    *, qa_manager: User, site: Site, spec: Mapping[str, Any] = SPEC, method_code: str = "IMP-UI", instrument_code: str = ""
) -> AssessmentLab:
    """The spec's product (main oxide Nd2O3) with the spec loaded by the QA manager, a method whose
    channels are named by element alone (as another lab's sheet names them) judged by the "none"
    rule pack, and an instrument at ``site``."""
    product = Product.objects.create(code=spec["product"], name=f"{spec['product']} (tests)")
    product.main_oxides.add(Oxide.objects.get(formula="Nd2O3"))
    specification_load(actor=qa_manager, data=dict(spec), file_name="spec.json")
    method = MethodFactory(code=method_code, technique=Technique.ICP_MS, rule_pack_code="none")
    for symbol in ELEMENTS:
        element = Element.objects.get(symbol=symbol)
        analyte, _ = Analyte.objects.get_or_create(code=symbol, defaults={"element": element, "technique": Technique.OTHER})
        MethodChannel.objects.create(method=method, analyte=analyte, element=element, unit="µg/L", uncertainty_a=0.5, uncertainty_b=0.05)
    instrument = InstrumentFactory(code=instrument_code or f"{site.code}-UI", site=site)
    return AssessmentLab(product=product, method=method, instrument=instrument, site=site)


def make_lot(lab: AssessmentLab, code: str, *, samples: int = 2) -> Lot:
    lot = LotFactory(code=code, site=lab.site, kind=LotKind.PRODUCT, product=lab.product)
    for index in range(1, samples + 1):
        SampleFactory(code=f"{code}-S{index}", lot=lot, sample_mass_g=Decimal("0.1"), final_volume_ml=Decimal("50"))
    return lot


def results_csv(lot: Lot, *, fe: float = 10.0, loi: float | None = 0.3) -> bytes:
    """A generic-long sheet of mg/kg results for the lot's samples (the n-th sample's La, Pr and Fe
    n mg/kg higher), with LOI unless ``loi`` is None."""
    rows = ["sample_id,analyte,value,unit"]
    for index, sample in enumerate(lot.samples.order_by("code")):
        rows += [
            f"{sample.code},La,{4.0 + index},mg/kg",
            f"{sample.code},Ce,<0.5,mg/kg",
            f"{sample.code},Pr,{30.0 + index},mg/kg",
            f"{sample.code},Fe,{fe + index},mg/kg",
        ]
        if loi is not None:
            rows.append(f"{sample.code},LOI,{loi},%")
    return ("\n".join(rows) + "\n").encode()


def import_and_assess(technician: User, lab: AssessmentLab, lot: Lot, *, fe: float = 10.0) -> LotAssessment:
    """Import the lot's results and let the commit's tasks run (judgement, then assessment) as a worker would."""
    data = results_csv(lot, fe=fe)
    name = hashlib.sha256(data).hexdigest()[:12] + ".csv"
    with TestCase.captureOnCommitCallbacks(execute=True):
        run_import(actor=technician, data=data, file_name=name, instrument=lab.instrument, method=lab.method)
    return LotAssessment.objects.filter(lot=lot).latest("assessed_at")
