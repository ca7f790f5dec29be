"""A lab whose runs are judged by a CCV-only rule pack: shared by the web and API tests of run QC.

Plain functions, as in ``tests.runs_setup``. A run is a small generic-long file: CCVs around two
samples of the lot, each CCV reading 10 µg/L nominal of La, so a reading of 11.38 is a CCV
recovery of 113.8 %, outside the pack's 90-110 % window, and rejects the samples it brackets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.contrib.auth.models import User
from django.utils import timezone

from assays.models import Analyte, CalibrationNominal, QcStandard, QcStandardValue, RulePack, Run, Site
from assays.qc.packs import parse_rule_pack
from assays.services.run_qc import run_evaluate
from assays.services.runs import run_import
from tests.runs_setup import RunLab, make_run_lab

LA = "139La [No Gas]"
ND = "146Nd [No Gas]"
PACK_CODE = "ccv-only"
CCV_ONLY = f'code = "{PACK_CODE}"\ntitle = "CCV only"\n\n[ccv]\nrequired = true\nwindow = [90, 110]\n'
# The same pack with a wider window: a re-evaluation by it accepts the 113.8 % CCV.
CCV_WIDE = f'code = "{PACK_CODE}"\ntitle = "CCV only, wide"\n\n[ccv]\nrequired = true\nwindow = [85, 115]\n'
NOMINAL = 10.0  # µg/L of La in the CCV
PASSING_CCVS = (10.1, 10.0, 9.9)
ONE_FAILING_CCV = (10.1, 11.38, 9.9)  # the middle CCV recovers 113.8 %


def make_rule_pack(*, source: str = CCV_ONLY, version: int = 1) -> RulePack:
    pack = parse_rule_pack(source, source=f"test v{version}")
    return RulePack.objects.create(
        code=pack.code, version=version, title=pack.title, source_text=source, definition=pack.as_dict(), created_at=timezone.now()
    )


def make_qc_lab(*, site: Site) -> RunLab:
    """``make_run_lab`` plus a CCV standard (La and Nd, 10 µg/L each) and the CCV-only pack for its method."""
    lab = make_run_lab(site=site)
    make_rule_pack()
    lab.method.rule_pack_code = PACK_CODE
    lab.method.save(update_fields=["rule_pack_code"])
    analyte = Analyte.objects.get(code=LA)
    standard = QcStandard.objects.create(method=lab.method, kind="ccv", name="CCV mix 1")
    QcStandardValue.objects.create(standard=standard, analyte=analyte, nominal=NOMINAL)
    QcStandardValue.objects.create(standard=standard, analyte=Analyte.objects.get(code=ND), nominal=NOMINAL)
    for level, value in ((1, 1.0), (2, 10.0), (3, 100.0)):
        CalibrationNominal.objects.create(method=lab.method, analyte=analyte, level=level, value=value)
    return lab


def ccv_run_file(
    ccvs: Sequence[float], samples: Sequence[str] = ("TS1", "TS2"), others: Mapping[str, Sequence[float]] | None = None
) -> bytes:
    """CCV, sample, CCV, sample, ..., CCV: one CCV more than samples. ``ccvs`` are the La readings,
    ``others`` the readings of more channels (analyte -> one reading per CCV)."""
    channels = {LA: list(ccvs), **{code: list(values) for code, values in (others or {}).items()}}
    assert all(len(values) == len(samples) + 1 for values in channels.values())
    lines = ["sample_id,analyte,value,unit"]
    for index in range(len(samples) + 1):
        lines.extend(f"CCV {index + 1},{code},{values[index]!r},ug/L" for code, values in channels.items())
        if index < len(samples):
            lines.extend(f"{samples[index]},{code},{2.0 + index!r},ug/L" for code in channels)
    return ("\n".join(lines) + "\n").encode()


def import_run(
    *,
    analyst: User,
    lab: RunLab,
    ccvs: Sequence[float] = ONE_FAILING_CCV,
    others: Mapping[str, Sequence[float]] | None = None,
    judge: bool = True,
) -> Run:
    """Import a run (the bytes differ with the CCV readings) and, unless ``judge`` is False, judge it
    as the import's task does after commit."""
    data = ccv_run_file(ccvs, others=others)
    summary = run_import(
        actor=analyst, data=data, file_name=f"ccv-{'-'.join(map(str, ccvs))}.csv", instrument=lab.instrument, method=lab.method
    )
    assert summary.run_id is not None
    if judge:
        run_evaluate(run_id=summary.run_id)
    return Run.objects.get(pk=summary.run_id)
