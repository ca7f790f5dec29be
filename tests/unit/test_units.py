"""Units and the conversion of a solution concentration to the solid (REO-ASSAY.md §2)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.chemistry import units
from assays.chemistry.units import Medium, Preparation, UnitError, convert, solution_limit_to_solid, solution_to_solid, unit_lookup

UG_L = unit_lookup("µg/L", medium=Medium.SOLUTION)


@pytest.mark.parametrize(
    ("text", "medium", "symbol", "factor"),
    [
        ("ppt", Medium.SOLUTION, "ng/L", 1e-3),
        ("ppb", Medium.SOLUTION, "µg/L", 1.0),
        ("ppm", Medium.SOLUTION, "mg/L", 1e3),
        ("µg/L", Medium.SOLUTION, "µg/L", 1.0),
        ("ug/L", Medium.SOLUTION, "µg/L", 1.0),
        ("μg/l", Medium.SOLUTION, "µg/L", 1.0),  # Greek mu, not the micro sign
        ("UG/L", Medium.SOLUTION, "µg/L", 1.0),
        (" mg / L ", Medium.SOLUTION, "mg/L", 1e3),
        ("mg/kg", Medium.SOLID, "mg/kg", 1.0),
        ("µg/g", Medium.SOLID, "mg/kg", 1.0),
        ("ug/g", Medium.SOLID, "mg/kg", 1.0),
        ("%", Medium.SOLID, "%", 1e4),
        ("g/kg", Medium.SOLID, "g/kg", 1e3),
        ("ng/g", Medium.SOLID, "µg/kg", 1e-3),
        ("g/L", Medium.SOLUTION, "g/L", 1e6),
        ("mcg/L", Medium.SOLUTION, "µg/L", 1.0),
        ("ppm", Medium.SOLID, "mg/kg", 1.0),
        ("ppb", Medium.SOLID, "µg/kg", 1e-3),
    ],
)
def test_the_unit_table(text: str, medium: Medium, symbol: str, factor: float) -> None:
    unit = unit_lookup(text, medium=medium)
    assert unit.symbol == symbol
    assert unit.medium is medium
    assert unit.to_canonical == pytest.approx(factor)


def test_a_unit_with_its_own_dimensions_ignores_the_declared_basis() -> None:
    # A file's column may default to "solution"; mg/kg says by itself that it is a solid's.
    assert unit_lookup("mg/kg", medium=Medium.SOLUTION).medium is Medium.SOLID
    assert unit_lookup("%", medium="solution").medium is Medium.SOLID
    assert unit_lookup("mg/L", medium=Medium.SOLID).medium is Medium.SOLUTION


@pytest.mark.parametrize("text", ["ppq", "mol/L", "", "  ", "cps", "counts", "mg", "ppmv", "g"])
def test_an_unknown_unit_is_an_error_that_names_it_and_the_known_ones(text: str) -> None:
    with pytest.raises(UnitError) as caught:
        unit_lookup(text, medium=Medium.SOLUTION)
    assert "unknown unit" in str(caught.value)
    assert "µg/L" in str(caught.value)
    assert "mg/kg" in str(caught.value)


def test_parts_per_trillion_of_a_solid_is_refused_not_guessed() -> None:
    with pytest.raises(UnitError, match="of a solid"):
        unit_lookup("ppt", medium=Medium.SOLID)


def test_every_listed_unit_resolves_and_its_canonical_spelling_reads_back() -> None:
    for text in units.KNOWN_UNITS:
        for medium in Medium:
            try:
                unit = unit_lookup(text, medium=medium)
            except UnitError:
                assert text == "ppt"
                assert medium is Medium.SOLID
                continue
            # The stored spelling is itself in the table, for the same unit: an import reads back.
            assert unit_lookup(unit.symbol, medium=unit.medium) == unit


def test_the_worked_conversion() -> None:
    # 0.1000 g digested to 50 mL, diluted 10x: 1 µg/L in the measured solution is 5 mg/kg.
    preparation = Preparation(sample_mass_g=0.1, final_volume_ml=50.0, dilution_factor=10.0)
    assert solution_to_solid(1.0, UG_L, preparation) == pytest.approx(5.0)
    assert solution_to_solid(2.0, unit_lookup("ppm", medium="solution"), preparation) == pytest.approx(10_000.0)
    assert solution_to_solid(500.0, unit_lookup("ppt", medium="solution"), preparation) == pytest.approx(2.5)


def test_dilution_already_applied_by_the_software_is_not_applied_twice_but_still_scales_the_limits() -> None:
    applied = Preparation(sample_mass_g=0.1, final_volume_ml=50.0, dilution_factor=10.0, dilution_already_applied=True)
    not_applied = Preparation(sample_mass_g=0.1, final_volume_ml=50.0, dilution_factor=10.0)
    # The software reported 10 µg/L (1 µg/L measured x 10): the solid holds 5 mg/kg either way.
    assert solution_to_solid(10.0, UG_L, applied) == pytest.approx(solution_to_solid(1.0, UG_L, not_applied)) == pytest.approx(5.0)
    # The method's LOD belongs to the measured (diluted) solution: both scale it by the full DF.
    assert solution_limit_to_solid(0.01, UG_L, applied) == pytest.approx(solution_limit_to_solid(0.01, UG_L, not_applied))
    assert solution_limit_to_solid(0.01, UG_L, applied) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_mass_g": 0.0, "final_volume_ml": 50.0},
        {"sample_mass_g": -0.1, "final_volume_ml": 50.0},
        {"sample_mass_g": 0.1, "final_volume_ml": 0.0},
        {"sample_mass_g": 0.1, "final_volume_ml": 50.0, "dilution_factor": 0.0},
        {"sample_mass_g": 0.1, "final_volume_ml": 50.0, "dilution_factor": -2.0},
        {"sample_mass_g": math.nan, "final_volume_ml": 50.0},
        {"sample_mass_g": 0.1, "final_volume_ml": math.inf},
    ],
)
def test_a_preparation_needs_positive_finite_numbers(kwargs: dict[str, float]) -> None:
    with pytest.raises(UnitError):
        Preparation(**kwargs)


def test_a_solid_value_is_not_converted_as_a_solution() -> None:
    preparation = Preparation(sample_mass_g=0.1, final_volume_ml=50.0)
    with pytest.raises(UnitError):
        solution_to_solid(1.0, unit_lookup("mg/kg", medium="solid"), preparation)
    with pytest.raises(UnitError):
        solution_limit_to_solid(1.0, unit_lookup("%", medium="solid"), preparation)


def test_conversion_within_a_medium_and_not_across() -> None:
    assert convert(0.35, source=unit_lookup("%", medium="solid"), target=unit_lookup("mg/kg", medium="solid")) == pytest.approx(3500.0)
    assert convert(1.0, source=unit_lookup("mg/L", medium="solution"), target=UG_L) == pytest.approx(1000.0)
    with pytest.raises(UnitError, match="without a preparation"):
        convert(1.0, source=UG_L, target=unit_lookup("mg/kg", medium="solid"))


def test_an_overflowing_conversion_is_an_error_not_infinity() -> None:
    preparation = Preparation(sample_mass_g=1e-300, final_volume_ml=1e300, dilution_factor=1e300)
    with pytest.raises(UnitError, match="out of range"):
        solution_to_solid(1e300, UG_L, preparation)


_positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
_concentration = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(c1=_concentration, c2=_concentration, k=st.floats(min_value=-1e3, max_value=1e3), m=_positive, v=_positive, df=_positive)
def test_conversion_is_linear_in_the_concentration(c1: float, c2: float, k: float, m: float, v: float, df: float) -> None:
    preparation = Preparation(sample_mass_g=m, final_volume_ml=v, dilution_factor=df)
    combined = solution_to_solid(c1 + k * c2, UG_L, preparation)
    separate = solution_to_solid(c1, UG_L, preparation) + k * solution_to_solid(c2, UG_L, preparation)
    scale = max(abs(c1), abs(k * c2), 1e-12) * preparation.value_factor
    assert math.isclose(combined, separate, rel_tol=1e-9, abs_tol=1e-9 * scale)


@given(c=_concentration, m=_positive, v=_positive, df=_positive)
def test_conversion_follows_the_formula(c: float, m: float, v: float, df: float) -> None:
    preparation = Preparation(sample_mass_g=m, final_volume_ml=v, dilution_factor=df)
    assert math.isclose(solution_to_solid(c, UG_L, preparation), c * v * df / (1000 * m), rel_tol=1e-12, abs_tol=1e-300)


@given(c=_positive, m=_positive, v=_positive, df=st.floats(min_value=1.0, max_value=1e4))
def test_a_larger_sample_mass_means_a_smaller_mass_fraction(c: float, m: float, v: float, df: float) -> None:
    lighter = Preparation(sample_mass_g=m, final_volume_ml=v, dilution_factor=df)
    heavier = Preparation(sample_mass_g=m * 2, final_volume_ml=v, dilution_factor=df)
    assert solution_to_solid(c, UG_L, heavier) < solution_to_solid(c, UG_L, lighter)


def test_known_units_are_listed_for_messages() -> None:
    assert {"µg/L", "mg/L", "mg/kg", "%", "ppb", "ppm", "ppt", "ug/L", "µg/g"} <= set(units.KNOWN_UNITS)
