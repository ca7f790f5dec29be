"""``exact_stdev`` is ``statistics.stdev`` bit for bit: the lot statistics' spread in integer
arithmetic instead of Fraction objects (a bulk assessment takes one per line of every lot)."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.chemistry.lot_statistics import LotStatisticsError, exact_stdev

finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=2, max_size=12))
def test_it_is_statistics_stdev_for_any_finite_floats(values: list[float]) -> None:
    try:
        expected = statistics.stdev(values)
    except OverflowError:  # a spread beyond the float range: statistics cannot say either
        return
    assert exact_stdev(values) == expected


@given(st.floats(min_value=90, max_value=100), st.lists(st.floats(min_value=-1e-6, max_value=1e-6), min_size=2, max_size=6))
def test_it_is_statistics_stdev_for_close_values_where_floats_cancel(centre: float, offsets: list[float]) -> None:
    values = [centre + offset for offset in offsets]
    assert exact_stdev(values) == statistics.stdev(values)


def test_known_values() -> None:
    assert exact_stdev([99.62, 99.63, 99.61]) == statistics.stdev([99.62, 99.63, 99.61])
    assert exact_stdev([2.0, 2.0, 2.0]) == 0.0
    assert exact_stdev([1, 2, 3, 4]) == statistics.stdev([1, 2, 3, 4])
    with pytest.raises(LotStatisticsError):
        exact_stdev([1.0])
