"""The sample sheet parser (PURE): every check with its exact line and column, all errors at once,
encodings and delimiters, and no exception on any input."""

from __future__ import annotations

import codecs
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assays.importers.sample_sheet import (
    MAX_ROWS,
    REQUIRED_COLUMNS,
    SampleSheet,
    SheetError,
    parse_sample_sheet,
    sheet_from_records,
)
from assays.sample_codes import normalise_sample_code

HEADER = ",".join(REQUIRED_COLUMNS)
ROW = "S-1,L-1,feedstock,,,0.1002,50,10"


def sheet(*rows: str, header: str = HEADER) -> SampleSheet:
    return parse_sample_sheet(("\n".join([header, *rows]) + "\n").encode("utf-8"), file_name="t.csv")


def where(result: SampleSheet) -> list[tuple[int | None, str | None]]:
    return [(error.line, error.column) for error in result.errors]


def message(result: SampleSheet, line: int | None, column: str | None) -> str:
    (found,) = [error.message for error in result.errors if (error.line, error.column) == (line, column)]
    return found


# --- A good sheet ------------------------------------------------------------------------------------


def test_a_good_row_is_parsed_normalised_and_exact() -> None:
    result = sheet(" s-1 , L 1 ,Feedstock,, PA ,0.1002,50,10")
    assert result.errors == []
    (row,) = result.rows
    assert (row.line, row.sample_id, row.lot, row.lot_kind, row.product, row.supplier) == (2, "S-1", "L 1", "feedstock", "", "PA")
    # Exactly the column's decimal places: what the database stores, so a re-run compares equal.
    assert (str(row.sample_mass_g), str(row.final_volume_ml), str(row.dilution_factor)) == ("0.100200", "50.0000", "10.0000")
    assert (row.site, row.sample_type, row.received_on, row.notes, dict(row.extra)) == ("", "routine", None, "", {})


def test_optional_and_extra_columns() -> None:
    header = HEADER + ",site,sample_type,received_on,notes,colour,shelf"
    result = sheet(ROW + ",UK1,Retain,2026-03-01,bag 2,red,A3", header=header)
    (row,) = result.rows
    assert (row.site, row.sample_type, row.received_on, row.notes) == ("UK1", "retain", dt.date(2026, 3, 1), "bag 2")
    assert dict(row.extra) == {"colour": "red", "shelf": "A3"}
    assert result.ignored_columns == ["colour", "shelf"]
    assert result.errors == []


def test_an_empty_dilution_factor_means_undiluted() -> None:
    (row,) = sheet("S-1,L-1,feedstock,,,0.1,50,").rows
    assert row.dilution_factor == Decimal(1)


def test_the_sample_id_rule_is_the_services_rule() -> None:
    for raw in ("ab-1", "X.Y_Z", "0" * 40):
        assert sheet(f"{raw},L,feedstock,,,0.1,50,1").rows[0].sample_id == normalise_sample_code(raw)


# --- Every check, with its line and column -----------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "column", "says"),
    [
        (",L,feedstock,,,0.1,50,1", "sample_id", "a sample id is required"),
        ("S 1,L,feedstock,,,0.1,50,1", "sample_id", "use 1-40 letters"),
        ("Straße,L,feedstock,,,0.1,50,1", "sample_id", "use 1-40 letters"),
        ("-S1,L,feedstock,,,0.1,50,1", "sample_id", "starting with a letter or digit"),
        ("S" * 41 + ",L,feedstock,,,0.1,50,1", "sample_id", "use 1-40"),
        ("S1,,feedstock,,,0.1,50,1", "lot", "a lot code is required"),
        ("S1," + "L" * 41 + ",feedstock,,,0.1,50,1", "lot", "at most 40 characters"),
        ("S1,L,,,,0.1,50,1", "lot_kind", "a lot kind is required"),
        ("S1,L,powder,,,0.1,50,1", "lot_kind", "'powder' is not a lot kind: use feedstock, intermediate, product"),
        ("S1,L,product,,,0.1,50,1", "product", "a product lot names its product"),
        ("S1,L,feedstock,,,0,50,1", "sample_mass_g", "'0': must be more than 0 g"),
        ("S1,L,feedstock,,,-0.1,50,1", "sample_mass_g", "must be more than 0 g"),
        ("S1,L,feedstock,,,,50,1", "sample_mass_g", "sample_mass_g is required"),
        ("S1,L,feedstock,,,abc,50,1", "sample_mass_g", "not a number: 'abc'"),
        ("S1,L,feedstock,,,nan,50,1", "sample_mass_g", "not a number"),
        ("S1,L,feedstock,,,inf,50,1", "sample_mass_g", "not a number"),
        ("S1,L,feedstock,,,n/a,50,1", "sample_mass_g", "is not a number"),
        ("S1,L,feedstock,,,0.1234567,50,1", "sample_mass_g", "at most 6 decimal places"),
        ("S1,L,feedstock,,,1000000,50,1", "sample_mass_g", "must be less than 1,000,000 g"),
        ("S1,L,feedstock,,,0.1,0,1", "final_volume_ml", "'0': must be more than 0 mL"),
        ("S1,L,feedstock,,,0.1,50.00001,1", "final_volume_ml", "at most 4 decimal places"),
        ("S1,L,feedstock,,,0.1,50,0.5", "dilution_factor", "'0.5': must be at least 1"),
        ("S1,L,feedstock,,,0.1,50,0", "dilution_factor", "must be at least 1"),
        ("S1,L,feedstock,,,0.1,50,1e9", "dilution_factor", "must be less than 100,000,000"),
    ],
)
def test_each_check_names_its_line_and_column(row: str, column: str, says: str) -> None:
    result = sheet(ROW, row)
    assert where(result) == [(3, column)]
    assert says in message(result, 3, column)
    assert [valid.line for valid in result.rows] == [2]


@pytest.mark.parametrize(
    ("cells", "column", "says"),
    [
        ("UK1,routine,2026-13-01,", "received_on", "write the date as YYYY-MM-DD"),
        ("UK1,spare,,", "sample_type", "'spare' is not a sample type: use routine, duplicate, retain"),
        ("UK1,,,\x07bell", None, None),  # notes may hold anything printable or not: free text
        ("U K 1 2 3 4 5 6 7 8,,,", "site", "at most 16 characters"),
    ],
)
def test_the_optional_columns_are_checked_too(cells: str, column: str | None, says: str | None) -> None:
    result = sheet(ROW + ",UK1,,,", "S-2,L-1,feedstock,,,0.1,50,1," + cells, header=HEADER + ",site,sample_type,received_on,notes")
    if column is None or says is None:
        assert result.errors == []
        return
    assert where(result) == [(3, column)]
    assert says in message(result, 3, column)


def test_a_duplicate_sample_id_names_the_first_line() -> None:
    result = sheet(ROW, "S-2,L-1,feedstock,,,0.1,50,1", "s-1,L-1,feedstock,,,0.1,50,1")
    assert where(result) == [(4, "sample_id")]
    assert message(result, 4, "sample_id") == "sample id 'S-1' is already on line 2"


def test_one_lot_described_two_ways_is_an_error_on_the_later_row() -> None:
    result = sheet(
        "S-1,L-1,product,ND,PA,0.1,50,1",
        "S-2,L-1,product,ND,PA,0.1,50,1",
        "S-3,L-1,intermediate,,PB,0.1,50,1",
        "S-4,L-1,product,NDPR,PA,0.1,50,1",
    )
    assert where(result) == [(4, "lot_kind"), (4, "product"), (4, "supplier"), (5, "product")]
    assert message(result, 5, "product") == (
        "lot 'L-1' has product 'ND' on line 2 but 'NDPR' here; all rows of one lot describe it the same way"
    )
    assert [row.line for row in result.rows] == [2, 3]


def test_every_error_of_every_row_is_reported_at_once_in_line_order() -> None:
    result = sheet(
        "bad id,,powder,,,0,0,0",
        ROW,
        "",
        "S-3,L-3,feedstock,,,x,50,1",
    )
    # Within a line, in the order of the columns.
    assert where(result) == [
        (2, "sample_id"),
        (2, "lot"),
        (2, "lot_kind"),
        (2, "sample_mass_g"),
        (2, "final_volume_ml"),
        (2, "dilution_factor"),
        (5, "sample_mass_g"),  # the blank line 4 still counts
    ]
    assert [row.line for row in result.rows] == [3]
    assert str(result.errors[-1]) == "line 5, column sample_mass_g: not a number: 'x'"


# --- The header ---------------------------------------------------------------------------------------


def test_a_missing_required_column_is_named_once_on_the_header_line() -> None:
    header = HEADER.replace("final_volume_ml,", "")
    result = sheet("S-1,L-1,feedstock,,,0.1,10", "S-2,L-1,feedstock,,,0.1,10", header=header)
    assert where(result) == [(1, "final_volume_ml")]
    assert message(result, 1, "final_volume_ml") == "missing required column 'final_volume_ml'"
    assert result.rows == []


def test_a_misspelt_header_says_what_it_found() -> None:
    result = sheet("S-1,L-1,feedstock,,,0.1,50,1", header=HEADER.replace("sample_id", "Sample ID"))
    assert message(result, 1, "sample_id") == (
        "missing required column 'sample_id' (found 'Sample ID': header names are exact, lower case with underscores)"
    )
    assert result.ignored_columns == ["Sample ID"]


def test_a_repeated_or_unnamed_column_is_an_error() -> None:
    result = sheet(ROW + ",x,y", header=HEADER + ",lot,")
    assert where(result) == [(1, None), (1, "lot")]


def test_a_header_without_rows_is_an_error() -> None:
    assert [str(error) for error in sheet().errors] == ["the sheet has a header but no rows"]


def test_a_row_with_the_wrong_number_of_cells() -> None:
    result = sheet(ROW + ",extra", "S-2,L-1,feedstock", ROW.replace("S-1", "S-4") + ",,")
    assert where(result) == [(2, None), (3, None)]
    assert message(result, 2, None) == "9 cells where the header has 8: a stray delimiter?"
    assert message(result, 3, None) == "3 cells where the header has 8: a missing delimiter?"
    # Trailing empty cells (a spreadsheet's habit) are not a stray delimiter.
    assert [row.sample_id for row in result.rows] == ["S-4"]
    # The preview still shows the misshapen lines.
    assert [line.line for line in result.lines] == [2, 3, 4]


def test_too_many_rows() -> None:
    rows = "\n".join(f"S-{index},L,feedstock,,,0.1,50,1" for index in range(MAX_ROWS + 1))
    result = parse_sample_sheet((HEADER + "\n" + rows).encode())
    assert [str(error) for error in result.errors] == [f"{MAX_ROWS + 1} rows: a sheet holds at most {MAX_ROWS}; split it"]


# --- Files as they come -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("utf-16"),  # with its BOM
        lambda text: text.encode("cp1252"),
        lambda text: text.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "cp1252", "crlf"],
)
def test_encodings_and_line_ends(encode) -> None:
    text = HEADER + ",notes\nS-1,L-1,feedstock,,,0.1,50,1,weighed at 21 °C ± 1\nS-2,L-1,feedstock,,,0.2,50,1,µ\n"
    result = parse_sample_sheet(encode(text))
    assert result.errors == []
    assert [(row.line, row.notes) for row in result.rows] == [(2, "weighed at 21 °C ± 1"), (3, "µ")]


def test_semicolons_with_a_decimal_comma_and_tabs() -> None:
    semicolon = parse_sample_sheet((HEADER.replace(",", ";") + "\nS-1;L-1;feedstock;;;0,1002;50;10\n").encode())
    assert semicolon.errors == []
    assert semicolon.rows[0].sample_mass_g == Decimal("0.1002")
    tabs = parse_sample_sheet((HEADER.replace(",", "\t") + "\nS-1\tL-1\tfeedstock\t\t\t0.1002\t50\t10\n").encode())
    assert tabs.rows[0].sample_mass_g == Decimal("0.1002")


def test_a_quoted_line_break_keeps_later_line_numbers_right() -> None:
    result = sheet(ROW + ',"two\nlines"', "S-2,L-1,feedstock,,,0,50,1,x", header=HEADER + ",notes")
    assert result.rows[0].notes == "two\nlines"
    assert where(result) == [(4, "sample_mass_g")]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "the file is empty"),
        (b"   \n\n", "the file is empty"),
        (b"\x00\x01\x02binary", "binary file"),
        (b"just one column\nS-1\n", "cannot tell the delimiter"),
        ((HEADER + '\n"S-1,L-1\n').encode(), "malformed CSV"),
    ],
)
def test_a_file_that_is_not_a_sheet_is_one_clear_error_not_an_exception(data: bytes, says: str) -> None:
    result = parse_sample_sheet(data, file_name="x.csv")
    assert len(result.errors) == 1
    assert says in result.errors[0].message
    assert result.rows == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_sheet_never_an_exception(data: bytes) -> None:
    result = parse_sample_sheet(data)
    assert isinstance(result, SampleSheet)
    assert all(isinstance(error, SheetError) for error in result.errors)


_cell = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_cell, min_size=8, max_size=10), min_size=1, max_size=6))
def test_any_cells_under_the_right_header_give_rows_or_errors(rows: list[list[str]]) -> None:
    text = HEADER + "\n" + "\n".join(",".join(cell.replace(",", "").replace('"', "").replace("\n", "") for cell in row) for row in rows)
    result = parse_sample_sheet(text.encode("utf-8"))
    # Every valid row has an exact, in-range preparation; every other line has an error.
    for row in result.rows:
        assert row.sample_mass_g > 0
        assert row.final_volume_ml > 0
        assert row.dilution_factor >= 1
    valid_lines = {row.line for row in result.rows}
    error_lines = {error.line for error in result.errors}
    assert not valid_lines & error_lines
    assert all(line.line in error_lines for line in result.lines if line.line not in valid_lines)


# --- Records (JSON, the web form) ---------------------------------------------------------------------


RECORD = {
    "sample_id": "J-1",
    "lot": "L-1",
    "lot_kind": "feedstock",
    "product": None,
    "supplier": "",
    "sample_mass_g": 0.1,
    "final_volume_ml": 50,
    "dilution_factor": "10",
}


def test_records_accept_json_numbers_and_nulls() -> None:
    result = sheet_from_records([RECORD, {**RECORD, "sample_id": "J-2", "colour": "red"}])
    assert result.errors == []
    assert [(row.line, row.sample_mass_g, row.final_volume_ml) for row in result.rows] == [
        (1, Decimal("0.100000"), Decimal("50.0000")),
        (2, Decimal("0.100000"), Decimal("50.0000")),
    ]
    assert result.ignored_columns == ["colour"]


def test_records_name_their_position_and_every_missing_key() -> None:
    incomplete = {key: value for key, value in RECORD.items() if key not in {"lot", "final_volume_ml", "product", "supplier"}}
    result = sheet_from_records(
        [RECORD, {**incomplete, "sample_id": "J-2"}, "not an object", {**RECORD, "sample_id": "J-4", "sample_mass_g": True}]
    )
    assert where(result) == [(2, "lot"), (2, "final_volume_ml"), (3, None), (4, "sample_mass_g")]
    assert message(result, 2, "lot") == "a lot code is required"
    assert message(result, 2, "final_volume_ml") == "final_volume_ml is required"
    assert message(result, 4, "sample_mass_g") == "expected text or a number, not bool"
    assert [row.line for row in result.rows] == [1]


@pytest.mark.parametrize("payload", [{}, "rows", None, [], 3])
def test_records_that_are_not_a_list_of_rows(payload: object) -> None:
    result = sheet_from_records(payload)
    assert len(result.errors) == 1
    assert result.errors[0].line is None


# --- Sampling: who, when, how --------------------------------------------------------------------------

SAMPLING_HEADER = HEADER + ",sampled_by,sampled_at,sampling_method"


def test_who_sampled_when_and_how_are_read_with_the_time_s_offset() -> None:
    result = sheet(
        ROW + ",J. Weber (production),2026-04-29T07:30+02:00,ISO 3082 increments",
        "S-2,L-1,feedstock,,,0.1,50,10,surveyor,2026-04-29T05:30Z,",
        "S-3,L-1,feedstock,,,0.1,50,10,,,",
        header=SAMPLING_HEADER,
    )
    assert result.errors == []
    first, second, third = result.rows
    assert (first.sampled_by, first.sampling_method) == ("J. Weber (production)", "ISO 3082 increments")
    assert first.sampled_at == dt.datetime(2026, 4, 29, 5, 30, tzinfo=dt.UTC)
    assert first.sampled_at.utcoffset() == dt.timedelta(hours=2)  # kept as written; the database stores the instant
    assert (second.sampled_by, second.sampled_at, second.sampling_method) == (
        "surveyor",
        dt.datetime(2026, 4, 29, 5, 30, tzinfo=dt.UTC),
        "",
    )
    assert (third.sampled_by, third.sampled_at, third.sampling_method) == ("", None, "")


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("2026-04-29T07:30", "has no UTC offset"),
        ("2026-04-29", "has no UTC offset"),
        ("29/04/2026 07:30", "write the time as ISO 8601 with its UTC offset"),
        ("yesterday", "write the time as ISO 8601 with its UTC offset"),
    ],
)
def test_a_sampling_time_without_its_offset_or_unreadable_is_refused_on_its_cell(written: str, says: str) -> None:
    result = sheet(ROW + f",someone,{written},", header=SAMPLING_HEADER)
    assert result.rows == []
    assert where(result) == [(2, "sampled_at")]
    assert says in message(result, 2, "sampled_at")
    assert repr(written) in message(result, 2, "sampled_at")


def test_sampling_texts_longer_than_the_record_keeps_are_refused() -> None:
    result = sheet(ROW + f",{'x' * 121},,{'y' * 201}", ROW.replace("S-1", "S-2") + f",{'x' * 120},,{'y' * 200}", header=SAMPLING_HEADER)
    assert where(result) == [(2, "sampled_by"), (2, "sampling_method")]
    assert message(result, 2, "sampled_by") == "121 characters: sampled_by holds at most 120"
    assert [row.sample_id for row in result.rows] == ["S-2"]


def test_records_carry_the_sampling_columns_too() -> None:
    result = sheet_from_records(
        [
            {
                "sample_id": "S-1",
                "lot": "L-1",
                "lot_kind": "feedstock",
                "product": "",
                "supplier": "",
                "sample_mass_g": 0.1,
                "final_volume_ml": 50,
                "dilution_factor": 1,
                "sampled_by": "A. Surveyor",
                "sampled_at": "2026-04-29T05:30:00+00:00",
                "sampling_method": "grab",
            }
        ]
    )
    (row,) = result.rows
    assert (row.sampled_by, row.sampled_at, row.sampling_method) == ("A. Surveyor", dt.datetime(2026, 4, 29, 5, 30, tzinfo=dt.UTC), "grab")
