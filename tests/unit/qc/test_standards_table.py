"""The calibration standards table: the real companion of the Agilent batch, channel assignment in
the batch's order, and errors that name the file, line and column."""

from __future__ import annotations

from collections import Counter

import pytest

from assays.importers.core import ImportFormatError
from assays.importers.registry import parse
from assays.qc.standards_table import ChannelRef, StandardsTable, assign_channels, parse_standards_table
from tests.unit.qc.run_builders import FIXTURES

STANDARDS = FIXTURES / "agilent_masshunter_batch_full_standards.csv"
BATCH = FIXTURES / "agilent_masshunter_batch_full_semicolon.csv"
FE56, FE57 = ChannelRef(code="56Fe [He]", element="Fe"), ChannelRef(code="57Fe [He]", element="Fe")
LA = ChannelRef(code="139La [No Gas]", element="La", aliases=("139  La  [ No Gas ] ",))


@pytest.fixture(scope="module")
def real_table() -> StandardsTable:
    return parse_standards_table(STANDARDS.read_bytes(), file_name=STANDARDS.name)


@pytest.fixture(scope="module")
def batch_channels() -> list[ChannelRef]:
    batch = parse(BATCH.read_bytes(), file_name=BATCH.name)
    return [
        ChannelRef(code=channel.code, element=channel.element, aliases=(channel.label,))
        for channel in batch.channels
        if not channel.is_internal_standard
    ]


def _table(text: str, *, file_name: str = "std.csv") -> StandardsTable:
    return parse_standards_table(text.encode("utf-8"), file_name=file_name)


def _error(text: str, *, channels: list[ChannelRef] | None = None) -> ImportFormatError:
    def parse_and_assign() -> None:
        assign_channels(_table(text), channels=channels or [])

    with pytest.raises(ImportFormatError) as raised:
        parse_and_assign()
    return raised.value


# --- The real table ---------------------------------------------------------------------------------------


def test_real_table_has_17_levels_and_69_rows(real_table: StandardsTable) -> None:
    assert real_table.file_name == STANDARDS.name
    assert real_table.levels == list(range(1, 18))
    assert len(real_table.rows) == 69
    assert [row.line for row in real_table.rows] == list(range(2, 71))


def test_real_table_values(real_table: StandardsTable) -> None:
    rows = {row.name: row for row in real_table.rows}
    assert rows["La"].nominals[4] == 0.10261
    assert rows["Na"].nominals[13] == 102.73652
    assert rows["Li"].nominals[1] == 0.0  # a zero is a value, an empty cell is none
    assert set(rows["Li"].nominals) == set(range(1, 10))  # trace series only
    assert set(rows["Na"].nominals) == set(range(10, 18))  # major series only


def test_real_table_repeats_an_element_once_per_isotope(real_table: StandardsTable) -> None:
    counts = Counter(row.name for row in real_table.rows)
    assert counts["Fe"] == 2
    assert {name: count for name, count in counts.items() if count > 1} == {
        "Ca": 2,
        "Cr": 2,
        "Fe": 2,
        "Cu": 2,
        "Zn": 3,
        "Se": 4,
        "Mo": 2,
        "Pb": 3,
    }


def test_real_table_assigned_to_the_batch_channels(real_table: StandardsTable, batch_channels: list[ChannelRef]) -> None:
    assigned = assign_channels(real_table, channels=batch_channels)
    assert sorted(assigned) == list(range(1, 18))
    assert assigned[13]["56Fe [He]"] == assigned[13]["57Fe [He]"] == 103.93201
    assert assigned[4]["139La [No Gas]"] == 0.10261
    assert assigned[13]["23Na [He]"] == 102.73652
    assert "139La [No Gas]" not in assigned[13]
    every_channel = {code for level in assigned.values() for code in level}
    assert every_channel == {channel.code for channel in batch_channels}
    assert len(every_channel) == 69


def test_an_extra_element_row_beyond_the_methods_channels_is_refused(real_table: StandardsTable, batch_channels: list[ChannelRef]) -> None:
    without_57fe = [channel for channel in batch_channels if channel.code != "57Fe [He]"]
    second_fe_line = [row.line for row in real_table.rows if row.name == "Fe"][1]
    with pytest.raises(ImportFormatError) as raised:
        assign_channels(real_table, channels=without_57fe)
    error = raised.value
    assert (error.file_name, error.line, error.column) == (STANDARDS.name, second_fe_line, "1")
    assert "one Fe row more than the method has Fe channels (1)" in str(error)
    assert str(error).startswith(f"{STANDARDS.name}, line {second_fe_line}, column 1: ")


# --- Assignment -----------------------------------------------------------------------------------------


def test_element_rows_take_that_elements_channels_in_the_methods_order() -> None:
    table = _table("Element;1;2\nFe;1;10\nFe;2;20\n")
    assert assign_channels(table, channels=[FE56, FE57]) == {
        1: {"56Fe [He]": 1.0, "57Fe [He]": 2.0},
        2: {"56Fe [He]": 10.0, "57Fe [He]": 20.0},
    }
    assert assign_channels(table, channels=[FE57, FE56])[1] == {"57Fe [He]": 1.0, "56Fe [He]": 2.0}


def test_a_row_naming_a_channel_is_used_as_it_is() -> None:
    table = _table("Element;1\n57Fe [He];7\nFe;5\n139  La  [ No Gas ];0.1\n")
    assert assign_channels(table, channels=[FE56, FE57, LA]) == {1: {"57Fe [He]": 7.0, "56Fe [He]": 5.0, "139La [No Gas]": 0.1}}


def test_channel_names_match_whatever_their_spacing_and_case() -> None:
    table = _table("Element;1\n57fe[he];7\n")
    assert assign_channels(table, channels=[FE56, FE57]) == {1: {"57Fe [He]": 7.0}}


def test_an_element_with_fewer_rows_than_channels_leaves_the_rest_unassigned() -> None:
    assert assign_channels(_table("Element;1\nFe;3\n"), channels=[FE56, FE57]) == {1: {"56Fe [He]": 3.0}}


def test_two_rows_for_the_same_channel_are_refused() -> None:
    error = _error("Element;1\nFe;1\n56Fe [He];2\n", channels=[FE56, FE57])
    assert (error.line, error.column) == (3, "1")
    assert "a second row for channel 56Fe [He]" in str(error)


def test_an_unknown_name_is_refused() -> None:
    error = _error("Element;1;2\nFe;1;2\nUnobtainium;1;2\n", channels=[FE56])
    assert (error.file_name, error.line, error.column) == ("std.csv", 3, "1")
    assert "'Unobtainium' is neither an element symbol nor a channel of the method" in str(error)


def test_an_element_the_method_does_not_measure_is_refused() -> None:
    error = _error("Element;1\nLa;1\n", channels=[FE56])
    assert (error.line, error.column) == (2, "1")
    assert "one La row more than the method has La channels (0)" in str(error)


# --- Parsing errors ----------------------------------------------------------------------------------------


def test_a_negative_nominal_is_refused() -> None:
    error = _error("Element;1;2;3\nLa;0;1\nCe;0;1;-0.5\n")
    assert (error.file_name, error.line, error.column) == ("std.csv", 3, "level 3")
    assert "cannot be negative (-0.5)" in str(error)


@pytest.mark.parametrize("cell", ["abc", "1.2.3", "nan", "inf", "1e999"])
def test_a_cell_that_is_not_a_number_is_refused(cell: str) -> None:
    error = _error(f"Element;1;2\nLa;0;1\nCe;{cell};1\n")
    assert (error.file_name, error.line, error.column) == ("std.csv", 3, "level 1")
    assert "number" in error.message


@pytest.mark.parametrize(
    ("header", "column"),
    [("Element;1;two", "3"), ("Element;1;0", "3"), ("Element;1.5;2", "2"), ("Element;-1;2", "2"), ("Element;1;²", "3")],
)
def test_a_level_column_must_be_headed_by_its_number(header: str, column: str) -> None:
    error = _error(f"{header}\nLa;1;2\n")
    assert (error.file_name, error.line, error.column) == ("std.csv", 1, column)
    assert "headed by its level number" in error.message


def test_a_level_named_twice_is_refused() -> None:
    error = _error("Element;1;2;1\nLa;1;2;3\n")
    assert error.line == 1
    assert "named twice" in error.message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", None, "the file is empty"),
        ("\n\n", None, "the file is empty"),
        (";;\n;;\n", None, "the file is empty"),
        ("Element;\nLa;1\n", 1, "no calibration level columns"),
        ("Element;1;2\n", 1, "a header but no rows"),
        ("Element;1;2\n;1;2\n", 2, "must name the element or channel"),
        ("Element;1;2\nLa;1;2;3\n", 2, "4 cells, but the header has 3"),
    ],
    ids=["empty", "blank lines", "only delimiters", "no levels", "no rows", "unnamed row", "too many cells"],
)
def test_a_malformed_table_is_refused(text: str, line: int | None, fragment: str) -> None:
    error = _error(text)
    assert error.file_name == "std.csv"
    assert error.line == line
    assert fragment in error.message


def test_empty_trailing_cells_are_no_values() -> None:
    table = _table("Element;1;2;3;\nLa;1;;;\n")
    assert table.levels == [1, 2, 3]
    assert table.rows[0].nominals == {1: 1.0}


def test_a_column_without_a_level_number_shifts_no_level() -> None:
    table = _table("Element;1;;3\nLa;1;;3\n")
    assert table.levels == [1, 3]
    assert table.rows[0].nominals == {1: 1.0, 3: 3.0}


def test_a_value_under_a_column_without_a_level_number_is_refused() -> None:
    error = _error("Element;1;;3\nLa;1;2;3\n")
    assert (error.line, error.column) == (2, "3")
    assert "column without a level number" in error.message


# --- Number formats ----------------------------------------------------------------------------------------


def test_decimal_comma_with_semicolons() -> None:
    table = _table("Element;1;2;3\nLa;0;0,10261;1.234,5\nCe;0;0,5;20\n")
    assert table.rows[0].nominals == {1: 0.0, 2: 0.10261, 3: 1234.5}
    assert table.rows[1].nominals == {1: 0.0, 2: 0.5, 3: 20.0}


def test_decimal_point_with_commas() -> None:
    table = _table("Element,1,2\nLa,0.5,1.25\nCe,0,\n")
    assert [row.nominals for row in table.rows] == [{1: 0.5, 2: 1.25}, {1: 0.0}]


def test_a_quoted_tab_separated_table() -> None:
    table = _table('"Element"\t"1"\t"2"\r\n"La"\t"0.1"\t"0.2"\r\n')
    assert table.levels == [1, 2]
    assert table.rows[0].name == "La"
    assert table.rows[0].nominals == {1: 0.1, 2: 0.2}
