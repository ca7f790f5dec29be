"""A lab ready to import the real Agilent batch: shared by the API, web and browser tests of runs.

Plain functions, not fixtures: each test module wires them into its own fixtures (the browser
test must create its data before the browser starts).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from assays.models import (
    Analyte,
    ChannelRole,
    Element,
    Instrument,
    LabelMatchKind,
    Lot,
    LotKind,
    Method,
    MethodChannel,
    QcLabelPattern,
    QcRole,
    Sample,
    Site,
    Technique,
)
from assays.services.lots import lot_create
from assays.services.samples import sample_register

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "instruments"
AGILENT = FIXTURES / "agilent_masshunter_batch_full_semicolon.csv"
BATCH_LOG = FIXTURES / "agilent_masshunter_7700_BatchLog.csv"
QTEGRA_OES = FIXTURES / "thermo_qtegra_icapoes_conc_semicolon.csv"
TIME_RESOLVED = FIXTURES / "agilent_masshunter_7700_1d_time_resolved.csv"

# Some of the batch's labels, registered as samples (0.1000 g to 50 mL, DF 10: 1 µg/L is 5 mg/kg).
SAMPLE_CODES = ("TS1", "TS2", "TS3", "TB1", "TB2", "TL1")

# (code, element, isotope, cell mode, role, lod, loq) in µg/L of the measured solution.
CHANNELS = (
    ("139La [No Gas]", "La", 139, "No Gas", ChannelRole.REPORTING, 0.002, 0.006),
    ("146Nd [No Gas]", "Nd", 146, "No Gas", ChannelRole.REPORTING, 0.002, 0.006),
    ("56Fe [He]", "Fe", 56, "He", ChannelRole.REPORTING, 0.5, 1.5),
    ("57Fe [He]", "Fe", 57, "He", ChannelRole.CONFIRMATORY, 1.0, 3.0),
    ("23Na [He]", "Na", 23, "He", ChannelRole.REPORTING, 0.2, 0.6),
)


@dataclass(frozen=True)
class RunLab:
    instrument: Instrument
    method: Method
    lot: Lot
    samples: dict[str, Sample]


def make_run_lab(*, site: Site, instrument_code: str = "UK1-ICPMS-01", lot_code: str = "FS-26-001") -> RunLab:
    instrument = Instrument.objects.create(
        code=instrument_code, name="Agilent 7900", site=site, technique=Technique.ICP_MS, vendor="Agilent"
    )
    method = Method.objects.create(code="REE-ICPMS", name="REE and impurities in REO by ICP-MS", technique=Technique.ICP_MS)
    for code, symbol, mass, mode, role, lod, loq in CHANNELS:
        element = Element.objects.get(symbol=symbol)
        analyte, _ = Analyte.objects.get_or_create(
            code=code, defaults={"element": element, "technique": Technique.ICP_MS, "isotope_mass": mass, "cell_mode": mode}
        )
        MethodChannel.objects.create(method=method, analyte=analyte, element=element, role=role, unit="µg/L", lod=lod, loq=loq)
    # The real batch's drift check, as the lab maps it.
    QcLabelPattern.objects.create(instrument=instrument, pattern="Deriv TracesETMaj", match_kind=LabelMatchKind.EXACT, qc_role=QcRole.CCV)
    lot = lot_create(actor=None, code=lot_code, site=site, kind=LotKind.FEEDSTOCK, mass_kg=Decimal(1000))
    samples = {
        code: sample_register(
            actor=None, code=code, lot=lot, sample_mass_g=Decimal("0.1000"), final_volume_ml=Decimal(50), dilution_factor=Decimal(10)
        )
        for code in SAMPLE_CODES
    }
    return RunLab(instrument=instrument, method=method, lot=lot, samples=samples)
