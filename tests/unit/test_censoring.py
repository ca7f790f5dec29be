"""Censoring below the detection limit (REO-ASSAY.md §3) and limits from blanks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.chemistry.censoring import (
    BELOW_LOQ,
    BELOW_ZERO,
    LIMIT_FROM_FILE,
    NO_LIMITS,
    NO_LOD,
    OVER_RANGE,
    Limits,
    censor,
    estimate_limits,
)
from assays.importers.core import Qualifier

LIMITS = Limits(lod=0.5, loq=1.5)


def test_a_value_below_the_lod_is_stored_at_the_lod_with_its_raw_value() -> None:
    result = censor(0.2, "=", LIMITS)
    assert (result.qualifier, result.value, result.lod, result.loq, result.raw_value) == (Qualifier.LESS_THAN, 0.5, 0.5, 1.5, 0.2)
    assert result.is_censored
    assert result.flags == ()


def test_a_negative_value_is_censored_at_the_lod() -> None:
    result = censor(-0.8, Qualifier.EQUAL, LIMITS)
    assert (result.qualifier, result.value, result.raw_value) == (Qualifier.LESS_THAN, 0.5, -0.8)


def test_agilents_below_zero_token_is_censored_at_the_methods_lod_not_at_zero() -> None:
    # "<0.000" parses as qualifier '<' with the number 0.0: "calculated below zero", not "LOD = 0".
    result = censor(0.0, Qualifier.LESS_THAN, LIMITS)
    assert (result.qualifier, result.value, result.lod, result.raw_value) == (Qualifier.LESS_THAN, 0.5, 0.5, 0.0)


def test_a_value_between_lod_and_loq_is_kept_and_flagged() -> None:
    result = censor(1.0, "=", LIMITS)
    assert (result.qualifier, result.value, result.flags) == (Qualifier.EQUAL, 1.0, (BELOW_LOQ,))


def test_a_value_at_the_lod_is_detected_and_at_the_loq_is_quantified() -> None:
    assert censor(0.5, "=", LIMITS).qualifier is Qualifier.EQUAL
    assert censor(0.5, "=", LIMITS).flags == (BELOW_LOQ,)
    assert censor(1.5, "=", LIMITS).flags == ()


def test_a_value_above_the_loq_is_kept_as_it_is() -> None:
    result = censor(12.3, "=", LIMITS)
    assert (result.qualifier, result.value, result.raw_value, result.flags) == (Qualifier.EQUAL, 12.3, 12.3, ())


def test_over_range_is_kept_and_flagged() -> None:
    result = censor(500.0, ">", LIMITS)
    assert (result.qualifier, result.value, result.flags) == (Qualifier.GREATER_THAN, 500.0, (OVER_RANGE,))


def test_a_less_than_above_the_lod_keeps_the_wider_bound() -> None:
    # An outside lab's "< 2" when our LOD is 0.5: all we know is "below 2".
    result = censor(2.0, "<", LIMITS)
    assert (result.qualifier, result.value, result.lod, result.flags) == (Qualifier.LESS_THAN, 2.0, 0.5, (LIMIT_FROM_FILE,))


def test_without_any_lod_a_censoring_token_with_a_number_carries_its_own_limit() -> None:
    result = censor(0.5, "<", NO_LIMITS)
    assert (result.qualifier, result.value, result.lod, result.flags) == (Qualifier.LESS_THAN, 0.5, 0.5, (LIMIT_FROM_FILE,))


def test_without_any_lod_nothing_is_invented() -> None:
    below_zero = censor(0.0, "<", NO_LIMITS)
    assert (below_zero.qualifier, below_zero.value, below_zero.lod, below_zero.flags) == (Qualifier.EQUAL, 0.0, None, (NO_LOD, BELOW_ZERO))
    negative = censor(-0.3, "=", NO_LIMITS)
    assert negative.flags == (NO_LOD, BELOW_ZERO)
    assert negative.raw_value == -0.3
    plain = censor(4.0, "=", NO_LIMITS)
    assert (plain.qualifier, plain.value, plain.flags) == (Qualifier.EQUAL, 4.0, (NO_LOD,))


def test_an_lod_of_zero_still_censors_a_negative() -> None:
    result = censor(-1.0, "=", Limits(0.0, None))
    assert (result.qualifier, result.value, result.lod) == (Qualifier.LESS_THAN, 0.0, 0.0)


def test_limits_refuse_negative_or_non_finite_numbers() -> None:
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="LOD"):
            Limits(bad, None)
        with pytest.raises(ValueError, match="LOQ"):
            Limits(None, bad)
    with pytest.raises(ValueError, match="finite"):
        censor(math.nan, "=", LIMITS)


def test_limits_scale_with_a_factor() -> None:
    assert Limits(0.5, 1.5).scaled(2.0) == Limits(1.0, 3.0)
    assert Limits(None, 1.5).scaled(2.0) == Limits(None, 3.0)


_values = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
_limit = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
_qualifier = st.sampled_from([Qualifier.EQUAL, Qualifier.LESS_THAN])


@given(value=_values, qualifier=_qualifier, lod=_limit, extra=_limit)
def test_censoring_never_yields_an_uncensored_value_below_the_lod(value: float, qualifier: Qualifier, lod: float, extra: float) -> None:
    result = censor(value, qualifier, Limits(lod, lod + extra))
    if result.qualifier is Qualifier.EQUAL:
        assert result.value >= lod
    else:
        assert result.value >= lod
        assert result.lod == lod


@given(value=_values, qualifier=_qualifier, lod=_limit)
def test_a_negative_never_reduces_anything(value: float, qualifier: Qualifier, lod: float) -> None:
    result = censor(value, qualifier, Limits(lod, None))
    # With an LOD, what is stored is never negative and never below what was reported.
    assert result.value >= 0
    assert result.value >= value
    assert result.raw_value == value


@given(value=_values, qualifier=_qualifier, lod=_limit, extra=_limit)
def test_below_loq_flag_exactly_between_the_limits(value: float, qualifier: Qualifier, lod: float, extra: float) -> None:
    loq = lod + extra
    result = censor(value, qualifier, Limits(lod, loq))
    expected = qualifier is Qualifier.EQUAL and lod <= value < loq
    assert (BELOW_LOQ in result.flags) is expected


@given(value=_values, lod=_limit, factor=st.floats(min_value=1e-3, max_value=1e3))
def test_censoring_commutes_with_a_positive_conversion_factor(value: float, lod: float, factor: float) -> None:
    # Censor then convert = convert then censor: the service may convert first, as it does.
    converted_first = censor(value * factor, "=", Limits(lod, None).scaled(factor))
    censored_first = censor(value, "=", Limits(lod, None))
    assert converted_first.qualifier is censored_first.qualifier or math.isclose(value * factor, lod * factor)
    if converted_first.qualifier is censored_first.qualifier:
        assert math.isclose(converted_first.value, censored_first.value * factor, rel_tol=1e-12, abs_tol=1e-300)


def test_limits_from_blanks_are_three_and_ten_standard_deviations() -> None:
    blanks = [0.010, 0.014, 0.008, 0.012, 0.011]
    limits = estimate_limits(blanks)
    assert limits is not None
    s = float(np.std(blanks, ddof=1))
    assert limits.lod == pytest.approx(3 * s)
    assert limits.loq == pytest.approx(10 * s)


def test_limits_cannot_be_estimated_from_one_blank_or_blanks_without_scatter() -> None:
    assert estimate_limits([]) is None
    assert estimate_limits([0.01]) is None
    assert estimate_limits([0.0, 0.0, 0.0]) is None
    assert estimate_limits([0.01, math.nan]) is None
    assert estimate_limits([0.01, 0.02]) is not None


@given(st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=2, max_size=30))
def test_estimated_limits_are_valid_limits(blanks: list[float]) -> None:
    limits = estimate_limits(blanks)
    if limits is not None:
        assert limits.lod is not None
        assert limits.loq is not None
        assert 0 < limits.lod <= limits.loq
