"""Purity by difference, TREO, ratios, the payable composition and their uncertainties (§2, §3, §5)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from assays.chemistry.censoring import Limits, censor
from assays.chemistry.oxides import oxide_factor
from assays.chemistry.purity import (
    DEFAULT_TREO_ELEMENTS,
    CompositionError,
    Convention,
    Result,
    SampleComposition,
    SampleQuantities,
    model_uncertainty,
    payable_composition,
    ratio_percent,
    ratio_uncertainty_percent,
    ratio_with_uncertainty_percent,
    result_from_censored,
    result_uncertainty,
    result_value,
    sample_quantities,
)
from assays.errors import DomainError
from tests.unit.chemistry.purity_builders import (
    ANIONS,
    LOI_PERCENT,
    NON_RE_CENSORED,
    NON_RE_MEASURED,
    RE_IMPURITIES_CENSORED,
    RE_IMPURITIES_MEASURED,
    below,
    measured,
    worked_example,
)

# --- the worked example of §2, all three conventions, to the table's printed precision ---------

# (Σ RE-imp mg/kg, Σ non-RE mg/kg, Nd2O3 as received %, TREO %, Nd2O3/TREO %, Nd2O3 ignited %)
WORKED_EXAMPLE_TABLE: dict[Convention, tuple[str, str, str, str, str, str]] = {
    Convention.LOWER: ("87.81", "118.38", "99.6214", "99.6302", "99.9912", "99.9713"),
    Convention.BEST: ("89.82", "120.27", "99.6210", "99.6300", "99.9910", "99.9709"),
    Convention.UPPER: ("91.83", "122.15", "99.6206", "99.6298", "99.9908", "99.9705"),
}


@pytest.mark.parametrize("convention", list(Convention))
def test_the_worked_example_reproduces_the_table(convention: Convention) -> None:
    quantities = sample_quantities(worked_example(), convention=convention)
    printed = (
        f"{quantities.sum_re_impurities_mg_kg:.2f}",
        f"{quantities.sum_non_re_mg_kg:.2f}",
        f"{quantities.main_oxide_percent:.4f}",
        f"{quantities.treo_percent:.4f}",
        f"{quantities.relative_purity_percent:.4f}",
        f"{quantities.main_oxide_ignited_percent:.4f}",
    )
    assert printed == WORKED_EXAMPLE_TABLE[convention]


def test_the_worked_example_sorts_elements_into_the_sums_of_section_2() -> None:
    quantities = sample_quantities(worked_example(), convention=Convention.BEST)
    assert set(quantities.re_impurity_oxides) == {
        "La2O3", "CeO2", "Pr6O11", "Sm2O3", "Gd2O3", "Dy2O3", "Y2O3",
        "Eu2O3", "Tb4O7", "Ho2O3", "Er2O3", "Tm2O3", "Yb2O3", "Lu2O3",
    }  # fmt: skip
    assert set(quantities.non_re_oxides) == {"Fe2O3", "SiO2", "CaO", "Al2O3", "MgO", "Na2O", "CoO", "B2O3", "NiO", "CuO", "ZnO"}
    assert quantities.sum_anions_mg_kg == 80.0
    assert quantities.loi_percent == LOI_PERCENT
    assert quantities.measured_main_oxide_mg_kg == {}
    assert quantities.oxide_mg_kg["Pr6O11"] == pytest.approx(45 * oxide_factor("Pr6O11"), rel=1e-15)
    assert quantities.oxide_mg_kg["Tb4O7"] == pytest.approx(0.25 * oxide_factor("Tb4O7"), rel=1e-15)


def test_the_sums_differ_between_conventions_by_the_censored_oxides_only() -> None:
    lower = sample_quantities(worked_example(), convention=Convention.LOWER)
    upper = sample_quantities(worked_example(), convention=Convention.UPPER)
    censored_re = math.fsum(0.5 * oxide_factor(formula) for formula in ("Eu2O3", "Tb4O7", "Ho2O3", "Er2O3", "Tm2O3", "Yb2O3", "Lu2O3"))
    censored_non_re = math.fsum(1.0 * oxide_factor(formula) for formula in ("NiO", "CuO", "ZnO"))
    assert upper.sum_re_impurities_mg_kg - lower.sum_re_impurities_mg_kg == pytest.approx(censored_re, rel=1e-12)
    assert upper.sum_non_re_mg_kg - lower.sum_non_re_mg_kg == pytest.approx(censored_non_re, rel=1e-12)


@pytest.mark.parametrize("convention", list(Convention))
def test_treo_is_main_oxide_plus_re_impurities_and_absolute_content_is_the_main_oxide(convention: Convention) -> None:
    quantities = sample_quantities(worked_example(), convention=convention)
    assert quantities.treo_percent == pytest.approx(quantities.main_oxide_percent + quantities.sum_re_impurities_mg_kg / 10_000, abs=1e-12)
    assert quantities.relative_purity_percent == pytest.approx(100 * quantities.main_oxide_percent / quantities.treo_percent, abs=1e-12)
    assert quantities.absolute_content_percent == quantities.main_oxide_percent


@pytest.mark.parametrize("convention", list(Convention))
def test_the_ignited_basis_divides_every_impurity_by_one_minus_loi(convention: Convention) -> None:
    quantities = sample_quantities(worked_example(), convention=convention)
    remaining = 1 - LOI_PERCENT / 100
    assert quantities.ignited_divisor == pytest.approx(remaining, rel=1e-15)
    for formula, value in quantities.oxide_mg_kg.items():
        assert quantities.ignited_oxide_mg_kg[formula] == pytest.approx(value / remaining, rel=1e-14)
    assert quantities.ignited_sum_anions_mg_kg == pytest.approx(80 / remaining, rel=1e-14)
    # Dividing by 1 - LOI is the same as taking LOI out of the sample: main and TREO both scale.
    assert quantities.main_oxide_ignited_percent == pytest.approx(quantities.main_oxide_percent / remaining, rel=1e-13)
    assert quantities.treo_ignited_percent == pytest.approx(quantities.treo_percent / remaining, rel=1e-13)
    assert 100 * quantities.main_oxide_ignited_percent / quantities.treo_ignited_percent == pytest.approx(
        quantities.relative_purity_percent, rel=1e-13
    )


def test_without_loi_the_ignited_basis_is_the_as_received_one() -> None:
    composition = dataclasses.replace(worked_example(), loi_percent=None)
    quantities = sample_quantities(composition, convention=Convention.BEST)
    assert not quantities.loi_measured
    assert quantities.loi_percent == 0.0
    assert quantities.main_oxide_ignited_percent == pytest.approx(quantities.main_oxide_percent, abs=1e-12)
    with_loi = sample_quantities(worked_example(), convention=Convention.BEST)
    assert quantities.main_oxide_percent - with_loi.main_oxide_percent == pytest.approx(LOI_PERCENT, abs=1e-12)


def test_the_reporting_oxide_is_a_property_of_the_spec_line() -> None:
    conventional = sample_quantities(worked_example(), convention=Convention.BEST)
    as_pr2o3 = sample_quantities(worked_example(oxides={"Pr": "Pr2O3"}), convention=Convention.BEST)
    assert "Pr2O3" in as_pr2o3.oxide_mg_kg
    assert "Pr6O11" not in as_pr2o3.oxide_mg_kg
    understated = 45 * (oxide_factor("Pr6O11") - oxide_factor("Pr2O3"))
    assert understated > 0
    assert conventional.sum_re_impurities_mg_kg - as_pr2o3.sum_re_impurities_mg_kg == pytest.approx(understated, rel=1e-12)


def test_scandium_counts_in_treo_only_when_the_spec_says_so() -> None:
    scandium = {"Sc": measured(10.0)}
    default = sample_quantities(worked_example(extra_elements=scandium), convention=Convention.BEST)
    composition = dataclasses.replace(worked_example(extra_elements=scandium), treo_includes=DEFAULT_TREO_ELEMENTS | {"Sc"})
    with_sc = sample_quantities(composition, convention=Convention.BEST)
    sc2o3 = 10.0 * oxide_factor("Sc2O3")
    assert "Sc" not in DEFAULT_TREO_ELEMENTS
    assert "Sc2O3" in default.non_re_oxides
    assert "Sc2O3" in with_sc.re_impurity_oxides
    # By difference the main oxide does not care how an impurity is classed; TREO does.
    assert with_sc.main_oxide_percent == pytest.approx(default.main_oxide_percent, abs=1e-12)
    assert with_sc.treo_percent - default.treo_percent == pytest.approx(sc2o3 / 10_000, abs=1e-12)
    assert with_sc.relative_purity_percent < default.relative_purity_percent


def test_a_main_element_that_was_measured_is_no_impurity() -> None:
    composition = worked_example(extra_elements={"Nd": measured(850_000.0)})
    quantities = sample_quantities(composition, convention=Convention.BEST)
    reference = sample_quantities(worked_example(), convention=Convention.BEST)
    assert "Nd2O3" not in quantities.oxide_mg_kg
    assert quantities.measured_main_oxide_mg_kg == {"Nd2O3": pytest.approx(850_000.0 * oxide_factor("Nd2O3"), rel=1e-15)}
    assert quantities.main_oxide_percent == reference.main_oxide_percent


# --- censored values, negative readings and the model uncertainty ------------------------------


@pytest.mark.parametrize(("convention", "expected"), [(Convention.LOWER, 0.0), (Convention.BEST, 0.25), (Convention.UPPER, 0.5)])
def test_a_censored_result_counts_by_the_convention_with_u_lod_over_root_12(convention: Convention, expected: float) -> None:
    result = Result(value=0.5, censored=True, lod=0.5, u=3.0)
    assert result_value(result, convention=convention) == expected
    # The model's u (3.0) is for numbers above the LOD; a censored one is uniform on [0, LOD].
    assert result_uncertainty(result, convention=convention) == pytest.approx(0.5 / math.sqrt(12), rel=1e-15)


@pytest.mark.parametrize("convention", list(Convention))
def test_a_negative_reading_counts_as_zero_and_keeps_its_uncertainty(convention: Convention) -> None:
    result = measured(-0.8, u=0.3)
    assert result_value(result, convention=convention) == 0.0
    assert result_uncertainty(result, convention=convention) == 0.3


def test_a_censored_value_from_the_censoring_module_becomes_a_censored_result() -> None:
    result = result_from_censored(censor(0.2, "=", Limits(lod=0.5, loq=1.5)), u=None)
    assert result == Result(value=0.5, censored=True, lod=0.5, u=None)
    quantified = result_from_censored(censor(2.0, "=", Limits(lod=0.5, loq=1.5)), u=0.1)
    assert quantified == Result(value=2.0, censored=False, lod=0.5, u=0.1)


@pytest.mark.parametrize(
    ("value", "qualifier", "limits"),
    [(9e9, ">", Limits(0.5, 1.5)), (-0.2, "=", Limits(None, None)), (0.3, "=", Limits(None, None))],
    ids=["over-range", "negative-without-lod", "no-lod"],
)
def test_results_censoring_refuses_to_sum_are_refused(value: float, qualifier: str, limits: Limits) -> None:
    with pytest.raises(CompositionError):
        result_from_censored(censor(value, qualifier, limits), u=None)


def test_model_uncertainty_combines_the_constant_and_the_proportional_part() -> None:
    assert model_uncertainty(value=40.0, a=3.0, b=0.1) == pytest.approx(5.0, rel=1e-15)
    assert model_uncertainty(value=0.0, a=0.2, b=0.05) == pytest.approx(0.2, rel=1e-15)
    assert model_uncertainty(value=1e6, a=0.2, b=0.05) == pytest.approx(5e4, rel=1e-9)
    with pytest.raises(CompositionError):
        model_uncertainty(value=1.0, a=-0.2, b=0.05)
    with pytest.raises(CompositionError):
        model_uncertainty(value=math.nan, a=0.2, b=0.05)


# --- propagated uncertainties, checked against numerical sensitivity coefficients -------------


def _with_value(composition: SampleComposition, key: tuple[str, str], value: float) -> SampleComposition:
    """The composition with one input replaced by an uncensored result at ``value``."""
    group, name = key
    if group == "element":
        return dataclasses.replace(composition, elements=dict(composition.elements) | {name: measured(value)})
    if group == "anion":
        return dataclasses.replace(composition, anions=dict(composition.anions) | {name: measured(value)})
    return dataclasses.replace(composition, loi_percent=measured(value))


def _gum_uncertainty(composition: SampleComposition, quantity: str, *, keys: list[tuple[str, str]]) -> float:
    """√Σ (c_i · u_i)² with c_i = ∂quantity/∂x_i by central differences at the best estimate."""
    convention = Convention.BEST
    terms = []
    for key in keys:
        group, name = key
        result = composition.loi_percent if group == "loi" else (composition.elements if group == "element" else composition.anions)[name]
        assert result is not None
        x = result_value(result, convention=convention)
        u = result_uncertainty(result, convention=convention)
        assert u is not None
        h = max(abs(x), 1.0) * 1e-3
        up = getattr(sample_quantities(_with_value(composition, key, x + h), convention=convention), quantity)
        down = getattr(sample_quantities(_with_value(composition, key, x - h), convention=convention), quantity)
        terms.append((up - down) / (2 * h) * u)
    return math.hypot(*terms)


def _all_keys(composition: SampleComposition) -> list[tuple[str, str]]:
    return [("element", symbol) for symbol in composition.elements] + [("anion", name) for name in composition.anions] + [("loi", "")]


# A method model for every measured value (u = 5 % of it), the anions and LOI.
UNCERTAIN = worked_example(u_relative=0.05, u_anion=4.0, u_loi=0.02)


def test_u_of_the_main_oxide_is_the_gum_propagation_over_every_input() -> None:
    quantities = sample_quantities(UNCERTAIN, convention=Convention.BEST)
    expected = _gum_uncertainty(UNCERTAIN, "main_oxide_percent", keys=_all_keys(UNCERTAIN))
    assert quantities.u_main_oxide_percent == pytest.approx(expected, rel=1e-6)
    assert quantities.u_absolute_content_percent == quantities.u_main_oxide_percent


def test_u_of_treo_and_of_the_ignited_main_oxide_are_the_gum_propagation() -> None:
    quantities = sample_quantities(UNCERTAIN, convention=Convention.BEST)
    keys = _all_keys(UNCERTAIN)
    assert quantities.u_treo_percent == pytest.approx(_gum_uncertainty(UNCERTAIN, "treo_percent", keys=keys), rel=1e-6)
    assert quantities.u_main_oxide_ignited_percent == pytest.approx(
        _gum_uncertainty(UNCERTAIN, "main_oxide_ignited_percent", keys=keys), rel=1e-6
    )


def test_u_of_relative_purity_is_the_section_5_approximation_of_the_full_propagation() -> None:
    quantities = sample_quantities(UNCERTAIN, convention=Convention.BEST)
    full = _gum_uncertainty(UNCERTAIN, "relative_purity_percent", keys=_all_keys(UNCERTAIN))
    assert quantities.u_relative_purity_percent is not None
    # §5 leaves out the TREO term, smaller by Σ_RE-imp / TREO: agreement to 1e-4 here.
    assert quantities.u_relative_purity_percent == pytest.approx(full, rel=1e-4)
    re_only = [("element", symbol) for symbol in (*RE_IMPURITIES_MEASURED, *RE_IMPURITIES_CENSORED)]
    assert quantities.u_relative_purity_percent == pytest.approx(
        _gum_uncertainty(UNCERTAIN, "relative_purity_percent", keys=re_only), rel=1e-6
    )


def test_sums_carry_the_quadrature_of_oxide_uncertainties_with_censored_ones_at_lod_over_root_12() -> None:
    quantities = sample_quantities(UNCERTAIN, convention=Convention.UPPER)
    u_re = [0.05 * value * oxide_factor(quantities_formula) for quantities_formula, value in _re_formulas_and_values()]
    u_re += [0.5 / math.sqrt(12) * oxide_factor(formula) for formula in ("Eu2O3", "Tb4O7", "Ho2O3", "Er2O3", "Tm2O3", "Yb2O3", "Lu2O3")]
    assert quantities.u_sum_re_impurities_mg_kg == pytest.approx(math.sqrt(math.fsum(u * u for u in u_re)), rel=1e-12)
    assert quantities.u_oxide_mg_kg["NiO"] == pytest.approx(1.0 / math.sqrt(12) * oxide_factor("NiO"), rel=1e-12)
    assert quantities.u_sum_anions_mg_kg == pytest.approx(math.hypot(4.0, 4.0), rel=1e-12)


def _re_formulas_and_values() -> list[tuple[str, float]]:
    conventional = {"La": "La2O3", "Ce": "CeO2", "Pr": "Pr6O11", "Sm": "Sm2O3", "Gd": "Gd2O3", "Dy": "Dy2O3", "Y": "Y2O3"}
    return [(conventional[symbol], value) for symbol, value in RE_IMPURITIES_MEASURED.items()]


def test_an_unknown_uncertainty_makes_the_propagated_ones_unknown_not_smaller() -> None:
    without_fe_u = dataclasses.replace(UNCERTAIN, elements=dict(UNCERTAIN.elements) | {"Fe": measured(12.0)})
    quantities = sample_quantities(without_fe_u, convention=Convention.BEST)
    assert quantities.u_oxide_mg_kg["Fe2O3"] is None
    assert quantities.u_sum_non_re_mg_kg is None
    assert quantities.u_main_oxide_percent is None
    assert quantities.u_treo_percent is None
    assert quantities.u_main_oxide_ignited_percent is None
    # Relative purity's u needs the rare earths only (§5).
    assert quantities.u_relative_purity_percent == sample_quantities(UNCERTAIN, convention=Convention.BEST).u_relative_purity_percent


# --- ratio lines of mixed products --------------------------------------------------------------

PRND_ND2O3_MG_KG = 750_000.0
PRND_PR6O11_MG_KG = 245_000.0


def _prnd(*, measure_majors: bool) -> SampleComposition:
    """A PrNd oxide: 75 % Nd2O3, 24.5 % Pr6O11 measured by ICP-OES, plus small impurities."""
    majors = {
        "Nd": measured(PRND_ND2O3_MG_KG / oxide_factor("Nd2O3")),
        "Pr": measured(PRND_PR6O11_MG_KG / oxide_factor("Pr6O11")),
    }
    return SampleComposition(
        elements={"La": measured(30.0), "Ce": measured(20.0), "Sm": below(5.0), "Fe": measured(40.0)} | (majors if measure_majors else {}),
        anions={"Cl-": measured(200.0)},
        loi_percent=measured(0.4),
        main=frozenset({"Pr", "Nd"}),
    )


def test_prnd_ratio_lines() -> None:
    quantities = sample_quantities(_prnd(measure_majors=True), convention=Convention.UPPER)
    treo = quantities.treo_percent
    # (Pr6O11 + Nd2O3)/TREO by difference is the grade itself.
    assert ratio_percent(quantities, numerator="main") == quantities.relative_purity_percent
    assert ratio_percent(quantities, numerator=["main"], denominator=["treo"]) == quantities.relative_purity_percent
    # The split needs the measured majors.
    assert ratio_percent(quantities, numerator=["Nd2O3"]) == pytest.approx(100 * 75.0 / treo, rel=1e-12)
    assert ratio_percent(quantities, numerator=["Pr6O11", "Nd2O3"]) == pytest.approx(100 * 99.5 / treo, rel=1e-12)
    assert ratio_percent(quantities, numerator=["Nd2O3"], denominator=["Pr6O11", "Nd2O3"]) == pytest.approx(100 * 75 / 99.5, rel=1e-12)
    assert ratio_percent(quantities, numerator=["La2O3"], denominator="treo") == pytest.approx(
        100 * 30 * oxide_factor("La2O3") / 10_000 / treo, rel=1e-12
    )
    assert ratio_percent(quantities, numerator=["Nd2O3"]) >= 75


def test_a_ratio_refuses_an_oxide_that_was_not_measured_and_a_main_oxide_counted_twice() -> None:
    unmeasured = sample_quantities(_prnd(measure_majors=False), convention=Convention.BEST)
    with pytest.raises(CompositionError, match="not measured"):
        ratio_percent(unmeasured, numerator=["Nd2O3"])
    with pytest.raises(CompositionError, match="not measured"):
        ratio_percent(unmeasured, numerator=["Dy2O3"])
    measured_majors = sample_quantities(_prnd(measure_majors=True), convention=Convention.BEST)
    with pytest.raises(CompositionError, match="twice"):
        ratio_percent(measured_majors, numerator=["main", "Nd2O3"])
    with pytest.raises(CompositionError):
        ratio_percent(measured_majors, numerator=[])
    with pytest.raises(CompositionError):
        ratio_percent(measured_majors, numerator=["Nd2O3", "Nd2O3"])


def _prnd_with_uncertainties(*, u_loi: float | None = 0.02) -> SampleComposition:
    """A PrNd oxide with its majors measured, every result carrying a standard uncertainty."""
    elements = {
        "La": measured(30.0, u=1.5),
        "Ce": measured(20.0, u=1.2),
        "Fe": measured(40.0, u=2.0),
        "Si": measured(25.0, u=3.0),
        "Nd": measured(PRND_ND2O3_MG_KG / oxide_factor("Nd2O3"), u=6_000.0),
        "Pr": measured(PRND_PR6O11_MG_KG / oxide_factor("Pr6O11"), u=2_500.0),
    }
    return SampleComposition(
        elements=elements,
        anions={"Cl-": measured(200.0, u=15.0)},
        loi_percent=measured(0.4, u=u_loi),
        main=frozenset({"Pr", "Nd"}),
    )


def _first_order_u(composition: SampleComposition, numerator: list[str]) -> float:
    """GUM first order by finite differences: √Σ (∂R/∂x · u(x))² over every input of the sample."""

    def ratio(changed: SampleComposition) -> float:
        return ratio_percent(sample_quantities(changed, convention=Convention.BEST), numerator=numerator)

    base = ratio(composition)
    squares = []
    inputs = [("elements", name, result) for name, result in composition.elements.items()]
    inputs += [("anions", name, result) for name, result in composition.anions.items()]
    assert composition.loi_percent is not None
    inputs.append(("loi_percent", "", composition.loi_percent))
    for field, name, result in inputs:
        assert result.u is not None
        step = result.u * 1e-4
        moved = measured(result.value + step, u=result.u)
        if field == "loi_percent":
            changed = dataclasses.replace(composition, loi_percent=moved)
        else:
            changed = dataclasses.replace(composition, **{field: {**getattr(composition, field), name: moved}})
        squares.append(((ratio(changed) - base) / step * result.u) ** 2)
    return math.sqrt(math.fsum(squares))


@pytest.mark.parametrize("numerator", [["Nd2O3"], ["Pr6O11"], ["Pr6O11", "Nd2O3"], ["La2O3"]])
def test_a_measured_share_of_treo_carries_the_first_order_uncertainty_of_every_input(numerator: list[str]) -> None:
    composition = _prnd_with_uncertainties()
    quantities = sample_quantities(composition, convention=Convention.BEST)
    u = ratio_uncertainty_percent(quantities, numerator=numerator)
    assert u is not None
    assert u > 0
    assert u == pytest.approx(_first_order_u(composition, numerator), rel=1e-4)


@pytest.mark.parametrize("numerator", ["main", ["Nd2O3"], ["Pr6O11", "Nd2O3"], ["La2O3"]])
def test_a_ratio_and_its_uncertainty_together_are_the_ratio_and_its_first_order_u(numerator: str | list[str]) -> None:
    composition = _prnd_with_uncertainties()
    quantities = sample_quantities(composition, convention=Convention.BEST)
    value, u = ratio_with_uncertainty_percent(quantities, numerator=numerator)
    assert value == ratio_percent(quantities, numerator=numerator)
    assert u is not None
    if numerator == "main":  # the grade: the relative purity's own u
        assert u == quantities.u_relative_purity_percent
    else:  # measured oxides over TREO: every input's first-order contribution, found numerically
        assert u == pytest.approx(_first_order_u(composition, numerator), rel=1e-4)


def test_the_grade_as_a_ratio_carries_the_relative_puritys_uncertainty() -> None:
    quantities = sample_quantities(_prnd_with_uncertainties(), convention=Convention.BEST)
    assert quantities.u_relative_purity_percent is not None
    assert ratio_uncertainty_percent(quantities, numerator="main") == quantities.u_relative_purity_percent


def test_a_ratio_uncertainty_that_is_not_known_is_none_never_zero() -> None:
    quantities = sample_quantities(_prnd_with_uncertainties(), convention=Convention.BEST)
    # Oxides on both sides, or the by-difference main oxide over something else: correlated terms.
    assert ratio_uncertainty_percent(quantities, numerator=["Nd2O3"], denominator=["Pr6O11", "Nd2O3"]) is None
    assert ratio_uncertainty_percent(quantities, numerator="main", denominator=["Pr6O11", "Nd2O3"]) is None
    # An input without an uncertainty: LOI enters TREO.
    without_loi_u = sample_quantities(_prnd_with_uncertainties(u_loi=None), convention=Convention.BEST)
    assert ratio_uncertainty_percent(without_loi_u, numerator=["Nd2O3"]) is None
    # The majors measured without a model.
    plain = sample_quantities(_prnd(measure_majors=True), convention=Convention.BEST)
    assert ratio_uncertainty_percent(plain, numerator=["Nd2O3"]) is None
    # What ratio_percent refuses, this refuses too.
    with pytest.raises(CompositionError, match="not measured"):
        ratio_uncertainty_percent(sample_quantities(_prnd(measure_majors=False), convention=Convention.BEST), numerator=["Nd2O3"])


# --- feedstock: payable composition, nothing by difference --------------------------------------


def _magnet_scrap() -> SampleComposition:
    return SampleComposition(
        elements={
            "Nd": measured(250_000.0, u=5_000.0),
            "Pr": measured(60_000.0, u=1_500.0),
            "Dy": measured(20_000.0, u=600.0),
            "Tb": below(50.0),
            "Fe": measured(650_000.0, u=10_000.0),
            "B": measured(10_000.0, u=300.0),
        }
    )


@pytest.mark.parametrize("convention", list(Convention))
def test_payable_treo_is_the_measured_sum_of_rare_earth_oxides(convention: Convention) -> None:
    payable = payable_composition(_magnet_scrap(), convention=convention)
    tb = {Convention.LOWER: 0.0, Convention.BEST: 25.0, Convention.UPPER: 50.0}[convention]
    expected = {
        "Pr6O11": 6.0 * oxide_factor("Pr6O11"),
        "Nd2O3": 25.0 * oxide_factor("Nd2O3"),
        "Tb4O7": tb / 10_000 * oxide_factor("Tb4O7"),
        "Dy2O3": 2.0 * oxide_factor("Dy2O3"),
    }
    assert payable.oxide_percent == pytest.approx(expected, rel=1e-12)
    assert list(payable.oxide_percent) == ["Pr6O11", "Nd2O3", "Tb4O7", "Dy2O3"]  # in atomic-number order
    assert payable.treo_percent == pytest.approx(math.fsum(expected.values()), rel=1e-12)
    assert 38.6 < payable.treo_percent < 38.8  # 29.16 % Nd2O3 + 7.25 % Pr6O11 + 2.30 % Dy2O3 for sintered NdFeB
    assert payable.share_of_treo_percent is not None
    assert math.fsum(payable.share_of_treo_percent.values()) == pytest.approx(100.0, rel=1e-12)
    u_expected = math.hypot(
        0.5 * oxide_factor("Nd2O3"),
        0.15 * oxide_factor("Pr6O11"),
        0.06 * oxide_factor("Dy2O3"),
        0.005 / math.sqrt(12) * oxide_factor("Tb4O7"),
    )
    assert payable.u_treo_percent == pytest.approx(u_expected, rel=1e-12)


def test_payable_with_every_rare_earth_censored_has_no_shares_at_the_lower_bound() -> None:
    composition = SampleComposition(elements={"Nd": below(10.0), "Fe": measured(500_000.0)})
    lower = payable_composition(composition, convention=Convention.LOWER)
    assert lower.treo_percent == 0.0
    assert lower.share_of_treo_percent is None
    upper = payable_composition(composition, convention=Convention.UPPER)
    assert upper.share_of_treo_percent == {"Nd2O3": 100.0}


def test_payable_without_any_rare_earth_measured_is_refused() -> None:
    with pytest.raises(CompositionError, match="no rare earth"):
        payable_composition(SampleComposition(elements={"Fe": measured(650_000.0)}), convention=Convention.BEST)


# --- validation: nothing that is not a finite number enters the arithmetic ---------------------


def test_composition_error_is_a_domain_error() -> None:
    assert issubclass(CompositionError, DomainError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Result(value=math.nan),
        lambda: Result(value=math.inf),
        lambda: Result(value="<0.5"),
        lambda: Result(value=True),
        lambda: Result(value=None),
        lambda: Result(value=-0.5, censored=True, lod=0.5),
        lambda: Result(value=1.0, lod=-0.5),
        lambda: Result(value=1.0, lod=math.nan),
        lambda: Result(value=1.0, u=-0.1),
        lambda: Result(value=1.0, u=math.inf),
        lambda: Result(value=1.0, censored="yes"),
        lambda: Result(value=1.0, censored=1),
        lambda: Result(1.0, False, math.inf),
        lambda: Result(1.0, False, None, math.nan),
        lambda: Result(value=-math.inf, censored=False),
        lambda: Result(value=1.0, lod="0.5"),
        lambda: dataclasses.replace(Result(1.0, u=0.1), u=-0.1),
    ],
    ids=[
        "nan", "inf", "string", "bool", "none", "negative-limit", "negative-lod", "nan-lod", "negative-u", "inf-u",
        "censored-not-bool", "censored-int", "inf-lod-positional", "nan-u-positional", "minus-inf", "lod-text", "replace",
    ],
)  # fmt: skip
def test_a_result_that_is_not_a_finite_number_is_refused(make) -> None:
    with pytest.raises(CompositionError):
        make()


def test_a_result_keeps_what_it_is_given_as_floats_and_cannot_be_changed() -> None:
    # Every field set, by position and by name alike; an int becomes a float; zeros and a
    # negative reading (not censored: a blank-corrected value) are numbers like any other.
    for result in (Result(2, True, 2, 0), Result(value=2, censored=True, lod=2, u=0)):
        assert (result.value, result.censored, result.lod, result.u) == (2.0, True, 2.0, 0.0)
        assert all(type(number) is float for number in (result.value, result.lod, result.u))
    assert Result(-0.25) == Result(value=-0.25, censored=False, lod=None, u=None)
    assert Result(-0.0, censored=True).value == 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        Result(1.0).value = 2.0
    assert hash(Result(1.0, u=0.5)) == hash(Result(1.0, u=0.5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"elements": {"Xx": measured(1.0)}}, "not a known element"),
        ({"elements": {"Ce": 8.0}}, "must be a Result"),
        ({"elements": {"Ce": measured(8.0)}, "oxides": {"Ce": "Pr6O11"}}, "oxide of Pr"),
        ({"elements": {"Ce": measured(8.0)}, "oxides": {"Ce": "Ce2"}}, "reporting oxide of Ce"),
        ({"elements": {"Ag": measured(1.0)}}, "no reporting oxide for Ag"),
        ({"elements": {}, "anions": {"Cl-": "50"}}, "must be a Result"),
        ({"elements": {}, "loi_percent": measured(100.0)}, "no ignited material"),
        ({"elements": {}, "main": "Nd"}, "set of element symbols"),
        ({"elements": {}, "main": frozenset({"Fe"})}, "not counted in TREO"),
        ({"elements": {}, "main": frozenset({"Sc"})}, "not counted in TREO"),
        ({"elements": {}, "treo_includes": frozenset({"Nd", "Qq"})}, "not a known element"),
    ],
)
def test_a_composition_that_cannot_be_computed_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CompositionError, match=message):
        SampleComposition(**kwargs)


def test_a_spec_may_name_an_oxide_for_an_element_without_a_conventional_one() -> None:
    composition = SampleComposition(elements={"Ag": measured(2.0)}, oxides={"Ag": "Ag2O"}, main=frozenset({"Nd"}))
    quantities = sample_quantities(composition, convention=Convention.BEST)
    assert quantities.oxide_mg_kg == {"Ag2O": pytest.approx(2.0 * oxide_factor("Ag2O"), rel=1e-15)}


def test_a_composition_is_immutable_after_validation() -> None:
    elements = {"Fe": measured(12.0)}
    composition = SampleComposition(elements=elements, main=frozenset({"Nd"}))
    elements["Fe"] = measured(1e9)
    assert composition.elements["Fe"].value == 12.0
    with pytest.raises(TypeError):
        composition.elements["Fe"] = measured(1.0)  # type: ignore[index]


def test_purity_by_difference_needs_a_main_component_and_room_for_it() -> None:
    with pytest.raises(CompositionError, match="main component"):
        sample_quantities(SampleComposition(elements={"Fe": measured(12.0)}), convention=Convention.BEST)
    too_much = SampleComposition(elements={"Fe": measured(800_000.0)}, main=frozenset({"Nd"}))
    with pytest.raises(CompositionError, match="exceed"):
        sample_quantities(too_much, convention=Convention.BEST)


def test_a_convention_is_one_of_three() -> None:
    assert [str(convention) for convention in Convention] == ["lower", "best", "upper"]
    with pytest.raises(ValueError, match="mid"):
        sample_quantities(worked_example(), convention="mid")
    assert isinstance(sample_quantities(worked_example(), convention="upper"), SampleQuantities)


def test_the_worked_example_inputs_are_the_documents() -> None:
    # Guard against an edit of the builders: the inputs are §2's, not tuned to the table.
    assert sum(RE_IMPURITIES_MEASURED.values()) == 73
    assert sum(NON_RE_MEASURED.values()) == 67
    assert (len(RE_IMPURITIES_CENSORED), len(NON_RE_CENSORED)) == (7, 3)
    assert ANIONS == {"Cl-": 50, "SO4 2-": 30}
