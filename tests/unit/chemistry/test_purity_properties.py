"""Properties of purity by difference over generated samples (REO-ASSAY.md §2, §3, §5).

Generated Nd2O3 samples: any subset of the other rare earths and of the usual non-RE elements,
each measured (0-500 mg/kg, with or without a model u) or censored (LOD 0.01-5 mg/kg); Cl- and
SO4 2-; LOI 0-2 %. The properties are the ones a purity must have whatever the numbers.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from assays.chemistry.purity import (
    DEFAULT_TREO_ELEMENTS,
    Convention,
    Result,
    SampleComposition,
    SampleQuantities,
    sample_quantities,
)

RE_IMPURITY_SYMBOLS = sorted(DEFAULT_TREO_ELEMENTS - {"Nd"})
NON_RE_SYMBOLS = ["Fe", "Si", "Ca", "Al", "Mg", "Na", "K", "Co", "Ni", "Cu", "B", "Zn", "Pb", "Mn", "Cr", "Ti", "Zr"]
CONVENTIONS = st.sampled_from(list(Convention))

uncertainties = st.none() | st.floats(min_value=0, max_value=50)
measured_results = st.builds(Result, value=st.floats(min_value=0, max_value=500), censored=st.just(False), u=uncertainties)
censored_results = st.floats(min_value=0.01, max_value=5).map(lambda lod: Result(value=lod, censored=True, lod=lod))
results = measured_results | censored_results


@st.composite
def compositions(draw: st.DrawFn) -> SampleComposition:
    re_symbols = draw(st.lists(st.sampled_from(RE_IMPURITY_SYMBOLS), unique=True))
    non_re_symbols = draw(st.lists(st.sampled_from(NON_RE_SYMBOLS), unique=True))
    elements = {symbol: draw(results) for symbol in re_symbols + non_re_symbols}
    anions = {name: draw(results) for name in draw(st.lists(st.sampled_from(["Cl-", "SO4 2-"]), unique=True))}
    loi = draw(st.none() | st.builds(Result, value=st.floats(min_value=0, max_value=2), u=uncertainties))
    return SampleComposition(elements=elements, anions=anions, loi_percent=loi, main=frozenset({"Nd"}))


def _inputs(composition: SampleComposition) -> list[tuple[str, str]]:
    keys = [("element", symbol) for symbol in composition.elements] + [("anion", name) for name in composition.anions]
    return keys + ([("loi", "")] if composition.loi_percent is not None else [])


def _get(composition: SampleComposition, key: tuple[str, str]) -> Result:
    group, name = key
    if group == "loi":
        assert composition.loi_percent is not None
        return composition.loi_percent
    return (composition.elements if group == "element" else composition.anions)[name]


def _replace(composition: SampleComposition, key: tuple[str, str], result: Result) -> SampleComposition:
    group, name = key
    if group == "element":
        return dataclasses.replace(composition, elements=dict(composition.elements) | {name: result})
    if group == "anion":
        return dataclasses.replace(composition, anions=dict(composition.anions) | {name: result})
    return dataclasses.replace(composition, loi_percent=result)


def _sums(quantities: SampleQuantities) -> tuple[float, ...]:
    return (
        quantities.sum_re_impurities_mg_kg,
        quantities.sum_non_re_mg_kg,
        quantities.sum_anions_mg_kg,
        quantities.loi_percent,
        quantities.main_oxide_percent,
        quantities.treo_percent,
        quantities.relative_purity_percent,
        quantities.main_oxide_ignited_percent,
    )


@settings(max_examples=300)
@given(composition=compositions(), convention=CONVENTIONS, pick=st.integers(min_value=0), increase=st.floats(min_value=1e-9, max_value=300))
def test_more_of_any_impurity_never_raises_purity_or_main_oxide(
    composition: SampleComposition, convention: Convention, pick: int, increase: float
) -> None:
    keys = _inputs(composition)
    if not keys:
        return
    key = keys[pick % len(keys)]
    before = _get(composition, key)
    # A larger reading, or a censored result with a higher limit: more impurity either way.
    after = dataclasses.replace(before, value=before.value + (increase / 100 if key[0] == "loi" else increase))
    old = sample_quantities(composition, convention=convention)
    new = sample_quantities(_replace(composition, key, after), convention=convention)
    assert new.main_oxide_percent <= old.main_oxide_percent
    assert new.relative_purity_percent <= old.relative_purity_percent
    assert new.main_oxide_ignited_percent <= old.main_oxide_ignited_percent
    if key[0] == "element" and key[1] in DEFAULT_TREO_ELEMENTS:
        assert new.treo_percent == old.treo_percent  # TREO by difference does not see an RE impurity
    else:
        assert new.treo_percent <= old.treo_percent
    if not before.censored and increase >= 1e-3:
        assert new.main_oxide_percent < old.main_oxide_percent


@settings(max_examples=200)
@given(composition=compositions())
def test_lower_best_upper_bound_the_impurities_and_order_purity_the_other_way(composition: SampleComposition) -> None:
    lower, best, upper = (sample_quantities(composition, convention=convention) for convention in Convention)
    for field in ("sum_re_impurities_mg_kg", "sum_non_re_mg_kg", "sum_anions_mg_kg", "loi_percent"):
        assert getattr(lower, field) <= getattr(best, field) <= getattr(upper, field)
    for field in ("main_oxide_percent", "treo_percent", "relative_purity_percent", "main_oxide_ignited_percent"):
        assert getattr(lower, field) >= getattr(best, field) >= getattr(upper, field)


@settings(max_examples=200)
@given(composition=compositions(), convention=CONVENTIONS, negative=st.floats(min_value=-1e6, max_value=-1e-12), u=uncertainties)
def test_a_negative_reading_never_reduces_a_sum(
    composition: SampleComposition, convention: Convention, negative: float, u: float | None
) -> None:
    reference = sample_quantities(composition, convention=convention)
    # A new element read below zero adds nothing...
    absent = next((symbol for symbol in ["Ga", "Ba", "Sr", "Mo", "W"] if symbol not in composition.elements), None)
    assert absent is not None
    with_negative = dataclasses.replace(composition, elements=dict(composition.elements) | {absent: Result(value=negative, u=u)})
    assert _sums(sample_quantities(with_negative, convention=convention)) == _sums(reference)
    # ...and a reading replaced by a negative one counts exactly as a zero reading.
    for key in _inputs(composition):
        as_negative = sample_quantities(_replace(composition, key, Result(value=negative, u=u)), convention=convention)
        as_zero = sample_quantities(_replace(composition, key, Result(value=0.0, u=u)), convention=convention)
        assert _sums(as_negative) == _sums(as_zero)


@settings(max_examples=200)
@given(composition=compositions(), convention=CONVENTIONS, new_u=st.floats(min_value=0, max_value=1e3))
def test_a_non_re_uncertainty_leaves_the_uncertainty_of_relative_purity_unchanged(
    composition: SampleComposition, convention: Convention, new_u: float
) -> None:
    reference = sample_quantities(composition, convention=convention)
    for symbol, result in composition.elements.items():
        if symbol in DEFAULT_TREO_ELEMENTS or result.censored:
            continue
        changed = sample_quantities(
            dataclasses.replace(composition, elements=dict(composition.elements) | {symbol: dataclasses.replace(result, u=new_u)}),
            convention=convention,
        )
        assert changed.u_relative_purity_percent == reference.u_relative_purity_percent
        assert changed.relative_purity_percent == reference.relative_purity_percent


@settings(max_examples=200)
@given(composition=compositions(), convention=CONVENTIONS, pick=st.integers(min_value=0), extra=st.floats(min_value=0, max_value=100))
def test_a_larger_input_uncertainty_never_shrinks_the_main_oxide_uncertainty(
    composition: SampleComposition, convention: Convention, pick: int, extra: float
) -> None:
    keys = [key for key in _inputs(composition) if not _get(composition, key).censored and _get(composition, key).u is not None]
    if not keys:
        return
    key = keys[pick % len(keys)]
    before = _get(composition, key)
    assert before.u is not None
    old = sample_quantities(composition, convention=convention)
    new = sample_quantities(_replace(composition, key, dataclasses.replace(before, u=before.u + extra)), convention=convention)
    if old.u_main_oxide_percent is not None:
        assert new.u_main_oxide_percent is not None
        assert new.u_main_oxide_percent >= old.u_main_oxide_percent
    if old.u_main_oxide_ignited_percent is not None:
        assert new.u_main_oxide_ignited_percent is not None
        assert new.u_main_oxide_ignited_percent >= old.u_main_oxide_ignited_percent


@settings(max_examples=200)
@given(composition=compositions(), convention=CONVENTIONS)
def test_relative_purity_is_the_same_on_the_ignited_basis(composition: SampleComposition, convention: Convention) -> None:
    quantities = sample_quantities(composition, convention=convention)
    ignited_ratio = 100 * quantities.main_oxide_ignited_percent / quantities.treo_ignited_percent
    assert abs(ignited_ratio - quantities.relative_purity_percent) <= 1e-11
    assert abs(quantities.treo_percent - quantities.main_oxide_percent - quantities.sum_re_impurities_mg_kg / 10_000) <= 1e-11
