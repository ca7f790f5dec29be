"""A lot's mean, spread, confidence interval and u_lot = √(u_meas² + s²/n), U = 2 u_lot (§3, §5)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats  # type: ignore[import-untyped]

from assays.chemistry.lot_statistics import (
    LotStatisticsError,
    all_censored,
    lot_censoring_limit,
    lot_statistics,
    lot_values,
)
from assays.chemistry.purity import Convention, Result, sample_quantities
from assays.errors import DomainError
from tests.unit.chemistry.purity_builders import below, measured, worked_example


def test_one_sample_has_no_spread_term_and_no_confidence_interval() -> None:
    lot = lot_statistics(values=[99.9912], u_measurement=0.0004)
    assert (lot.mean, lot.n) == (99.9912, 1)
    assert (lot.sd, lot.rsd_percent, lot.ci95_low, lot.ci95_high) == (None, None, None, None)
    assert lot.u_lot == 0.0004
    assert lot.expanded_u == 0.0008


def test_three_samples_against_a_hand_computed_t_interval() -> None:
    # 1, 2, 3: mean 2, s = 1; t(0.975, 2) = 4.303 in every table, so the half-width is 4.303/√3.
    lot = lot_statistics(values=[1.0, 2.0, 3.0], u_measurement=0.0)
    assert (lot.mean, lot.sd) == (2.0, 1.0)
    assert lot.rsd_percent == 50.0
    assert lot.ci95_low == pytest.approx(2 - 4.303 / math.sqrt(3), abs=1e-3)
    assert lot.ci95_high == pytest.approx(2 + 4.303 / math.sqrt(3), abs=1e-3)
    assert lot.u_lot == pytest.approx(1 / math.sqrt(3), rel=1e-15)


def test_purities_of_four_samples_against_statistics_numpy_and_scipy() -> None:
    values = [99.9912, 99.9904, 99.9921, 99.9899]
    lot = lot_statistics(values=values, u_measurement=0.0003)
    assert lot.mean == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert lot.sd == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert lot.sd == pytest.approx(float(np.std(values, ddof=1)), rel=1e-9)
    low, high = stats.t.interval(0.95, df=3, loc=statistics.fmean(values), scale=stats.sem(values))
    assert lot.ci95_low == pytest.approx(low, rel=1e-12)
    assert lot.ci95_high == pytest.approx(high, rel=1e-12)
    assert lot.rsd_percent == pytest.approx(100 * statistics.stdev(values) / statistics.fmean(values), rel=1e-12)
    u_lot = math.sqrt(0.0003**2 + statistics.stdev(values) ** 2 / 4)
    assert lot.u_lot == pytest.approx(u_lot, rel=1e-12)
    assert lot.expanded_u == 2 * lot.u_lot
    assert lot.u_measurement == 0.0003


def test_identical_samples_leave_only_the_measurement_uncertainty() -> None:
    lot = lot_statistics(values=[99.5, 99.5, 99.5], u_measurement=0.02)
    assert lot.sd == 0.0
    assert (lot.ci95_low, lot.ci95_high) == (99.5, 99.5)
    assert lot.u_lot == 0.02


def test_a_mean_of_zero_has_no_relative_spread() -> None:
    lot = lot_statistics(values=[-1.0, 1.0], u_measurement=0.1)
    assert lot.mean == 0.0
    assert lot.rsd_percent is None
    assert lot.sd == pytest.approx(math.sqrt(2), rel=1e-15)


@pytest.mark.parametrize(
    ("values", "u"),
    [([], 0.1), ([1.0, math.nan], 0.1), ([1.0, math.inf], 0.1), ([1.0, "<0.5"], 0.1), ("1.0", 0.1), ([1.0], -0.1), ([1.0], math.nan)],
    ids=["empty", "nan", "inf", "string-value", "string", "negative-u", "nan-u"],
)
def test_values_that_are_not_finite_numbers_are_refused(values, u) -> None:
    with pytest.raises(LotStatisticsError):
        lot_statistics(values=values, u_measurement=u)
    assert issubclass(LotStatisticsError, DomainError)


@given(
    values=st.lists(st.floats(min_value=90, max_value=100), min_size=1, max_size=30),
    u=st.floats(min_value=0, max_value=1),
)
def test_u_lot_covers_both_parts_and_u_is_twice_it(values: list[float], u: float) -> None:
    lot = lot_statistics(values=values, u_measurement=u)
    assert lot.n == len(values)
    assert min(values) - 1e-9 <= lot.mean <= max(values) + 1e-9
    assert lot.u_lot >= u
    assert lot.expanded_u == 2 * lot.u_lot
    if lot.n == 1:
        assert lot.sd is None
        assert lot.ci95_low is None
        assert lot.u_lot == u
    else:
        assert lot.sd is not None
        assert lot.ci95_low is not None
        assert lot.ci95_high is not None
        assert lot.u_lot >= lot.sd / math.sqrt(lot.n) * (1 - 1e-12)
        assert lot.ci95_low <= lot.mean <= lot.ci95_high


# --- censoring at lot level: per sample, then averaged; "< LOD" only when every sample is -------


def test_each_convention_is_taken_per_sample_and_then_averaged() -> None:
    samples = [below(0.5), below(1.0), measured(2.0)]
    means = {
        convention: lot_statistics(values=lot_values(samples, convention=convention), u_measurement=0.0).mean for convention in Convention
    }
    assert means == {
        Convention.LOWER: pytest.approx(2.0 / 3, rel=1e-15),
        Convention.BEST: pytest.approx(2.75 / 3, rel=1e-15),
        Convention.UPPER: pytest.approx(3.5 / 3, rel=1e-15),
    }
    assert not all_censored(samples)
    assert lot_censoring_limit(samples) is None


def test_a_lot_is_below_the_lod_only_when_every_sample_is() -> None:
    assert all_censored([below(0.5), below(1.0)])
    assert lot_censoring_limit([below(0.5), below(1.0)]) == 0.75
    assert (
        lot_censoring_limit([below(0.5), below(1.0)])
        == lot_statistics(values=lot_values([below(0.5), below(1.0)], convention=Convention.UPPER), u_measurement=0.0).mean
    )
    assert not all_censored([below(0.5), Result(value=0.6)])
    assert not all_censored([])
    assert lot_censoring_limit([]) is None


def test_lot_purity_averages_each_samples_purity_under_the_same_convention() -> None:
    # Two samples of the §2 product: the second with 20 mg/kg more Fe.
    first = worked_example()
    second = worked_example(extra_elements={"Fe": measured(32.0)})
    for convention in Convention:
        purities = [sample_quantities(sample, convention=convention).main_oxide_percent for sample in (first, second)]
        lot = lot_statistics(values=purities, u_measurement=0.001)
        assert lot.mean == pytest.approx(statistics.fmean(purities), rel=1e-15)
        assert purities[0] - purities[1] == pytest.approx(20 * 1.4297 / 10_000, rel=1e-4)  # Fe2O3/Fe = 1.4297
