"""Rounding for reports and comparisons (REO-ASSAY.md §5: ASTM E29 / GB/T 8170, U to two figures)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.chemistry.rounding import (
    RoundingError,
    exact_decimal,
    format_reported,
    limit_decimal,
    limit_places,
    round_half_even,
    round_to_limit,
    round_with_uncertainty,
)
from assays.errors import DomainError


def assert_same_decimal(actual: Decimal, expected: str) -> None:
    """Equal in value and written to the same last digit ("2.40" is not "2.4" in a report)."""
    wanted = Decimal(expected)
    assert actual == wanted, (actual, expected)
    assert actual.as_tuple().exponent == wanted.as_tuple().exponent, (actual, expected)


def exponent_of(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    return exponent


def oracle_half_even(number: Decimal, places: int) -> Decimal:
    """The decimal module's own ROUND_HALF_EVEN in a context far wider than any test input."""
    with localcontext(Context(prec=2000, rounding=ROUND_HALF_EVEN)):
        return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


# --- exact_decimal -----------------------------------------------------------------------------


def test_a_float_is_read_through_its_shortest_form_not_its_binary_expansion() -> None:
    # Decimal(2.45) is 2.4500000000000001776...: rounding that to one place would give 2.5.
    assert Decimal.from_float(2.45) > Decimal("2.45")
    assert_same_decimal(exact_decimal(2.45), "2.45")
    assert_same_decimal(exact_decimal(0.1 + 0.2), "0.30000000000000004")


def test_text_keeps_its_trailing_zeros_and_ints_and_decimals_pass_through() -> None:
    assert_same_decimal(exact_decimal("99.90"), "99.90")
    assert_same_decimal(exact_decimal(" 0.0005 "), "0.0005")
    assert_same_decimal(exact_decimal(50), "50")
    assert_same_decimal(exact_decimal(Decimal("1E+2")), "1E+2")


@pytest.mark.parametrize(
    "bad",
    [math.nan, math.inf, -math.inf, Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), "nan", "Infinity", "abc", "<0.5", ""],
)
def test_nan_infinity_and_non_numbers_are_refused_with_a_domain_error(bad: object) -> None:
    with pytest.raises(RoundingError) as raised:
        exact_decimal(bad)
    assert isinstance(raised.value, DomainError)
    assert str(raised.value)


@pytest.mark.parametrize("bad", [True, None, [1.0]])
def test_things_that_are_not_numbers_at_all_are_refused(bad: object) -> None:
    with pytest.raises(RoundingError, match="not a number"):
        exact_decimal(bad)


# --- round_half_even: ASTM E29 / GB/T 8170 examples ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (2.45, 1, "2.4"),  # exact 5 after an even digit: stays
        (2.55, 1, "2.6"),  # exact 5 after an odd digit: up to even
        (2.35, 1, "2.4"),
        (2.450001, 1, "2.5"),  # more than half: up, whatever the parity
        (2.449999, 1, "2.4"),
        (-2.45, 1, "-2.4"),  # negative values: symmetric
        (-2.55, 1, "-2.6"),
        (-2.450001, 1, "-2.5"),
        (0.125, 2, "0.12"),
        (0.375, 2, "0.38"),
        (2.675, 2, "2.68"),  # Python's round() gives 2.67 from the binary expansion
        (12.1498, 1, "12.1"),  # GB/T 8170: digits after the first dropped one do not carry twice
        (10.502, 0, "11"),
        (0.0325, 3, "0.032"),
        (2.5, 0, "2"),
        (3.5, 0, "4"),
        (12.5, 0, "12"),
        (2.4, 2, "2.40"),  # rounding to more places than written pads with zeros
        (1268, -1, "1.27E+3"),  # tens
        (1250, -2, "1.2E+3"),  # hundreds, exact 5 to even
        (1350, -2, "1.4E+3"),
        (2500, -3, "2E+3"),
        (0.1 + 0.2, 2, "0.30"),
        (0.1 + 0.2, 16, "0.3000000000000000"),
        (0.1 + 0.2, 17, "0.30000000000000004"),
    ],
)
def test_e29_examples(value: float, places: int, expected: str) -> None:
    assert_same_decimal(round_half_even(value, places=places), expected)


def test_python_round_disagrees_where_the_float_expansion_hides_the_five() -> None:
    # Why exact_decimal exists: the builtin sees 2.67499999... and rounds down.
    assert round(2.675, 2) == 2.67
    assert round_half_even(2.675, places=2) == Decimal("2.68")


def test_a_rounded_zero_carries_no_sign() -> None:
    assert str(round_half_even(-0.04, places=1)) == "0.0"
    assert str(round_half_even(-0.0, places=2)) == "0.00"


def test_numbers_wider_than_the_default_decimal_context_are_rounded_exactly() -> None:
    # The default context has 28 digits; quantize there raises InvalidOperation.
    assert_same_decimal(round_half_even("123456789012345678901234567890123.5", places=0), "123456789012345678901234567890124")
    assert round_half_even(1.7e308, places=2) == Decimal("1.7e308")
    assert round_half_even(5e-324, places=3) == 0


@pytest.mark.parametrize("places", [1.0, "2", True, 10_000, -10_000])
def test_places_must_be_a_sensible_integer(places: object) -> None:
    with pytest.raises(RoundingError, match="decimal places"):
        round_half_even(1.0, places=places)


finite_decimals = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False)
place_counts = st.integers(min_value=-12, max_value=30)


@given(number=finite_decimals, places=place_counts)
def test_agrees_with_decimal_half_even_on_any_decimal(number: Decimal, places: int) -> None:
    expected = oracle_half_even(number, places)
    result = round_half_even(number, places=places)
    assert result == expected
    assert result.as_tuple().exponent == expected.as_tuple().exponent
    assert not (result.is_zero() and result.is_signed())


@given(value=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9), places=st.integers(-6, 20))
def test_a_float_rounds_as_its_shortest_decimal_form_does(value: float, places: int) -> None:
    shortest = Decimal(repr(value))
    result = round_half_even(value, places=places)
    assert result == oracle_half_even(shortest, places)
    # Never more than half a unit of the last place away from the number that was meant.
    assert abs(result - shortest) <= Decimal(5).scaleb(-places - 1)


@given(digits=st.integers(min_value=-(10**8), max_value=10**8), places=st.integers(0, 6))
def test_an_exact_tie_always_lands_on_an_even_digit(digits: int, places: int) -> None:
    # digits.5 at places+1: exactly half-way between two candidates.
    tie = Decimal(f"{digits}5").scaleb(-(places + 1))
    result = round_half_even(tie, places=places)
    last_digit = result.as_tuple().digits[-1]
    assert last_digit % 2 == 0
    assert abs(result - tie) == Decimal(5).scaleb(-places - 1)


@given(first=finite_decimals, second=finite_decimals, places=place_counts)
def test_rounding_never_reverses_an_order(first: Decimal, second: Decimal, places: int) -> None:
    # The censored-maximum judgement relies on this: a value below the LOD never rounds above it.
    low, high = sorted((first, second))
    assert round_half_even(low, places=places) <= round_half_even(high, places=places)


# --- round_to_limit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "places"),
    [("99.9", 1), ("99.90", 2), ("50", 0), ("0.0005", 4), ("5E-4", 4), ("1E+2", -2), (Decimal("99.990"), 3), ("1", 0)],
)
def test_the_rounding_unit_is_the_limits_last_written_digit(limit: str | Decimal, places: int) -> None:
    assert limit_places(limit) == places


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        (99.95, "99.9", "100.0"),  # 9 is odd: the exact 5 goes up
        (99.85, "99.9", "99.8"),  # 8 is even: the exact 5 stays
        (99.86, "99.9", "99.9"),
        (99.895, "99.90", "99.90"),
        (99.86, "99.90", "99.86"),  # a different limit from "99.9"
        (99.98951, "99.99", "99.99"),  # the 4N case
        (50.5, "50", "50"),
        (51.5, "50", "52"),
        (0.00055, "0.0005", "0.0006"),
        (0.00045, "0.0005", "0.0004"),
        (0.000549999, "0.0005", "0.0005"),
        (150, "1E+2", "2E+2"),
        (250, "1E+2", "2E+2"),
        (349.9, "1E+2", "3E+2"),
        (99.95, Decimal("99.9"), "100.0"),
    ],
)
def test_round_to_limit(value: float, limit: str | Decimal, expected: str) -> None:
    assert_same_decimal(round_to_limit(value, limit=limit), expected)


def test_a_float_limit_is_refused_because_it_lost_its_written_digits() -> None:
    assert 99.90 == 99.9  # the float cannot tell the two limits apart
    with pytest.raises(RoundingError, match="as written"):
        round_to_limit(99.86, limit=99.90)
    with pytest.raises(RoundingError, match="as written"):
        limit_decimal(5)


@pytest.mark.parametrize("limit", ["NaN", "inf", "ninety-nine", ""])
def test_a_limit_that_is_not_a_finite_number_is_refused(limit: str) -> None:
    with pytest.raises(RoundingError):
        round_to_limit(1.0, limit=limit)


@given(limit=st.decimals(min_value=0, max_value=1000, places=4), value=finite_decimals)
def test_a_limit_rounds_to_itself_and_round_to_limit_is_round_half_even_at_its_place(limit: Decimal, value: Decimal) -> None:
    assert round_to_limit(limit, limit=limit) == limit
    assert round_to_limit(value, limit=str(limit)) == oracle_half_even(value, 4)


# --- round_with_uncertainty --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "uncertainty", "expected_value", "expected_uncertainty"),
    [
        (99.6234, 0.01234, "99.623", "0.012"),
        (99.6234, 0.1234, "99.62", "0.12"),
        (3.456, 1.25, "3.5", "1.2"),  # U's exact 5 goes to even too
        (3.456, 1.35, "3.5", "1.4"),
        (99.62549, 0.0995, "99.63", "0.10"),  # U carries into a new digit: two figures, two places
        (99.625, 0.0995, "99.62", "0.10"),  # and the value's exact 5 goes to even
        (10.4, 9.96, "10", "10"),  # 9.96 -> 10.0 -> 10: units
        (0.5, 0.96, "0.50", "0.96"),
        (1234.5, 25, "1234", "25"),
        (99623, 12345, "1.00E+5", "1.2E+4"),  # thousands
        (-0.0004, 0.012, "0.000", "0.012"),  # a value rounding to zero is shown without a sign
        (Decimal("99.6"), Decimal("0.123"), "99.60", "0.12"),
    ],
)
def test_u_has_two_significant_figures_and_the_value_its_last_place(
    value: float, uncertainty: float, expected_value: str, expected_uncertainty: str
) -> None:
    shown_value, shown_uncertainty = round_with_uncertainty(value=value, expanded_uncertainty=uncertainty)
    assert_same_decimal(shown_value, expected_value)
    assert shown_uncertainty is not None
    assert_same_decimal(shown_uncertainty, expected_uncertainty)


@pytest.mark.parametrize("uncertainty", [None, 0, 0.0, Decimal("0.000")])
def test_without_an_uncertainty_the_value_is_returned_exact_and_unrounded(uncertainty: float | None) -> None:
    shown_value, shown_uncertainty = round_with_uncertainty(value=99.623456789, expanded_uncertainty=uncertainty)
    assert_same_decimal(shown_value, "99.623456789")
    assert shown_uncertainty is None


@pytest.mark.parametrize("uncertainty", [-0.01, math.nan, math.inf])
def test_a_negative_or_non_finite_uncertainty_is_refused(uncertainty: float) -> None:
    with pytest.raises(RoundingError):
        round_with_uncertainty(value=1.0, expanded_uncertainty=uncertainty)


def test_a_non_finite_value_is_refused_even_with_an_uncertainty() -> None:
    with pytest.raises(RoundingError):
        round_with_uncertainty(value=math.nan, expanded_uncertainty=0.1)


@given(
    value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    uncertainty=st.floats(min_value=1e-9, max_value=1e6, allow_nan=False),
)
def test_rounded_u_always_has_two_figures_and_the_value_shares_its_place(value: float, uncertainty: float) -> None:
    shown_value, shown_uncertainty = round_with_uncertainty(value=value, expanded_uncertainty=uncertainty)
    assert shown_uncertainty is not None
    last_place = exponent_of(shown_uncertainty)
    coefficient = int(shown_uncertainty.scaleb(-last_place))
    assert 10 <= coefficient <= 99
    assert exponent_of(shown_value) == last_place
    half_unit = Decimal(5).scaleb(last_place - 1)
    # U moves by at most half a unit of its second figure (a carry to 0.10 included).
    assert abs(shown_uncertainty - Decimal(repr(uncertainty))) <= half_unit
    assert abs(shown_value - Decimal(repr(value))) <= half_unit


# --- format_reported ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "uncertainty", "unit", "expected"),
    [
        (99.6234, 0.1234, "%", "99.62 ± 0.12 %"),
        (12.34, 0.0995, "mg/kg", "12.34 ± 0.10 mg/kg"),
        (99623, 12345, "mg/kg", "100000 ± 12000 mg/kg"),
        (0.5, 0.96, "", "0.50 ± 0.96"),
        (99.6234, None, "%", "99.6234 %"),
        (99.6234, 0.1234, "  %  ", "99.62 ± 0.12 %"),
    ],
)
def test_format_reported(value: float, uncertainty: float | None, unit: str, expected: str) -> None:
    assert format_reported(value=value, expanded_uncertainty=uncertainty, unit=unit) == expected
