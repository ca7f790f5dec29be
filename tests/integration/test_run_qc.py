"""Run QC end to end: import -> evaluation (on commit) -> checks, acceptances, run status, flags,
stale lots; reviewers' waivers and rejections; re-evaluation; the sweep; control-chart drift.

The real Agilent batch is judged with its drift check mapped as the CCV and the nominals of its
companion standards file, as the fixtures README describes."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import TestCase
from django.utils import timezone

from assays.errors import DomainError, PermissionDeniedError
from assays.importers import registry
from assays.importers.core import ParsedAcquisition, ParsedChannel, ParsedRun, ParsedValue, Qualifier, ValueBasis
from assays.models import (
    Analyte,
    AuditEvent,
    ChannelRole,
    Element,
    Flag,
    FlagKind,
    Instrument,
    LabelMatchKind,
    Lot,
    LotStatus,
    Measurement,
    Method,
    MethodChannel,
    QcCheck,
    QcEvaluation,
    QcLabelPattern,
    QcRole,
    QcStandard,
    QcStandardValue,
    QcWaiver,
    ReferenceMaterial,
    ResultAcceptance,
    Run,
    RunStatus,
    Sample,
    Technique,
)
from assays.services.qc_setup import calibration_standards_import, rule_pack_revise
from assays.services.run_qc import qc_check_waive, run_evaluate, run_reevaluate, run_reject, runs_pending_qc
from assays.services.runs import run_import, run_import_parsed
from tests.conftest import World
from tests.factories import InstrumentFactory, LotFactory, MethodFactory, SampleFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "instruments"
REAL = FIXTURES / "agilent_masshunter_batch_full_semicolon.csv"
STANDARDS = FIXTURES / "agilent_masshunter_batch_full_standards.csv"
CCV_ONLY = 'code = "ccv-only"\ntitle = "CCVs only"\n[ccv]\nrequired = true\nwindow = [90, 110]\n'


def _pack(lab_admin: User, text: str, note: str = "test pack") -> Any:
    return rule_pack_revise(actor=lab_admin, source_text=text, note=note)


# --- The real batch -----------------------------------------------------------------------------


@pytest.fixture
def real_parsed() -> ParsedRun:
    return registry.parse(REAL.read_bytes(), file_name=REAL.name)


@pytest.fixture
def real_instrument(world: World) -> Instrument:
    instrument = InstrumentFactory(code="UK1-ICPMS-01", name="Agilent 7900", site=world.uk_site, vendor="Agilent")
    QcLabelPattern.objects.create(instrument=instrument, pattern="Deriv TracesETMaj", match_kind=LabelMatchKind.EXACT, qc_role=QcRole.CCV)
    return instrument


@pytest.fixture
def real_method(real_parsed: ParsedRun, lab_admin: User) -> Method:
    """Every channel of the batch, the first isotope of an element reporting; its CCV is level 4
    of the standards for the trace series and level 13 for the major series."""
    method = MethodFactory(code="REE-ICPMS-ALL", technique=Technique.ICP_MS, rule_pack_code="ccv-only")
    _pack(lab_admin, CCV_ONLY)
    seen: set[str] = set()
    for channel in real_parsed.analyte_channels:
        assert channel.element is not None
        element = Element.objects.get(symbol=channel.element)
        analyte, _ = Analyte.objects.get_or_create(
            code=channel.code,
            defaults={
                "element": element,
                "technique": Technique.ICP_MS,
                "isotope_mass": channel.isotope_mass,
                "cell_mode": channel.cell_mode,
            },
        )
        role = ChannelRole.CONFIRMATORY if channel.element in seen else ChannelRole.REPORTING
        seen.add(channel.element)
        MethodChannel.objects.create(method=method, analyte=analyte, element=element, role=role, unit="µg/L", lod=0.001, loq=0.003)
    stored = calibration_standards_import(actor=lab_admin, method=method, data=STANDARDS.read_bytes(), file_name=STANDARDS.name)
    assert stored > 69 * 8
    ccv = QcStandard.objects.create(method=method, kind="ccv", name="Deriv TracesETMaj")
    trace_channels = {code for (code,) in method.calibration_nominals.filter(level=4).values_list("analyte__code")}
    for channel in method.channels.select_related("analyte"):
        level = 4 if channel.analyte.code in trace_channels else 13
        QcStandardValue.objects.create(standard=ccv, analyte=channel.analyte, calibration_level=level)
    return method


@pytest.fixture
def real_samples(world: World, real_parsed: ParsedRun) -> dict[str, Sample]:
    lot = LotFactory(code="FS-REAL-1", site=world.uk_site)
    labels = {a.label for a in real_parsed.acquisitions if a.vendor_type == "Sample" and a.label not in {"0", "Deriv TracesETMaj"}}
    return {
        label: SampleFactory(
            code=label, lot=lot, sample_mass_g=Decimal("0.1000"), final_volume_ml=Decimal("50"), dilution_factor=Decimal(10)
        )
        for label in labels
    }


def _standards_nominals() -> list[tuple[str, dict[int, float]]]:
    """The standards table read independently of the code under test: (element, level -> value)."""
    with STANDARDS.open(newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    levels = [int(cell) for cell in rows[0][1:]]
    return [(row[0], {level: float(cell) for level, cell in zip(levels, row[1:], strict=True) if cell.strip()}) for row in rows[1:]]


def test_the_real_batch_drift_check_fails_where_the_readme_says_and_brackets_exactly_those_results(
    technician: User, real_instrument: Instrument, real_method: Method, real_samples: dict[str, Sample]
) -> None:
    run = _import_real(technician, real_instrument, real_method)
    evaluation = QcEvaluation.objects.get(run=run, is_current=True)
    assert (evaluation.rule_pack.code, evaluation.rule_pack.version) == ("ccv-only", 1)

    def recovery(sequence: int, analyte: str) -> float:
        check = QcCheck.objects.get(evaluation=evaluation, kind="ccv", acquisition__sequence=sequence, analyte__code=analyte)
        assert check.measured is not None
        return check.measured

    assert recovery(101, "139La [No Gas]") == pytest.approx(77.3, abs=0.05)
    assert recovery(107, "139La [No Gas]") == pytest.approx(73.7, abs=0.05)
    assert recovery(59, "23Na [He]") == pytest.approx(113.8, abs=0.05)
    assert recovery(59, "56Fe [He]") == pytest.approx(110.9, abs=0.05)
    assert not QcCheck.objects.get(evaluation=evaluation, kind="ccv", acquisition__sequence=59, analyte__code="23Na [He]").passed
    assert QcCheck.objects.get(evaluation=evaluation, kind="ccv", acquisition__sequence=87, analyte__code="139La [No Gas]").passed

    sample_sequences = {a.sequence: a.label for a in run.acquisitions.filter(sample__isnull=False, qc_role="")}

    def rejected(analyte: str) -> set[int]:
        return set(
            ResultAcceptance.objects.filter(
                evaluation=evaluation, measurement__analyte__code=analyte, measurement__acquisition__sample__isnull=False
            )
            .exclude(state="accepted")
            .values_list("measurement__acquisition__sequence", flat=True)
        )

    measured = {
        analyte: set(
            Measurement.objects.filter(
                acquisition__run=run, acquisition__sample__isnull=False, acquisition__qc_role="", analyte__code=analyte
            ).values_list("acquisition__sequence", flat=True)
        )
        for analyte in ("139La [No Gas]", "23Na [He]", "56Fe [He]")
    }
    assert rejected("139La [No Gas]") == {s for s in measured["139La [No Gas]"] if s > 87}
    for analyte in ("23Na [He]", "56Fe [He]"):
        assert rejected(analyte) == {s for s in measured[analyte] if 45 < s < 73 or s > 87}
    assert {s for s in sample_sequences if 45 < s < 73} <= measured["23Na [He]"]  # the bracket really held samples
    reasons = ResultAcceptance.objects.get(
        evaluation=evaluation,
        measurement__analyte__code="23Na [He]",
        measurement__acquisition__sequence=min(s for s in sample_sequences if s > 59),
    ).reasons
    assert any("at 59" in reason and "113.8 %" in reason for reason in reasons)
    run.refresh_from_db()
    assert run.status == RunStatus.PARTIALLY_ACCEPTED
    assert Flag.objects.filter(run=run, kind=FlagKind.QC_FAILURE, status="open").count() == 1
    lot = Lot.objects.get(code="FS-REAL-1")
    _marked_stale_then_assessed(lot)


def test_calibration_standard_recoveries_of_the_real_batch_match_the_standards_file(
    technician: User, lab_admin: User, real_instrument: Instrument, real_method: Method, real_parsed: ParsedRun
) -> None:
    _pack(lab_admin, 'code = "cal-only"\n[calibration_standard]\nwindow = [90, 110]\n')
    real_method.rule_pack_code = "cal-only"
    real_method.save()
    evaluation = QcEvaluation.objects.get(run=_import_real(technician, real_instrument, real_method), is_current=True)
    # Independently: row n of the table is the n-th channel of its element in the file's order.
    nominals = _standards_nominals()
    channels = real_parsed.analyte_channels
    assert [channel.element for channel in channels] == [element for element, _ in nominals]
    by_sequence = {a.sequence: a for a in real_parsed.acquisitions}
    cases = [("139La [No Gas]", 8), ("139La [No Gas]", 12), ("23Na [He]", 22), ("56Fe [He]", 24), ("57Fe [He]", 25), ("238U [No Gas]", 10)]
    for code, sequence in cases:
        index = next(i for i, channel in enumerate(channels) if channel.code == code)
        acquisition = by_sequence[sequence]
        assert acquisition.calibration_level is not None
        nominal = nominals[index][1][acquisition.calibration_level]
        reading = next(v for v in acquisition.values if real_parsed.channels[v.channel].code == code)
        assert reading.value is not None
        expected = reading.value / nominal * 100
        check = QcCheck.objects.get(evaluation=evaluation, kind="calibration_standard", acquisition__sequence=sequence, analyte__code=code)
        assert check.measured == pytest.approx(expected, rel=1e-9), (code, sequence)
        assert check.passed == (90 <= expected <= 110)


# --- A small constructed run ------------------------------------------------------------------------

LA = ParsedChannel(label="La", element="La", isotope_mass=139, cell_mode="No Gas")
ND = ParsedChannel(label="Nd", element="Nd", isotope_mass=146, cell_mode="No Gas")


def _value(channel: int, number: float) -> ParsedValue:
    return ParsedValue(
        channel=channel, value=number, qualifier=Qualifier.EQUAL, unit="ppb", basis=ValueBasis.SOLUTION, raw_text=str(number)
    )


def _acq(sequence: int, label: str, la: float, nd: float, *, at: dt.datetime | None = None) -> ParsedAcquisition:
    return ParsedAcquisition(sequence=sequence, label=label, acquired_at=at, values=[_value(0, la), _value(1, nd)])


@pytest.fixture
def small_method(lab_admin: User) -> Method:
    method = MethodFactory(code="REE-SMALL", technique=Technique.ICP_MS, rule_pack_code="ccv-only")
    _pack(lab_admin, CCV_ONLY)
    ccv = QcStandard.objects.create(method=method, kind="ccv")
    for channel in (LA, ND):
        element = Element.objects.get(symbol=channel.element)
        analyte, _ = Analyte.objects.get_or_create(
            code=channel.code,
            defaults={"element": element, "technique": Technique.ICP_MS, "isotope_mass": channel.isotope_mass, "cell_mode": "No Gas"},
        )
        MethodChannel.objects.create(method=method, analyte=analyte, element=element, unit="µg/L", lod=0.01, loq=0.03)
        QcStandardValue.objects.create(standard=ccv, analyte=analyte, nominal=10.0)
    return method


@pytest.fixture
def small_instrument(world: World) -> Instrument:
    return InstrumentFactory(code="UK1-ICPMS-02", site=world.uk_site)


@pytest.fixture
def small_lot(world: World) -> Lot:
    lot = LotFactory(code="PR-QC-1", site=world.uk_site)
    for code in ("S1", "S2", "S3", "S4"):
        SampleFactory(code=code, lot=lot, sample_mass_g=Decimal("0.1"), final_volume_ml=Decimal("50"), dilution_factor=Decimal(1))
    return lot


def _import(
    actor: User, instrument: Instrument, method: Method, acquisitions: list[ParsedAcquisition], name: str, *, evaluate: bool = True
) -> Run:
    """Import, and run the on-commit evaluation as a real commit would (unless ``evaluate`` is
    false: a lost message)."""
    parsed = ParsedRun(format="generic-long", file_name=name, channels=[LA, ND], acquisitions=acquisitions)
    digest = hashlib.sha256(name.encode()).hexdigest()
    if not evaluate:
        summary = run_import_parsed(actor=actor, parsed=parsed, source_sha256=digest, instrument=instrument, method=method)
        return Run.objects.get(pk=summary.run_id)
    with TestCase.captureOnCommitCallbacks(execute=True):
        summary = run_import_parsed(actor=actor, parsed=parsed, source_sha256=digest, instrument=instrument, method=method)
    return Run.objects.get(pk=summary.run_id)


def _import_real(technician: User, instrument: Instrument, method: Method) -> Run:
    with TestCase.captureOnCommitCallbacks(execute=True):
        summary = run_import(actor=technician, data=REAL.read_bytes(), file_name=REAL.name, instrument=instrument, method=method)
    return Run.objects.get(pk=summary.run_id)


def _failing_run(technician: User, instrument: Instrument, method: Method, name: str = "fail.csv") -> Run:
    # CCV La: 10.0 (100 %), 12.0 (120 %: fails), 10.1 (101 %). Nd passes throughout.
    return _import(
        technician,
        instrument,
        method,
        [
            _acq(1, "CCV", 10.0, 10.0),
            _acq(2, "S1", 1.0, 1.0),
            _acq(3, "S2", 1.0, 1.0),
            _acq(4, "CCV", 12.0, 10.0),
            _acq(5, "S3", 1.0, 1.0),
            _acq(6, "CCV", 10.1, 9.9),
            _acq(7, "S4", 1.0, 1.0),
            _acq(8, "CCV", 10.0, 10.0),
        ],
        name,
    )


def _marked_stale_then_assessed(lot: Lot) -> None:
    """The judgement marked the lot stale and enqueued its assessment, which (eager here) ran and
    cleared the mark: the lot has no active specification, so there was nothing to judge it by."""
    events = list(AuditEvent.objects.filter(entity="assays.lot", object_id=str(lot.pk), action="update").order_by("id"))
    marked, cleared = events[-2:]
    assert marked.after is not None
    assert marked.after["assessment_stale_since"] is not None
    assert "assessment out of date" in marked.reason
    assert cleared.after == {"assessment_stale_since": None}
    lot.refresh_from_db()
    assert lot.assessment_stale_since is None


def _states(run: Run, analyte: str) -> dict[str, str]:
    evaluation = QcEvaluation.objects.get(run=run, is_current=True)
    return dict(
        ResultAcceptance.objects.filter(evaluation=evaluation, measurement__analyte__code=analyte).values_list(
            "measurement__acquisition__label", "state"
        )
    )


def test_a_failed_ccv_rejects_the_results_it_brackets_for_its_analyte_only(
    technician: User, small_instrument: Instrument, small_method: Method, small_lot: Lot
) -> None:
    run = _failing_run(technician, small_instrument, small_method)
    assert _states(run, LA.code) == {"S1": "rejected", "S2": "rejected", "S3": "rejected", "S4": "accepted"}
    assert set(_states(run, ND.code).values()) == {"accepted"}
    run.refresh_from_db()
    assert run.status == RunStatus.PARTIALLY_ACCEPTED
    flag = Flag.objects.get(run=run, kind=FlagKind.QC_FAILURE)
    assert flag.details["failed_checks"] == 1
    _marked_stale_then_assessed(small_lot)
    assert AuditEvent.objects.filter(entity="assays.qcevaluation", action="create").count() == 1


def test_evaluation_is_idempotent_and_the_sweep_finds_only_runs_left_pending(
    technician: User, small_instrument: Instrument, small_method: Method, small_lot: Lot, settings: Any
) -> None:
    run = _failing_run(technician, small_instrument, small_method)
    assert run_evaluate(run_id=run.pk) is not None
    assert QcEvaluation.objects.filter(run=run).count() == 1
    assert run_evaluate(run_id=10**9) is None
    # A run whose message was lost: imported without its on-commit evaluation.
    lost = _import(
        technician,
        small_instrument,
        small_method,
        [_acq(1, "CCV", 10, 10), _acq(2, "S1", 1, 1), _acq(3, "CCV", 10, 10)],
        "lost.csv",
        evaluate=False,
    )
    assert lost.status == RunStatus.PENDING_QC
    assert runs_pending_qc(older_than_seconds=3600) == []
    assert runs_pending_qc(older_than_seconds=0) == [lost.pk]
    from assays.tasks import sweep_pending_runs

    settings.LIMS_QC_SWEEP_GRACE_SECONDS = 0
    assert sweep_pending_runs.apply().get() == [lost.pk]  # eager: evaluated now
    lost.refresh_from_db()
    assert lost.status == RunStatus.ACCEPTED
    assert runs_pending_qc(older_than_seconds=0) == []


def test_only_a_qa_user_who_is_not_the_analyst_may_waive_a_failed_check_with_a_reason(
    technician: User, qa: User, small_instrument: Instrument, small_method: Method, small_lot: Lot
) -> None:
    run = _failing_run(technician, small_instrument, small_method)
    failed = QcCheck.objects.get(evaluation__run=run, evaluation__is_current=True, passed=False)
    with pytest.raises(PermissionDeniedError):
        qc_check_waive(actor=technician, check_id=failed.pk, reason="fine")
    with pytest.raises(DomainError, match="reason"):
        qc_check_waive(actor=qa, check_id=failed.pk, reason="  ")
    # QA as the run's analyst is refused too.
    Run.objects.filter(pk=run.pk).update(analyst=qa)
    with pytest.raises(PermissionDeniedError, match="analyst"):
        qc_check_waive(actor=qa, check_id=failed.pk, reason="mine")
    Run.objects.filter(pk=run.pk).update(analyst=technician)
    assert not QcWaiver.objects.exists()

    qc_check_waive(actor=qa, check_id=failed.pk, reason="CCV solution contaminated; next CCV fine")
    assert set(_states(run, LA.code).values()) == {"accepted"}
    run.refresh_from_db()
    assert run.status == RunStatus.ACCEPTED
    waiver = QcWaiver.objects.get(check_result=failed)
    assert (waiver.decided_by, waiver.reason) == (qa, "CCV solution contaminated; next CCV fine")
    assert AuditEvent.objects.filter(entity="assays.qcwaiver", actor=qa, reason=waiver.reason).exists()
    with pytest.raises(DomainError, match="already"):
        qc_check_waive(actor=qa, check_id=failed.pk, reason="again")
    passed = QcCheck.objects.filter(evaluation__run=run, passed=True).first()
    assert passed is not None
    with pytest.raises(DomainError, match="passed"):
        qc_check_waive(actor=qa, check_id=passed.pk, reason="x")


def test_qa_rejects_a_whole_run_and_no_result_of_it_counts(
    technician: User, qa: User, small_instrument: Instrument, small_method: Method, small_lot: Lot
) -> None:
    run = _failing_run(technician, small_instrument, small_method)
    with pytest.raises(PermissionDeniedError):
        run_reject(actor=technician, run_id=run.pk, reason="x")
    run_reject(actor=qa, run_id=run.pk, reason="torch drift all afternoon")
    run.refresh_from_db()
    assert run.status == RunStatus.REJECTED
    assert set(_states(run, ND.code).values()) == {"rejected"}
    evaluation = QcEvaluation.objects.get(run=run, is_current=True)
    assert (evaluation.run_rejected_by, evaluation.run_rejection_reason) == (qa, "torch drift all afternoon")
    with pytest.raises(DomainError, match="already"):
        run_reject(actor=qa, run_id=run.pk, reason="again")


def test_re_evaluation_by_another_pack_version_is_a_new_current_judgement_and_keeps_the_old(
    technician: User, qa: User, lab_admin: User, small_instrument: Instrument, small_method: Method, small_lot: Lot
) -> None:
    run = _failing_run(technician, small_instrument, small_method)
    first = QcEvaluation.objects.get(run=run, is_current=True)
    wider = _pack(lab_admin, CCV_ONLY.replace("[90, 110]", "[80, 125]"), note="wider window after validation")
    assert wider.version == 2
    with pytest.raises(DomainError, match="reason"):
        run_reevaluate(actor=qa, run_id=run.pk, reason="")
    Run.objects.filter(pk=run.pk).update(analyst=qa)
    with pytest.raises(PermissionDeniedError, match="analyst"):
        run_reevaluate(actor=qa, run_id=run.pk, reason="my own run, wider window")
    Run.objects.filter(pk=run.pk).update(analyst=technician)
    second = run_reevaluate(actor=qa, run_id=run.pk, reason="method validated with wider windows")
    assert second.rule_pack == wider
    first.refresh_from_db()
    assert (first.is_current, second.is_current) == (False, True)
    assert set(_states(run, LA.code).values()) == {"accepted"}
    back = run_reevaluate(actor=qa, run_id=run.pk, reason="back to v1", rule_pack_id=first.rule_pack_id)
    assert back.rule_pack.version == 1
    assert QcEvaluation.objects.filter(run=run).count() == 3
    assert AuditEvent.objects.filter(entity="assays.qcevaluation", action="create", actor=qa).count() == 2


def test_a_judgement_touching_a_released_lot_flags_it_for_qa_instead_of_changing_it_silently(
    technician: User, small_instrument: Instrument, small_method: Method, small_lot: Lot
) -> None:
    Lot.objects.filter(pk=small_lot.pk).update(status=LotStatus.RELEASED)
    _failing_run(technician, small_instrument, small_method)
    flag = Flag.objects.get(lot=small_lot, kind=FlagKind.DIFFERS_FROM_CERTIFIED)
    assert flag.status == "open"
    small_lot.refresh_from_db()
    assert small_lot.status == LotStatus.RELEASED


def test_manual_results_count_as_entered_under_the_none_pack(technician: User, small_instrument: Instrument, small_lot: Lot) -> None:
    from assays.services.manual_entry import manual_method

    method = manual_method()
    assert method.rule_pack_code == "none"
    run = _import(technician, small_instrument, method, [_acq(1, "S1", 1.0, 1.0), _acq(2, "S2", 2.0, 2.0)], "manual.csv")
    run.refresh_from_db()
    assert run.status == RunStatus.ACCEPTED
    assert "count as entered" in run.qc_note
    assert set(_states(run, LA.code).values()) == {"accepted"}
    assert not QcCheck.objects.filter(evaluation__run=run).exists()


def test_an_expired_crm_fails_its_check_and_rejects_the_run(
    technician: User, lab_admin: User, small_instrument: Instrument, small_method: Method, small_lot: Lot
) -> None:
    _pack(lab_admin, 'code = "crm-only"\n[crm]\nrequired = true\nwindow = [90, 110]\n')
    small_method.rule_pack_code = "crm-only"
    small_method.save()
    material = ReferenceMaterial.objects.create(name="NIST 3110", lot_number="L1", expires_on=dt.date(2020, 1, 1))
    material.certified_values.create(element=Element.objects.get(symbol="La"), value=10.0, unit="mg/L")
    QcLabelPattern.objects.create(instrument=small_instrument, pattern="NIST3110", qc_role=QcRole.CRM, reference_material=material)
    at = dt.datetime(2026, 5, 1, 9, 0)
    run = _import(
        technician, small_instrument, small_method, [_acq(1, "NIST3110", 10000.0, 1.0, at=at), _acq(2, "S1", 1.0, 1.0, at=at)], "crm.csv"
    )
    check = QcCheck.objects.get(evaluation__run=run, kind="crm")
    assert not check.passed
    assert "expired" in check.message
    run.refresh_from_db()
    assert run.status == RunStatus.REJECTED


def test_westgard_drift_over_runs_raises_one_method_drift_flag(
    technician: User, qa: User, small_instrument: Instrument, small_method: Method, small_lot: Lot, settings: Any
) -> None:
    settings.LIMS_SPC_BASELINE_POINTS = 6
    start = timezone.make_aware(dt.datetime(2026, 1, 5, 8, 0))
    # Six in-control runs (two CCVs each around 100 %), then one whose CCVs both read +2.5 s.
    baseline = [(10.0, 10.1), (9.9, 10.0), (10.1, 9.95), (10.05, 9.9), (10.0, 10.05), (9.95, 10.0)]
    for day, (first, second) in enumerate(baseline):
        at = (start + dt.timedelta(days=day)).replace(tzinfo=None)
        _import(
            technician,
            small_instrument,
            small_method,
            [_acq(1, "CCV", first, 10, at=at), _acq(2, "S1", 1, 1, at=at), _acq(3, "CCV", second, 10, at=at)],
            f"b{day}.csv",
        )
    assert not Flag.objects.filter(kind=FlagKind.METHOD_DRIFT).exists()
    first_six = [value for pair in baseline[:3] for value in pair]
    mean = sum(first_six) / 6
    sd = (sum((p - mean) ** 2 for p in first_six) / 5) ** 0.5
    high = mean + 2.5 * sd
    at = (start + dt.timedelta(days=10)).replace(tzinfo=None)
    drift = _import(
        technician,
        small_instrument,
        small_method,
        [_acq(1, "CCV", high, 10, at=at), _acq(2, "S1", 1, 1, at=at), _acq(3, "CCV", high, 10, at=at)],
        "drift.csv",
    )
    flag = Flag.objects.get(kind=FlagKind.METHOD_DRIFT)
    assert flag.method == small_method
    assert flag.details["run"] == drift.pk
    assert flag.details["analyte"] == LA.code
    assert "2-2s" in flag.details["rules"]
    # Judging the same run again does not raise it twice.
    run_reevaluate(actor=qa, run_id=drift.pk, reason="check")
    assert Flag.objects.filter(kind=FlagKind.METHOD_DRIFT).count() == 1


def test_the_calibration_standards_command_loads_the_fixture_and_refuses_a_bad_table_whole(
    lab_admin: User, technician: User, real_method: Method, tmp_path: Path
) -> None:
    from django.core.management import CommandError, call_command

    from assays.models import CalibrationNominal

    out = io.StringIO()
    call_command("import_calibration_standards", real_method.code, str(STANDARDS), "--as", lab_admin.username, stdout=out)
    assert CalibrationNominal.objects.get(method=real_method, analyte__code="139La [No Gas]", level=4).value == 0.10261
    assert CalibrationNominal.objects.get(method=real_method, analyte__code="23Na [He]", level=13).value == 102.73652
    count = CalibrationNominal.objects.filter(method=real_method).count()
    assert f"{count} calibration nominals" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text(STANDARDS.read_text().replace("0.10261", "abc"))
    with pytest.raises(CommandError, match=r"bad.csv, line \d+, column level 4: not a number: 'abc'"):
        call_command("import_calibration_standards", real_method.code, str(bad), "--as", lab_admin.username)
    assert CalibrationNominal.objects.filter(method=real_method).count() == count
    with pytest.raises(CommandError, match="lab admin"):
        call_command("import_calibration_standards", real_method.code, str(STANDARDS), "--as", technician.username)


def test_a_method_whose_rule_pack_is_missing_leaves_the_run_pending_and_says_why_once(
    technician: User, small_instrument: Instrument, small_method: Method, small_lot: Lot
) -> None:
    Method.objects.filter(pk=small_method.pk).update(rule_pack_code="no-such-pack")
    small_method.refresh_from_db()
    run = _import(technician, small_instrument, small_method, [_acq(1, "CCV", 10, 10), _acq(2, "S1", 1, 1)], "nopack.csv")
    assert run.status == RunStatus.PENDING_QC
    assert "no rule pack 'no-such-pack'" in run.qc_note
    notes = AuditEvent.objects.filter(entity="assays.run", object_id=str(run.pk), action="update")
    assert notes.count() == 1
    run_evaluate(run_id=run.pk)  # the sweep, again
    assert notes.count() == 1
    small_lot.refresh_from_db()
    assert small_lot.assessment_stale_since is None  # nothing judged, nothing stale
