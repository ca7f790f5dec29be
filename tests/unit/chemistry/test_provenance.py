"""Provenance through the genealogy: traced feedstock shares and recycled content on a TREO basis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.chemistry.provenance import Edge, FeedstockShare, feedstock_shares, recycled_content


def test_shares_multiply_along_a_path_and_add_over_paths() -> None:
    # FS-A (600 kg) and FS-B (400 kg) make INT-1; INT-1 (800 kg) and FS-A again (200 kg) make P.
    edges = [
        Edge("FS-A", "INT-1", 600),
        Edge("FS-B", "INT-1", 400),
        Edge("INT-1", "P", 800),
        Edge("FS-A", "P", 200),
    ]
    shares = feedstock_shares(lot="P", edges=edges)
    assert shares.keys() == {"FS-A", "FS-B"}
    assert shares["FS-A"] == pytest.approx(0.8 * 0.6 + 0.2)
    assert shares["FS-B"] == pytest.approx(0.8 * 0.4)


def test_a_lot_without_inputs_has_no_feedstock() -> None:
    assert feedstock_shares(lot="FS-A", edges=[Edge("FS-A", "P", 10)]) == {}


def test_a_cycle_is_refused_rather_than_looping() -> None:
    with pytest.raises(ValueError, match="cycle"):
        feedstock_shares(lot="A", edges=[Edge("B", "A", 1), Edge("A", "B", 1)])


def test_recycled_content_weighs_each_feedstock_by_the_oxide_it_brought() -> None:
    # Equal masses: recycled swarf at 30 % TREO, primary concentrate at 90 % TREO.
    result = recycled_content(feedstocks=[FeedstockShare("SWARF", 0.5, 0.30, True), FeedstockShare("PRIMARY", 0.5, 0.90, False)])
    assert result.basis == "TREO"
    assert result.percent == pytest.approx(100 * 0.15 / (0.15 + 0.45))


def test_an_unassessed_feedstock_falls_back_to_mass_basis_and_says_so() -> None:
    result = recycled_content(feedstocks=[FeedstockShare("A", 0.25, None, True), FeedstockShare("B", 0.75, 0.5, False)])
    assert result.basis == "mass"
    assert result.percent == pytest.approx(25.0)
    assert "A" in result.note


def test_no_feedstock_gives_no_figure() -> None:
    result = recycled_content(feedstocks=[])
    assert result.percent is None
    assert result.note


@given(
    st.lists(
        st.tuples(st.floats(0.01, 1000), st.floats(0.01, 1.0), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_recycled_content_stays_between_0_and_100_and_is_100_when_all_recycled(items: list[tuple[float, float, bool]]) -> None:
    feedstocks = [FeedstockShare(f"F{i}", mass, treo, recycled) for i, (mass, treo, recycled) in enumerate(items)]
    result = recycled_content(feedstocks=feedstocks)
    assert result.percent is not None
    assert 0.0 <= result.percent <= 100.0 + 1e-9
    if all(item[2] for item in items):
        assert math.isclose(result.percent, 100.0)
    if not any(item[2] for item in items):
        assert result.percent == 0.0


@given(st.lists(st.floats(0.1, 1e4), min_size=1, max_size=6))
def test_traced_shares_of_a_direct_blend_sum_to_one(masses: list[float]) -> None:
    edges = [Edge(f"F{i}", "P", mass) for i, mass in enumerate(masses)]
    assert sum(feedstock_shares(lot="P", edges=edges).values()) == pytest.approx(1.0)
