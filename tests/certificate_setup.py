"""Lots ready to certify, through the real services: a conforming product lot, an off-spec one and a
feedstock lot with its report-only specification. Shared by the certificate tests."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User

from assays.models import Lot, LotKind, LotStatus, Product, Site
from assays.services.specifications import specification_load
from tests.assessment_setup import AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.factories import LotFactory, SampleFactory

FEEDSTOCK_SPEC = {
    "product": "FS-NDFEB",
    "name": "NdFeB feedstock payable content (tests)",
    "source": "plant default",
    "main": [],
    "basis": "as_received",
    "required_analytes": ["La", "Ce", "Pr"],
    "lines": [{"quantity": "treo", "unit": "%"}, {"quantity": "oxide", "element": "Pr", "oxide": "Pr6O11", "unit": "%"}],
}


@dataclass(frozen=True)
class CertificateLab:
    lab: AssessmentLab
    conforming: Lot
    off_spec: Lot


def make_certificate_lab(*, technician: User, qa_manager: User, site: Site, prefix: str = "ND") -> CertificateLab:
    """Two assessed product lots at ``site``: ``conforming`` (assessed) and ``off_spec`` (on hold)."""
    lab = make_assessment_lab(qa_manager=qa_manager, site=site)
    conforming = make_lot(lab, f"{prefix}-OK")
    conforming.mass_kg = Decimal("500")
    conforming.save(update_fields=["mass_kg"])
    import_and_assess(technician, lab, conforming)
    off_spec = make_lot(lab, f"{prefix}-BAD")
    import_and_assess(technician, lab, off_spec, fe=900.0)
    conforming.refresh_from_db()
    off_spec.refresh_from_db()
    assert conforming.status == LotStatus.ASSESSED, conforming.status
    assert off_spec.status == LotStatus.ON_HOLD, off_spec.status
    return CertificateLab(lab=lab, conforming=conforming, off_spec=off_spec)


def more_conforming_lots(setup: CertificateLab, technician: User, *, count: int, prefix: str = "ND-MANY") -> list[Lot]:
    lots = []
    for index in range(count):
        lot = make_lot(setup.lab, f"{prefix}-{index:03d}", samples=1)
        import_and_assess(technician, setup.lab, lot)
        lot.refresh_from_db()
        lots.append(lot)
    return lots


def feedstock_lot(*, setup: CertificateLab, technician: User, qa_manager: User, code: str = "FS-NDFEB-1") -> Lot:
    """A feedstock lot (NdFeB) at the lab's site, assessed against a report-only specification."""
    if not Product.objects.filter(code="FS-NDFEB").exists():
        Product.objects.create(code="FS-NDFEB", name="NdFeB feedstock")
        specification_load(actor=qa_manager, data=dict(FEEDSTOCK_SPEC), file_name="fs.json")
    lot = LotFactory(
        code=code, site=setup.lab.site, kind=LotKind.FEEDSTOCK, magnet_chemistry="ndfeb", mass_kg=Decimal("1200"), is_recycled=True
    )
    SampleFactory(code=f"{code}-S1", lot=lot, sample_mass_g=Decimal("0.1"), final_volume_ml=Decimal("50"))
    import_and_assess(technician, setup.lab, lot)
    lot.refresh_from_db()
    return lot
