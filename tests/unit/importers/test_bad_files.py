"""The corpus of malformed exports: each is refused with an ImportFormatError (never another
exception) naming the file and, where it applies, the line and the column, both with its format
forced and auto-detected.

The files are in ``bad_files/`` (written by ``make_bad_files.py``); the > 1 MB lines are built here.
Negative sample masses and zero dilutions are registration errors, tested there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from assays.importers import registry
from assays.importers.core import ImportFormatError

CORPUS = Path(__file__).resolve().parent / "bad_files"

GENERIC = "generic-long"
QTEGRA = "thermo-qtegra"
PERKINELMER = "perkinelmer-syngistix"
AGILENT = "agilent-masshunter"
UNRECOGNISED = "not a format this LIMS recognises"
BINARY = "this is a binary file, not a text export"


@dataclass(frozen=True)
class Case:
    file: str
    format: str  # the format it is forced through
    fragment: str | None  # in the forced refusal; None: any refusal naming the file
    line: int | None = None  # the line the refusal names (None: a refusal of the whole file)
    column: str | None = None  # a fragment of the column it names
    auto: str | None = ""  # in the auto-detected refusal; "" means the same as ``fragment``

    @property
    def auto_fragment(self) -> str | None:
        return self.fragment if self.auto == "" else self.auto


CASES: tuple[Case, ...] = (
    # empty, binary, wrong encoding
    Case("empty.csv", GENERIC, "the file is empty"),
    Case("blank_lines.csv", QTEGRA, "the file is empty"),
    Case("png_header.csv", GENERIC, BINARY),
    Case("nul_in_text.csv", GENERIC, BINARY),
    Case("zip_not_a_workbook.csv", PERKINELMER, "a zip archive, but not an .xlsx workbook", auto=BINARY),
    Case("workbook_given_as_csv.csv", GENERIC, BINARY, auto="the workbook has no sheet 'Conc. in Sample Units' (it has 'Sheet1')"),
    Case("utf16_invalid.csv", GENERIC, "not valid utf-16 text", line=2),
    Case("utf8_bom_invalid.csv", QTEGRA, "not valid utf-8 text", line=3),
    # header only
    Case("generic_header_only.csv", GENERIC, "no results: the file has a header and no rows", line=2),
    Case("qtegra_header_only.csv", QTEGRA, "no acquisitions: the file holds a header and no rows", line=5),
    Case("winlab_header_only.csv", PERKINELMER, "no results: the file has a header and no rows", line=2),
    Case("agilent_header_only.csv", AGILENT, "no acquisitions", line=3),
    # wrong delimiter, missing or mismatched columns, broken quoting, truncation
    Case("generic_pipe_delimited.csv", GENERIC, "cannot tell the delimiter", line=1, auto=UNRECOGNISED),
    Case("generic_missing_unit_column.csv", GENERIC, "missing column unit", line=1),
    Case("generic_mismatched_columns.csv", GENERIC, "8 cells where the header has 7", line=3, column="8 (beyond the header)"),
    Case("winlab_mismatched_columns.csv", PERKINELMER, "5 cells where the header has 6", line=2, column="'Units (Samp)'"),
    # The line csv reports for a quote left open is where it gave up (the end of the file).
    Case("generic_unclosed_quote.csv", GENERIC, "malformed CSV: unexpected end of data"),
    Case("qtegra_truncated.csv", QTEGRA, "3 cells where the header has 5 (a truncated row?)", line=6, column="D"),
    Case("agilent_truncated.csv", AGILENT, "fields where the header has 17", line=4),
    # duplicates
    Case("qtegra_duplicate_channel.csv", QTEGRA, "duplicate channel: columns C and D", line=2, column="D '153 Eu'"),
    Case("agilent_duplicate_channel.csv", AGILENT, "appears twice", line=1, column="139 La"),
    Case("generic_duplicate_result.csv", GENERIC, "line 4 repeats line 2", line=4, column="'analyte'"),
    Case("winlab_duplicate_result.csv", PERKINELMER, "twice in one acquisition: line 3 repeats line 2", line=3, column="'Analyte Name'"),
    Case("qtegra_duplicate_acquisition_number.csv", QTEGRA, "acquisition number 1 again", line=6, column="A"),
    Case("xlsx_duplicate_channel.xlsx", PERKINELMER, "duplicate channel: columns H and I are both 107Ag", line=1, column="I 'Ag107"),
    # cells that are not numbers
    Case("generic_non_numeric.csv", GENERIC, "not a number: 'abc'", line=2, column="'value'"),
    Case("generic_nan.csv", GENERIC, "not a number: 'NaN'", line=2, column="'value'"),
    Case("qtegra_infinity.csv", QTEGRA, "not a number: '-inf'", line=5, column="C '153Eu' Conc. average"),
    Case("qtegra_non_numeric_intensity.csv", QTEGRA, "not a number: 'lots'", line=5, column="E '115In (KED) (ISTD)' Raw.Average"),
    Case("agilent_non_numeric.csv", AGILENT, "not a number: 'abc'", line=3, column="Conc. [ ppb ]"),
    Case("xlsx_non_numeric.xlsx", PERKINELMER, "not a number: 'lots'", line=2, column="I 'Nd 146 (mg/kg)'"),
    Case("generic_less_than_without_number.csv", GENERIC, "a censoring sign without a number: '<'", line=2, column="'value'"),
    Case("generic_empty_value.csv", GENERIC, "no value", line=2, column="'value'"),
    Case("generic_negative_lod.csv", GENERIC, "a negative LOD", line=2, column="'lod'"),
    Case("generic_loq_below_lod.csv", GENERIC, "the LOQ (0.1) is below the LOD (0.5)", line=2, column="'loq'"),
    Case("generic_bad_qualifier.csv", GENERIC, "qualifier 'ND' is not one of", line=2, column="'qualifier'"),
    # units and analytes
    Case("generic_unknown_unit.csv", GENERIC, "unknown unit 'furlongs'", line=2, column="'unit'"),
    Case("qtegra_unknown_unit.csv", QTEGRA, "unknown unit 'ppq'", line=4, column="C '153Eu' Conc. average"),
    Case("winlab_solution_unit_as_sample_units.csv", PERKINELMER, "µg/L is a unit of a solution", line=2, column="'Units (Samp)'"),
    Case("xlsx_no_unit.xlsx", PERKINELMER, "no unit for 'Ag 107'", line=1, column="H 'Ag 107'"),
    Case("generic_loi_in_solution.csv", GENERIC, "LOI is a mass fraction of the solid", line=2, column="'unit'"),
    Case("generic_unknown_element.csv", GENERIC, "'Xx' in '146Xx' is not an element symbol", line=2, column="'analyte'"),
    Case("generic_unknown_analyte.csv", GENERIC, "'Moisture' is not an analyte", line=2, column="'analyte'"),
    Case("qtegra_unknown_element.csv", QTEGRA, "'Qq' in '153Qq' is not an element symbol", line=2, column="C '153Qq'"),
    Case("winlab_unknown_element.csv", PERKINELMER, "'Qq' in 'Qq 107' is not an element symbol", line=2, column="'Analyte Name'"),
    Case("qtegra_no_analyte_row.csv", QTEGRA, "no analyte row in the header", line=1),
    # dates and flags
    Case("winlab_not_a_date.csv", PERKINELMER, "not a date, or not written like the others: 'yesterday'", line=3, column="'Date'"),
    Case("agilent_not_a_date.csv", AGILENT, "not a date and time: 'someday'", line=3, column="Acq. Date-Time"),
    Case("agilent_bad_reject_flag.csv", AGILENT, "not a true/false value: 'PEUT-ETRE'", line=3, column="Rjct"),
    # workbooks
    Case("xlsx_without_the_sheet.xlsx", PERKINELMER, "the workbook has no sheet 'Conc. in Sample Units' (it has 'Conc. in Calib Units')"),
    Case("xlsx_corrupted.xlsx", PERKINELMER, "a damaged .xlsx workbook"),
    # real exports that hold no results, given to a results parser: detection names them; forced
    # through the Agilent parser they are refused in that parser's own words.
    Case("time_resolved_as_agilent.csv", AGILENT, None, auto="this is an Agilent MassHunter time-resolved export"),
    Case("time_resolved_as_qtegra.csv", QTEGRA, "this is a Thermo Qtegra time-resolved (LDR) export"),
    Case("batchlog_as_agilent.csv", AGILENT, None, auto="a batch log, not results"),
)

HUGE = 1_100_000  # more than the 1 MB a CSV field may hold


def _huge_files() -> dict[str, tuple[bytes, Case]]:
    header = "sample_id,analyte,value,unit\n"
    return {
        "generic_huge_value.csv": (
            (header + "S1,La," + "9" * HUGE + ",mg/kg\n").encode(),
            Case("generic_huge_value.csv", GENERIC, f"({HUGE} characters)", line=2, column="'value'"),
        ),
        "generic_huge_quoted_field.csv": (
            (header + 'S1,"' + "A" * HUGE + '",1,mg/kg\n').encode(),
            Case("generic_huge_quoted_field.csv", GENERIC, "malformed CSV: field larger than field limit", line=2),
        ),
        "qtegra_huge_label.csv": (
            (";;Conc. average\n;;" + "153Eu" * (HUGE // 5) + "\n;;Y (ppb)\n1;S1;1\n").encode(),
            Case("qtegra_huge_label.csv", QTEGRA, "is not an analyte label", line=2),
        ),
    }


def _check(error: ImportFormatError, case: Case, fragment: str | None) -> None:
    message = str(error)
    assert error.file_name == case.file
    assert message.startswith(case.file)
    if fragment is not None:
        assert fragment in message
    # A 1 MB cell must not come back as a 1 MB message.
    assert len(message) < 2_000


def test_the_corpus_is_large_enough_and_every_file_has_its_expectation() -> None:
    on_disk = sorted(path.name for path in CORPUS.iterdir())
    assert len(CASES) + len(_huge_files()) >= 30
    assert on_disk == sorted(case.file for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.file for case in CASES])
def test_forced_format_refuses_with_file_line_and_column(case: Case) -> None:
    data = (CORPUS / case.file).read_bytes()
    with pytest.raises(ImportFormatError) as caught:
        registry.parse(data, file_name=case.file, format=case.format)
    error = caught.value
    _check(error, case, case.fragment)
    if case.line is not None:
        assert error.line == case.line
        assert f"{case.file}, line {case.line}" in str(error)
    if case.column is not None:
        assert error.column is not None
        assert case.column in error.column


@pytest.mark.parametrize("case", CASES, ids=[case.file for case in CASES])
def test_deferred_values_refuse_with_the_same_error_when_they_are_read(case: Case) -> None:
    # An import on PostgreSQL parses with defer_values and reads each acquisition's values as the
    # rows stream: a file refused by the whole parse is refused then, with the same words.
    data = (CORPUS / case.file).read_bytes()
    with pytest.raises(ImportFormatError) as whole:
        registry.parse(data, file_name=case.file, format=case.format)
    with pytest.raises(ImportFormatError) as deferred:
        _parse_and_read_every_value(data, case)
    assert str(deferred.value) == str(whole.value)


def _parse_and_read_every_value(data: bytes, case: Case) -> None:
    run = registry.parse(data, file_name=case.file, format=case.format, defer_values=True)
    for acquisition in run.acquisitions:
        acquisition.load_values()


@pytest.mark.parametrize("case", CASES, ids=[case.file for case in CASES])
def test_auto_detection_refuses_too(case: Case) -> None:
    data = (CORPUS / case.file).read_bytes()
    with pytest.raises(ImportFormatError) as caught:
        registry.parse(data, file_name=case.file)
    _check(caught.value, case, case.auto_fragment)


@pytest.mark.parametrize("name", sorted(_huge_files()))
def test_huge_lines_are_refused_without_a_huge_message(name: str) -> None:
    data, case = _huge_files()[name]
    for forced in (case.format, None):
        with pytest.raises(ImportFormatError) as caught:
            registry.parse(data, file_name=name, format=forced)
        _check(caught.value, case, case.fragment)
        assert caught.value.line == case.line
        if case.column is not None:
            assert caught.value.column == case.column
