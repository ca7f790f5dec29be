"""The text layer every parser shares: encodings, delimiters, records, numbers, censoring tokens."""

from __future__ import annotations

import codecs
import gc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.importers.core import ImportFormatError, Qualifier
from assays.importers.text import (
    cyclic_gc_paused,
    decode_export,
    iter_records,
    parse_number,
    parse_reported_value,
    read_rows,
    sniff_delimiter,
    uses_decimal_comma,
)

TEXT = "Sample;Conc. [ µg/L ]\nA;0,5\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode(),
        codecs.BOM_UTF8 + TEXT.encode(),
        TEXT.encode("utf-16"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("cp1252"),
        TEXT.replace("\n", "\r\n").encode(),
        TEXT.replace("\n", "\r").encode("cp1252"),
    ],
)
def test_decode_export_gives_the_same_text_in_every_encoding(data: bytes) -> None:
    assert decode_export(data, file_name="f.csv") == TEXT


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b" \r\n\t", "empty"),
        (TEXT.encode("utf-16-le"), "binary"),  # UTF-16 without a byte-order mark
        (b"a;b\n\x81\x8d;c\n", "not valid cp1252"),
    ],
)
def test_decode_export_refusals_name_the_file(data: bytes, fragment: str) -> None:
    with pytest.raises(ImportFormatError, match=fragment) as error:
        decode_export(data, file_name="f.csv")
    assert error.value.file_name == "f.csv"


def test_undecodable_byte_names_its_line() -> None:
    with pytest.raises(ImportFormatError) as error:
        decode_export(b"a;b\nc;d\ne;\x81\n", file_name="f.csv")
    assert error.value.line == 3


@pytest.mark.parametrize(("lines", "delimiter"), [(["a,b,c", "1,2,3"], ","), (["a;b", "1,5;2"], ";"), (["a\tb", "1\t2"], "\t")])
def test_sniff_delimiter(lines: list[str], delimiter: str) -> None:
    assert sniff_delimiter(lines, file_name="f.csv") == delimiter


def test_sniff_delimiter_refuses_a_single_column() -> None:
    with pytest.raises(ImportFormatError, match="delimiter") as error:
        sniff_delimiter(["abc", "def"], file_name="f.csv")
    assert error.value.line == 1


def test_read_rows_reports_a_malformed_quote_with_its_line() -> None:
    with pytest.raises(ImportFormatError, match="malformed CSV") as error:
        read_rows('a,b\n1,2\n3,"x"y\n', delimiter=",", file_name="f.csv")
    assert error.value.line == 3


def test_read_rows_drops_trailing_blank_rows() -> None:
    assert read_rows("a,b\n1,2\n\n,\n", delimiter=",", file_name="f.csv") == [["a", "b"], ["1", "2"]]


def test_iter_records_line_numbers_with_and_without_quotes() -> None:
    plain = "a;b\n\n1;2\n;;\n3;4\n"
    assert list(iter_records(plain, delimiter=";", file_name="f")) == [(1, ["a", "b"]), (3, ["1", "2"]), (5, ["3", "4"])]
    quoted = 'a;b\n"x\ny";2\n\n3;"4;5"\n'
    assert list(iter_records(quoted, delimiter=";", file_name="f")) == [(1, ["a", "b"]), (2, ["x\ny", "2"]), (5, ["3", "4;5"])]


def test_iter_records_malformed_quote() -> None:
    with pytest.raises(ImportFormatError) as error:
        list(iter_records('a;b\n1;"2"x\n', delimiter=";", file_name="f"))
    assert error.value.line == 2


@given(st.lists(st.lists(st.text(alphabet="ab1.,- ", max_size=5), min_size=1, max_size=4), max_size=6))
def test_iter_records_fast_path_agrees_with_csv(rows: list[list[str]]) -> None:
    text = "\n".join(";".join(row) for row in rows)
    fast = list(iter_records(text, delimiter=";", file_name="f"))
    # The same text with one quoted field forces the csv path; drop that field to compare.
    slow = list(iter_records('"q";' + text, delimiter=";", file_name="f"))
    if rows and fast and fast[0][0] == 1:
        slow_first = (slow[0][0], slow[0][1][1:])
        assert [slow_first, *slow[1:]] == fast


@pytest.mark.parametrize(
    ("cells", "expected"),
    [(["0,5", "1,25", "3"], True), (["0.5", "1.25", "3"], False), (["<0,000", "1.5", "2,5"], True), ([], False), (["1", "abc"], False)],
)
def test_uses_decimal_comma(cells: list[str], expected: bool) -> None:
    assert uses_decimal_comma(cells) is expected


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("0.5", False, 0.5),
        (" -1.5e-3 ", False, -0.0015),
        ("1,234.5", False, 1234.5),
        ("0,5", True, 0.5),
        ("1.234,5", True, 1234.5),
        ("1 234,5", True, 1234.5),
        ("1\u00a0234,5", True, 1234.5),
        (".5", False, 0.5),
        ("N/A", False, None),
        ("", False, None),
        ("-", False, None),
        ("n.d.", True, None),
    ],
)
def test_parse_number(text: str, decimal_comma: bool, expected: float | None) -> None:
    assert parse_number(text, decimal_comma=decimal_comma, file_name="f") == expected


@pytest.mark.parametrize("text", ["abc", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "0,5", "1_000", "0x1A", "١٢", "12 ppb"])
def test_parse_number_refuses_what_is_not_a_finite_number(text: str) -> None:
    with pytest.raises(ImportFormatError) as error:
        parse_number(text, decimal_comma=False, file_name="f.csv", line=7, column="Conc. [ ppb ]")
    assert (error.value.file_name, error.value.line, error.value.column) == ("f.csv", 7, "Conc. [ ppb ]")
    assert str(error.value).startswith("f.csv, line 7, column Conc. [ ppb ]: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<0.000", (0.0, Qualifier.LESS_THAN)),
        ("< 0.5", (0.5, Qualifier.LESS_THAN)),
        ("> 500", (500.0, Qualifier.GREATER_THAN)),
        ("12.5", (12.5, Qualifier.EQUAL)),
        ("N/A", (None, Qualifier.EQUAL)),
        ("", (None, Qualifier.EQUAL)),
    ],
)
def test_parse_reported_value(text: str, expected: tuple[float | None, Qualifier]) -> None:
    assert parse_reported_value(text, decimal_comma=False, file_name="f") == expected


@pytest.mark.parametrize("text", ["<", "> ", "<N/A", "<abc", "<nan"])
def test_parse_reported_value_refuses_a_sign_without_a_number(text: str) -> None:
    with pytest.raises(ImportFormatError) as error:
        parse_reported_value(text, decimal_comma=False, file_name="f", line=3, column="Conc.")
    assert (error.value.line, error.value.column) == (3, "Conc.")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_reads_back_any_finite_float(number: float) -> None:
    assert parse_number(repr(number), decimal_comma=False, file_name="f") == number
    assert parse_number(repr(number).replace(".", ","), decimal_comma=True, file_name="f") == number


def test_cyclic_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause leaves the outer one in place
    assert gc.isenabled()
    with pytest.raises(ValueError, match="boom"), cyclic_gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a collector the caller disabled stays disabled
    finally:
        gc.enable()


def test_what_a_pause_allocated_is_not_examined_on_the_way_out_yet_its_cycles_are_still_collected() -> None:
    import weakref

    class Node:
        pass

    collections: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    freed: list[bool] = []
    gc.collect()
    gc.callbacks.append(record)
    try:
        with cyclic_gc_paused():
            kept = [[index] for index in range(50_000)]  # a parse's worth of small containers
            cycle = Node()
            cycle.self = cycle
            weakref.finalize(cycle, freed.append, True)
            del cycle
        more = [[index] for index in range(100)]
        # No collection follows the pause: one would examine the 50,000 lists, to free nothing...
        assert collections == []
    finally:
        gc.callbacks.remove(record)
    assert gc.get_freeze_count() == 0  # ...and nothing stays frozen out of later collections:
    gc.collect()
    assert freed == [True]  # the cycle made during the pause is freed by a full collection
    assert len(kept) + len(more) == 50_100
