"""A lot judged against its specification, from its samples' accepted results (domain doc §2, §3, §5).

PURE. For each sample, each censoring convention (0, LOD/2, LOD) gives the sample's quantities
(``purity.sample_quantities``); each spec line's quantity is then averaged over the samples per
convention (§3: "each convention is computed per sample and then averaged"), with the lot's
statistics on the best estimate (n, SD, RSD, 95 % CI, U = 2·√(u_meas² + s²/n)).

Which number a line is judged on: the worst case over the three conventions (the lowest value for
a minimum, the highest for a maximum), so that conformity to a minimum purity rests on the
upper-bound impurity sum (§3). An oxide, element or anion that is censored in every sample is
"< LOD" at the lot level, and a maximum limit then passes when the LOD is at or below it and is
"not determinable" otherwise. The report shows the best estimate.

A required analyte that a sample lacks makes the lot ``insufficient_data``: it is never taken as
zero (purity by difference would otherwise reward measuring less).
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from assays.chemistry.decisions import Bound, DecisionRule, LineJudgement, Verdict, limit_judge
from assays.chemistry.frozen import init_through_slots
from assays.chemistry.lot_statistics import LotStatistics, lot_statistics
from assays.chemistry.oxides import parse_oxide
from assays.chemistry.purity import (
    DEFAULT_TREO_ELEMENTS,
    MG_KG_PER_PERCENT,
    CompositionError,
    Convention,
    PayableComposition,
    Result,
    SampleComposition,
    SampleQuantities,
    payable_composition,
    ratio_with_uncertainty_percent,
    result_uncertainty,
    result_value,
    sample_quantities_by_convention,
)
from assays.errors import DomainError

CONVENTIONS = (Convention.LOWER, Convention.BEST, Convention.UPPER)


class AssessmentError(DomainError):
    """A specification line that cannot be evaluated on these results."""


class Status(enum.StrEnum):
    CONFORMING = "conforming"
    OFF_SPEC = "off_spec"
    INCONCLUSIVE = "inconclusive"
    INSUFFICIENT_DATA = "insufficient_data"
    NO_VERDICT = "no_verdict"  # a report of analysis: no line has a limit (a feedstock)


@dataclass(frozen=True, slots=True)
class Line:
    """One specification line, as the assessment needs it."""

    position: int
    quantity: str  # oxide, element, sum_re_impurities, sum_non_re, treo, relative_purity, main_oxide, ratio, loi, anion
    unit: str  # "%" or "mg/kg"
    element: str | None = None
    oxide: str | None = None
    anion: str | None = None
    ratio_oxides: tuple[str, ...] = ()
    minimum: str | None = None  # as written
    maximum: str | None = None
    comparison: str = "rounding"
    rule: str = "simple"

    @property
    def label(self) -> str:
        if self.quantity == "oxide":
            return str(self.oxide)
        if self.quantity == "element":
            return str(self.element)
        if self.quantity == "anion":
            return str(self.anion)
        if self.quantity == "ratio":
            return "(" + " + ".join(self.ratio_oxides) + ")/TREO"
        return self.quantity


@dataclass(frozen=True, slots=True)
class Specification:
    lines: tuple[Line, ...]
    main: frozenset[str] = frozenset()
    ignited: bool = False
    treo_includes: frozenset[str] | None = None  # None: the default (La-Lu and Y)
    required: tuple[str, ...] = ()  # element symbols, "LOI", anion names

    @property
    def has_verdicts(self) -> bool:
        return any(line.minimum or line.maximum for line in self.lines)

    @property
    def named_oxides(self) -> dict[str, str]:
        """Element -> the reporting oxide its oxide line names (the last line of an element wins);
        elements without one are reported as their conventional oxide."""
        return {line.element: line.oxide for line in self.lines if line.quantity == "oxide" and line.element and line.oxide}

    @property
    def treo_elements(self) -> frozenset[str]:
        """The rare earths counted in TREO: the spec's set, else La-Lu and Y."""
        return self.treo_includes if self.treo_includes is not None else DEFAULT_TREO_ELEMENTS


@dataclass(frozen=True, slots=True)
class SampleInput:
    code: str
    elements: Mapping[str, Result]
    anions: Mapping[str, Result] = field(default_factory=dict)
    loi_percent: Result | None = None


@init_through_slots
@dataclass(frozen=True, slots=True)
class LineOutcome:
    line: Line
    best: float | None  # lot mean of the best estimates; None when the quantity has no value
    lower: float | None
    upper: float | None
    statistics: LotStatistics | None
    censored: bool  # every sample below its LOD: shown as "< LOD"
    lod: float | None  # the lot's LOD (mean of the samples'), in the line's unit, when censored
    judged_value: float | None  # the worst case over the conventions, which the verdict rests on
    judgement: LineJudgement | None  # the comparison with a limit; None for a report-only line
    verdict: Verdict | None  # None for a report-only line
    reason: str
    # U = 2·√(u_meas² + s²/n); None when a sample's measurement uncertainty is unknown (never understated).
    expanded_u: float | None = None


@dataclass(frozen=True, slots=True)
class LotOutcome:
    status: Status
    n_samples: int
    lines: list[LineOutcome]
    missing: dict[str, list[str]]  # sample code -> required analytes it lacks
    reasons: list[str]


def sample_composition(sample: SampleInput, spec: Specification) -> SampleComposition:
    """The sample's results as the specification sees them (its reporting oxides, main set and
    TREO set), checked: ``AssessmentError`` naming the sample when they cannot make a composition."""
    try:
        return SampleComposition(
            elements=sample.elements,
            anions=sample.anions,
            loi_percent=sample.loi_percent,
            main=spec.main,
            oxides={symbol: formula for symbol, formula in spec.named_oxides.items() if symbol in sample.elements},
            treo_includes=spec.treo_elements,
        )
    except CompositionError as error:
        raise AssessmentError(f"sample {sample.code}: {error}") from error


def missing_analytes(samples: Sequence[SampleInput], spec: Specification) -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {}
    for sample in samples:
        lacking = []
        for analyte in spec.required:
            if analyte == "LOI":
                present = sample.loi_percent is not None
            elif analyte in sample.anions:
                present = True
            else:
                present = analyte in sample.elements
            if not present:
                lacking.append(analyte)
        if lacking:
            missing[sample.code] = lacking
    return missing


def _to_unit(value_mg_kg: float, unit: str) -> float:
    return value_mg_kg / MG_KG_PER_PERCENT if unit == "%" else value_mg_kg


def _percent_to_unit(value_percent: float, unit: str) -> float:
    return value_percent if unit == "%" else value_percent * MG_KG_PER_PERCENT


def _quantities(composition: SampleComposition) -> tuple[SampleQuantities, ...] | tuple[PayableComposition, ...]:
    """The sample's quantities under each of ``CONVENTIONS``, in that order."""
    if composition.main:
        return sample_quantities_by_convention(composition, conventions=CONVENTIONS)
    # No main component (a feedstock, §1, §6): nothing is by difference, and TREO is the measured
    # sum of the rare-earth oxides (GB/T 14635's sense), as received.
    return tuple(payable_composition(composition, convention=convention) for convention in CONVENTIONS)


def _payable_line_value(line: Line, payable: PayableComposition, composition: SampleComposition) -> tuple[float, float | None]:
    if line.quantity == "treo":
        u = payable.u_treo_percent
        return _percent_to_unit(payable.treo_percent, line.unit), None if u is None else _percent_to_unit(u, line.unit)
    if line.quantity == "oxide" and line.oxide in payable.oxide_percent:
        u = payable.u_oxide_percent[line.oxide]
        return _percent_to_unit(payable.oxide_percent[line.oxide], line.unit), None if u is None else _percent_to_unit(u, line.unit)
    result = composition.elements.get(line.element) if line.quantity == "element" and line.element else None
    if result is not None:
        u = result_uncertainty(result, convention=payable.convention)
        return _to_unit(result_value(result, convention=payable.convention), line.unit), None if u is None else _to_unit(u, line.unit)
    raise AssessmentError(f"{line.label} is not part of a payable composition (a specification without a main component)")


def _line_value(
    line: Line, q: SampleQuantities | PayableComposition, composition: SampleComposition, spec: Specification
) -> tuple[float, float | None]:
    """(value, standard uncertainty) of the line's quantity in one sample, in the line's unit."""
    if isinstance(q, PayableComposition):
        return _payable_line_value(line, q, composition)
    divisor = (1.0 - q.loi_percent / 100.0) if spec.ignited else 1.0
    if line.quantity == "oxide":
        assert line.oxide is not None
        if line.oxide in q.oxide_mg_kg:
            value, u = q.oxide_mg_kg[line.oxide], q.u_oxide_mg_kg.get(line.oxide)
        elif line.oxide in q.measured_main_oxide_mg_kg:
            value, u = q.measured_main_oxide_mg_kg[line.oxide], q.u_measured_main_oxide_mg_kg.get(line.oxide)
        else:
            raise AssessmentError(f"{line.oxide} was not measured")
        return _to_unit(value / divisor, line.unit), None if u is None else _to_unit(u / divisor, line.unit)
    if line.quantity == "element":
        assert line.element is not None
        result = composition.elements.get(line.element)
        if result is None:
            raise AssessmentError(f"{line.element} was not measured")
        value = result_value(result, convention=q.convention)
        u = result_uncertainty(result, convention=q.convention)
        return _to_unit(value / divisor, line.unit), None if u is None else _to_unit(u / divisor, line.unit)
    if line.quantity == "anion":
        assert line.anion is not None
        if line.anion not in q.anion_mg_kg:
            raise AssessmentError(f"{line.anion} was not measured")
        u = q.u_anion_mg_kg.get(line.anion)
        return _to_unit(q.anion_mg_kg[line.anion] / divisor, line.unit), None if u is None else _to_unit(u / divisor, line.unit)
    if line.quantity == "sum_re_impurities":
        value = q.ignited_sum_re_impurities_mg_kg if spec.ignited else q.sum_re_impurities_mg_kg
        u = q.u_sum_re_impurities_mg_kg
        return _to_unit(value, line.unit), None if u is None else _to_unit(u / divisor, line.unit)
    if line.quantity == "sum_non_re":
        value = q.ignited_sum_non_re_mg_kg if spec.ignited else q.sum_non_re_mg_kg
        u = q.u_sum_non_re_mg_kg
        return _to_unit(value, line.unit), None if u is None else _to_unit(u / divisor, line.unit)
    if line.quantity == "treo":
        value, u = (q.treo_ignited_percent, q.u_treo_percent) if spec.ignited else (q.treo_percent, q.u_treo_percent)
        return _percent_to_unit(value, line.unit), None if u is None else _percent_to_unit(u, line.unit)
    if line.quantity == "main_oxide":
        if spec.ignited:
            value, u = q.main_oxide_ignited_percent, q.u_main_oxide_ignited_percent
        else:
            value, u = q.main_oxide_percent, q.u_main_oxide_percent
        return _percent_to_unit(value, line.unit), None if u is None else _percent_to_unit(u, line.unit)
    if line.quantity == "relative_purity":
        return _percent_to_unit(q.relative_purity_percent, line.unit), q.u_relative_purity_percent
    if line.quantity == "ratio":
        # All of the main oxides together is the main oxide by difference (the PrNd grade); any
        # other selection needs those oxides measured (§2: the split needs the majors measured).
        covers_main = bool(spec.main) and {parse_oxide(formula).element for formula in line.ratio_oxides} == set(spec.main)
        numerator = ["main"] if covers_main else list(line.ratio_oxides)
        try:
            return ratio_with_uncertainty_percent(q, numerator=numerator)
        except CompositionError as error:
            raise AssessmentError(str(error)) from error
    if line.quantity == "loi":
        if not q.loi_measured:
            raise AssessmentError("LOI was not measured")
        return _percent_to_unit(q.loi_percent, line.unit), q.u_loi_percent
    raise AssessmentError(f"unknown quantity {line.quantity!r}")


def _censored_everywhere(line: Line, compositions: Sequence[SampleComposition]) -> bool:
    """Whether the line's single analyte is below its LOD in every sample."""
    results: list[Result] = []
    for composition in compositions:
        if line.quantity in {"oxide", "element"} and line.element is not None:
            result = composition.elements.get(line.element)
        elif line.quantity == "anion" and line.anion is not None:
            result = composition.anions.get(line.anion)
        else:
            return False
        if result is None or not result.censored:
            return False
        results.append(result)
    return bool(results)


def assess_lot(*, samples: Sequence[SampleInput], spec: Specification) -> LotOutcome:
    """The lot's value, statistics and verdict for every line, and its status."""
    if not samples:
        return LotOutcome(Status.INSUFFICIENT_DATA, 0, [], {}, ["no sample of the lot has accepted results"])
    missing = missing_analytes(samples, spec)
    if missing:
        reasons = [f"sample {code} lacks {', '.join(analytes)}" for code, analytes in sorted(missing.items())]
        return LotOutcome(Status.INSUFFICIENT_DATA, len(samples), [], missing, reasons)
    try:
        compositions = [sample_composition(sample, spec) for sample in samples]
        by_sample = [_quantities(composition) for composition in compositions]
        per_convention = {convention: [quantities[index] for quantities in by_sample] for index, convention in enumerate(CONVENTIONS)}
    except (AssessmentError, CompositionError) as error:
        # Results that cannot make a composition (impurities summing past 100 %, nothing to sum):
        # a person must look, so the lot is inconclusive and says why.
        return LotOutcome(Status.INCONCLUSIVE, len(samples), [], {}, [f"the results cannot be assessed: {error}"])
    outcomes = [_line_outcome(line, per_convention, compositions, spec) for line in spec.lines]
    return lot_outcome(spec=spec, n_samples=len(samples), lines=outcomes)


def lot_outcome(*, spec: Specification, n_samples: int, lines: list[LineOutcome]) -> LotOutcome:
    """The lot's status and reasons from its judged lines."""
    verdicts = [outcome.verdict for outcome in lines if outcome.verdict is not None]
    reasons = [
        f"{outcome.line.label}: {outcome.reason}"
        for outcome in lines
        if outcome.verdict is not None and outcome.verdict is not Verdict.PASS
    ]
    if not spec.has_verdicts:
        status = Status.NO_VERDICT
    elif any(verdict is Verdict.FAIL for verdict in verdicts):
        status = Status.OFF_SPEC
    elif any(verdict in {Verdict.INCONCLUSIVE, Verdict.NOT_DETERMINABLE} for verdict in verdicts):
        # "Not determinable" never lets a lot conform (§5).
        status = Status.INCONCLUSIVE
    else:
        status = Status.CONFORMING
    return LotOutcome(status, n_samples, lines, {}, reasons)


def _line_outcome(
    line: Line,
    per_convention: Mapping[Convention, list[SampleQuantities | PayableComposition]],
    compositions: Sequence[SampleComposition],
    spec: Specification,
) -> LineOutcome:
    judged = bool(line.minimum or line.maximum)
    try:
        values = {
            convention: [_line_value(line, q, c, spec) for q, c in zip(quantities, compositions, strict=True)]
            for convention, quantities in per_convention.items()
        }
    except AssessmentError as error:
        # A quantity that cannot be computed (an oxide of a ratio not measured) is never zero.
        verdict = Verdict.NOT_DETERMINABLE if judged else None
        return LineOutcome(line, None, None, None, None, False, None, None, None, verdict, f"cannot be computed: {error}")
    best_pairs = values[Convention.BEST]
    return judged_line_outcome(
        line,
        means=[statistics.fmean(value for value, _ in values[convention]) for convention in CONVENTIONS],
        best_values=[value for value, _ in best_pairs],
        uncertainties=[u for _, u in best_pairs],
        censored=_censored_everywhere(line, compositions),
    )


def judged_line_outcome(
    line: Line, *, means: Sequence[float], best_values: Sequence[float], uncertainties: Sequence[float | None], censored: bool
) -> LineOutcome:
    """A line's lot statistics and verdict from its per-sample values (``LineJudge.outcome``)."""
    return LineJudge(line).outcome(means=means, best_values=best_values, uncertainties=uncertainties, censored=censored)


class LineJudge:
    """One specification line, worked out once (its limits as ``decisions.LimitJudge``), to judge
    many lots' values: ``judged_line_outcome`` for each is ``outcome``, without working the line out
    again (a reassessment judges every line of thousands of lots)."""

    __slots__ = ("guard_band", "limits", "line")

    def __init__(self, line: Line) -> None:
        self.line = line
        self.guard_band = line.rule == DecisionRule.GUARD_BAND
        # Each bound the line has, with its limit worked out; most lines have one.
        self.limits = tuple(
            (bound, limit_judge(limit=written, bound=bound, comparison=line.comparison, rule=line.rule, unit=line.unit))
            for bound, written in ((Bound.MIN, line.minimum), (Bound.MAX, line.maximum))
            if written
        )

    def outcome(
        self, *, means: Sequence[float], best_values: Sequence[float], uncertainties: Sequence[float | None], censored: bool
    ) -> LineOutcome:
        """The line's lot statistics and verdict from its per-sample values.

        ``means``: the lot means under ``CONVENTIONS`` (lower, best, upper); ``best_values`` and
        ``uncertainties``: each sample's best estimate and its standard uncertainty (None: unknown);
        ``censored``: the line's analyte is below its LOD in every sample.
        """
        line = self.line
        lower_mean, best_mean, upper_mean = means
        # statistics.fmean's own arithmetic (fsum over n), without its generality: every line of every lot comes here.
        u_measurement = math.fsum(uncertainties) / len(uncertainties) if uncertainties and None not in uncertainties else None  # type: ignore[arg-type]  # no None, just checked
        stats = lot_statistics(values=best_values, u_measurement=u_measurement or 0.0)
        # The lot's LOD is the mean of the limits the samples were censored at (a censored result's
        # value, which is an outside lab's wider "< x" where there is one, not the method's LOD), as the
        # line's oxide and on the spec's basis: exactly the upper-bound lot value (lot_censoring_limit).
        lod = upper_mean if censored else None
        # U: unknown when a sample's measurement uncertainty is (never understated).
        expanded = stats.expanded_u if u_measurement is not None else None
        if not self.limits:
            reason = "reported without a limit"
            return LineOutcome(line, best_mean, lower_mean, upper_mean, stats, censored, lod, None, None, None, reason, expanded)
        judgements = []
        for bound, limit in self.limits:
            worst = min(means) if bound is Bound.MIN else max(means)
            against_lod = censored and bound is Bound.MAX
            if self.guard_band and expanded is None and not against_lod:
                return LineOutcome(line, best_mean, lower_mean, upper_mean, stats, censored, lod, worst, None, Verdict.INCONCLUSIVE,
                                   "a guard band needs the expanded uncertainty, which is unknown for this quantity")  # fmt: skip
            judgement = limit.judge(worst, expanded, censored=against_lod, lod=lod if against_lod else None)
            judgements.append((worst, judgement))
        # The worse of a line's two verdicts (a range); most lines have one bound.
        worst_value, judgement = judgements[0] if len(judgements) == 1 else max(judgements, key=lambda pair: _RANK[pair[1].verdict])
        verdict, reason = judgement.verdict, judgement.reason
        return LineOutcome(line, best_mean, lower_mean, upper_mean, stats, censored, lod, worst_value, judgement, verdict, reason, expanded)


_RANK = {Verdict.PASS: 0, Verdict.INCONCLUSIVE: 1, Verdict.NOT_DETERMINABLE: 2, Verdict.FAIL: 3}
