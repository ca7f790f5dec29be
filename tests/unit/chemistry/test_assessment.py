"""A lot judged against its specification (REO-ASSAY.md §2, §3, §5): ``assessment.assess_lot``.

Expectations come from the domain table of §2 (printed to its precision), from §2's formulas
written out here in their textbook form (main = 100 % - Σ impurities - LOI, TREO = main + Σ_RE-imp,
purity = main / TREO) with factors from ``oxides`` (tested against oxide_factors.csv), and from
``statistics`` / ``scipy`` for the lot statistics. The §2 sample data come from
``purity_builders``.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats  # type: ignore[import-untyped]

from assays.chemistry.assessment import (
    Line,
    LineOutcome,
    LotOutcome,
    SampleInput,
    Specification,
    Status,
    assess_lot,
    missing_analytes,
)
from assays.chemistry.decisions import Verdict
from assays.chemistry.oxides import CONVENTIONAL_OXIDES, oxide_factor
from assays.chemistry.purity import DEFAULT_TREO_ELEMENTS, Result
from tests.unit.chemistry.purity_builders import (
    ANIONS,
    LOI_PERCENT,
    NON_RE_CENSORED,
    NON_RE_MEASURED,
    RE_IMPURITIES_CENSORED,
    RE_IMPURITIES_MEASURED,
    below,
    measured,
    worked_example_elements,
)

SQRT_12 = math.sqrt(12)
ND = frozenset({"Nd"})
PR_ND = frozenset({"Pr", "Nd"})
WORKED_REQUIRED = (*RE_IMPURITIES_MEASURED, *RE_IMPURITIES_CENSORED, *NON_RE_MEASURED, *NON_RE_CENSORED, "Cl-", "SO4 2-", "LOI")
FRACTION = {"lower": 0.0, "best": 0.5, "upper": 1.0}


# --- builders ------------------------------------------------------------------------------------


def worked_sample(
    code: str = "S1",
    *,
    u_relative: float | None = None,
    u_anion: float | None = None,
    u_loi: float | None = None,
    changes: Mapping[str, Result] | None = None,
    drop: tuple[str, ...] = (),
    anions: Mapping[str, float] = ANIONS,
    loi: float | None = LOI_PERCENT,
) -> SampleInput:
    """The §2 Nd2O3 sample as a lot sample, with elements changed or dropped."""
    kept = {symbol: result for symbol, result in worked_example_elements(u_relative=u_relative).items() if symbol not in drop}
    return SampleInput(
        code=code,
        elements=kept | dict(changes or {}),
        anions={name: measured(value, u=u_anion) for name, value in anions.items()},
        loi_percent=None if loi is None else measured(loi, u=u_loi),
    )


def spec_of(*lines: Line, main: frozenset[str] = ND, ignited: bool = False, required: tuple[str, ...] = ()) -> Specification:
    return Specification(lines=tuple(dataclasses.replace(line, position=n) for n, line in enumerate(lines, start=1)), main=main,
                         ignited=ignited, required=required)  # fmt: skip


def relative_purity(minimum: str | None = None, *, comparison: str = "rounding", rule: str = "simple", maximum: str | None = None) -> Line:
    return Line(0, "relative_purity", "%", minimum=minimum, maximum=maximum, comparison=comparison, rule=rule)


def oxide_line(symbol: str, *, maximum: str | None = None, minimum: str | None = None, unit: str = "mg/kg", **kwargs: str) -> Line:
    return Line(0, "oxide", unit, element=symbol, oxide=CONVENTIONAL_OXIDES[symbol], minimum=minimum, maximum=maximum, **kwargs)


def line_of(outcome: LotOutcome, label: str) -> LineOutcome:
    (found,) = [line for line in outcome.lines if line.line.label == label]
    return found


def rounded(outcome: LineOutcome, places: int) -> tuple[str, str, str]:
    """(lower, best, upper) as the domain table prints them."""
    assert outcome.lower is not None
    assert outcome.best is not None
    assert outcome.upper is not None
    return (f"{outcome.lower:.{places}f}", f"{outcome.best:.{places}f}", f"{outcome.upper:.{places}f}")


def value_of(result: Result, convention: str) -> float:
    return FRACTION[convention] * result.value if result.censored else max(result.value, 0.0)


def u_of(result: Result) -> float | None:
    return result.value / SQRT_12 if result.censored else result.u


def textbook(sample: SampleInput, convention: str, *, main: frozenset[str] = ND) -> dict[str, float]:
    """§2 as the domain doc writes it, for one sample under one convention (% and mg/kg)."""
    re_imp = math.fsum(
        oxide_factor(CONVENTIONAL_OXIDES[symbol]) * value_of(result, convention)
        for symbol, result in sample.elements.items()
        if symbol in DEFAULT_TREO_ELEMENTS - main
    )
    non_re = math.fsum(
        oxide_factor(CONVENTIONAL_OXIDES[symbol]) * value_of(result, convention)
        for symbol, result in sample.elements.items()
        if symbol not in DEFAULT_TREO_ELEMENTS
    )
    anions = math.fsum(value_of(result, convention) for result in sample.anions.values())
    loi = 0.0 if sample.loi_percent is None else value_of(sample.loi_percent, convention)
    main_oxide = 100 - (re_imp + non_re + anions) / 10_000 - loi
    treo = main_oxide + re_imp / 10_000
    return {
        "re_imp": re_imp,
        "non_re": non_re,
        "main_oxide": main_oxide,
        "treo": treo,
        "purity": 100 * main_oxide / treo,
        "main_ignited": 100 - (re_imp + non_re + anions) / 10_000 / (1 - loi / 100),
    }


def u_textbook_purity(sample: SampleInput, *, main: frozenset[str] = ND) -> float:
    """§5: u(P) ≈ √(Σ_RE u(ox_i)²) / TREO, in %, at the best estimate."""
    terms = []
    for symbol, result in sample.elements.items():
        if symbol in DEFAULT_TREO_ELEMENTS - main:
            u = u_of(result)
            assert u is not None
            terms.append(oxide_factor(CONVENTIONAL_OXIDES[symbol]) * u)
    return 100 * math.sqrt(math.fsum(t * t for t in terms)) / 10_000 / textbook(sample, "best", main=main)["treo"]


# --- the §2 worked example as a one-sample lot ---------------------------------------------------

WORKED_SPEC = spec_of(
    relative_purity("99.99"),
    Line(0, "treo", "%", minimum="99.5", comparison="absolute"),
    Line(0, "main_oxide", "%", minimum="99.6", comparison="absolute"),
    oxide_line("Tb", maximum="10"),
    oxide_line("Fe", maximum="20"),
    Line(0, "loi", "%", maximum="1"),
    Line(0, "anion", "%", anion="Cl-", maximum="0.06"),
    Line(0, "sum_re_impurities", "mg/kg"),
    Line(0, "sum_non_re", "mg/kg"),
    required=WORKED_REQUIRED,
)


def test_the_worked_example_lot_reproduces_the_domain_table_and_conforms() -> None:
    outcome = assess_lot(samples=[worked_sample()], spec=WORKED_SPEC)
    assert outcome.status is Status.CONFORMING
    assert (outcome.n_samples, outcome.missing, outcome.reasons) == (1, {}, [])
    # §2 table, columns censored → 0 / LOD/2 / LOD.
    assert rounded(line_of(outcome, "relative_purity"), 4) == ("99.9912", "99.9910", "99.9908")
    assert rounded(line_of(outcome, "main_oxide"), 4) == ("99.6214", "99.6210", "99.6206")
    assert rounded(line_of(outcome, "treo"), 4) == ("99.6302", "99.6300", "99.6298")
    assert rounded(line_of(outcome, "sum_re_impurities"), 2) == ("87.81", "89.82", "91.83")
    assert rounded(line_of(outcome, "sum_non_re"), 2) == ("118.38", "120.27", "122.15")
    # Report-only lines sit beside judged ones without a verdict.
    assert line_of(outcome, "sum_non_re").verdict is None
    assert line_of(outcome, "sum_non_re").judgement is None


@pytest.mark.parametrize("label", ["relative_purity", "main_oxide", "treo"])
def test_a_minimum_is_judged_on_the_lowest_of_the_three_conventions(label: str) -> None:
    line = line_of(assess_lot(samples=[worked_sample()], spec=WORKED_SPEC), label)
    assert line.lower is not None
    assert line.best is not None
    assert line.upper is not None
    assert line.lower > line.best > line.upper  # more censored impurity, less purity
    assert line.judged_value == line.upper  # the upper-bound impurity sums: the worst case (§3)
    assert line.verdict is Verdict.PASS


def test_the_worked_example_lines_against_the_formulas_of_section_2() -> None:
    sample = worked_sample()
    outcome = assess_lot(samples=[sample], spec=WORKED_SPEC)
    for convention in ("lower", "best", "upper"):
        expected = textbook(sample, convention)
        assert getattr(line_of(outcome, "relative_purity"), convention) == pytest.approx(expected["purity"], abs=1e-10)
        assert getattr(line_of(outcome, "main_oxide"), convention) == pytest.approx(expected["main_oxide"], abs=1e-10)
        assert getattr(line_of(outcome, "treo"), convention) == pytest.approx(expected["treo"], abs=1e-10)
    fe2o3 = line_of(outcome, "Fe2O3")
    assert (fe2o3.lower, fe2o3.best, fe2o3.upper) == pytest.approx([12 * oxide_factor("Fe2O3")] * 3, rel=1e-14)
    assert not fe2o3.censored
    assert fe2o3.lod is None
    assert line_of(outcome, "loi").best == LOI_PERCENT
    assert line_of(outcome, "Cl-").best == pytest.approx(50 / 10_000, rel=1e-14)  # mg/kg as a %, no factor


def test_an_oxide_censored_in_the_sample_is_shown_below_its_lod_as_the_oxide() -> None:
    tb4o7 = line_of(assess_lot(samples=[worked_sample()], spec=WORKED_SPEC), "Tb4O7")
    lod = 0.5 * oxide_factor("Tb4O7")
    assert tb4o7.censored
    assert tb4o7.lod == pytest.approx(lod, rel=1e-14)
    assert (tb4o7.lower, tb4o7.best, tb4o7.upper) == pytest.approx([0.0, lod / 2, lod], rel=1e-14)
    assert tb4o7.verdict is Verdict.PASS
    assert tb4o7.judgement is not None
    assert tb4o7.judgement.censored
    assert "< LOD" in tb4o7.reason


def test_the_worst_case_decides_a_minimum_where_the_best_estimate_would_pass() -> None:
    # Main oxide 99.6214 / 99.6210 / 99.6206 %: a minimum of 99.6208 % is above the worst case.
    outcome = assess_lot(samples=[worked_sample()], spec=spec_of(Line(0, "main_oxide", "%", minimum="99.6208", comparison="absolute")))
    line = outcome.lines[0]
    assert line.best is not None
    assert line.best > 99.6208
    assert line.verdict is Verdict.FAIL
    assert outcome.status is Status.OFF_SPEC
    assert outcome.reasons == [f"main_oxide: {line.reason}"]


@pytest.mark.parametrize(
    ("minimum", "comparison", "verdict"),
    [
        # The upper-bound purity is 99.99078 %: it rounds to 99.9908 but is below it.
        ("99.9908", "absolute", Verdict.FAIL),
        ("99.9908", "rounding", Verdict.PASS),
        ("99.99", "absolute", Verdict.PASS),
        ("99.9909", "rounding", Verdict.FAIL),
    ],
)
def test_relative_purity_at_4n_is_decided_by_the_comparison_method(minimum: str, comparison: str, verdict: Verdict) -> None:
    line = assess_lot(samples=[worked_sample()], spec=spec_of(relative_purity(minimum, comparison=comparison))).lines[0]
    assert line.verdict is verdict


def test_the_ignited_basis_reproduces_the_domain_table() -> None:
    sample = worked_sample()
    spec = spec_of(
        Line(0, "main_oxide", "%", minimum="99.9", comparison="absolute"),
        oxide_line("Fe", maximum="20"),
        oxide_line("Tb", maximum="1", comparison="absolute"),
        ignited=True,
    )
    outcome = assess_lot(samples=[sample], spec=spec)
    main = line_of(outcome, "main_oxide")
    assert rounded(main, 4) == ("99.9713", "99.9709", "99.9705")
    assert main.judged_value == main.upper
    for convention in ("lower", "best", "upper"):
        assert getattr(main, convention) == pytest.approx(textbook(sample, convention)["main_ignited"], abs=1e-10)
    remaining = 1 - LOI_PERCENT / 100
    assert line_of(outcome, "Fe2O3").best == pytest.approx(12 * oxide_factor("Fe2O3") / remaining, rel=1e-14)
    # A censored impurity's limit is on the ignited basis too: it is an impurity fraction.
    tb4o7 = line_of(outcome, "Tb4O7")
    assert tb4o7.censored
    assert tb4o7.lod == pytest.approx(0.5 * oxide_factor("Tb4O7") / remaining, rel=1e-14)
    assert tb4o7.upper == pytest.approx(tb4o7.lod, rel=1e-14)
    assert outcome.status is Status.CONFORMING


# --- insufficient data ----------------------------------------------------------------------------


def test_a_sample_lacking_a_required_analyte_makes_the_lot_insufficient_naming_what_it_lacks() -> None:
    samples = [
        worked_sample("A", drop=("Tb",)),
        worked_sample("B"),
        worked_sample("C", anions={"SO4 2-": 30}, loi=None),
    ]
    outcome = assess_lot(samples=samples, spec=WORKED_SPEC)
    assert outcome.status is Status.INSUFFICIENT_DATA
    assert outcome.missing == {"A": ["Tb"], "C": ["Cl-", "LOI"]}
    assert outcome.reasons == ["sample A lacks Tb", "sample C lacks Cl-, LOI"]
    assert outcome.lines == []
    assert outcome.n_samples == 3
    assert missing_analytes(samples, WORKED_SPEC) == outcome.missing


def test_a_censored_required_analyte_is_present_not_missing() -> None:
    sample = dataclasses.replace(worked_sample(changes={"Fe": below(1.0)}), anions={"Cl-": below(5.0), "SO4 2-": measured(30)})
    assert missing_analytes([sample], WORKED_SPEC) == {}
    assert assess_lot(samples=[sample], spec=WORKED_SPEC).status is Status.CONFORMING


def test_a_lot_without_samples_has_insufficient_data() -> None:
    outcome = assess_lot(samples=[], spec=WORKED_SPEC)
    assert outcome.status is Status.INSUFFICIENT_DATA
    assert (outcome.n_samples, outcome.lines) == (0, [])
    assert outcome.reasons


def test_an_unmeasured_analyte_that_is_not_required_is_not_determinable_never_zero() -> None:
    outcome = assess_lot(samples=[worked_sample(drop=("Tb",))], spec=spec_of(oxide_line("Tb", maximum="10")))
    line = outcome.lines[0]
    assert line.verdict is Verdict.NOT_DETERMINABLE
    assert (line.best, line.lower, line.upper, line.judged_value) == (None, None, None, None)
    assert "cannot be computed" in line.reason
    assert outcome.status is Status.INCONCLUSIVE


# --- a maximum on a censored oxide ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("maximum", "comparison", "verdict", "status"),
    [
        # Tb4O7 LOD = 0.5 mg/kg Tb x 1.176 = 0.588 mg/kg.
        ("10", "rounding", Verdict.PASS, Status.CONFORMING),
        ("0.6", "absolute", Verdict.PASS, Status.CONFORMING),
        ("0.588", "absolute", Verdict.NOT_DETERMINABLE, Status.INCONCLUSIVE),
        ("0.5", "absolute", Verdict.NOT_DETERMINABLE, Status.INCONCLUSIVE),
        ("0.5", "rounding", Verdict.NOT_DETERMINABLE, Status.INCONCLUSIVE),
    ],
)
def test_a_maximum_on_an_oxide_censored_everywhere_passes_only_when_the_lod_is_at_or_below_it(
    maximum: str, comparison: str, verdict: Verdict, status: Status
) -> None:
    outcome = assess_lot(
        samples=[worked_sample()], spec=spec_of(relative_purity("99.9"), oxide_line("Tb", maximum=maximum, comparison=comparison))
    )
    line = line_of(outcome, "Tb4O7")
    assert line.verdict is verdict
    assert outcome.status is status
    if verdict is Verdict.NOT_DETERMINABLE:
        assert "not determinable" in line.reason
        assert outcome.reasons == [f"Tb4O7: {line.reason}"]


@pytest.mark.parametrize(("maximum", "verdict"), [("0.8", Verdict.NOT_DETERMINABLE), ("0.9", Verdict.PASS)])
def test_the_lot_lod_is_the_mean_of_the_samples_lods_as_oxide(maximum: str, verdict: Verdict) -> None:
    # LODs 0.5 and 1.0 mg/kg Tb: lot LOD 0.75 x 1.176 = 0.882 mg/kg Tb4O7 (the smaller would pass
    # 0.8, the larger would fail 0.9).
    samples = [worked_sample("A"), worked_sample("B", changes={"Tb": below(1.0)})]
    line = assess_lot(samples=samples, spec=spec_of(oxide_line("Tb", maximum=maximum, comparison="absolute"))).lines[0]
    assert line.censored
    assert line.lod == pytest.approx(0.75 * oxide_factor("Tb4O7"), rel=1e-14)
    assert line.verdict is verdict


def test_a_wider_limit_than_the_method_lod_is_the_limit_of_the_lot() -> None:
    # An outside lab's "< 2" where the method's LOD is 0.5 (censoring keeps the wider bound as the
    # value): the true Tb may be anywhere up to 2 mg/kg, so a 1 mg/kg Tb4O7 maximum is not decided.
    outside = Result(value=2.0, censored=True, lod=0.5)
    line = assess_lot(samples=[worked_sample(changes={"Tb": outside})], spec=spec_of(oxide_line("Tb", maximum="1"))).lines[0]
    assert line.censored
    assert line.lod == pytest.approx(2.0 * oxide_factor("Tb4O7"), rel=1e-14)
    assert line.lod == line.upper
    assert line.verdict is Verdict.NOT_DETERMINABLE


def test_when_only_some_samples_are_censored_the_line_is_judged_on_the_worst_case_mean() -> None:
    # Tb < 0.5 in A, 3 mg/kg in B: the lot has a number. Best (0.25 + 3) / 2 x f = 1.91 mg/kg,
    # upper (0.5 + 3) / 2 x f = 2.06 mg/kg against a 2.0 mg/kg maximum.
    samples = [worked_sample("A"), worked_sample("B", changes={"Tb": measured(3.0)})]
    outcome = assess_lot(samples=samples, spec=spec_of(oxide_line("Tb", maximum="2.0", comparison="absolute")))
    line = outcome.lines[0]
    factor = oxide_factor("Tb4O7")
    assert not line.censored
    assert line.lod is None
    assert (line.lower, line.best, line.upper) == pytest.approx([1.5 * factor, 1.625 * factor, 1.75 * factor], rel=1e-14)
    assert line.judged_value == line.upper
    assert line.judgement is not None
    assert not line.judgement.censored
    assert line.verdict is Verdict.FAIL
    assert outcome.status is Status.OFF_SPEC


# --- lot status ------------------------------------------------------------------------------------


def test_a_failed_line_makes_the_lot_off_spec_even_beside_a_not_determinable_one() -> None:
    spec = spec_of(relative_purity("99.99"), oxide_line("Fe", maximum="10"), oxide_line("Tb", maximum="0.5", comparison="absolute"))
    outcome = assess_lot(samples=[worked_sample()], spec=spec)
    assert [line.verdict for line in outcome.lines] == [Verdict.PASS, Verdict.FAIL, Verdict.NOT_DETERMINABLE]
    assert outcome.status is Status.OFF_SPEC
    assert [reason.split(":")[0] for reason in outcome.reasons] == ["Fe2O3", "Tb4O7"]


def test_a_spec_without_limits_gives_no_verdict_but_every_value() -> None:
    spec = spec_of(relative_purity(), Line(0, "treo", "%"), oxide_line("Fe"))
    outcome = assess_lot(samples=[worked_sample()], spec=spec)
    assert outcome.status is Status.NO_VERDICT
    assert outcome.reasons == []
    assert all(line.verdict is None and line.judgement is None and line.judged_value is None for line in outcome.lines)
    assert rounded(line_of(outcome, "relative_purity"), 4) == ("99.9912", "99.9910", "99.9908")
    assert line_of(outcome, "Fe2O3").best == pytest.approx(12 * oxide_factor("Fe2O3"), rel=1e-14)


# Magnet scrap (§1): Nd 22 %, Pr 5.5 %, Dy 1.2 %, Tb 0.3 %, Fe 65 %, B 1 %, Co 1.5 %; other REs < 5 mg/kg.
SCRAP_MEASURED = {"Nd": 220_000.0, "Pr": 55_000.0, "Dy": 12_000.0, "Tb": 3_000.0, "Fe": 650_000.0, "B": 10_000.0, "Co": 15_000.0}
SCRAP_CENSORED = ("La", "Ce", "Sm", "Eu", "Gd", "Ho", "Er", "Tm", "Yb", "Lu", "Y")


def test_a_feedstock_payable_content_report_has_no_verdict_and_a_measured_treo() -> None:
    # The catalogue's feedstock spec: no main component, nothing by difference, TREO measured.
    sample = SampleInput(
        "F1", {symbol: measured(value) for symbol, value in SCRAP_MEASURED.items()} | {s: below(5.0) for s in SCRAP_CENSORED}
    )
    spec = spec_of(
        Line(0, "treo", "%"),
        *(Line(0, "oxide", "%", element=symbol, oxide=CONVENTIONAL_OXIDES[symbol]) for symbol in ("Nd", "Pr", "Dy", "Tb")),
        Line(0, "element", "%", element="Co"),
        main=frozenset(),
        required=tuple(sorted(DEFAULT_TREO_ELEMENTS)),
    )
    outcome = assess_lot(samples=[sample], spec=spec)
    assert outcome.status is Status.NO_VERDICT
    assert all(line.verdict is None for line in outcome.lines)
    measured_re = math.fsum(oxide_factor(CONVENTIONAL_OXIDES[s]) * SCRAP_MEASURED[s] for s in ("Nd", "Pr", "Dy", "Tb"))
    censored_re = math.fsum(oxide_factor(CONVENTIONAL_OXIDES[s]) * 5.0 for s in SCRAP_CENSORED)
    treo = line_of(outcome, "treo")
    assert treo.lower == pytest.approx(measured_re / 10_000, rel=1e-13)
    assert treo.best == pytest.approx((measured_re + censored_re / 2) / 10_000, rel=1e-13)
    assert treo.upper == pytest.approx((measured_re + censored_re) / 10_000, rel=1e-13)
    assert line_of(outcome, "Nd2O3").best == pytest.approx(22 * oxide_factor("Nd2O3"), rel=1e-13)
    assert line_of(outcome, "Tb4O7").best == pytest.approx(0.3 * oxide_factor("Tb4O7"), rel=1e-13)
    assert line_of(outcome, "Co").best == pytest.approx(1.5, rel=1e-14)


# --- lines with a minimum and a maximum ------------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "maximum", "verdict", "judged_on"),
    [
        ("15", "20", Verdict.PASS, None),
        ("18", "20", Verdict.FAIL, "minimum"),  # Fe2O3 17.16 mg/kg
        ("10", "16", Verdict.FAIL, "maximum"),
    ],
)
def test_a_line_with_a_minimum_and_a_maximum_needs_both(minimum: str, maximum: str, verdict: Verdict, judged_on: str | None) -> None:
    line = assess_lot(samples=[worked_sample()], spec=spec_of(oxide_line("Fe", minimum=minimum, maximum=maximum))).lines[0]
    assert line.verdict is verdict
    assert line.judgement is not None
    if judged_on is not None:
        assert line.judgement.limit == Decimal(minimum if judged_on == "minimum" else maximum)


def test_a_minimum_and_a_maximum_use_opposite_worst_cases() -> None:
    # Tb 1 mg/kg in A, < 0.5 in B: the minimum is judged on the lower bound, the maximum on the upper.
    samples = [worked_sample("A", changes={"Tb": measured(1.0)}), worked_sample("B")]
    factor = oxide_factor("Tb4O7")
    # lower (1 + 0) / 2 = 0.5, upper (1 + 0.5) / 2 = 0.75 mg/kg Tb: 0.588 and 0.882 mg/kg Tb4O7.
    fails_min = assess_lot(samples=samples, spec=spec_of(oxide_line("Tb", minimum="0.6", maximum="1", comparison="absolute"))).lines[0]
    assert fails_min.verdict is Verdict.FAIL
    assert fails_min.judged_value == pytest.approx(0.5 * factor, rel=1e-14)
    fails_max = assess_lot(samples=samples, spec=spec_of(oxide_line("Tb", minimum="0.5", maximum="0.85", comparison="absolute"))).lines[0]
    assert fails_max.verdict is Verdict.FAIL
    assert fails_max.judged_value == pytest.approx(0.75 * factor, rel=1e-14)
    passes = assess_lot(samples=samples, spec=spec_of(oxide_line("Tb", minimum="0.5", maximum="0.9", comparison="absolute"))).lines[0]
    assert passes.verdict is Verdict.PASS


# --- guard band ------------------------------------------------------------------------------------


def guarded_purity(minimum: str) -> Specification:
    return spec_of(relative_purity(minimum, comparison="absolute", rule="guard_band"))


@pytest.mark.parametrize(
    ("minimum", "verdict"),
    # Upper-bound purity 99.990783 %, U = 0.00057 %: [99.99021, 99.99136].
    [("99.99", Verdict.PASS), ("99.991", Verdict.INCONCLUSIVE), ("99.992", Verdict.FAIL)],
)
def test_a_guard_band_on_relative_purity_has_three_states(minimum: str, verdict: Verdict) -> None:
    sample = worked_sample(u_relative=0.05)
    outcome = assess_lot(samples=[sample], spec=guarded_purity(minimum))
    line = outcome.lines[0]
    expanded = 2 * u_textbook_purity(sample)
    assert line.statistics is not None
    assert line.statistics.expanded_u == pytest.approx(expanded, rel=1e-9)
    assert line.judgement is not None
    assert line.judgement.expanded_uncertainty is not None
    assert float(line.judgement.expanded_uncertainty) == pytest.approx(expanded, rel=1e-9)
    assert line.judged_value == line.upper
    assert line.verdict is verdict
    assert (
        outcome.status
        is {Verdict.PASS: Status.CONFORMING, Verdict.INCONCLUSIVE: Status.INCONCLUSIVE, Verdict.FAIL: Status.OFF_SPEC}[verdict]
    )


def test_a_guard_band_with_an_unknown_uncertainty_is_inconclusive_and_says_why() -> None:
    outcome = assess_lot(samples=[worked_sample()], spec=guarded_purity("99.99"))
    line = outcome.lines[0]
    assert line.verdict is Verdict.INCONCLUSIVE
    assert "expanded uncertainty" in line.reason
    assert "unknown" in line.reason
    assert outcome.status is Status.INCONCLUSIVE


def test_one_sample_without_an_uncertainty_leaves_the_lot_guard_band_inconclusive() -> None:
    samples = [worked_sample("A", u_relative=0.05), worked_sample("B", u_relative=0.05), worked_sample("C")]
    outcome = assess_lot(samples=samples, spec=guarded_purity("99.99"))
    assert outcome.lines[0].verdict is Verdict.INCONCLUSIVE
    assert "unknown" in outcome.lines[0].reason
    # The same lot with every u known passes: the missing u, not the values, made it inconclusive.
    known = assess_lot(samples=[*samples[:2], worked_sample("C", u_relative=0.05)], spec=guarded_purity("99.99"))
    assert known.lines[0].verdict is Verdict.PASS


def test_a_guard_band_maximum_on_an_oxide_censored_everywhere_needs_no_uncertainty() -> None:
    spec = spec_of(oxide_line("Tb", maximum="1", comparison="absolute", rule="guard_band"))
    line = assess_lot(samples=[worked_sample()], spec=spec).lines[0]
    assert line.verdict is Verdict.PASS  # LOD 0.588 mg/kg: every value it may hide is below 1


def test_a_guard_band_on_an_oxide_uses_the_model_uncertainty() -> None:
    # Fe 12 mg/kg with u = 0.6 mg/kg: Fe2O3 17.157 ± 2 x 0.858 mg/kg = [15.44, 18.87].
    factor = oxide_factor("Fe2O3")
    sample = worked_sample(changes={"Fe": measured(12.0, u=0.6)})
    verdicts = [
        assess_lot(samples=[sample], spec=spec_of(oxide_line("Fe", maximum=limit, comparison="absolute", rule="guard_band")))
        .lines[0]
        .verdict
        for limit in ("19", "18", "15")
    ]
    assert verdicts == [Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.FAIL]
    line = assess_lot(samples=[sample], spec=spec_of(oxide_line("Fe", maximum="19", comparison="absolute", rule="guard_band"))).lines[0]
    assert line.statistics is not None
    assert line.statistics.expanded_u == pytest.approx(2 * 0.6 * factor, rel=1e-14)


# --- ratio lines of a PrNd oxide -------------------------------------------------------------------


def prnd_sample(code: str = "P1", *, nd: float | None = None, pr: float | None = None) -> SampleInput:
    """The §2 impurities (Pr is now a main component, so it leaves the impurities) with Nd and Pr
    measured when given (ICP-OES on a diluted digest)."""
    majors = {symbol: measured(value) for symbol, value in (("Nd", nd), ("Pr", pr)) if value is not None}
    return worked_sample(code, drop=("Pr",), changes=majors)


PRND_RATIO = Line(0, "ratio", "%", ratio_oxides=("Pr6O11", "Nd2O3"), minimum="99", comparison="absolute")
ND_RATIO = Line(0, "ratio", "%", ratio_oxides=("Nd2O3",), minimum="75", comparison="absolute")


def test_the_pr_nd_ratio_is_the_relative_purity_by_difference() -> None:
    sample = prnd_sample()
    outcome = assess_lot(samples=[sample], spec=spec_of(PRND_RATIO, relative_purity("99"), main=PR_ND))
    ratio, purity = line_of(outcome, "(Pr6O11 + Nd2O3)/TREO"), line_of(outcome, "relative_purity")
    assert (ratio.lower, ratio.best, ratio.upper) == (purity.lower, purity.best, purity.upper)
    for convention in ("lower", "best", "upper"):
        assert getattr(ratio, convention) == pytest.approx(textbook(sample, convention, main=PR_ND)["purity"], abs=1e-10)
    assert ratio.verdict is Verdict.PASS
    assert outcome.status is Status.CONFORMING


def test_the_nd_share_without_nd_measured_cannot_be_computed_and_is_never_zero() -> None:
    outcome = assess_lot(samples=[prnd_sample()], spec=spec_of(PRND_RATIO, ND_RATIO, main=PR_ND))
    nd = line_of(outcome, "(Nd2O3)/TREO")
    assert nd.verdict is Verdict.NOT_DETERMINABLE
    assert nd.reason.startswith("cannot be computed")
    assert (nd.best, nd.lower, nd.upper, nd.judged_value, nd.statistics) == (None, None, None, None, None)
    assert outcome.status is Status.INCONCLUSIVE
    assert any(reason.startswith("(Nd2O3)/TREO: cannot be computed") for reason in outcome.reasons)


def test_the_nd_share_with_the_majors_measured() -> None:
    sample = prnd_sample(nd=800_000.0, pr=150_000.0)
    outcome = assess_lot(samples=[sample], spec=spec_of(PRND_RATIO, ND_RATIO, main=PR_ND))
    nd = line_of(outcome, "(Nd2O3)/TREO")
    nd2o3_percent = 80 * oxide_factor("Nd2O3")
    for convention in ("lower", "best", "upper"):
        assert getattr(nd, convention) == pytest.approx(100 * nd2o3_percent / textbook(sample, convention, main=PR_ND)["treo"], rel=1e-12)
    assert nd.verdict is Verdict.PASS
    # Measuring the majors does not move the by-difference grade.
    prnd = line_of(outcome, "(Pr6O11 + Nd2O3)/TREO")
    assert prnd.best == line_of(assess_lot(samples=[prnd_sample()], spec=spec_of(PRND_RATIO, main=PR_ND)), "(Pr6O11 + Nd2O3)/TREO").best
    assert outcome.status is Status.CONFORMING
    low = assess_lot(samples=[sample], spec=spec_of(dataclasses.replace(ND_RATIO, minimum="94"), main=PR_ND))
    assert low.status is Status.OFF_SPEC  # 93.3 % Nd2O3 over a TREO of 99.6 % is 93.7 %


# --- a lot of several samples ----------------------------------------------------------------------

MULTI_SAMPLES = [
    worked_sample("A", u_relative=0.05),
    worked_sample("B", u_relative=0.05, changes={"Pr": measured(60.0, u=3.0), "Fe": measured(15.0, u=0.75), "Tb": measured(1.2, u=0.06)}),
    worked_sample("C", u_relative=0.05, changes={"Pr": measured(30.0, u=1.5), "La": measured(9.0, u=0.45), "Tb": below(0.8)}),
]
MULTI_SPEC = spec_of(relative_purity("99.99"), oxide_line("Fe", maximum="25"), oxide_line("Tb", maximum="2"))


def _check_statistics(line: LineOutcome, best_values: list[float], sample_u: list[float]) -> None:
    n = len(best_values)
    mean = statistics.fmean(best_values)
    sd = statistics.stdev(best_values)
    assert line.statistics is not None
    lot = line.statistics
    assert lot.n == n
    assert lot.mean == pytest.approx(mean, rel=1e-14)
    assert lot.sd == pytest.approx(sd, rel=1e-9)
    assert lot.rsd_percent == pytest.approx(100 * sd / mean, rel=1e-9)
    low, high = stats.t.interval(0.95, df=n - 1, loc=mean, scale=sd / math.sqrt(n))
    assert lot.ci95_low == pytest.approx(low, rel=1e-12)
    assert lot.ci95_high == pytest.approx(high, rel=1e-12)
    u_measurement = statistics.fmean(sample_u)
    assert lot.expanded_u == pytest.approx(2 * math.sqrt(u_measurement**2 + sd**2 / n), rel=1e-9)


def test_a_lot_of_three_samples_averages_each_convention_and_carries_its_statistics() -> None:
    outcome = assess_lot(samples=MULTI_SAMPLES, spec=MULTI_SPEC)
    assert outcome.n_samples == 3
    purity = line_of(outcome, "relative_purity")
    for convention in ("lower", "best", "upper"):
        expected = statistics.fmean(textbook(sample, convention)["purity"] for sample in MULTI_SAMPLES)
        assert getattr(purity, convention) == pytest.approx(expected, abs=1e-10)
    _check_statistics(
        purity,
        [textbook(sample, "best")["purity"] for sample in MULTI_SAMPLES],
        [u_textbook_purity(sample) for sample in MULTI_SAMPLES],
    )
    assert purity.judged_value == purity.upper

    fe_factor = oxide_factor("Fe2O3")
    fe2o3 = line_of(outcome, "Fe2O3")
    assert fe2o3.best == pytest.approx(fe_factor * 13.0, rel=1e-14)  # (12 + 15 + 12) / 3
    _check_statistics(fe2o3, [fe_factor * 12, fe_factor * 15, fe_factor * 12], [fe_factor * 0.6, fe_factor * 0.75, fe_factor * 0.6])

    tb_factor = oxide_factor("Tb4O7")
    tb4o7 = line_of(outcome, "Tb4O7")  # < 0.5, 1.2, < 0.8 mg/kg Tb: one sample quantified, so a number
    assert not tb4o7.censored
    assert (tb4o7.lower, tb4o7.best, tb4o7.upper) == pytest.approx(
        [tb_factor * 1.2 / 3, tb_factor * (0.25 + 1.2 + 0.4) / 3, tb_factor * (0.5 + 1.2 + 0.8) / 3], rel=1e-14
    )
    _check_statistics(
        tb4o7,
        [tb_factor * 0.25, tb_factor * 1.2, tb_factor * 0.4],
        [tb_factor * 0.5 / SQRT_12, tb_factor * 0.06, tb_factor * 0.8 / SQRT_12],
    )
    assert outcome.status is Status.CONFORMING


def test_one_sample_has_no_spread_and_no_confidence_interval() -> None:
    line = line_of(assess_lot(samples=MULTI_SAMPLES[:1], spec=MULTI_SPEC), "Fe2O3")
    assert line.statistics is not None
    assert (line.statistics.n, line.statistics.sd, line.statistics.ci95_low, line.statistics.ci95_high) == (1, None, None, None)
    assert line.statistics.expanded_u == pytest.approx(2 * 0.6 * oxide_factor("Fe2O3"), rel=1e-14)


def test_a_guard_band_uses_the_lot_u_with_the_spread_between_samples() -> None:
    # Fe 12, 15, 12 mg/kg (u 0.6, 0.75, 0.6): Fe2O3 mean 13 f = 18.59 mg/kg, u_meas = 0.65 f and
    # s = √3 f, so U = 2√(u_meas² + s²/3) = 3.41 mg/kg and 18.59 ± U = [15.18, 22.00].
    factor = oxide_factor("Fe2O3")
    mean, expanded = 13 * factor, 2 * math.sqrt((0.65 * factor) ** 2 + factor**2)
    assert 21.99 < mean + expanded < 22.0
    assert 15.1 < mean - expanded < 15.2
    for limit, verdict in (("22.0", Verdict.PASS), ("21.9", Verdict.INCONCLUSIVE), ("15.2", Verdict.INCONCLUSIVE), ("15.1", Verdict.FAIL)):
        spec = spec_of(oxide_line("Fe", maximum=limit, comparison="absolute", rule="guard_band"))
        line = assess_lot(samples=MULTI_SAMPLES, spec=spec).lines[0]
        assert line.verdict is verdict, limit
        assert line.judgement is not None
        assert line.judgement.expanded_uncertainty is not None
        assert float(line.judgement.expanded_uncertainty) == pytest.approx(expanded, rel=1e-9)
    # Without the spread term (u_meas alone, U = 1.86 mg/kg) 21.9 would pass: the spread counts.
    assert mean + 2 * 0.65 * factor < 21.9


# --- properties --------------------------------------------------------------------------------------

RE_SYMBOLS = sorted(DEFAULT_TREO_ELEMENTS - ND)
NON_RE_SYMBOLS = ["Fe", "Si", "Ca", "Al", "Mg", "Na", "Co", "Ni", "Cu", "B", "Zn"]
PROPERTY_SPEC = spec_of(
    relative_purity("99.99"),
    relative_purity("99.95", comparison="absolute", rule="guard_band"),
    Line(0, "treo", "%", minimum="99.5", comparison="absolute"),
    Line(0, "main_oxide", "%", minimum="99.6", comparison="absolute"),
    oxide_line("Pr", maximum="60"),
    oxide_line("Fe", maximum="20", comparison="absolute", rule="guard_band"),
    oxide_line("Tb", maximum="1"),
    Line(0, "anion", "mg/kg", anion="Cl-", maximum="60"),
    Line(0, "loi", "%", maximum="0.5", comparison="absolute"),
)
# Readings around the limits above, so that generated lots are conforming, off spec and inconclusive.
_results = st.builds(
    lambda value, u: measured(value, u=u), st.floats(min_value=0, max_value=40), st.floats(min_value=0, max_value=1)
) | st.builds(below, st.floats(min_value=0.05, max_value=1.5))


@st.composite
def lot_samples(draw: st.DrawFn) -> list[SampleInput]:
    samples = []
    for n in range(draw(st.integers(min_value=1, max_value=3))):
        # The analytes of the oxide lines are always there (an absent one is not determinable).
        symbols = ["Pr", "Fe", "Tb", *draw(st.lists(st.sampled_from(RE_SYMBOLS + NON_RE_SYMBOLS), unique=True, max_size=6))]
        elements = {symbol: draw(_results) for symbol in symbols}
        anions = {"Cl-": draw(_results), "SO4 2-": draw(_results)}
        loi = measured(draw(st.floats(min_value=0, max_value=0.6)), u=0.01)
        samples.append(SampleInput(f"S{n}", elements, anions, loi))
    return samples


@settings(max_examples=120, deadline=None)
@given(
    samples=lot_samples(), pick=st.integers(min_value=0), symbol=st.sampled_from(RE_SYMBOLS + NON_RE_SYMBOLS), increase=st.floats(1e-6, 200)
)
def test_adding_an_impurity_never_raises_purity_nor_turns_an_off_spec_lot_conforming(
    samples: list[SampleInput], pick: int, symbol: str, increase: float
) -> None:
    index = pick % len(samples)
    sample = samples[index]
    before = sample.elements.get(symbol)
    # More of the impurity than any convention saw: a larger reading, a reading above a censored
    # result's limit, or a newly found element.
    after = measured((0.0 if before is None else before.value) + increase, u=None if before is None else before.u)
    changed = dataclasses.replace(sample, elements=dict(sample.elements) | {symbol: after})
    old = assess_lot(samples=samples, spec=PROPERTY_SPEC)
    new = assess_lot(samples=[*samples[:index], changed, *samples[index + 1 :]], spec=PROPERTY_SPEC)
    old_purity, new_purity = old.lines[0], new.lines[0]
    assert old_purity.best is not None
    assert new_purity.best is not None
    assert new_purity.best <= old_purity.best
    assert new.lines[3].best is not None
    assert old.lines[3].best is not None
    assert new.lines[3].best <= old.lines[3].best  # main oxide
    if old.status is Status.OFF_SPEC:
        assert new.status is not Status.CONFORMING
    if old.status is Status.OFF_SPEC and all(line.line.rule == "simple" for line in old.lines if line.verdict is Verdict.FAIL):
        # A simple-acceptance failure only gets worse; a guard band's U may grow with the spread.
        assert new.status is Status.OFF_SPEC


def test_results_that_cannot_form_a_composition_make_the_lot_inconclusive_with_the_reason() -> None:
    # Impurities past 100 % of the sample: a data problem for a person, never a crash or a verdict.
    sample = SampleInput("S1", {"Fe": Result(600_000.0), "Si": Result(500_000.0), "La": Result(1.0)})
    outcome = assess_lot(samples=[sample], spec=spec_of(relative_purity("99.9")))
    assert outcome.status is Status.INCONCLUSIVE
    assert outcome.lines == []
    assert outcome.reasons[0].startswith("the results cannot be assessed:")


def test_the_expanded_uncertainty_is_unknown_not_zero_when_a_samples_u_is_unknown() -> None:
    known = SampleInput("S1", {"La": Result(5.0, u=0.5), "Fe": Result(10.0, u=1.0)})
    unknown = SampleInput("S2", {"La": Result(5.0, u=None), "Fe": Result(10.0, u=1.0)})
    lines = (oxide_line("La", maximum="100"), oxide_line("Fe", maximum="100"))
    outcome = assess_lot(samples=[known, unknown], spec=spec_of(*lines))
    assert line_of(outcome, "La2O3").expanded_u is None
    fe_u = line_of(outcome, "Fe2O3").expanded_u
    assert fe_u is not None
    assert fe_u > 0


def _prnd_with_uncertainties(code: str, *, nd: float, u_loi: float | None) -> SampleInput:
    # Every input with a standard uncertainty (2 % of its value), LOI's as given.
    majors = {"Nd": measured(nd, u=0.02 * nd), "Pr": measured(150_000.0, u=3_000.0)}
    return worked_sample(code, drop=("Pr",), changes=majors, u_relative=0.02, u_anion=1.0, u_loi=u_loi)


@pytest.mark.parametrize(("minimum", "verdict"), [("85", Verdict.PASS), ("92", Verdict.INCONCLUSIVE), ("99", Verdict.FAIL)])
def test_a_guard_band_on_the_nd_share_of_treo_uses_its_propagated_uncertainty(minimum: str, verdict: Verdict) -> None:
    guarded = Line(0, "ratio", "%", ratio_oxides=("Nd2O3",), minimum=minimum, comparison="absolute", rule="guard_band")
    samples = [_prnd_with_uncertainties(f"P{n}", nd=nd, u_loi=0.01) for n, nd in enumerate((800_000.0, 801_000.0), start=1)]
    outcome = assess_lot(samples=samples, spec=spec_of(guarded, main=PR_ND))
    line = line_of(outcome, "(Nd2O3)/TREO")
    shares = [100 * nd * oxide_factor("Nd2O3") / 10_000 / textbook(sample, "best", main=PR_ND)["treo"] for sample, nd in
              zip(samples, (800_000.0, 801_000.0), strict=True)]  # fmt: skip
    assert line.best == pytest.approx(sum(shares) / 2, rel=1e-12)
    # About 93.7 %, each sample's u about 2 % of it (its Nd's), so U about 3.8: the limits 85, 92
    # and 99 lie below, inside and above best ± U.
    assert line.expanded_u is not None
    assert 3.0 < line.expanded_u < 4.5
    assert line.verdict is verdict


def test_a_guard_band_on_the_nd_share_is_inconclusive_while_an_input_has_no_uncertainty() -> None:
    guarded = Line(0, "ratio", "%", ratio_oxides=("Nd2O3",), minimum="75", comparison="absolute", rule="guard_band")
    outcome = assess_lot(samples=[_prnd_with_uncertainties("P1", nd=800_000.0, u_loi=None)], spec=spec_of(guarded, main=PR_ND))
    line = line_of(outcome, "(Nd2O3)/TREO")
    assert (line.verdict, line.expanded_u) == (Verdict.INCONCLUSIVE, None)
    assert line.reason == "a guard band needs the expanded uncertainty, which is unknown for this quantity"
