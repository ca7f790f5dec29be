"""Reads for run QC: a stored run turned into the pure evaluator's inputs, the checks of its
current evaluation, and the QC panel the run page shows.

Every concentration handed to ``assays.qc`` is in µg/L of the measured solution: QC items are
stored that way, and a sample's stored mass fraction is traced back to the number the instrument
printed (``raw_value`` in ``raw_unit``), so that a sample is judged against the same calibration
range and limits as the checks around it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch

from assays.chemistry.units import Medium, UnitError, unit_lookup
from assays.models import (
    Acquisition,
    Basis,
    CalibrationNominal,
    CertifiedValue,
    InternalStandardReading,
    Measurement,
    MethodChannel,
    QcCheck,
    QcEvaluation,
    QcStandard,
    QcWaiver,
    ReferenceMaterial,
    ResultAcceptance,
    Run,
)
from assays.qc.evaluation import Check, CrmExpectation, Effect, InternalStandard, Item, Reading, RunQcInputs
from assays.qc.packs import CheckKind
from assays.selectors.runs import run_get


def _to_solution(value: float, unit_text: str) -> float | None:
    try:
        unit = unit_lookup(unit_text, medium=Medium.SOLUTION)
    except UnitError:
        return None
    if unit.medium is not Medium.SOLUTION:
        return None
    converted = unit.canonical(value)
    return converted if math.isfinite(converted) else None


@dataclass(frozen=True, slots=True)
class RunQcData:
    inputs: RunQcInputs
    measurement_ids: dict[tuple[int, str], int]  # (acquisition sequence, channel code) -> Measurement id


def run_qc_data(*, run: Run) -> RunQcData:
    """The run as ``assays.qc`` sees it (its acquisitions in order, with solution readings) and, read
    in the same pass, the id of each result, to store its acceptance."""
    acquisitions = list(
        Acquisition.objects.filter(run=run).select_related("sample", "reference_material").order_by("sequence").only(
            "id", "sequence", "label", "qc_role", "calibration_level", "rejected_by_instrument", "sample__code",
            "reference_material_id", "conversion_factor", "acquired_at",
        )
    )  # fmt: skip
    converted = {acquisition.pk: acquisition.conversion_factor is not None for acquisition in acquisitions}
    sequences = {acquisition.pk: acquisition.sequence for acquisition in acquisitions}
    measurement_ids: dict[tuple[int, str], int] = {}
    readings: dict[int, dict[str, Reading]] = defaultdict(dict)
    solid_only: dict[int, set[str]] = defaultdict(set)
    analytes: set[str] = set()
    stored_loq: dict[str, float] = {}
    rows = Measurement.objects.filter(acquisition__run=run).values_list(
        "pk", "acquisition_id", "analyte__code", "value", "qualifier", "basis", "unit", "raw_value", "raw_unit", "loq"
    )
    for pk, acquisition_id, code, value, qualifier, basis, unit, raw_value, raw_unit, loq in rows:
        analytes.add(code)
        measurement_ids[(sequences[acquisition_id], code)] = pk
        solution: float | None = None
        if basis == Basis.SOLUTION:
            if raw_value is not None and raw_unit:
                solution = _to_solution(raw_value, raw_unit)
            if solution is None:
                solution = _to_solution(value, unit)
            if loq is not None and code not in stored_loq:
                stored_loq[code] = loq  # the run's own limit (estimated from its blanks), in µg/L
        elif converted[acquisition_id] and raw_value is not None and raw_unit:
            solution = _to_solution(raw_value, raw_unit)
        if solution is not None:
            readings[acquisition_id][code] = Reading(solution, censored=qualifier == "<")
        else:
            solid_only[acquisition_id].add(code)
    istds: dict[int, dict[str, InternalStandard]] = defaultdict(dict)
    for acquisition_id, code, cps, recovery in InternalStandardReading.objects.filter(acquisition__run=run).values_list(
        "acquisition_id", "analyte__code", "counts_per_second", "recovery_percent"
    ):
        istds[acquisition_id][code] = InternalStandard(cps, recovery)
    items = [
        Item(
            sequence=acquisition.sequence,
            label=acquisition.label,
            role=acquisition.qc_role,
            readings=readings.get(acquisition.pk, {}),
            calibration_level=acquisition.calibration_level,
            rejected_by_instrument=acquisition.rejected_by_instrument,
            sample_code=acquisition.sample.code if acquisition.sample is not None else None,
            reference_material=str(acquisition.reference_material_id) if acquisition.reference_material_id else None,
            internal_standards=istds.get(acquisition.pk, {}),
            solid_only=frozenset(solid_only.get(acquisition.pk, ())),
        )
        for acquisition in acquisitions
    ]
    run_day = _run_day(run, acquisitions)
    materials = {acquisition.reference_material_id for acquisition in acquisitions if acquisition.reference_material_id}
    inputs = RunQcInputs(
        items=items,
        analytes=sorted(analytes),
        loq={**stored_loq, **_method_loq(run)},
        nominals=_nominals(run),
        calibration=_calibration(run),
        spike_added=_nominals(run, kinds=("spike",)).get("spike", {}),
        crms=_crm_expectations(materials, analytes=analytes, on=run_day),
    )
    return RunQcData(inputs, measurement_ids)


def _run_day(run: Run, acquisitions: list[Acquisition]) -> dt.date:
    moments = [acquisition.acquired_at for acquisition in acquisitions if acquisition.acquired_at is not None]
    moment = min(moments) if moments else (run.started_at or run.imported_at)
    return moment.date()


def _method_loq(run: Run) -> dict[str, float]:
    limits: dict[str, float] = {}
    for channel in MethodChannel.objects.filter(method_id=run.method_id, loq__isnull=False).select_related("analyte"):
        assert channel.loq is not None
        converted = _to_solution(channel.loq, channel.unit)
        if converted is not None:
            limits[channel.analyte.code] = converted
    return limits


def _calibration(run: Run) -> dict[int, dict[str, float]]:
    levels: dict[int, dict[str, float]] = defaultdict(dict)
    for nominal in CalibrationNominal.objects.filter(method_id=run.method_id).select_related("analyte"):
        converted = _to_solution(nominal.value, nominal.unit)
        if converted is not None:
            levels[nominal.level][nominal.analyte.code] = converted
    return dict(levels)


def _nominals(run: Run, *, kinds: tuple[str, ...] = ("icv", "ccv", "lcs", "low_level_check")) -> dict[str, dict[str, float]]:
    """role -> channel -> µg/L; a value given as a calibration level takes that level's nominal."""
    calibration = _calibration(run)
    standards = QcStandard.objects.filter(method_id=run.method_id, kind__in=kinds).prefetch_related("values__analyte")
    nominals: dict[str, dict[str, float]] = {}
    for standard in standards:
        values: dict[str, float] = {}
        for entry in standard.values.all():
            code = entry.analyte.code
            if entry.nominal is not None:
                converted = _to_solution(entry.nominal, standard.unit)
                if converted is not None:
                    values[code] = converted
            elif entry.calibration_level is not None and code in calibration.get(entry.calibration_level, {}):
                values[code] = calibration[entry.calibration_level][code]
        nominals[standard.kind] = values
    return nominals


def _crm_expectations(material_ids: set[int], *, analytes: set[str], on: dt.date) -> dict[str, CrmExpectation]:
    from assays.models import Analyte

    channels_of: dict[str, list[str]] = defaultdict(list)
    for code, symbol in Analyte.objects.filter(code__in=analytes, element__isnull=False).values_list("code", "element__symbol"):
        channels_of[symbol].append(code)
    expectations: dict[str, CrmExpectation] = {}
    materials = ReferenceMaterial.objects.filter(pk__in=material_ids).prefetch_related(
        Prefetch("certified_values", queryset=CertifiedValue.objects.select_related("element"))
    )
    for material in materials:
        expected: dict[str, float] = {}
        problem = ""
        for certified in material.certified_values.all():
            try:
                unit = unit_lookup(certified.unit, medium=Medium.SOLID)
            except UnitError:
                problem = f"certified value of {certified.element.symbol} in an unknown unit {certified.unit!r}"
                continue
            if unit.medium is Medium.SOLUTION:
                concentration = unit.canonical(certified.value)
            elif material.digest_mass_g and material.digest_volume_ml:
                # w (mg/kg) = c (µg/L) · V (mL) · DF / (1000 · m (g)), solved for c.
                concentration = (
                    unit.canonical(certified.value)
                    * 1000.0
                    * material.digest_mass_g
                    / (material.digest_volume_ml * material.digest_dilution_factor)
                )
            else:
                problem = "certified as a mass fraction, but no digest mass and volume are set for it"
                continue
            for code in channels_of.get(certified.element.symbol, []):
                expected[code] = concentration
        expired = material.expires_on.isoformat() if material.expires_on is not None and material.expires_on < on else None
        expectations[str(material.pk)] = CrmExpectation(name=str(material), expected=expected, expired_on=expired, problem=problem)
    return expectations


# --- Stored checks back into the evaluator's form -------------------------------------------------


def stored_checks(*, evaluation: QcEvaluation) -> tuple[list[Check], set[str]]:
    """The evaluation's checks as ``assays.qc`` made them, and the keys of the waived ones."""
    checks: list[Check] = []
    waived: set[str] = set()
    rows = QcCheck.objects.filter(evaluation=evaluation).select_related("acquisition", "analyte").order_by("id")
    waived_ids = set(QcWaiver.objects.filter(check_result__evaluation=evaluation).values_list("check_result_id", flat=True))
    for row in rows:
        checks.append(
            Check(
                kind=CheckKind(row.kind),
                passed=row.passed,
                message=row.message,
                effect=Effect(row.effect),
                sequence=row.acquisition.sequence if row.acquisition is not None else None,
                label=row.label,
                analyte=row.analyte.code if row.analyte is not None else None,
                measured=row.measured,
                expected=row.expected,
                low=row.low,
                high=row.high,
                unit=row.unit,
                affects=tuple(row.affects),
            )
        )
        if row.pk in waived_ids:
            waived.add(row.key)
    return checks, waived


# --- The run page's QC panel -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QcPanel:
    run: Run
    evaluation: QcEvaluation | None
    checks: list[QcCheck]
    failed: list[QcCheck]
    kind_counts: list[tuple[str, int, int]]  # label, passed, failed
    acceptance_counts: dict[str, int]
    history: list[QcEvaluation]


def current_evaluation(*, run: Run) -> QcEvaluation | None:
    return QcEvaluation.objects.filter(run=run, is_current=True).select_related("rule_pack", "requested_by", "run_rejected_by").first()


def run_qc_panel(*, actor: User | AnonymousUser, run_id: int, failed_only: bool = False) -> QcPanel:
    """What the run page's QC panel shows, for a run the actor may see."""
    run = run_get(actor=actor, run_id=run_id)
    evaluation = current_evaluation(run=run)
    history = list(QcEvaluation.objects.filter(run=run).select_related("rule_pack", "requested_by").order_by("-evaluated_at", "-id"))
    if evaluation is None:
        return QcPanel(run, None, [], [], [], {}, history)
    checks_qs = (
        QcCheck.objects.filter(evaluation=evaluation)
        .select_related("acquisition", "analyte", "waiver", "waiver__decided_by")
        .order_by("id")
    )
    checks = list(checks_qs.filter(passed=False) if failed_only else checks_qs)
    failed = [check for check in checks if not check.passed] if not failed_only else checks
    counts: Counter[tuple[str, bool]] = Counter(QcCheck.objects.filter(evaluation=evaluation).values_list("kind", "passed"))
    kind_counts = [
        (kind.label, counts.get((kind.value, True), 0), counts.get((kind.value, False), 0))
        for kind in CheckKind
        if counts.get((kind.value, True)) or counts.get((kind.value, False))
    ]
    acceptance_counts = dict(Counter(ResultAcceptance.objects.filter(evaluation=evaluation).values_list("state", flat=True)))
    return QcPanel(run, evaluation, checks, failed, kind_counts, acceptance_counts, history)
