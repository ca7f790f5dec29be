"""Importing instrument exports as runs: matching, conversion, censoring, persistence.

End to end on the real Agilent MassHunter batch (110 acquisitions, 69 channels, 7,146 values),
on exports written here, and on ParsedRuns built by hand; on SQLite and on PostgreSQL (where the
measurements go in with COPY: the tests check what was stored, the same on both).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection, transaction

from assays.errors import DomainError, PermissionDeniedError
from assays.importers import generic_long, registry
from assays.importers.core import (
    ImportFormatError,
    InternalStandardResponse,
    ParsedAcquisition,
    ParsedChannel,
    ParsedRun,
    ParsedValue,
    Qualifier,
    ValueBasis,
)
from assays.models import (
    Acquisition,
    Analyte,
    AuditAction,
    AuditEvent,
    Basis,
    ChannelRole,
    Element,
    Instrument,
    InternalStandardReading,
    LabelMatchKind,
    Lot,
    Measurement,
    Method,
    MethodChannel,
    QcLabelPattern,
    QcRole,
    ReferenceMaterial,
    Run,
    RunStatus,
    Sample,
    Technique,
)
from assays.services import runs as runs_service
from assays.services.runs import ImportSummary, run_import, run_import_parsed
from tests.concurrency import start_in_thread, wait_for_a_lock_wait
from tests.conftest import World
from tests.factories import InstrumentFactory, LotFactory, MethodFactory, SampleFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "instruments"
REAL = FIXTURES / "agilent_masshunter_batch_full_semicolon.csv"

# Registered like some of the batch's labels (TS13 is not in the batch).
TS_SAMPLES = [f"TS{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14)]

# (code, element, isotope, cell mode, role, lod, loq) in µg/L of the measured solution.
CHANNELS = (
    ("139La [No Gas]", "La", 139, "No Gas", ChannelRole.REPORTING, 0.002, 0.006),
    ("146Nd [No Gas]", "Nd", 146, "No Gas", ChannelRole.REPORTING, 0.002, 0.006),
    ("56Fe [He]", "Fe", 56, "He", ChannelRole.REPORTING, 0.5, 1.5),
    ("57Fe [He]", "Fe", 57, "He", ChannelRole.CONFIRMATORY, 1.0, 3.0),
    ("23Na [He]", "Na", 23, "He", ChannelRole.REPORTING, 0.2, 0.6),
)


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def instrument(world: World) -> Instrument:
    return InstrumentFactory(code="UK1-ICPMS-01", name="Agilent 7900", site=world.uk_site, vendor="Agilent")


@pytest.fixture
def method() -> Method:
    method = MethodFactory(code="REE-ICPMS", technique=Technique.ICP_MS)
    for code, symbol, mass, mode, role, lod, loq in CHANNELS:
        element = Element.objects.get(symbol=symbol)
        analyte, _ = Analyte.objects.get_or_create(
            code=code, defaults={"element": element, "technique": Technique.ICP_MS, "isotope_mass": mass, "cell_mode": mode}
        )
        MethodChannel.objects.create(method=method, analyte=analyte, element=element, role=role, unit="µg/L", lod=lod, loq=loq)
    return method


@pytest.fixture
def lot(world: World) -> Lot:
    return LotFactory(code="FS-26-001", site=world.uk_site)


@pytest.fixture
def samples(lot: Lot) -> dict[str, Sample]:
    # 0.1000 g to 50 mL, diluted 10x: 1 µg/L measured is 5 mg/kg of the solid.
    return {
        code: SampleFactory(code=code, lot=lot, sample_mass_g=Decimal("0.1000"), final_volume_ml=Decimal("50"), dilution_factor=Decimal(10))
        for code in TS_SAMPLES
    }


@pytest.fixture
def drift_check(instrument: Instrument) -> QcLabelPattern:
    return QcLabelPattern.objects.create(
        instrument=instrument, pattern="Deriv TracesETMaj", match_kind=LabelMatchKind.EXACT, qc_role=QcRole.CCV, note="drift check"
    )


@pytest.fixture
def real_batch() -> bytes:
    assert REAL.exists(), f"the real fixture is missing: {REAL}"
    return REAL.read_bytes()


def near(expected: float) -> Any:
    """pytest.approx, typed loosely so that it can sit in a tuple compared with a row's values."""
    return pytest.approx(expected)


def table_counts() -> dict[str, int]:
    """Rows in every table of the app (the audit trail and pghistory's event tables included)."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_app_config("assays").get_models()}


def import_real(actor: User, instrument: Instrument, method: Method, data: bytes, **kwargs: Any) -> ImportSummary:
    return run_import(actor=actor, data=data, file_name=REAL.name, instrument=instrument, method=method, **kwargs)


# --- The real Agilent batch -------------------------------------------------------------------


def test_the_real_batch_lands_on_its_samples_and_qc_items(
    technician: User,
    instrument: Instrument,
    method: Method,
    samples: dict[str, Sample],
    drift_check: QcLabelPattern,
    real_batch: bytes,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        summary = import_real(technician, instrument, method, real_batch)

    assert summary.ok
    assert not summary.existing
    assert summary.run_id is not None
    assert summary.format == "agilent-masshunter"
    assert (summary.acquisitions, summary.channels, summary.internal_standards) == (110, 69, 2)
    assert (summary.sample_acquisitions, summary.matched_samples) == (13, 13)
    assert summary.qc_items == 2 + 15 + 8
    assert summary.qc_roles == {"calibration_blank": 2, "calibration_standard": 15, "ccv": 8}
    # 32 samples named "0" (the two calibration blanks named "0" are QC by their vendor type).
    assert summary.unmatched_labels["0"] == 32
    assert summary.unmatched_acquisitions == 110 - 13 - 25
    assert "TB1" in summary.unmatched_labels
    assert "DGA" in summary.unmatched_labels
    assert summary.values == 7146
    assert summary.internal_standard_readings == 220

    run = Run.objects.get(pk=summary.run_id)
    assert (run.site, run.instrument, run.method, run.analyst) == (
        instrument.site,
        instrument,
        method,
        technician,
    )
    assert run.source_sha256 == hashlib.sha256(real_batch).hexdigest()
    assert run.source_format == "agilent-masshunter"
    assert run.started_at is not None
    assert run.started_at.date() == dt.date(2018, 12, 19)
    assert run.import_summary["values"] == 7146
    assert run.acquisitions.count() == 110
    assert Measurement.objects.filter(acquisition__run=run).count() == 7146
    assert InternalStandardReading.objects.filter(acquisition__run=run).count() == 220

    acquisitions = {a.sequence: a for a in run.acquisitions.select_related("sample")}
    assert acquisitions[5].qc_role == QcRole.CALIBRATION_BLANK
    assert acquisitions[5].label == "0"
    assert acquisitions[5].sample is None
    assert acquisitions[6].qc_role == QcRole.CALIBRATION_STANDARD
    assert acquisitions[6].calibration_level == 2
    assert {a.sequence for a in acquisitions.values() if a.qc_role == QcRole.CCV} == {18, 31, 45, 59, 73, 87, 101, 107}
    ts1 = next(a for a in acquisitions.values() if a.label == "TS1")
    assert ts1.sample == samples["TS1"]
    assert ts1.qc_role == ""
    assert ts1.data_file == "069SMPL.d"
    assert ts1.dilution_factor == near(10.0)
    assert ts1.conversion_factor == near(5.0)
    unmatched = next(a for a in acquisitions.values() if a.label == "0" and a.qc_role == "")
    assert unmatched.sample is None
    assert unmatched.conversion_factor is None

    # The run evaluation ran on commit (eager here), by the method's rule pack.
    run.refresh_from_db()
    evaluation = run.qc_evaluations.get(is_current=True)
    assert (evaluation.rule_pack.code, evaluation.rule_pack.version) == (method.rule_pack_code, 1)
    assert run.qc_evaluated_at == evaluation.evaluated_at
    assert run.status == evaluation.status != RunStatus.PENDING_QC

    event = AuditEvent.objects.get(action=AuditAction.IMPORT, entity="assays.run", object_id=str(run.pk))
    assert event.actor == technician
    assert event.context["values"] == 7146
    assert event.context["acquisitions"] == 110
    assert event.context["unmatched_acquisitions"] == 72
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT).count() == 1


def test_the_real_batchs_values_are_converted_and_censored(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], drift_check: QcLabelPattern, real_batch: bytes
) -> None:
    summary = import_real(technician, instrument, method, real_batch)
    run = Run.objects.get(pk=summary.run_id)

    def cell(label: str, code: str, sequence: int | None = None) -> Measurement:
        rows = Measurement.objects.filter(acquisition__run=run, acquisition__label=label, analyte__code=code)
        if sequence is not None:
            rows = rows.filter(acquisition__sequence=sequence)
        return rows.get()

    # TS1, La: 0.002454119 ppb, between LOD 0.002 and LOQ 0.006 -> 0.01227 mg/kg, flagged.
    la = cell("TS1", "139La [No Gas]")
    assert (la.qualifier, la.unit, la.basis) == ("=", "mg/kg", Basis.AS_RECEIVED)
    assert la.value == near(0.002454119 * 5)
    assert (la.lod, la.loq) == (near(0.01), near(0.03))
    assert (la.raw_value, la.raw_unit) == (near(0.002454119), "ppb")
    assert la.flags == ["below_loq"]
    # TS1, Nd: 0.001777153 ppb, below the LOD -> "< 0.01 mg/kg", the raw number kept.
    nd = cell("TS1", "146Nd [No Gas]")
    assert (nd.qualifier, nd.value, nd.lod, nd.raw_value) == ("<", near(0.01), near(0.01), near(0.001777153))
    # TS2, Fe 56 (reporting) and Fe 57 (confirmatory): both stored, neither flagged outside the method.
    fe56, fe57 = cell("TS2", "56Fe [He]"), cell("TS2", "57Fe [He]")
    assert (fe56.qualifier, fe56.value, fe56.flags) == ("=", near(2.482299563 * 5), [])
    assert fe57.value == near(2.451830779 * 5)
    assert fe57.flags == ["below_loq"]  # its LOQ (3 µg/L) is the confirmatory channel's own
    # A CCV (the mapped drift check) stays in µg/L of the solution, for run QC.
    ccv = cell("Deriv TracesETMaj", "139La [No Gas]", sequence=101)
    assert (ccv.qualifier, ccv.value, ccv.unit, ccv.basis) == ("=", near(0.079363933), "µg/L", Basis.SOLUTION)
    # A channel the method does not list is kept, flagged; without an LOD nothing is censored.
    w = Measurement.objects.filter(acquisition__run=run, analyte__code="182W [No Gas]")
    assert w.count() > 0
    assert all("not_in_method" in m.flags for m in w)
    assert not w.filter(qualifier="<").exists()

    # Every "<0.000" of a method channel is censored at the LOD; elsewhere it is kept as "no LOD, below zero".
    parsed = registry.parse(real_batch, file_name=REAL.name)
    method_codes = {code for code, *_ in CHANNELS}
    tokens = [
        (acquisition.sequence, parsed.channels[value.channel].code)
        for acquisition in parsed.acquisitions
        for value in acquisition.values
        if value.qualifier is Qualifier.LESS_THAN
    ]
    assert len(tokens) == 608
    stored = {
        (m.acquisition.sequence, m.analyte.code): m
        for m in Measurement.objects.filter(acquisition__run=run).select_related("acquisition", "analyte")
    }
    for key in tokens:
        measurement = stored[key]
        if key[1] in method_codes:
            assert measurement.qualifier == "<", key
            assert measurement.value == measurement.lod, key
            assert measurement.value > 0, key
        else:
            assert measurement.qualifier == "=", key
            assert {"no_lod", "below_zero", "not_in_method"} <= set(measurement.flags), key
    # No uncensored value of a method channel sits below its LOD; the counts agree with the rows.
    for measurement in stored.values():
        if measurement.lod is not None and measurement.qualifier == "=":
            assert measurement.value >= measurement.lod
    assert summary.censored == sum(1 for m in stored.values() if m.qualifier == "<")
    assert summary.below_loq == sum(1 for m in stored.values() if "below_loq" in m.flags)
    assert summary.not_in_method == sum(1 for m in stored.values() if "not_in_method" in m.flags)
    assert summary.solid_values == sum(1 for m in stored.values() if m.basis == Basis.AS_RECEIVED) == 13 * 69 - _empty_cells(parsed, "TS")
    assert summary.solution_values == summary.values - summary.solid_values
    assert summary.censored > 19  # the 19 tokens of method channels, plus readings below the LOD

    # Internal standards: counts per second of each acquisition, for run QC.
    readings = InternalStandardReading.objects.filter(acquisition=stored[(69, "139La [No Gas]")].acquisition)
    assert sorted(r.analyte.code for r in readings) == ["115In [No Gas]", "45Sc [He]"]
    assert all(r.counts_per_second and r.counts_per_second > 0 for r in readings)


def _empty_cells(parsed: ParsedRun, prefix: str) -> int:
    channels = len(parsed.analyte_channels)
    return sum(channels - len(a.values) for a in parsed.acquisitions if a.label.startswith(prefix) and a.label in TS_SAMPLES)


def test_the_same_file_twice_returns_the_first_run_and_writes_nothing(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], real_batch: bytes
) -> None:
    first = import_real(technician, instrument, method, real_batch)
    before = table_counts()
    again = import_real(technician, instrument, method, real_batch)
    assert table_counts() == before
    assert again.existing
    assert again.run_id == first.run_id
    assert again.values == first.values == 7146
    assert "already imported as run" in again.warnings[0]
    # Under another name, and as a dry run: still the same bytes, still the same run.
    renamed = run_import(actor=technician, data=real_batch, file_name="copy.csv", instrument=instrument, method=method, dry_run=True)
    assert renamed.existing
    assert renamed.run_id == first.run_id
    assert table_counts() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_file_imported_twice_at_once_is_stored_once_and_the_second_gets_the_first_run(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], real_batch: bytes
) -> None:
    # Neither sees the other's run at the start. The second waits on a row the first holds (a new
    # analyte, or the file's unique digest when its run's row, written last, goes in); once the
    # first commits, the digest refuses the second's run and it keeps nothing of its own.
    first_written = threading.Event()
    release = threading.Event()
    outcomes: dict[str, ImportSummary] = {}

    def first() -> None:
        with transaction.atomic():
            outcomes["first"] = import_real(technician, instrument, method, real_batch)
            first_written.set()
            release.wait(timeout=60)

    def second() -> None:
        outcomes["second"] = import_real(technician, instrument, method, real_batch)

    holder = start_in_thread(first)
    assert first_written.wait(timeout=60)
    contender = start_in_thread(second)
    try:
        wait_for_a_lock_wait(waiting_for="the second import", timeout=60)
    finally:
        release.set()
        holder.join(timeout=60)
        contender.join(timeout=60)
    assert outcomes["second"].existing
    assert outcomes["second"].run_id == outcomes["first"].run_id
    assert Run.objects.count() == 1
    assert Acquisition.objects.count() == outcomes["first"].acquisitions
    assert Measurement.objects.count() == outcomes["first"].values
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT).count() == 1


def test_a_dry_run_writes_nothing_and_says_what_an_import_would_do(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], drift_check: QcLabelPattern, real_batch: bytes
) -> None:
    analytes_before = Analyte.objects.count()
    before = table_counts()
    preview = import_real(technician, instrument, method, real_batch, dry_run=True)
    assert table_counts() == before
    assert preview.dry_run
    assert preview.run_id is None
    assert preview.ok
    # The channels the import would add to the reference data are named, not created.
    assert len(preview.created_analytes) == 69 + 2 - len(CHANNELS)
    assert Analyte.objects.count() == analytes_before
    real = import_real(technician, instrument, method, real_batch)
    assert Analyte.objects.count() == analytes_before + len(preview.created_analytes)
    comparable = {"dry_run", "run_id"}
    assert {k: v for k, v in preview.as_dict().items() if k not in comparable} == {
        k: v for k, v in real.as_dict().items() if k not in comparable
    }


def test_samples_are_matched_only_at_the_instruments_site_and_among_those_the_analyst_sees(
    world: World, technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], real_batch: bytes
) -> None:
    # TB1 exists, but at the US site: a UK instrument never measured it.
    SampleFactory(code="TB1", lot=LotFactory(code="US-LOT", site=world.us_site))
    summary = import_real(technician, instrument, method, real_batch, dry_run=True)
    assert summary.unmatched_labels["TB1"] == 1
    assert summary.matched_samples == 13


def test_the_real_batch_without_the_drift_check_pattern_leaves_it_unmatched(
    technician: User, instrument: Instrument, method: Method, real_batch: bytes
) -> None:
    summary = import_real(technician, instrument, method, real_batch, dry_run=True)
    assert summary.unmatched_labels["Deriv TracesETMaj"] == 8
    assert summary.qc_items == 17
    assert summary.matched_samples == 0


def test_software_that_applies_the_dilution_factor_is_honoured(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], real_batch: bytes
) -> None:
    instrument.software_applies_dilution_factor = True
    instrument.save()
    summary = import_real(technician, instrument, method, real_batch)
    run = Run.objects.get(pk=summary.run_id)
    ts2 = run.acquisitions.get(label="TS2")
    assert ts2.conversion_factor == near(0.5)  # V / (1000 m): the DF is already in the number
    assert ts2.dilution_factor == near(10.0)
    sodium = ts2.measurements.get(analyte__code="23Na [He]")
    assert (sodium.qualifier, sodium.value) == ("=", near(6.48390996 * 0.5))
    # The LOD of the measured solution still scales by the full dilution: 0.2 µg/L -> 1 mg/kg, and
    # Fe 56 (2.48 µg/L as reported, 1.24 mg/kg) is below its 0.5 µg/L -> 2.5 mg/kg.
    assert sodium.lod == near(1.0)
    fe = ts2.measurements.get(analyte__code="56Fe [He]")
    assert (fe.qualifier, fe.value, fe.lod) == ("<", near(2.5), near(2.5))
    assert fe.raw_value == near(2.482299563)


def test_a_batch_log_gives_each_acquisition_its_dilution(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], real_batch: bytes
) -> None:
    header = "#,Acq. Date-Time,Sample Type,Sample Name,Vial#,File Name,Acquisition Result,Error Message,Dilution Result,Comment,Total Dil.,"
    rows = [
        "69,2018/12/19 16:42:00,Sample,TS1,1,D:\\MH\\batch.b\\069SMPL.d,Pass,-,1,-,20,",
        "70,2018/12/19 16:47:00,Sample,TS2,2,D:\\MH\\batch.b\\070SMPL.d,Pass,-,1,-,-,",
    ]
    batch_log = ("\r\n".join([header, *rows]) + "\r\n").encode()
    summary = import_real(technician, instrument, method, real_batch, batch_log=batch_log)
    run = Run.objects.get(pk=summary.run_id)
    ts1, ts2 = run.acquisitions.get(label="TS1"), run.acquisitions.get(label="TS2")
    assert (ts1.dilution_factor, ts1.conversion_factor) == (near(20.0), near(10.0))
    assert (ts2.dilution_factor, ts2.conversion_factor) == (near(10.0), near(5.0))
    assert ts1.measurements.get(analyte__code="139La [No Gas]").value == near(0.002454119 * 10)
    assert any(
        "measured at another dilution than registered (the instrument's is used): TS1 (acquisition 69) at 20, registered at 10 (1 in all)"
        in warning
        for warning in summary.warnings
    )
    assert any("batch log gives no dilution for 109" in warning for warning in summary.warnings)


def test_a_batch_log_offered_as_the_results_is_refused(technician: User, instrument: Instrument, method: Method) -> None:
    data = (FIXTURES / "agilent_masshunter_7700_BatchLog.csv").read_bytes()
    before = table_counts()
    with pytest.raises(ImportFormatError, match="a batch log, not results"):
        run_import(actor=technician, data=data, file_name="BatchLog.csv", instrument=instrument, method=method)
    preview = run_import(actor=technician, data=data, file_name="BatchLog.csv", instrument=instrument, method=method, dry_run=True)
    assert not preview.ok
    assert "a batch log, not results" in preview.errors[0]
    assert table_counts() == before


def test_limits_may_be_estimated_from_the_runs_blanks(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], real_batch: bytes
) -> None:
    summary = import_real(technician, instrument, method, real_batch, estimate_limits_from_blanks=True)
    run = Run.objects.get(pk=summary.run_id)
    estimated = Measurement.objects.filter(acquisition__run=run, acquisition__label="TS1", flags__icontains="lod_estimated")
    # Channels outside the method got an LOD from the two calibration blanks; method channels kept theirs.
    assert estimated.exists()
    assert not estimated.filter(analyte__code__in=[code for code, *_ in CHANNELS]).exists()
    assert all(m.lod is not None and m.lod > 0 for m in estimated)
    assert any("estimated from the run's blanks" in warning for warning in summary.warnings)


# --- Exports written here ---------------------------------------------------------------------


def agilent_batch(
    rows: list[tuple[str, str, str, list[str]]], *, channels: tuple[tuple[str, str], ...] = (("139  La  [ No Gas ] ", "ppb"),)
) -> bytes:
    """A MassHunter batch table: (sample name, type, level, one Conc. cell per channel)."""
    head1 = ["Sample", "", "", "", "", "", ""]
    head2 = ["", "Rjct", "Data File", "Acq. Date-Time", "Type", "Level", "Sample Name"]
    for label, unit in channels:
        head1 += [label, "", "", ""]
        head2 += ["CPS", "CPS RSD", f"Conc. [ {unit} ]", "Conc. RSD"]
    lines = [";".join(head1), ";".join(head2)]
    for number, (name, kind, level, cells) in enumerate(rows, start=1):
        row = ["", "FAUX", f"{number:03d}SMPL.d", f"19/12/2018 10:{number:02d}", kind, level, name]
        for cell in cells:
            row += ["1000", "1.5", cell, "2.5"]
        lines.append(";".join(row))
    return ("\n".join(lines) + "\n").encode()


def test_an_unknown_unit_is_an_error_naming_file_line_and_column_and_leaves_no_rows(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]
) -> None:
    data = agilent_batch(
        [("TS1", "Sample", "", ["0.5", "1.2"])], channels=(("139  La  [ No Gas ] ", "ppb"), ("146  Nd  [ No Gas ] ", "ppq"))
    )
    before = table_counts()
    with pytest.raises(ImportFormatError) as caught:
        run_import(actor=technician, data=data, file_name="bad_unit.csv", instrument=instrument, method=method)
    message = str(caught.value)
    assert message.startswith("bad_unit.csv, line 3, column '146  Nd  [ No Gas ]'")
    assert "unknown unit 'ppq'" in message
    assert table_counts() == before
    preview = run_import(actor=technician, data=data, file_name="bad_unit.csv", instrument=instrument, method=method, dry_run=True)
    assert preview.errors == [message]


def test_a_bad_cell_read_while_the_rows_stream_is_refused_as_the_parser_would_and_leaves_no_rows(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]
) -> None:
    # On PostgreSQL an import reads each acquisition's values while the rows before it are being
    # stored: a bad cell in the last row is found after the others went out.
    rows = [(f"TS{1 + n % 12}", "Sample", "", [f"{0.5 + n}", f"{1.2 + n}"]) for n in range(55)]
    rows.append(("TS1", "Sample", "", ["0.7", "twelve"]))
    data = agilent_batch(rows, channels=(("139  La  [ No Gas ] ", "ppb"), ("146  Nd  [ No Gas ] ", "ppb")))
    with pytest.raises(ImportFormatError) as parsed_whole:
        registry.parse(data, file_name="late.csv")
    assert parsed_whole.value.line == 58
    before = table_counts()
    with pytest.raises(ImportFormatError) as caught:
        run_import(actor=technician, data=data, file_name="late.csv", instrument=instrument, method=method)
    assert str(caught.value) == str(parsed_whole.value)
    assert table_counts() == before
    preview = run_import(actor=technician, data=data, file_name="late.csv", instrument=instrument, method=method, dry_run=True)
    assert preview.errors == [str(parsed_whole.value)]
    assert table_counts() == before


def test_every_problem_is_listed_in_a_preview_and_the_import_names_the_first(
    technician: User, instrument: Instrument, method: Method
) -> None:
    data = agilent_batch(
        [("A", "Sample", "", ["0.5", "1.2"]), ("B", "Sample", "", ["0.5", "1.2"])],
        channels=(("139  La  [ No Gas ] ", "furlong"), ("146  Nd  [ No Gas ] ", "ppq")),
    )
    preview = run_import(actor=technician, data=data, file_name="two.csv", instrument=instrument, method=method, dry_run=True)
    # One error per column and unit, not one per cell.
    assert len(preview.errors) == 2
    with pytest.raises(ImportFormatError, match=r"and 1 more problem\)"):
        run_import(actor=technician, data=data, file_name="two.csv", instrument=instrument, method=method)


def test_a_file_without_concentrations_is_refused_with_the_parsers_reason(technician: User, instrument: Instrument, method: Method) -> None:
    head1 = "Sample;;;;;;;139  La  [ No Gas ] ;"
    head2 = ";Rjct;Data File;Acq. Date-Time;Type;Level;Sample Name;CPS;CPS RSD"
    row = ";FAUX;001SMPL.d;19/12/2018 10:42;Sample;;TS1;1000;1.5"
    data = "\n".join([head1, head2, row]).encode()
    before = table_counts()
    with pytest.raises(ImportFormatError, match="no concentrations"):
        run_import(actor=technician, data=data, file_name="cps.csv", instrument=instrument, method=method, format="agilent-masshunter")
    assert table_counts() == before


def test_a_failure_while_writing_leaves_zero_rows(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], real_batch: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The audit event is the last write: if it fails, the run, its acquisitions, the measurements
    # (COPY on PostgreSQL) and the new analytes must all be gone.
    def refuse(**kwargs: Any) -> None:
        raise RuntimeError("audit trail unavailable")

    before = table_counts()
    monkeypatch.setattr(runs_service, "audit_record", refuse)
    with pytest.raises(RuntimeError, match="audit trail unavailable"):
        import_real(technician, instrument, method, real_batch)
    assert table_counts() == before


# --- ParsedRuns built by hand: solid values, file limits, QC items -----------------------------


def parsed_run(acquisitions: list[ParsedAcquisition], channels: list[ParsedChannel], *, name: str = "manual.csv") -> ParsedRun:
    return ParsedRun(format="generic-long", file_name=name, channels=channels, acquisitions=acquisitions)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


LA = ParsedChannel(label="La", element="La", isotope_mass=139, cell_mode="No Gas")
LOI = ParsedChannel(label="LOI", element=None, name="LOI")
SC_ISTD = ParsedChannel(label="Sc (ISTD)", element="Sc", isotope_mass=45, cell_mode="He", is_internal_standard=True)


def value(channel: int, number: float | None, unit: str, basis: ValueBasis = ValueBasis.SOLUTION, **kwargs: Any) -> ParsedValue:
    qualifier = kwargs.pop("qualifier", Qualifier.EQUAL)
    return ParsedValue(channel=channel, value=number, qualifier=qualifier, unit=unit, basis=basis, raw_text=str(number), **kwargs)


def test_values_already_on_the_solid_are_stored_as_they_are_with_the_files_limits(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]
) -> None:
    run = parsed_run(
        [
            ParsedAcquisition(
                sequence=1,
                label="TS1",
                values=[
                    value(0, 5.0, "mg/kg", ValueBasis.SOLID, lod=0.5, loq=1.5),
                    value(1, 0.35, "%", ValueBasis.SOLID),
                ],
            ),
            ParsedAcquisition(
                sequence=2, label="TS2", values=[value(0, 0.5, "mg/kg", ValueBasis.SOLID, lod=0.5, qualifier=Qualifier.LESS_THAN)]
            ),
        ],
        [LA, LOI],
    )
    summary = run_import_parsed(actor=technician, parsed=run, source_sha256=digest("solid"), instrument=instrument, method=method)
    stored = Run.objects.get(pk=summary.run_id)
    la = Measurement.objects.get(acquisition__run=stored, acquisition__label="TS1", analyte__code="139La [No Gas]")
    assert (la.value, la.unit, la.basis, la.lod, la.loq, la.qualifier, la.flags) == (5.0, "mg/kg", Basis.AS_RECEIVED, 0.5, 1.5, "=", [])
    loi = Measurement.objects.get(acquisition__run=stored, analyte__code="LOI")
    assert (loi.value, loi.unit, loi.basis) == (0.35, "%", Basis.AS_RECEIVED)
    assert "not_in_method" in loi.flags
    assert "no_lod" in loi.flags
    censored = Measurement.objects.get(acquisition__run=stored, acquisition__label="TS2")
    assert (censored.qualifier, censored.value, censored.lod) == ("<", 0.5, 0.5)
    assert Analyte.objects.get(code="LOI").element is None
    # The acquisition of a solid result has no conversion factor: nothing was converted.
    assert stored.acquisitions.get(label="TS1").conversion_factor == near(5.0)


def test_method_limits_scale_to_a_solid_value_with_the_samples_preparation(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]
) -> None:
    # A solid result of a method channel (LOD 0.002 µg/L): at 5 mg/kg per µg/L, the LOD is 0.01 mg/kg = 10 µg/kg.
    run = parsed_run([ParsedAcquisition(sequence=1, label="TS1", values=[value(0, 8.0, "µg/kg", ValueBasis.SOLID)])], [LA])
    summary = run_import_parsed(actor=technician, parsed=run, source_sha256=digest("scale"), instrument=instrument, method=method)
    measurement = Measurement.objects.get(acquisition__run_id=summary.run_id)
    assert (measurement.unit, measurement.qualifier, measurement.value) == ("µg/kg", "<", near(10.0))
    assert measurement.raw_value == near(8.0)


def test_a_sample_without_preparation_keeps_its_values_in_solution_units(
    technician: User, instrument: Instrument, method: Method, lot: Lot
) -> None:
    SampleFactory(code="NOPREP-1", lot=lot, sample_mass_g=None, final_volume_ml=None)
    run = parsed_run([ParsedAcquisition(sequence=1, label="noprep-1", values=[value(0, 1.0, "ppm")])], [LA])
    summary = run_import_parsed(actor=technician, parsed=run, source_sha256=digest("noprep"), instrument=instrument, method=method)
    measurement = Measurement.objects.get(acquisition__run_id=summary.run_id)
    assert (measurement.value, measurement.unit, measurement.basis, measurement.raw_unit) == (1000.0, "µg/L", Basis.SOLUTION, "ppm")
    assert measurement.acquisition.sample.code == "NOPREP-1"
    assert any("NOPREP-1 has no sample mass or final volume" in warning for warning in summary.warnings)


def test_qc_items_are_stored_in_solution_units_and_linked_to_what_they_check(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]
) -> None:
    material = ReferenceMaterial.objects.create(name="OREAS 465", lot_number="1")
    labels = ["ICV", "CCV 1", "CCB", "BLK", "LCS", "CRM OREAS 465", "CRM Unknown 9", "DUP TS1", "SPK TS2", "DUP TS99"]
    acquisitions = [
        ParsedAcquisition(
            sequence=n,
            label=label,
            values=[value(0, 0.1, "ppb")],
            internal_standards=[InternalStandardResponse(channel=1, counts_per_second=1000.0 * n, recovery_percent=98.5)],
        )
        for n, label in enumerate(labels, start=1)
    ]
    summary = run_import_parsed(
        actor=technician, parsed=parsed_run(acquisitions, [LA, SC_ISTD]), source_sha256=digest("qc"), instrument=instrument, method=method
    )
    assert summary.qc_items == 10
    assert summary.unmatched_labels == {}
    assert any("CRM 'Unknown 9' is not a registered reference material" in warning for warning in summary.warnings)
    assert any("name sample 'TS99'" in warning for warning in summary.warnings)
    stored = {a.label: a for a in Acquisition.objects.filter(run_id=summary.run_id).select_related("sample", "reference_material")}
    expected = {
        "ICV": QcRole.ICV,
        "CCV 1": QcRole.CCV,
        "CCB": QcRole.CCB,
        "BLK": QcRole.METHOD_BLANK,
        "LCS": QcRole.LCS,
        "CRM OREAS 465": QcRole.CRM,
        "DUP TS1": QcRole.DUPLICATE,
        "SPK TS2": QcRole.SPIKE,
    }
    assert {label: stored[label].qc_role for label in expected} == expected
    assert stored["CRM OREAS 465"].reference_material == material
    assert stored["CRM Unknown 9"].reference_material is None
    assert stored["DUP TS1"].sample == samples["TS1"]
    assert stored["SPK TS2"].sample == samples["TS2"]
    assert stored["DUP TS99"].sample is None
    for acquisition in stored.values():
        measurement = acquisition.measurements.get()
        assert (measurement.basis, measurement.unit, measurement.value) == (Basis.SOLUTION, "µg/L", near(0.1))
        assert acquisition.conversion_factor is None
        reading = acquisition.internal_standards.get()
        assert (reading.analyte.code, reading.recovery_percent) == ("45Sc [He]", 98.5)


def test_replicates_in_one_file_become_acquisitions_of_their_own(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]
) -> None:
    acquisition = ParsedAcquisition(
        sequence=1,
        label="TS1",
        values=[value(0, 1.0, "ppb", replicate="a", line=2), value(0, 1.2, "ppb", replicate="b", line=3)],
    )
    summary = run_import_parsed(
        actor=technician, parsed=parsed_run([acquisition], [LA]), source_sha256=digest("rep"), instrument=instrument, method=method
    )
    stored = list(Acquisition.objects.filter(run_id=summary.run_id).order_by("sequence"))
    assert [(a.sequence, a.label, a.replicate) for a in stored] == [(1, "TS1", "a"), (2, "TS1", "b")]
    assert [a.measurements.get().value for a in stored] == [near(5.0), near(6.0)]


def test_a_repeated_cell_is_an_error(technician: User, instrument: Instrument, method: Method) -> None:
    acquisition = ParsedAcquisition(sequence=1, label="X", line=2, values=[value(0, 1.0, "ppb", line=2), value(0, 1.1, "ppb", line=3)])
    with pytest.raises(ImportFormatError, match=r"line 3, column 'La': a second value for 139La \[No Gas\]"):
        run_import_parsed(
            actor=technician, parsed=parsed_run([acquisition], [LA]), source_sha256=digest("dup"), instrument=instrument, method=method
        )


def test_repeated_acquisition_numbers_and_unknown_elements_are_errors(technician: User, instrument: Instrument, method: Method) -> None:
    bogus = ParsedChannel(label="Xx 99", element="Xx", isotope_mass=99)
    run = parsed_run(
        [ParsedAcquisition(sequence=1, label="A", line=2), ParsedAcquisition(sequence=1, label="B", line=3)],
        [LA, bogus],
    )
    preview = run_import_parsed(
        actor=technician, parsed=run, source_sha256=digest("bogus"), instrument=instrument, method=method, dry_run=True
    )
    assert any("unknown element 'Xx'" in error for error in preview.errors)
    assert any("line 3: acquisition number 1 appears twice" in error for error in preview.errors)


def test_values_the_database_could_not_hold_are_problems_not_crashes(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]
) -> None:
    huge = ParsedChannel(label="Nd 99999", element="Nd", isotope_mass=99999)
    run = parsed_run(
        [
            ParsedAcquisition(sequence=1, label="A\x00B", line=2, values=[value(0, 1.0, "ppb")]),
            ParsedAcquisition(sequence=2**40, label="C", line=3, values=[value(0, 1.0, "ppb")]),
            ParsedAcquisition(sequence=3, label="TS1", line=4, values=[value(0, 1e308, "ppm", line=4), value(1, 1.0, "ppb", line=4)]),
            ParsedAcquisition(sequence=4, label="D", line=5, calibration_level=-1, values=[value(0, 1.0, "ppb", lod=-1.0, line=5)]),
        ],
        [LA, huge],
    )
    before = table_counts()
    preview = run_import_parsed(
        actor=technician, parsed=run, source_sha256=digest("hostile"), instrument=instrument, method=method, dry_run=True
    )
    joined = "\n".join(preview.errors)
    assert "line 2: a NUL character in the sample columns" in joined
    assert "line 3: acquisition number 1099511627776 out of range" in joined
    assert "line 4, column 'La': the converted value is out of range" in joined
    assert "column 'Nd 99999': channel '99999Nd': an isotope mass out of range" in joined
    assert "line 5: calibration level -1 out of range" in joined
    assert "line 5, column 'La': the file's LOD must be a number >= 0" in joined
    with pytest.raises(ImportFormatError):
        run_import_parsed(actor=technician, parsed=run, source_sha256=digest("hostile"), instrument=instrument, method=method)
    assert table_counts() == before


def test_empty_cells_are_not_values(technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]) -> None:
    run = parsed_run([ParsedAcquisition(sequence=1, label="TS1", values=[value(0, None, "ppb")])], [LA])
    summary = run_import_parsed(actor=technician, parsed=run, source_sha256=digest("empty"), instrument=instrument, method=method)
    assert summary.values == 0
    assert Acquisition.objects.filter(run_id=summary.run_id).count() == 1
    assert not Measurement.objects.filter(acquisition__run_id=summary.run_id).exists()


def test_instrument_times_are_the_labs_local_time(technician: User, instrument: Instrument, method: Method, settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    moment = dt.datetime(2018, 12, 19, 10, 42)
    run = parsed_run([ParsedAcquisition(sequence=1, label="A", acquired_at=moment, values=[value(0, 1.0, "ppb")])], [LA])
    summary = run_import_parsed(actor=technician, parsed=run, source_sha256=digest("tz"), instrument=instrument, method=method)
    stored = Acquisition.objects.get(run_id=summary.run_id)
    assert stored.acquired_at == dt.datetime(2018, 12, 19, 9, 42, tzinfo=dt.UTC)


def test_a_generic_long_file_lands_as_typed(technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample]) -> None:
    # The generic-long parser's output (LOI in %, anions in mg/kg, an outside lab's "<" at its LOD,
    # replicates) through the service; the registry may route the format itself, the result is the same.
    data = (
        b"sample_id,analyte,value,unit,qualifier,lod,loq,replicate\n"
        b"TS1,La,5,mg/kg,,0.5,1.5,\n"
        b"TS1,LOI,0.35,%,,,,\n"
        b"TS1,Cl-,50,mg/kg,,,,\n"
        b"TS2,Eu,,mg/kg,<,0.5,1.5,\n"
        b"TS2,163Dy [He],0.82,ppb,,0.01,0.03,\n"
        b"TS3,139La [No Gas],0.001,ppb,,,,a\n"
        b"TS3,139La [No Gas],0.004,ppb,,,,b\n"
    )
    parsed = generic_long.parse(data, file_name="manual.csv")
    summary = run_import_parsed(
        actor=technician, parsed=parsed, source_sha256=hashlib.sha256(data).hexdigest(), instrument=instrument, method=method
    )
    rows = {
        (m.acquisition.label, m.acquisition.replicate, m.analyte.code): m
        for m in Measurement.objects.filter(acquisition__run_id=summary.run_id).select_related("acquisition", "analyte")
    }
    assert (rows["TS1", "", "LOI"].value, rows["TS1", "", "LOI"].unit) == (0.35, "%")
    assert (rows["TS1", "", "Cl-"].value, rows["TS1", "", "Cl-"].unit, rows["TS1", "", "Cl-"].basis) == (50.0, "mg/kg", Basis.AS_RECEIVED)
    europium = rows["TS2", "", "Eu"]
    assert (europium.qualifier, europium.value, europium.lod, europium.unit) == ("<", 0.5, 0.5, "mg/kg")
    # A solution value with the file's own limits, converted with TS2's preparation (x 5).
    dysprosium = rows["TS2", "", "163Dy [He]"]
    assert (dysprosium.value, dysprosium.lod, dysprosium.loq, dysprosium.unit) == (near(4.1), near(0.05), near(0.15), "mg/kg")
    # Replicates of a method channel: each its own acquisition, censored at the method's LOD (0.002 µg/L -> 0.01 mg/kg).
    first, second = rows["TS3", "a", "139La [No Gas]"], rows["TS3", "b", "139La [No Gas]"]
    assert (first.qualifier, first.value) == ("<", near(0.01))
    assert (second.qualifier, second.value, second.flags) == ("=", near(0.02), ["below_loq"])
    assert summary.matched_samples == 3


# --- Who may import ---------------------------------------------------------------------------


def test_only_an_analyst_of_the_instruments_site_may_import(
    qa: User, us_technician: User, partner_a_user: User, lab_admin: User, instrument: Instrument, method: Method, real_batch: bytes
) -> None:
    before = table_counts()
    for actor in (qa, partner_a_user, lab_admin):
        with pytest.raises(PermissionDeniedError, match="may not import"):
            import_real(actor, instrument, method, real_batch, dry_run=True)
    with pytest.raises(PermissionDeniedError, match="site you do not work at"):
        import_real(us_technician, instrument, method, real_batch)
    assert table_counts() == before


def test_a_retired_instrument_takes_no_runs(technician: User, instrument: Instrument, method: Method, real_batch: bytes) -> None:
    instrument.is_active = False
    instrument.save()
    with pytest.raises(DomainError, match="not in service"):
        import_real(technician, instrument, method, real_batch)


def test_an_invalid_sha256_is_refused_for_a_parsed_run(technician: User, instrument: Instrument, method: Method) -> None:
    with pytest.raises(DomainError, match="SHA-256"):
        run_import_parsed(actor=technician, parsed=parsed_run([], [LA]), source_sha256="nope", instrument=instrument, method=method)


# --- Run evaluation -----------------------------------------------------------------------------


def test_on_postgresql_the_measurements_went_in_by_copy_with_every_column_intact(
    technician: User, instrument: Instrument, method: Method, samples: dict[str, Sample], real_batch: bytes
) -> None:
    # The same assertions on both backends: COPY (PostgreSQL) and bulk_create (SQLite) must store alike.
    summary = import_real(technician, instrument, method, real_batch)
    rows = Measurement.objects.filter(acquisition__run_id=summary.run_id)
    assert rows.count() == 7146
    nd = rows.get(acquisition__label="TS1", analyte__code="146Nd [No Gas]")
    assert isinstance(nd.flags, list)
    assert nd.rsd_percent is not None
    assert nd.rsd_percent >= 0
    assert rows.filter(rsd_percent__isnull=True).count() < rows.count()
    flagged = [m for m in rows.only("flags") if m.flags]
    assert all(isinstance(flag, str) for m in flagged for flag in m.flags)
    assert not any(math.isnan(v) for v in rows.values_list("value", flat=True))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT jsonb_typeof(flags) FROM {Measurement._meta.db_table} WHERE id = %s", [nd.pk])  # noqa: S608
            assert cursor.fetchone() == ("array",)


@pytest.mark.postgres
def test_postgresql_is_in_use_for_the_copy_path() -> None:
    # Marks this module as needing PostgreSQL in CI, where LIMS_REQUIRE_SERVICES=1 fails a skip.
    assert connection.vendor == "postgresql"


def test_the_summary_serialises_to_json() -> None:
    summary = ImportSummary(file_name="a.csv", sha256="0" * 64, unmatched_labels={"0": 3})
    data = summary.as_dict()
    assert data["ok"] is True
    assert data["unmatched_acquisitions"] == 3
    assert dataclasses.asdict(summary)["unmatched_labels"] == {"0": 3}
