"""PerkinElmer: the real WinLab32-style long CSV, and Syngistix workbooks the tests build with openpyxl."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from assays.importers import perkinelmer_syngistix, registry
from assays.importers.core import ImportFormatError, Qualifier, ValueBasis
from tests.unit.importers.export_builders import WINLAB_CSV, plain_workbook, read_fixture, syngistix_workbook

REAL = "perkinelmer_winlab32_style_test_fixture.csv"


def _csv(text: str, name: str = "winlab.csv"):
    return perkinelmer_syngistix.parse(text.encode("utf-8"), file_name=name)


def _csv_error(text: str, name: str = "winlab.csv") -> ImportFormatError:
    with pytest.raises(ImportFormatError) as caught:
        perkinelmer_syngistix.parse(text.encode("utf-8"), file_name=name)
    return caught.value


def _book_error(data: bytes, name: str = "report.xlsx") -> ImportFormatError:
    with pytest.raises(ImportFormatError) as caught:
        perkinelmer_syngistix.parse(data, file_name=name)
    return caught.value


# --- the long CSV --------------------------------------------------------------------------------


def test_real_winlab32_file_parses_in_sample_units_as_they_are() -> None:
    run = perkinelmer_syngistix.parse(read_fixture(REAL), file_name=REAL)

    assert run.format == "perkinelmer-syngistix"
    assert [channel.code for channel in run.channels] == ["107Ag", "27Al"]
    assert [(channel.element, channel.isotope_mass) for channel in run.channels] == [("Ag", 107), ("Al", 27)]
    # The leading space of ' DU-0001' is the typist's, not part of the sample id.
    assert [acquisition.label for acquisition in run.acquisitions] == ["DU-0001", "DU-0002"]
    assert [[value.value for value in acquisition.values] for acquisition in run.acquisitions] == [[0.111, 0.222], [0.555, 0.666]]
    values = [value for acquisition in run.acquisitions for value in acquisition.values]
    assert {(value.unit, value.basis, value.qualifier) for value in values} == {("mg/kg", ValueBasis.SOLID, Qualifier.EQUAL)}
    assert run.acquisitions[0].acquired_at == dt.datetime(2021, 5, 28, 12, 40, 54)
    assert [value.line for value in values] == [2, 3, 4, 5]
    assert run.warnings == []


def test_registry_detects_the_real_file() -> None:
    data = read_fixture(REAL)
    assert registry.detect_format(data, file_name=REAL) == "perkinelmer-syngistix"
    assert registry.parse(data, file_name=REAL).value_count == 4


def test_title_line_above_the_header_censored_value_and_separate_acquisitions_by_time() -> None:
    run = _csv(WINLAB_CSV)
    assert [acquisition.label for acquisition in run.acquisitions] == ["DU-0001", "DU-0002"]
    censored = run.acquisitions[0].values[1]
    assert (censored.qualifier, censored.value, censored.raw_text) == (Qualifier.LESS_THAN, 0.05, "<0.05")
    assert run.acquisitions[1].acquired_at == dt.datetime(2021, 5, 28, 12, 44, 2)
    # A re-run of the same sample at another time is another acquisition, not a duplicate.
    rerun = WINLAB_CSV + " DU-0001,Ag 107,28-05-21,1:02:00 PM,0.113,mg/kg\n"
    assert [acquisition.label for acquisition in _csv(rerun).acquisitions] == ["DU-0001", "DU-0002", "DU-0001"]


def test_calibration_units_are_of_the_solution() -> None:
    text = "Sample ID,Analyte Name,Reported Conc (Calib),Units (Calib)\nS1,Nd 146,12.5,ppb\nS1,Al 396.153,0.2,mg/L\n"
    run = _csv(text)
    assert [(value.unit, value.basis) for value in run.acquisitions[0].values] == [
        ("µg/L", ValueBasis.SOLUTION),
        ("mg/L", ValueBasis.SOLUTION),
    ]
    assert run.channels[1].wavelength_nm is not None


def test_sample_units_in_ppm_are_mg_per_kg_of_the_solid() -> None:
    text = "Sample ID,Analyte Name,Reported Conc (Samp),Units (Samp)\nS1,Nd 146,12.5,ppm\n"
    value = _csv(text).acquisitions[0].values[0]
    assert (value.unit, value.basis) == ("mg/kg", ValueBasis.SOLID)


def test_solution_unit_under_sample_units_is_refused() -> None:
    error = _csv_error("Sample ID,Analyte Name,Reported Conc (Calib),Units (Samp)\nS1,Nd 146,12.5,µg/L\n")
    assert "µg/L is a unit of a solution" in str(error)
    assert "(sample units)" in str(error)
    assert (error.line, error.column) == (2, "'Units (Samp)'")


def test_repeated_analyte_in_one_acquisition_names_both_lines() -> None:
    error = _csv_error(WINLAB_CSV + " DU-0002,Ag 107,28-05-21,12:44:02 PM,0.6,mg/kg\n")
    assert "line 7 repeats line 5" in str(error)
    assert (error.line, error.column) == (7, "'Analyte Name'")


def test_a_date_that_is_not_a_date() -> None:
    error = _csv_error(WINLAB_CSV.replace("28-05-21,12:44:02", "yesterday,12:44:02", 1))
    assert "not a date" in str(error)
    assert "'yesterday'" in str(error)
    assert (error.line, error.column) == (5, "'Date'")


def test_unknown_unit_and_unknown_element() -> None:
    error = _csv_error("Sample ID,Analyte Name,Reported Conc (Samp),Units (Samp)\nS1,Nd 146,12.5,furlongs\n")
    assert "unknown unit 'furlongs'" in str(error)
    assert error.line == 2
    error = _csv_error("Sample ID,Analyte Name,Reported Conc (Samp),Units (Samp)\nS1,Qq 146,12.5,mg/kg\n")
    assert "'Qq' in 'Qq 146' is not an element symbol" in str(error)
    assert error.column == "'Analyte Name'"


def test_missing_concentration_column() -> None:
    error = _csv_error("Sample ID,Analyte Name,Units (Samp)\nS1,Nd 146,mg/kg\n")
    assert "missing column Reported Conc" in str(error)
    assert error.line == 1


# --- the workbook --------------------------------------------------------------------------------


def test_workbook_parses_with_units_in_the_header() -> None:
    data = syngistix_workbook()
    run = perkinelmer_syngistix.parse(data, file_name="report.xlsx")

    assert [channel.code for channel in run.channels] == ["107Ag", "146Nd", "Al 396.153"]
    assert [acquisition.label for acquisition in run.acquisitions] == ["DU-0001", "DU-0002", "CCV"]
    first, second, _ = run.acquisitions
    assert first.acquired_at == dt.datetime(2024, 3, 5, 14, 2, 11)
    assert second.acquired_at == dt.datetime(2021, 5, 28, 12, 40, 54)
    assert first.data_file == "DU-0001.dat"
    assert first.line == 2
    assert [(value.value, value.qualifier) for value in first.values] == [
        (0.111, Qualifier.EQUAL),
        (1520.5, Qualifier.EQUAL),
        (0.05, Qualifier.LESS_THAN),
    ]
    assert {(value.unit, value.basis) for acquisition in run.acquisitions for value in acquisition.values} == {("mg/kg", ValueBasis.SOLID)}
    assert second.values[1].value is None  # an empty cell is kept
    assert run.value_count == 8
    assert registry.detect_format(data, file_name="report.xlsx") == "perkinelmer-syngistix"


def test_workbook_with_a_units_row_and_title_rows() -> None:
    data = syngistix_workbook(analytes=("Ag 107", "Nd 146", "Al 396.153"), units_row=("µg/g", "ppm", "%"), title_rows=2)
    run = perkinelmer_syngistix.parse(data, file_name="report.xlsx")
    assert [value.unit for value in run.acquisitions[0].values] == ["mg/kg", "mg/kg", "%"]
    assert run.acquisitions[0].line == 5


def test_workbook_without_the_sheet_names_the_sheets_it_has() -> None:
    error = _book_error(plain_workbook("Conc. in Calib Units"))
    assert "has no sheet 'Conc. in Sample Units' (it has 'Conc. in Calib Units')" in str(error)
    assert str(error).startswith("report.xlsx: ")


def test_corrupted_workbook() -> None:
    data = syngistix_workbook()
    error = _book_error(data[: len(data) // 2])
    assert "damaged .xlsx workbook" in str(error)


def test_zip_that_is_not_a_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("results.csv", "a,b\n1,2\n")
    assert "not an .xlsx workbook" in str(_book_error(buffer.getvalue()))


def test_workbook_non_numeric_cell_names_row_and_column() -> None:
    rows = (("DU-0001", 1, None, 1, "", "", "", 0.1, "lots", 2),)
    error = _book_error(syngistix_workbook(rows=rows))
    assert str(error) == "report.xlsx, line 2, column I 'Nd 146 (mg/kg)': not a number: 'lots'"


def test_workbook_column_without_unit_is_refused() -> None:
    error = _book_error(syngistix_workbook(analytes=("Ag 107", "Nd 146 (mg/kg)", "Al 396.153 (mg/kg)")))
    assert "no unit for 'Ag 107'" in str(error)
    assert (error.line, error.column) == (1, "H 'Ag 107'")


def test_workbook_solution_unit_is_refused_as_sample_units() -> None:
    error = _book_error(syngistix_workbook(analytes=("Ag 107 (µg/L)", "Nd 146 (mg/kg)", "Al 396.153 (mg/kg)")))
    assert "µg/L is a unit of a solution" in str(error)


def test_workbook_duplicate_channel() -> None:
    error = _book_error(syngistix_workbook(analytes=("Ag 107 (mg/kg)", "Ag107 (mg/kg)", "Al 396.153 (mg/kg)")))
    assert "duplicate channel: columns H and I are both 107Ag" in str(error)


def test_workbook_bad_acquisition_time() -> None:
    rows = (("DU-0001", 1, "not a time", 1, "", "", "", 0.1, 1, 2),)
    error = _book_error(syngistix_workbook(rows=rows))
    assert "not a date and time" in str(error)
    assert (error.line, error.column) == (2, "C 'Acquisition Time'")


def test_sniff() -> None:
    assert perkinelmer_syngistix.sniff(syngistix_workbook(), None, "x.xlsx") == 95
    assert perkinelmer_syngistix.sniff(plain_workbook(), None, "x.xlsx") == 55
    assert perkinelmer_syngistix.sniff(b"PK\x03\x04garbage", None, "x.zip") == 0
    # A damaged archive named .xlsx is claimed, so that its refusal says "damaged workbook".
    assert perkinelmer_syngistix.sniff(b"PK\x03\x04garbage", None, "x.xlsx") == 50
    text = WINLAB_CSV
    assert perkinelmer_syngistix.sniff(text.encode(), text, "x.csv") == 90


def test_header_inside_a_quoted_cell_is_refused_not_crashed() -> None:
    error = _csv_error('"title\nSample ID,Analyte Name,Reported Conc (Samp),Units (Samp)\n"\nS1,Ag 107,1,mg/kg\n')
    assert "the header line is inside a quoted cell" in str(error)
    assert error.line == 2


def test_a_workbook_whose_zip_needs_a_newer_version_is_refused_as_damaged() -> None:
    """Found by fuzzing: zipfile raises NotImplementedError for such an archive; it must come out
    as the file's error, never as another exception."""
    data = bytearray(syngistix_workbook())
    central = data.find(b"PK\x01\x02")
    assert central > 0
    # The central directory's "version needed to extract" (offset 6, two bytes): 8.4.
    data[central + 6 : central + 8] = (84).to_bytes(2, "little")
    with pytest.raises(ImportFormatError, match=r"damaged \.xlsx workbook") as caught:
        perkinelmer_syngistix.parse(bytes(data), file_name="conc.xlsx")
    assert caught.value.file_name == "conc.xlsx"
