"""Conformity of a result with a limit and of a lot with its lines (REO-ASSAY.md §3, §5; ILAC G8)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from assays.chemistry.decisions import (
    Bound,
    Comparison,
    DecisionError,
    DecisionRule,
    LineJudgement,
    LotStatus,
    Verdict,
    combine,
    judge_line,
    validate_line_rule,
)
from assays.chemistry.rounding import RoundingError
from assays.errors import DomainError

ABSOLUTE, ROUNDING = Comparison.ABSOLUTE, Comparison.ROUNDING
SIMPLE, GUARD_BAND = DecisionRule.SIMPLE, DecisionRule.GUARD_BAND
MIN, MAX = Bound.MIN, Bound.MAX
PASS, FAIL, INCONCLUSIVE, NOT_DETERMINABLE = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.NOT_DETERMINABLE


def simple(value: float, limit: str, bound: Bound, comparison: Comparison) -> LineJudgement:
    return judge_line(value=value, limit=limit, bound=bound, comparison=comparison, rule=SIMPLE, unit="%")


def guard_band(value: float, limit: str, bound: Bound, uncertainty: float) -> LineJudgement:
    return judge_line(
        value=value, limit=limit, bound=bound, comparison=ABSOLUTE, rule=GUARD_BAND, expanded_uncertainty=uncertainty, unit="%"
    )


# --- validate_line_rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comparison", "rule"),
    [(ABSOLUTE, SIMPLE), (ROUNDING, SIMPLE), (ABSOLUTE, GUARD_BAND), ("absolute", "guard_band"), ("rounding", "simple")],
)
def test_meaningful_line_rules_are_accepted(comparison: str, rule: str) -> None:
    validate_line_rule(comparison=comparison, rule=rule)


@pytest.mark.parametrize(("comparison", "rule"), [(ROUNDING, GUARD_BAND), ("rounding", "guard_band")])
def test_a_guard_band_with_the_rounding_method_is_refused_at_validation(comparison: str, rule: str) -> None:
    with pytest.raises(DecisionError, match="guard-band line must use the absolute comparison") as raised:
        validate_line_rule(comparison=comparison, rule=rule)
    assert isinstance(raised.value, DomainError)


def test_judge_line_refuses_a_guard_band_with_the_rounding_method_too() -> None:
    with pytest.raises(DecisionError, match="absolute"):
        judge_line(value=99.95, limit="99.9", bound=MIN, comparison=ROUNDING, rule=GUARD_BAND, expanded_uncertainty=0.01)


@pytest.mark.parametrize(
    ("comparison", "rule", "message"),
    [
        ("rounded", "simple", "unknown comparison method 'rounded'; known: absolute, rounding"),
        ("absolute", "ilac", "unknown decision rule"),
    ],
)
def test_unknown_methods_and_rules_are_named_in_the_error(comparison: str, rule: str, message: str) -> None:
    with pytest.raises(DecisionError, match=message):
        validate_line_rule(comparison=comparison, rule=rule)


def test_an_unknown_bound_is_refused() -> None:
    with pytest.raises(DecisionError, match="unknown bound 'minimum'"):
        judge_line(value=1.0, limit="1", bound="minimum", comparison=ABSOLUTE, rule=SIMPLE)


# --- simple acceptance: min/max x absolute/rounding at, inside and outside the limit -----------


@pytest.mark.parametrize(
    ("value", "limit", "bound", "comparison", "verdict", "compared"),
    [
        # minimum 99.9 %, absolute: the unrounded value
        (99.9, "99.9", MIN, ABSOLUTE, PASS, "99.9"),
        (99.90001, "99.9", MIN, ABSOLUTE, PASS, "99.90001"),
        (99.89999, "99.9", MIN, ABSOLUTE, FAIL, "99.89999"),
        (99.86, "99.9", MIN, ABSOLUTE, FAIL, "99.86"),
        # minimum 99.9 %, rounding: to one decimal first
        (99.9, "99.9", MIN, ROUNDING, PASS, "99.9"),
        (99.86, "99.9", MIN, ROUNDING, PASS, "99.9"),
        (99.85000001, "99.9", MIN, ROUNDING, PASS, "99.9"),
        (99.85, "99.9", MIN, ROUNDING, FAIL, "99.8"),  # exact 5 after the even 8 stays
        (99.84999, "99.9", MIN, ROUNDING, FAIL, "99.8"),
        # "99.90" is a different limit from "99.9": two decimals
        (99.86, "99.90", MIN, ROUNDING, FAIL, "99.86"),
        (99.895, "99.90", MIN, ROUNDING, PASS, "99.90"),
        # the 4N case: the convention moves the fourth decimal and decides
        (99.98951, "99.99", MIN, ABSOLUTE, FAIL, "99.98951"),
        (99.98951, "99.99", MIN, ROUNDING, PASS, "99.99"),
        (99.985, "99.99", MIN, ROUNDING, FAIL, "99.98"),
        (99.995, "99.99", MIN, ROUNDING, PASS, "100.00"),
        # maximum 0.0005 % (Fe2O3 in Nd2O3-04)
        (0.0005, "0.0005", MAX, ABSOLUTE, PASS, "0.0005"),
        (0.00049, "0.0005", MAX, ABSOLUTE, PASS, "0.00049"),
        (0.00051, "0.0005", MAX, ABSOLUTE, FAIL, "0.00051"),
        (0.0005, "0.0005", MAX, ROUNDING, PASS, "0.0005"),
        (0.000549999, "0.0005", MAX, ROUNDING, PASS, "0.0005"),
        (0.00045, "0.0005", MAX, ROUNDING, PASS, "0.0004"),
        (0.00055, "0.0005", MAX, ROUNDING, FAIL, "0.0006"),  # exact 5 after the odd 5 goes up
        (0.00065, "0.0005", MAX, ROUNDING, FAIL, "0.0006"),
        # maximum 50 mg/kg-like limit written to units, and one written to hundreds
        (50.5, "50", MAX, ROUNDING, PASS, "50"),
        (50.5, "50", MAX, ABSOLUTE, FAIL, "50.5"),
        (51.5, "50", MAX, ROUNDING, FAIL, "52"),
        (149.9, "1E+2", MAX, ROUNDING, PASS, "1E+2"),
        (150, "1E+2", MAX, ROUNDING, FAIL, "2E+2"),
    ],
)
def test_simple_acceptance(value: float, limit: str, bound: Bound, comparison: Comparison, verdict: Verdict, compared: str) -> None:
    judgement = simple(value, limit, bound, comparison)
    assert judgement.verdict is verdict
    assert judgement.compared_value == Decimal(compared)
    assert judgement.compared_value.as_tuple().exponent == Decimal(compared).as_tuple().exponent
    assert judgement.limit == Decimal(limit)
    assert (judgement.bound, judgement.comparison, judgement.rule) == (bound, comparison, SIMPLE)
    assert judgement.expanded_uncertainty is None
    assert not judgement.censored
    assert judgement.reason.endswith(f": {verdict}")


def test_a_float_equal_to_its_limit_as_written_is_at_the_limit() -> None:
    # Decimal(99.9) is 99.900000000000005684...: read naively it would fail a maximum of 99.9.
    assert Decimal.from_float(99.9) > Decimal("99.9")
    assert simple(99.9, "99.9", MAX, ABSOLUTE).verdict is PASS
    # 0.1 + 0.2 really is 0.30000000000000004: absolutely above a maximum of 0.3, not after rounding.
    assert simple(0.1 + 0.2, "0.3", MAX, ABSOLUTE).verdict is FAIL
    assert simple(0.1 + 0.2, "0.3", MAX, ROUNDING).verdict is PASS


def test_the_reason_names_the_numbers_compared() -> None:
    assert simple(99.98951, "99.99", MIN, ROUNDING).reason == "99.98951 % rounded to 99.99 % >= the minimum 99.99 %: pass"
    assert simple(99.98951, "99.99", MIN, ABSOLUTE).reason == "99.98951 % < the minimum 99.99 %: fail"
    assert simple(0.00051, "0.0005", MAX, ABSOLUTE).reason == "0.00051 % > the maximum 0.0005 %: fail"


def test_a_limit_may_be_a_decimal_and_the_enums_may_be_their_stored_strings() -> None:
    judgement = judge_line(value=99.95, limit=Decimal("99.9"), bound="min", comparison="rounding", rule="simple")
    assert judgement.verdict is PASS
    assert judgement.comparison is ROUNDING
    assert judgement.reason == "99.95 rounded to 100.0 >= the minimum 99.9: pass"


# --- guard band (ILAC G8): three states --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "limit", "bound", "uncertainty", "verdict"),
    [
        # minimum 99.9 %, U = 0.05 %
        (99.96, "99.9", MIN, 0.05, PASS),
        (99.95, "99.9", MIN, 0.05, PASS),  # value - U exactly at the limit: inside
        (99.94, "99.9", MIN, 0.05, INCONCLUSIVE),
        (99.9, "99.9", MIN, 0.05, INCONCLUSIVE),
        (99.85, "99.9", MIN, 0.05, INCONCLUSIVE),  # value + U exactly at the limit: not outside
        (99.84, "99.9", MIN, 0.05, FAIL),
        # maximum 0.0005 %, U = 0.0001 %
        (0.0003, "0.0005", MAX, 0.0001, PASS),
        (0.0004, "0.0005", MAX, 0.0001, PASS),
        (0.00041, "0.0005", MAX, 0.0001, INCONCLUSIVE),
        (0.0006, "0.0005", MAX, 0.0001, INCONCLUSIVE),
        (0.00061, "0.0005", MAX, 0.0001, FAIL),
    ],
)
def test_guard_band_three_states(value: float, limit: str, bound: Bound, uncertainty: float, verdict: Verdict) -> None:
    judgement = guard_band(value, limit, bound, uncertainty)
    assert judgement.verdict is verdict
    assert judgement.compared_value == Decimal(repr(value))  # the unrounded value
    assert judgement.expanded_uncertainty == Decimal(repr(uncertainty))
    assert judgement.rule is GUARD_BAND


def test_the_guard_band_ends_are_exact_where_float_arithmetic_is_not() -> None:
    # In floats, 0.3 - 0.1 falls short of 0.2 and 0.1 + 0.2 overshoots 0.3.
    assert 0.3 - 0.1 < 0.2
    assert 0.1 + 0.2 > 0.3
    assert guard_band(0.3, "0.2", MIN, 0.1).verdict is PASS
    assert guard_band(0.1, "0.3", MAX, 0.2).verdict is PASS
    assert guard_band(99.95, "99.9", MIN, 0.05).reason == "99.95 % ± U 0.05 % = [99.90, 100.00] lies inside the minimum 99.9 %: pass"
    assert "contains the maximum 0.0005 %: inconclusive" in guard_band(0.00041, "0.0005", MAX, 0.0001).reason


@pytest.mark.parametrize("uncertainty", [None, -0.01])
def test_a_guard_band_needs_a_non_negative_u(uncertainty: float | None) -> None:
    with pytest.raises(DecisionError, match="expanded uncertainty"):
        judge_line(value=99.95, limit="99.9", bound=MIN, comparison=ABSOLUTE, rule=GUARD_BAND, expanded_uncertainty=uncertainty)


# --- censored results --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lod", "limit", "comparison", "rule", "verdict"),
    [
        (0.4, "0.5", ABSOLUTE, SIMPLE, PASS),
        (0.5, "0.5", ABSOLUTE, SIMPLE, PASS),  # LOD at the limit
        (0.8, "0.5", ABSOLUTE, SIMPLE, NOT_DETERMINABLE),
        (0.8, "0.5", ROUNDING, SIMPLE, NOT_DETERMINABLE),
        (0.4, "0.5", ABSOLUTE, GUARD_BAND, PASS),  # whatever the rule
        (0.8, "0.5", ABSOLUTE, GUARD_BAND, NOT_DETERMINABLE),
        # every value below an LOD of 0.00052 rounds to 0.0005 or less
        (0.00052, "0.0005", ROUNDING, SIMPLE, PASS),
        (0.00052, "0.0005", ABSOLUTE, SIMPLE, NOT_DETERMINABLE),
        (0.00056, "0.0005", ROUNDING, SIMPLE, NOT_DETERMINABLE),
    ],
)
def test_a_censored_result_against_a_maximum_is_judged_on_its_lod(
    lod: float, limit: str, comparison: Comparison, rule: DecisionRule, verdict: Verdict
) -> None:
    # The value given (here a best-estimate LOD/2) plays no part: the LOD bounds every value it hides.
    judgement = judge_line(value=lod / 2, limit=limit, bound=MAX, comparison=comparison, rule=rule, censored=True, lod=lod, unit="mg/kg")
    assert judgement.verdict is verdict
    assert judgement.censored
    expected_compared = Decimal(repr(lod)) if comparison is ABSOLUTE else Decimal(repr(lod)).quantize(Decimal(limit))
    assert judgement.compared_value == expected_compared


def test_censored_reasons_say_what_the_lod_means() -> None:
    not_determinable = judge_line(value=0.4, limit="0.5", bound=MAX, comparison=ABSOLUTE, rule=SIMPLE, censored=True, lod=0.8, unit="mg/kg")
    assert not_determinable.reason == "< LOD 0.8 mg/kg is above the maximum 0.5 mg/kg: not determinable"
    passes = judge_line(value=0.2, limit="0.5", bound=MAX, comparison=ABSOLUTE, rule=SIMPLE, censored=True, lod=0.4, unit="mg/kg")
    assert passes.reason == "< LOD 0.4 mg/kg is at or below the maximum 0.5 mg/kg: pass"


def test_a_censored_result_needs_no_u_under_a_guard_band_and_ignores_the_value() -> None:
    judgement = judge_line(value=1000.0, limit="0.5", bound=MAX, comparison=ABSOLUTE, rule=GUARD_BAND, censored=True, lod=0.4)
    assert judgement.verdict is PASS
    assert judgement.compared_value == Decimal("0.4")


def test_a_censored_result_against_a_maximum_needs_a_valid_lod() -> None:
    with pytest.raises(DecisionError, match="needs its LOD"):
        judge_line(value=0.2, limit="0.5", bound=MAX, comparison=ABSOLUTE, rule=SIMPLE, censored=True)
    with pytest.raises(DecisionError, match="cannot be negative"):
        judge_line(value=0.2, limit="0.5", bound=MAX, comparison=ABSOLUTE, rule=SIMPLE, censored=True, lod=-0.1)
    with pytest.raises(RoundingError):
        judge_line(value=0.2, limit="0.5", bound=MAX, comparison=ABSOLUTE, rule=SIMPLE, censored=True, lod=math.nan)


@pytest.mark.parametrize(("value", "verdict"), [(0.0, FAIL), (0.5, FAIL), (1.0, PASS)])
def test_a_censored_result_against_a_minimum_is_judged_at_the_value_the_caller_chose(value: float, verdict: Verdict) -> None:
    judgement = judge_line(value=value, limit="1", bound=MIN, comparison=ABSOLUTE, rule=SIMPLE, censored=True, lod=1.0, unit="%")
    assert judgement.verdict is verdict
    assert judgement.censored
    assert judgement.compared_value == Decimal(repr(value))
    assert "censoring convention" in judgement.reason


# --- refused inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_is_refused(value: float) -> None:
    with pytest.raises(DomainError, match="finite"):
        judge_line(value=value, limit="99.9", bound=MIN, comparison=ABSOLUTE, rule=SIMPLE)


def test_a_non_finite_uncertainty_is_refused() -> None:
    with pytest.raises(DomainError, match="finite"):
        judge_line(value=99.95, limit="99.9", bound=MIN, comparison=ABSOLUTE, rule=GUARD_BAND, expanded_uncertainty=math.nan)


def test_a_value_given_as_text_is_refused() -> None:
    with pytest.raises(DecisionError, match="must be a number"):
        judge_line(value="<0.5", limit="0.5", bound=MAX, comparison=ABSOLUTE, rule=SIMPLE)


@pytest.mark.parametrize("limit", [99.9, "NaN", "99,9"])
def test_a_limit_not_written_as_a_finite_decimal_is_refused(limit: object) -> None:
    with pytest.raises(RoundingError):
        judge_line(value=99.95, limit=limit, bound=MIN, comparison=ABSOLUTE, rule=SIMPLE)


# --- combine -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdicts", "status"),
    [
        ([PASS], LotStatus.CONFORMING),
        ([PASS, PASS, PASS], LotStatus.CONFORMING),
        ([PASS, FAIL], LotStatus.OFF_SPEC),
        ([PASS, FAIL, NOT_DETERMINABLE, INCONCLUSIVE], LotStatus.OFF_SPEC),
        ([PASS, INCONCLUSIVE], LotStatus.INCONCLUSIVE),
        ([PASS, NOT_DETERMINABLE], LotStatus.INCONCLUSIVE),  # never conforming
        ([NOT_DETERMINABLE], LotStatus.INCONCLUSIVE),
        (["pass", "not_determinable"], LotStatus.INCONCLUSIVE),
    ],
)
def test_combine(verdicts: list[Verdict], status: LotStatus) -> None:
    assert combine(verdicts) is status
    assert combine(iter(verdicts)) is status  # any iterable, read once


def test_the_lot_statuses_are_the_stored_strings() -> None:
    assert [str(status) for status in LotStatus] == ["conforming", "off_spec", "inconclusive"]
    assert combine([FAIL]) == "off_spec"


def test_combine_refuses_nothing_and_unknown_verdicts() -> None:
    with pytest.raises(DecisionError, match="no line verdicts"):
        combine([])
    with pytest.raises(DecisionError, match="unknown verdict 'ok'"):
        combine([PASS, "ok"])


@given(st.lists(st.sampled_from(list(Verdict)), min_size=1, max_size=12))
def test_a_lot_is_conforming_only_when_every_line_passes(verdicts: list[Verdict]) -> None:
    status = combine(verdicts)
    assert (status is LotStatus.CONFORMING) == all(verdict is PASS for verdict in verdicts)
    assert (status is LotStatus.OFF_SPEC) == (FAIL in verdicts)
    assert combine([*verdicts, PASS]) is status  # one more passing line changes nothing


# --- properties --------------------------------------------------------------------------------

VERDICT_ORDER = {FAIL: 0, INCONCLUSIVE: 1, PASS: 2}

limits = st.decimals(min_value=0, max_value=100, places=4).map(str) | st.sampled_from(["99.9", "99.99", "99.90", "0.0005", "50", "1E+2"])
values = st.floats(min_value=-10, max_value=200, allow_nan=False)
uncertainties = st.floats(min_value=0, max_value=5, allow_nan=False)


@given(first=values, second=values, limit=limits, comparison=st.sampled_from(list(Comparison)))
def test_a_larger_value_never_does_worse_against_a_minimum_or_better_against_a_maximum(
    first: float, second: float, limit: str, comparison: Comparison
) -> None:
    low, high = sorted((first, second))
    at_minimum = [VERDICT_ORDER[simple(x, limit, MIN, comparison).verdict] for x in (low, high)]
    at_maximum = [VERDICT_ORDER[simple(x, limit, MAX, comparison).verdict] for x in (low, high)]
    assert at_minimum[0] <= at_minimum[1]
    assert at_maximum[0] >= at_maximum[1]


@given(value=values, limit=limits, bound=st.sampled_from(list(Bound)))
def test_a_guard_band_with_u_zero_is_simple_acceptance_by_the_absolute_method(value: float, limit: str, bound: Bound) -> None:
    banded = guard_band(value, limit, bound, 0.0)
    plain = simple(value, limit, bound, ABSOLUTE)
    assert banded.verdict is plain.verdict
    assert banded.compared_value == plain.compared_value


@given(value=values, limit=limits, bound=st.sampled_from(list(Bound)), uncertainty=uncertainties)
def test_a_guard_band_never_contradicts_simple_acceptance(value: float, limit: str, bound: Bound, uncertainty: float) -> None:
    banded = guard_band(value, limit, bound, uncertainty).verdict
    plain = simple(value, limit, bound, ABSOLUTE).verdict
    assert banded is INCONCLUSIVE or banded is plain


@given(value=values, limit=limits, bound=st.sampled_from(list(Bound)), first=uncertainties, second=uncertainties)
def test_a_larger_u_only_moves_a_verdict_towards_inconclusive(value: float, limit: str, bound: Bound, first: float, second: float) -> None:
    smaller, larger = sorted((first, second))
    narrow = guard_band(value, limit, bound, smaller).verdict
    wide = guard_band(value, limit, bound, larger).verdict
    assert wide is narrow or wide is INCONCLUSIVE


@given(value=values, limit=limits, bound=st.sampled_from(list(Bound)))
def test_the_rounding_method_never_fails_what_the_absolute_method_passes(value: float, limit: str, bound: Bound) -> None:
    # The limit is exact at its own last digit, and rounding keeps order: passing absolutely
    # means passing after rounding; the reverse is the 4N case and need not hold.
    if simple(value, limit, bound, ABSOLUTE).verdict is PASS:
        assert simple(value, limit, bound, ROUNDING).verdict is PASS


@given(
    lod=st.floats(min_value=0, max_value=200, allow_nan=False),
    limit=limits,
    comparison=st.sampled_from(list(Comparison)),
    rule=st.sampled_from(list(DecisionRule)),
)
def test_a_censored_result_against_a_maximum_never_fails(lod: float, limit: str, comparison: Comparison, rule: DecisionRule) -> None:
    assume(not (rule is GUARD_BAND and comparison is ROUNDING))
    judgement = judge_line(value=lod / 2, limit=limit, bound=MAX, comparison=comparison, rule=rule, censored=True, lod=lod)
    assert judgement.verdict in {PASS, NOT_DETERMINABLE}
    # and it passes exactly when some detected value at the LOD would have passed
    detected = judge_line(value=lod, limit=limit, bound=MAX, comparison=comparison, rule=SIMPLE)
    assert (judgement.verdict is PASS) == (detected.verdict is PASS)


def test_equal_decimal_limits_written_to_different_digits_round_to_their_own_digit() -> None:
    # Decimal("99.9") == Decimal("99.90"), and a cache keyed by the Decimal would hand one the
    # other's rounding digit: each must round to its own last written digit, in either order.
    for first, second in ((Decimal("99.9"), Decimal("99.90")), (Decimal("99.90"), Decimal("99.9"))):
        judged = {
            str(limit): judge_line(value=99.95, limit=limit, bound="min", comparison="rounding", rule="simple") for limit in (first, second)
        }
        assert judged["99.9"].compared_value == Decimal("100.0")
        assert judged["99.90"].compared_value == Decimal("99.95")
        assert "the minimum 99.90" in judged["99.90"].reason


def test_a_float_limit_is_refused_even_when_an_equal_limit_was_judged_before() -> None:
    judge_line(value=1.0, limit=Decimal("100"), bound="max", comparison="absolute", rule="simple")
    with pytest.raises(RoundingError):
        judge_line(value=1.0, limit=100.0, bound="max", comparison="absolute", rule="simple")


def test_a_limit_written_past_any_reported_digit_is_refused_only_where_it_would_be_rounded_to() -> None:
    # The rounding method rounds to the limit's last written digit; one 500 places down is no
    # reported quantity's, and is refused (by name) whether the limit was worked out before or not.
    tiny = "1E-500"
    with pytest.raises(RoundingError, match="decimal places"):
        judge_line(value=1e-300, limit=tiny, bound=MAX, comparison=ROUNDING, rule=SIMPLE)
    with pytest.raises(RoundingError, match="decimal places"):
        judge_line(value=1e-300, limit=tiny, bound=MAX, comparison=ROUNDING, rule=SIMPLE)
    # The absolute method rounds nothing: the same limit judges.
    assert judge_line(value=1e-300, limit=tiny, bound=MAX, comparison=ABSOLUTE, rule=SIMPLE).verdict is FAIL
