"""Oxide factors are computed from atomic weights and formulas, and agree with the shared table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from assays.chemistry.elements import ELEMENTS, UnknownElementError
from assays.chemistry.oxides import CONVENTIONAL_OXIDES, FormulaError, parse_oxide

FACTORS_CSV = Path(__file__).resolve().parents[2].parent / "shared" / "domain" / "oxide_factors.csv"
ROWS = list(csv.DictReader(FACTORS_CSV.open(encoding="utf-8")))


def test_the_shared_table_is_there_and_complete() -> None:
    assert len(ROWS) >= 49
    assert {row["element"] for row in ROWS} >= {"La", "Ce", "Pr", "Nd", "Tb", "Dy", "Fe", "B", "U"}


@pytest.mark.parametrize("row", ROWS, ids=[row["oxide"] for row in ROWS])
def test_computed_factor_matches_the_shared_table_to_one_part_per_million(row: dict[str, str]) -> None:
    oxide = parse_oxide(row["oxide"])
    assert oxide.element == row["element"]
    assert ELEMENTS[oxide.element].atomic_weight == pytest.approx(float(row["atomic_weight"]), rel=1e-12)
    assert oxide.molar_mass == pytest.approx(float(row["oxide_molar_mass"]), rel=1e-6)
    assert oxide.factor == pytest.approx(float(row["factor"]), rel=1e-6)
    # The table prints six decimals: for a fraction near 0.3 that is itself a 1.6e-6 rounding.
    assert oxide.element_fraction == pytest.approx(float(row["element_fraction"]), abs=5e-7)


@pytest.mark.parametrize("row", [r for r in ROWS if r["default_reporting_oxide"] == "yes"], ids=lambda r: r["element"])
def test_conventional_reporting_oxide_is_the_tables_default(row: dict[str, str]) -> None:
    assert CONVENTIONAL_OXIDES[row["element"]] == row["oxide"]


def test_rare_earths_are_the_lanthanides_yttrium_and_scandium() -> None:
    rare_earths = {symbol for symbol, data in ELEMENTS.items() if data.is_rare_earth}
    assert rare_earths == {"Sc", "Y", "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"}
    assert {row["element"] for row in ROWS if row["role"].startswith("REE")} == rare_earths


@pytest.mark.parametrize("bad", ["", "Nd", "NdO3x", "Nd2Fe14B", "O2", "Xx2O3", "nd2o3", "Nd2O3+"])
def test_a_formula_that_is_not_a_binary_oxide_is_refused(bad: str) -> None:
    with pytest.raises((FormulaError, UnknownElementError)):
        parse_oxide(bad)


def test_terbium_as_tb4o7_is_about_two_percent_more_than_as_tb2o3() -> None:
    assert parse_oxide("Tb4O7").factor / parse_oxide("Tb2O3").factor == pytest.approx(1.0219, abs=1e-4)
