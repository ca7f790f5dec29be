"""A run's QC, in two steps (domain doc §4):

1. ``evaluate_checks``: every QC item of the run, under a rule pack, gives ``Check`` s (item,
   analyte, measured, expected, window, pass or fail, and what a failure affects);
2. ``decide``: the checks (minus those a reviewer waived) give each sample x analyte result its
   acceptance, and the run its status: accepted, partially accepted or rejected.

Kept apart so that a reviewer's waiver re-runs step 2 only, on the checks already stored.

What a failed check affects:
- calibration correlation, calibration-standard recovery, ICV, low-level check, LCS, method blank
  and CRM: that analyte in the whole run (a check without an analyte: every analyte);
- CCV and CCB: the samples they bracket. A result counts only if the nearest CCV before it and the
  nearest CCV after it both pass for that analyte, and likewise for CCBs. Before the first CCV the
  calibration (and the ICV, judged for the whole run) opens the bracket; after the last one the
  pack's ``at_end`` decides: when it asks for a closing CCV its absence is a failed check of its own;
- internal standard: every analyte of that acquisition (a failed internal standard in a CCV or CCB
  also makes that check fail, since its recoveries are no longer trustworthy);
- matrix spike and duplicate: that analyte of the parent sample's acquisition(s);
- CCV frequency: the samples past the allowed number since the last CCV;
- over range: that one result, which is marked "re-dilute".
An acquisition the instrument rejected (``Rjct``) is excluded and judges nothing.

All concentrations here are in solution units (µg/L), as the instrument measured them: QC items
are never converted to the solid, and sample readings are the raw values before conversion.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from assays.qc.packs import CheckKind, CheckRule, RulePack, Window, at_limit

SAMPLE = ""  # the role of an acquisition that is not a QC item (a sample, matched or not)

_RECOVERY_ROLES = {"icv": CheckKind.ICV, "ccv": CheckKind.CCV, "lcs": CheckKind.LCS, "low_level_check": CheckKind.LOW_LEVEL_CHECK}
_BLANK_ROLES = {"ccb": CheckKind.CCB, "method_blank": CheckKind.METHOD_BLANK}
_ROLE_OF_KIND = {
    CheckKind.ICV: "icv",
    CheckKind.LOW_LEVEL_CHECK: "low_level_check",
    CheckKind.CCV: "ccv",
    CheckKind.LCS: "lcs",
    CheckKind.CCB: "ccb",
    CheckKind.METHOD_BLANK: "method_blank",
    CheckKind.MATRIX_SPIKE: "spike",
    CheckKind.DUPLICATE: "duplicate",
    CheckKind.CRM: "crm",
    CheckKind.CALIBRATION_STANDARD: "calibration_standard",
    CheckKind.CALIBRATION_CORRELATION: "calibration_standard",
}
_BRACKET_KINDS = (CheckKind.CCV, CheckKind.CCB)


class Effect(enum.StrEnum):
    RUN = "run"  # the analyte (or all analytes) in every sample of the run
    BRACKET = "bracket"  # the samples between this check and its neighbours of the same kind
    ACQUISITION = "acquisition"  # every analyte of one acquisition
    RESULTS = "results"  # the acquisitions in ``affects``, for the analyte (or all analytes)


class State(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REDILUTE = "redilute"
    EXCLUDED = "excluded"


class RunVerdict(enum.StrEnum):
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Reading:
    """One channel of one acquisition in µg/L: the instrument's number, uncensored (it may be
    negative), and whether it was below the LOD."""

    value: float
    censored: bool = False


@dataclass(frozen=True, slots=True)
class InternalStandard:
    counts_per_second: float | None
    recovery_percent: float | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One acquisition of the run."""

    sequence: int
    label: str
    role: str = SAMPLE  # a QcRole value; "" for a sample
    readings: Mapping[str, Reading] = field(default_factory=dict)
    calibration_level: int | None = None
    rejected_by_instrument: bool = False
    sample_code: str | None = None  # a sample's code; a duplicate's or spike's parent sample
    reference_material: str | None = None  # a CRM: the key of its CrmExpectation
    internal_standards: Mapping[str, InternalStandard] = field(default_factory=dict)
    # Results with no reading in solution (reported on the solid by the file, or typed in): judged
    # by the run-wide and bracketing checks like any other, but by nothing that needs a reading.
    solid_only: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return f"{self.sequence} ({self.label})" if self.label else str(self.sequence)

    @property
    def results(self) -> list[str]:
        """Every analyte the acquisition has a result for."""
        return [*self.readings, *sorted(self.solid_only - set(self.readings))]


@dataclass(frozen=True, slots=True)
class CrmExpectation:
    name: str
    expected: Mapping[str, float]  # channel -> µg/L expected in the measured solution
    expired_on: str | None = None  # ISO date, when the CRM lot had expired at the run's date
    problem: str = ""  # why no value can be expected (e.g. no digest mass for a solid CRM)


@dataclass(frozen=True, slots=True)
class RunQcInputs:
    items: Sequence[Item]
    analytes: Sequence[str]  # the channels judged (analyte channels, internal standards excluded)
    loq: Mapping[str, float] = field(default_factory=dict)  # µg/L
    nominals: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # role -> channel -> µg/L
    calibration: Mapping[int, Mapping[str, float]] = field(default_factory=dict)  # level -> channel -> µg/L
    spike_added: Mapping[str, float] = field(default_factory=dict)  # channel -> µg/L added
    crms: Mapping[str, CrmExpectation] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Check:
    kind: CheckKind
    passed: bool
    message: str
    effect: Effect
    sequence: int | None = None
    label: str = ""
    analyte: str | None = None
    measured: float | None = None
    expected: float | None = None
    low: float | None = None
    high: float | None = None
    unit: str = "%"
    affects: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        """Stable within a run and a pack version: how a reviewer's waiver finds its check again."""
        where = str(self.sequence) if self.sequence is not None else (self.label or "-")
        return f"{self.kind.value}:{where}:{self.analyte or '*'}"


@dataclass(frozen=True, slots=True)
class Acceptance:
    sequence: int
    analyte: str
    state: State
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    acceptances: list[Acceptance]
    status: RunVerdict
    failed_checks: int  # not waived
    note: str


# --- Step 1: checks --------------------------------------------------------------------------------


def evaluate_checks(*, pack: RulePack, inputs: RunQcInputs) -> list[Check]:
    """Every check the pack asks for, over the run's items, in acquisition order within each kind."""
    if not pack.judges_results:
        return []
    items = sorted((item for item in inputs.items if not item.rejected_by_instrument), key=lambda item: item.sequence)
    checks: list[Check] = []
    for kind, rule in sorted(pack.rules.items(), key=lambda entry: list(CheckKind).index(entry[0])):
        checks.extend(_checks_of(kind, rule, items=items, inputs=inputs))
    return checks


def _checks_of(kind: CheckKind, rule: CheckRule, *, items: list[Item], inputs: RunQcInputs) -> Iterable[Check]:
    if kind is CheckKind.CALIBRATION_CORRELATION:
        return _calibration_correlation(rule, items=items, inputs=inputs)
    if kind is CheckKind.CALIBRATION_STANDARD:
        return _calibration_standards(rule, items=items, inputs=inputs)
    if kind in _RECOVERY_ROLES.values():
        return _recoveries(kind, rule, items=items, inputs=inputs)
    if kind in _BLANK_ROLES.values():
        return _blanks(kind, rule, items=items, inputs=inputs)
    if kind is CheckKind.MATRIX_SPIKE:
        return _spikes(rule, items=items, inputs=inputs)
    if kind is CheckKind.DUPLICATE:
        return _duplicates(rule, items=items, inputs=inputs)
    if kind is CheckKind.INTERNAL_STANDARD:
        return _internal_standards(rule, items=items)
    if kind is CheckKind.CRM:
        return _crms(rule, items=items, inputs=inputs)
    if kind is CheckKind.OVER_RANGE:
        return _over_range(items=items, inputs=inputs)
    return []


def _missing(kind: CheckKind, *, analyte: str | None = None, detail: str = "") -> Check:
    what = kind.label.replace(" recovery", "").replace(" RPD", "")
    subject = f" for {analyte}" if analyte else ""
    return Check(
        kind=kind,
        passed=False,
        message=f"required by the rule pack, missing from the run{subject}: {detail or f'no {what} item'}",
        effect=Effect.RUN,
        analyte=analyte,
        unit="",
    )


def _recovery_check(
    kind: CheckKind, item: Item, analyte: str, *, measured: float, expected: float, window: Window, effect: Effect, what: str = ""
) -> Check:
    recovery = measured / expected * 100.0
    passed = math.isfinite(recovery) and window.contains(recovery)
    verdict = "within" if passed else "outside"
    return Check(
        kind=kind,
        passed=passed,
        message=f"{what or kind.label} {recovery:.1f} % ({measured:.6g} of {expected:.6g} µg/L), {verdict} {window}",
        effect=effect,
        sequence=item.sequence,
        label=item.label,
        analyte=analyte,
        measured=recovery,
        expected=100.0,
        low=window.low,
        high=window.high,
    )


def _recoveries(kind: CheckKind, rule: CheckRule, *, items: list[Item], inputs: RunQcInputs) -> list[Check]:
    role = _ROLE_OF_KIND[kind]
    assert rule.window is not None
    nominals = inputs.nominals.get(role, {})
    effect = Effect.BRACKET if kind is CheckKind.CCV else Effect.RUN
    checks: list[Check] = []
    of_role = [item for item in items if item.role == role]
    covered: set[str] = set()
    for item in of_role:
        for analyte in inputs.analytes:
            reading = item.readings.get(analyte)
            expected = nominals.get(analyte)
            if reading is None or expected is None or expected <= 0:
                continue
            covered.add(analyte)
            checks.append(
                _recovery_check(kind, item, analyte, measured=reading.value, expected=expected, window=rule.window, effect=effect)
            )
    if kind is CheckKind.CCV:
        checks.extend(_ccv_schedule(rule, items=items))
    if rule.required:
        if not of_role:
            checks.append(_missing(kind))
        elif not nominals:
            checks.append(_missing(kind, detail=f"the method gives no nominal concentrations for its {role.upper()} standard"))
        else:
            for analyte in inputs.analytes:
                if analyte not in covered and analyte in nominals:
                    checks.append(_missing(kind, analyte=analyte, detail=f"no {role.upper()} reading for this channel"))
    return checks


def _is_measured_sample(item: Item) -> bool:
    return item.role == SAMPLE and bool(item.readings or item.solid_only)


def _ccv_schedule(rule: CheckRule, *, items: list[Item]) -> list[Check]:
    """The CCV frequency (every N samples) and the closing CCV after the last sample."""
    checks: list[Check] = []
    if rule.every_samples is not None:
        since: list[Item] = []
        opened_by = "the calibration"
        for item in [*items, None]:
            if item is not None and item.role in {"calibration_standard", "calibration_blank"}:
                since, opened_by = [], f"the calibration at {item.name}"  # a recalibration opens afresh
                continue
            if item is None or item.role == "ccv":
                if len(since) > rule.every_samples:
                    beyond = since[rule.every_samples :]
                    closed_by = f"the CCV at {item.name}" if item is not None else "the end of the run"
                    checks.append(
                        Check(
                            kind=CheckKind.CCV_FREQUENCY,
                            passed=False,
                            message=(
                                f"{len(since)} samples between {opened_by} and {closed_by}; the pack asks for a CCV every "
                                f"{rule.every_samples}: samples {beyond[0].name} to {beyond[-1].name} are not bracketed"
                            ),
                            effect=Effect.RESULTS,
                            sequence=beyond[0].sequence,
                            label=beyond[0].label,
                            measured=float(len(since)),
                            high=float(rule.every_samples),
                            unit="samples",
                            affects=tuple(sample.sequence for sample in beyond),
                        )
                    )
                if item is not None:
                    since, opened_by = [], f"the CCV at {item.name}"
            elif _is_measured_sample(item):
                since.append(item)
    if rule.at_end:
        last_ccv = max((item.sequence for item in items if item.role == "ccv"), default=None)
        after = [item for item in items if _is_measured_sample(item) and (last_ccv is None or item.sequence > last_ccv)]
        if after and last_ccv is not None:
            checks.append(
                Check(
                    kind=CheckKind.CCV_FREQUENCY,
                    passed=False,
                    message=f"no CCV after the last sample: {len(after)} sample(s) after the CCV at {last_ccv} are not bracketed",
                    effect=Effect.RESULTS,
                    sequence=None,
                    label="closing CCV",
                    unit="",
                    affects=tuple(item.sequence for item in after),
                )
            )
    return checks


def _blanks(kind: CheckKind, rule: CheckRule, *, items: list[Item], inputs: RunQcInputs) -> list[Check]:
    role = _ROLE_OF_KIND[kind]
    effect = Effect.BRACKET if kind is CheckKind.CCB else Effect.RUN
    of_role = [item for item in items if item.role == role]
    checks: list[Check] = []
    for item in of_role:
        for analyte in inputs.analytes:
            reading = item.readings.get(analyte)
            if reading is None:
                continue
            loq = inputs.loq.get(analyte)
            if loq is None:
                checks.append(
                    Check(
                        kind=kind,
                        passed=False,
                        message="the method gives no LOQ for this channel: the blank cannot be judged",
                        effect=effect,
                        sequence=item.sequence,
                        label=item.label,
                        analyte=analyte,
                        measured=reading.value,
                        unit="µg/L",
                    )
                )
                continue
            limit = rule.blank_limit.of(loq)
            limit_name = rule.blank_limit.value.replace("_", " ")
            passed = reading.censored or reading.value < limit
            shown = "< LOD" if reading.censored else f"{reading.value:.4g} µg/L"
            checks.append(
                Check(
                    kind=kind,
                    passed=passed,
                    message=f"{shown}, {'below' if passed else 'not below'} the limit {limit:.4g} µg/L ({limit_name})",
                    effect=effect,
                    sequence=item.sequence,
                    label=item.label,
                    analyte=analyte,
                    measured=reading.value,
                    high=limit,
                    unit="µg/L",
                )
            )
    if rule.required and not of_role:
        checks.append(_missing(kind))
    return checks


def _parent_items(item: Item, items: list[Item]) -> list[Item]:
    """The sample a duplicate or spike was made from: its nearest acquisition before it, else after."""
    if item.sample_code is None:
        return []
    same = [other for other in items if other.role == SAMPLE and other.sample_code == item.sample_code]
    before = [other for other in same if other.sequence < item.sequence]
    if before:
        return [before[-1]]
    return same[:1]


def _no_parent(kind: CheckKind, item: Item) -> Check:
    # Reported (and flagged with the run), but it rejects nothing: with no parent there is no
    # result it could speak for.
    named = f"sample {item.sample_code}" if item.sample_code else "no registered sample"
    return Check(
        kind=kind,
        passed=False,
        message=f"{named}: the sample it was made from is not in this run, so it cannot be judged",
        effect=Effect.RESULTS,
        sequence=item.sequence,
        label=item.label,
        unit="",
    )


def _with_parents(made_from: list[Item], kind: CheckKind, *, items: list[Item], checks: list[Check]) -> Iterator[tuple[Item, Item]]:
    """(item, the sample it was made from) for each duplicate or spike; one without its sample in
    the run is reported in ``checks`` instead."""
    for item in made_from:
        parents = _parent_items(item, items)
        if not parents:
            checks.append(_no_parent(kind, item))
            continue
        yield item, parents[0]


def _spikes(rule: CheckRule, *, items: list[Item], inputs: RunQcInputs) -> list[Check]:
    assert rule.window is not None
    spikes = [item for item in items if item.role == "spike"]
    checks: list[Check] = []
    for item, parent in _with_parents(spikes, CheckKind.MATRIX_SPIKE, items=items, checks=checks):
        for analyte in inputs.analytes:
            spiked, unspiked, added = item.readings.get(analyte), parent.readings.get(analyte), inputs.spike_added.get(analyte)
            if spiked is None or unspiked is None or added is None or added <= 0:
                continue
            background = 0.0 if unspiked.censored else max(unspiked.value, 0.0)
            if rule.max_background_ratio is not None and background > rule.max_background_ratio * added:
                continue  # the spike is lost in the sample's own content: not judged (EPA 200.8 9.4.3)
            check = _recovery_check(
                CheckKind.MATRIX_SPIKE,
                item,
                analyte,
                measured=spiked.value - background,
                expected=added,
                window=rule.window,
                effect=Effect.RESULTS,
                what=f"Spike recovery on {parent.name}",
            )
            checks.append(_with_affects(check, (parent.sequence,)))
    if rule.required and not spikes:
        checks.append(_missing(CheckKind.MATRIX_SPIKE))
    return checks


def _with_affects(check: Check, affects: tuple[int, ...]) -> Check:
    return dataclasses.replace(check, affects=affects)


def _duplicates(rule: CheckRule, *, items: list[Item], inputs: RunQcInputs) -> list[Check]:
    assert rule.max_rpd is not None
    duplicates = [item for item in items if item.role == "duplicate"]
    checks: list[Check] = []
    for item, parent in _with_parents(duplicates, CheckKind.DUPLICATE, items=items, checks=checks):
        for analyte in inputs.analytes:
            first, second, loq = parent.readings.get(analyte), item.readings.get(analyte), inputs.loq.get(analyte)
            if first is None or second is None or loq is None or first.censored or second.censored:
                continue
            mean = (first.value + second.value) / 2
            if mean <= rule.min_loq_multiple * loq:
                continue  # RPD near the LOQ says nothing about precision: judged only above 5 x LOQ
            rpd = abs(first.value - second.value) / mean * 100.0
            passed = rpd <= rule.max_rpd or at_limit(rpd, rule.max_rpd)  # 1.1 vs 0.9 gives 20.000000000000007
            checks.append(
                Check(
                    kind=CheckKind.DUPLICATE,
                    passed=passed,
                    message=(
                        f"RPD {rpd:.1f} % between {parent.name} ({first.value:.6g}) and its duplicate ({second.value:.6g}), "
                        f"{'within' if passed else 'above'} {rule.max_rpd:g} %"
                    ),
                    effect=Effect.RESULTS,
                    sequence=item.sequence,
                    label=item.label,
                    analyte=analyte,
                    measured=rpd,
                    high=rule.max_rpd,
                    affects=(parent.sequence,),
                )
            )
    if rule.required and not duplicates:
        checks.append(_missing(CheckKind.DUPLICATE))
    return checks


def _internal_standards(rule: CheckRule, *, items: list[Item]) -> list[Check]:
    """Each internal standard's recovery in each acquisition: as the software reports it, or its
    response against the latest calibration blank before it (the first one for items before any)."""
    assert rule.window is not None
    blanks = [item for item in items if item.role == "calibration_blank" and item.internal_standards]
    blank_sequences = [blank.sequence for blank in blanks]
    checks: list[Check] = []
    for item in items:
        for code, response in sorted(item.internal_standards.items()):
            recovery = response.recovery_percent
            reference_name = "reported"
            if recovery is None and response.counts_per_second is not None and blanks:
                position = max(bisect.bisect_right(blank_sequences, item.sequence) - 1, 0)
                reference = blanks[position].internal_standards.get(code)
                if reference is not None and reference.counts_per_second:
                    recovery = response.counts_per_second / reference.counts_per_second * 100.0
                    reference_name = f"of the calibration blank at {blanks[position].name}"
            if recovery is None or not math.isfinite(recovery):
                continue
            passed = rule.window.contains(recovery)
            checks.append(
                Check(
                    kind=CheckKind.INTERNAL_STANDARD,
                    passed=passed,
                    message=f"{code} at {recovery:.1f} % ({reference_name}), {'within' if passed else 'outside'} {rule.window}",
                    effect=Effect.ACQUISITION,
                    sequence=item.sequence,
                    label=item.label,
                    analyte=code,
                    measured=recovery,
                    expected=100.0,
                    low=rule.window.low,
                    high=rule.window.high,
                )
            )
    if rule.required and not checks:
        checks.append(_missing(CheckKind.INTERNAL_STANDARD, detail="no internal-standard response can be judged"))
    return checks


def _crms(rule: CheckRule, *, items: list[Item], inputs: RunQcInputs) -> list[Check]:
    assert rule.window is not None
    crms = [item for item in items if item.role == "crm"]
    checks: list[Check] = []
    for item in crms:
        expectation = inputs.crms.get(item.reference_material or "")
        problem = ""
        if expectation is None:
            problem = "no reference material with certified values is linked to this CRM acquisition"
        elif expectation.expired_on:
            problem = f"{expectation.name} had expired on {expectation.expired_on}: an expired CRM cannot verify a run"
        elif expectation.problem:
            problem = f"{expectation.name}: {expectation.problem}"
        if problem:
            checks.append(
                Check(
                    kind=CheckKind.CRM, passed=False, message=problem, effect=Effect.RUN, sequence=item.sequence, label=item.label, unit=""
                )
            )
            continue
        assert expectation is not None
        for analyte in inputs.analytes:
            reading, expected = item.readings.get(analyte), expectation.expected.get(analyte)
            if reading is None or expected is None or expected <= 0:
                continue
            checks.append(
                _recovery_check(
                    CheckKind.CRM,
                    item,
                    analyte,
                    measured=reading.value,
                    expected=expected,
                    window=rule.window,
                    effect=Effect.RUN,
                    what=f"{expectation.name} recovery",
                )
            )
    if rule.required and not crms:
        checks.append(_missing(CheckKind.CRM))
    return checks


def _calibration_points(items: list[Item], inputs: RunQcInputs) -> dict[str, list[tuple[float, float, int]]]:
    """analyte -> (nominal, measured, level) for each calibration blank and standard of the run."""
    points: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for item in items:
        if item.role not in {"calibration_standard", "calibration_blank"} or item.calibration_level is None:
            continue
        nominals = inputs.calibration.get(item.calibration_level, {})
        for analyte in inputs.analytes:
            reading, nominal = item.readings.get(analyte), nominals.get(analyte)
            if reading is not None and nominal is not None:
                points[analyte].append((nominal, reading.value, item.calibration_level))
    return points


def _calibration_correlation(rule: CheckRule, *, items: list[Item], inputs: RunQcInputs) -> list[Check]:
    assert rule.min_r is not None
    checks: list[Check] = []
    points = _calibration_points(items, inputs)
    for analyte in inputs.analytes:
        pairs = points.get(analyte, [])
        r = _pearson([nominal for nominal, _, _ in pairs], [measured for _, measured, _ in pairs])
        if r is None:
            if rule.required and inputs.calibration:
                checks.append(_missing(CheckKind.CALIBRATION_CORRELATION, analyte=analyte, detail="fewer than 3 calibration points"))
            continue
        passed = r >= rule.min_r
        checks.append(
            Check(
                kind=CheckKind.CALIBRATION_CORRELATION,
                passed=passed,
                message=f"r = {r:.5f} over {len(pairs)} calibration points, {'at or above' if passed else 'below'} {rule.min_r:g}",
                effect=Effect.RUN,
                analyte=analyte,
                measured=r,
                low=rule.min_r,
                unit="r",
            )
        )
    if rule.required and not inputs.calibration:
        checks.append(_missing(CheckKind.CALIBRATION_CORRELATION, detail="the method gives no calibration standard concentrations"))
    elif rule.required and not points:
        checks.append(_missing(CheckKind.CALIBRATION_CORRELATION, detail="no calibration standard with a known level"))
    return checks


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 3:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    # d * d, not d ** 2: float ** raises OverflowError where * gives inf (caught below)
    sxx = sum((x - mean_x) * (x - mean_x) for x in xs)
    syy = sum((y - mean_y) * (y - mean_y) for y in ys)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    if sxx <= 0 or syy <= 0:
        return None
    r = sxy / math.sqrt(sxx * syy)
    return r if math.isfinite(r) else None


def _calibration_standards(rule: CheckRule, *, items: list[Item], inputs: RunQcInputs) -> list[Check]:
    assert rule.window is not None
    checks: list[Check] = []
    points = _calibration_points(items, inputs)
    lowest = {analyte: min((nominal for nominal, _, _ in pairs if nominal > 0), default=None) for analyte, pairs in points.items()}
    for item in items:
        if item.role != "calibration_standard" or item.calibration_level is None:
            continue
        nominals = inputs.calibration.get(item.calibration_level, {})
        for analyte in inputs.analytes:
            reading, nominal = item.readings.get(analyte), nominals.get(analyte)
            if reading is None or nominal is None or nominal <= 0:
                continue
            window = rule.lowest_level_window if rule.lowest_level_window and nominal == lowest.get(analyte) else rule.window
            checks.append(
                _recovery_check(
                    CheckKind.CALIBRATION_STANDARD,
                    item,
                    analyte,
                    measured=reading.value,
                    expected=nominal,
                    window=window,
                    effect=Effect.RUN,
                    what=f"Level {item.calibration_level} recovery",
                )
            )
    if rule.required and not checks:
        checks.append(_missing(CheckKind.CALIBRATION_STANDARD, detail="no calibration standard with known nominal concentrations"))
    return checks


def _over_range(*, items: list[Item], inputs: RunQcInputs) -> list[Check]:
    """A sample reading above the highest calibration standard of the run: re-dilute."""
    top: dict[str, float] = {}
    for nominal_level in {item.calibration_level for item in items if item.role == "calibration_standard"}:
        if nominal_level is None:
            continue
        for analyte, nominal in inputs.calibration.get(nominal_level, {}).items():
            top[analyte] = max(top.get(analyte, nominal), nominal)
    checks: list[Check] = []
    for item in items:
        if item.role != SAMPLE:
            continue
        for analyte, reading in item.readings.items():
            highest = top.get(analyte)
            if highest is None or highest <= 0 or reading.censored or reading.value <= highest:
                continue
            checks.append(
                Check(
                    kind=CheckKind.OVER_RANGE,
                    passed=False,
                    message=f"{reading.value:.6g} µg/L is above the highest calibration standard ({highest:.6g} µg/L): re-dilute",
                    effect=Effect.RESULTS,
                    sequence=item.sequence,
                    label=item.label,
                    analyte=analyte,
                    measured=reading.value,
                    high=highest,
                    unit="µg/L",
                    affects=(item.sequence,),
                )
            )
    return checks


# --- Step 2: acceptance ---------------------------------------------------------------------------


def decide(*, pack: RulePack, inputs: RunQcInputs, checks: Sequence[Check], waived: Collection[str] = ()) -> Outcome:
    """Each sample x analyte result's acceptance and the run's status, from the checks that failed
    and were not waived (by their ``key``)."""
    samples = sorted((item for item in inputs.items if _is_measured_sample(item)), key=lambda item: item.sequence)
    failing = [check for check in checks if not check.passed and check.key not in waived]
    if not pack.judges_results:
        as_entered = [
            Acceptance(
                item.sequence,
                analyte,
                State.EXCLUDED if item.rejected_by_instrument else State.ACCEPTED,
                ("rejected by the instrument",) if item.rejected_by_instrument else (),
            )
            for item in samples
            for analyte in item.results
        ]
        return Outcome(as_entered, _status(as_entered, failing=0), 0, f"Rule pack {pack.code!r}: results count as entered, no run QC.")

    run_wide: dict[str | None, list[str]] = defaultdict(list)  # analyte (None: all) -> reasons
    per_result: dict[tuple[int, str | None], list[str]] = defaultdict(list)  # (sequence, analyte or None) -> reasons
    redilute: dict[tuple[int, str], str] = {}
    failed_bracket_sequences: set[int] = set()
    for check in failing:
        reason = _reason(check)
        if check.effect is Effect.RUN:
            run_wide[check.analyte].append(reason)
        elif check.effect is Effect.ACQUISITION and check.sequence is not None:
            per_result[(check.sequence, None)].append(reason)
            failed_bracket_sequences.add(check.sequence)  # an ISTD failure in a CCV/CCB fails that check too
        elif check.effect is Effect.RESULTS:
            for sequence in check.affects:
                if check.kind is CheckKind.OVER_RANGE and check.analyte is not None:
                    redilute[(sequence, check.analyte)] = reason
                else:
                    per_result[(sequence, check.analyte)].append(reason)
    brackets = _bracket_index(checks, waived=waived, failed_sequences=failed_bracket_sequences)

    acceptances: list[Acceptance] = []
    for item in samples:
        for analyte in item.results:
            if item.rejected_by_instrument:
                acceptances.append(Acceptance(item.sequence, analyte, State.EXCLUDED, ("rejected by the instrument",)))
                continue
            reasons = [
                *run_wide.get(None, ()),
                *run_wide.get(analyte, ()),
                *per_result.get((item.sequence, None), ()),
                *per_result.get((item.sequence, analyte), ()),
                *_bracket_reasons(brackets, item.sequence, analyte),
            ]
            if reasons:
                acceptances.append(Acceptance(item.sequence, analyte, State.REJECTED, tuple(dict.fromkeys(reasons))))
            elif (item.sequence, analyte) in redilute:
                acceptances.append(Acceptance(item.sequence, analyte, State.REDILUTE, (redilute[(item.sequence, analyte)],)))
            else:
                acceptances.append(Acceptance(item.sequence, analyte, State.ACCEPTED))
    status = _status(acceptances, failing=len(failing))
    accepted = sum(1 for acceptance in acceptances if acceptance.state is State.ACCEPTED)
    note = f"Judged by {pack.code}: {len(checks)} checks, {len(failing)} failed; {accepted} of {len(acceptances)} results accepted."
    return Outcome(acceptances, status, len(failing), note)


def _status(acceptances: Sequence[Acceptance], *, failing: int) -> RunVerdict:
    if not acceptances:
        return RunVerdict.REJECTED if failing else RunVerdict.ACCEPTED
    accepted = sum(1 for acceptance in acceptances if acceptance.state is State.ACCEPTED)
    if accepted == len(acceptances):
        return RunVerdict.ACCEPTED
    return RunVerdict.REJECTED if accepted == 0 else RunVerdict.PARTIALLY_ACCEPTED


def _reason(check: Check) -> str:
    where = f" at {check.sequence}" + (f" ({check.label})" if check.label else "") if check.sequence is not None else ""
    subject = f" for {check.analyte}" if check.analyte and check.kind is not CheckKind.INTERNAL_STANDARD else ""
    return f"{check.kind.label}{where}{subject} failed: {check.message}"


@dataclass(slots=True)
class _Bracket:
    sequences: list[int]  # ascending
    passed: list[bool]
    reasons: list[str]


def _bracket_index(
    checks: Sequence[Check], *, waived: Collection[str], failed_sequences: set[int]
) -> dict[tuple[CheckKind, str], _Bracket]:
    """(CCV or CCB, analyte) -> the bracketing items covering it, in order, with pass/fail."""
    index: dict[tuple[CheckKind, str], _Bracket] = {}
    for check in sorted(
        (check for check in checks if check.kind in _BRACKET_KINDS and check.effect is Effect.BRACKET and check.analyte is not None),
        key=lambda check: check.sequence or 0,
    ):
        assert check.analyte is not None
        assert check.sequence is not None
        bracket = index.setdefault((check.kind, check.analyte), _Bracket([], [], []))
        istd_failed = check.sequence in failed_sequences
        passed = (check.passed or check.key in waived) and not istd_failed
        reason = (
            _reason(check)
            if not (check.passed or check.key in waived)
            else f"internal standard failed in the {check.kind.value.upper()} at {check.sequence}"
        )
        bracket.sequences.append(check.sequence)
        bracket.passed.append(passed)
        bracket.reasons.append(reason)
    return index


def _bracket_reasons(index: Mapping[tuple[CheckKind, str], _Bracket], sequence: int, analyte: str) -> list[str]:
    reasons: list[str] = []
    for kind in _BRACKET_KINDS:
        bracket = index.get((kind, analyte))
        if bracket is None:
            continue
        after = bisect.bisect_right(bracket.sequences, sequence)
        if after > 0 and not bracket.passed[after - 1]:
            reasons.append(bracket.reasons[after - 1])
        if after < len(bracket.sequences) and not bracket.passed[after]:
            reasons.append(bracket.reasons[after])
    return reasons
