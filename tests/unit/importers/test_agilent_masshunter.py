"""Agilent MassHunter batch table: the real export, its locale and encoding variants, and bad files.

The variants are generated from the real file by transforming its text (no edited copies are
committed), so every one of them must parse to exactly what the original parses to.
"""

from __future__ import annotations

import codecs
import collections
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assays.importers import agilent_masshunter
from assays.importers.channel_labels import ChannelLabelError, parse_isotope_label
from assays.importers.core import ImportFormatError, ParsedRun, Qualifier, ValueBasis
from assays.importers.registry import detect_format, parse

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared/fixtures/instruments"
REAL = FIXTURES / "agilent_masshunter_batch_full_semicolon.csv"
NAME = "User_Raw.csv"


@pytest.fixture(scope="module")
def real_text() -> str:
    return REAL.read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def real_run() -> ParsedRun:
    return parse(REAL.read_bytes(), file_name=NAME)


def _fingerprint(run: ParsedRun) -> tuple[object, ...]:
    return (
        [(channel.code, channel.is_internal_standard) for channel in run.channels],
        [
            (
                acquisition.sequence,
                acquisition.label,
                acquisition.vendor_type,
                acquisition.calibration_level,
                acquisition.acquired_at,
                acquisition.rejected_by_instrument,
                acquisition.data_file,
                acquisition.line,
                [(value.channel, value.value, value.qualifier, value.rsd_percent, value.line) for value in acquisition.values],
                [(istd.channel, istd.counts_per_second) for istd in acquisition.internal_standards],
            )
            for acquisition in run.acquisitions
        ],
    )


def _code(run: ParsedRun, code: str) -> int:
    return [channel.code for channel in run.channels].index(code)


def _value(run: ParsedRun, sequence: int, code: str) -> float | None:
    index = _code(run, code)
    (value,) = [value for value in run.acquisitions[sequence - 1].values if value.channel == index]
    return value.value


# -- the real export -------------------------------------------------------------------------


def test_real_batch_is_detected_as_masshunter() -> None:
    assert detect_format(REAL.read_bytes(), file_name=NAME) == "agilent-masshunter"


def test_real_batch_acquisitions_by_vendor_type(real_run: ParsedRun) -> None:
    assert real_run.format == "agilent-masshunter"
    assert len(real_run.acquisitions) == 110
    assert collections.Counter(a.vendor_type for a in real_run.acquisitions) == {"Sample": 93, "CalStd": 15, "CalBlk": 2}
    assert [a.sequence for a in real_run.acquisitions] == list(range(1, 111))
    assert [a.line for a in real_run.acquisitions] == list(range(3, 113))
    assert not any(a.rejected_by_instrument for a in real_run.acquisitions)  # FAUX everywhere
    assert real_run.warnings == []


def test_real_batch_channels(real_run: ParsedRun) -> None:
    assert len(real_run.analyte_channels) == 69
    assert [c.code for c in real_run.internal_standard_channels] == ["45Sc [He]", "115In [No Gas]"]
    codes = [c.code for c in real_run.analyte_channels]
    assert len(set(codes)) == 69
    # Each isotope of a repeated element is its own channel.
    for element, masses in {"Ca": (43, 44), "Cr": (52, 53), "Fe": (56, 57), "Cu": (63, 65), "Zn": (66, 67, 68)}.items():
        assert sorted(c.isotope_mass or 0 for c in real_run.analyte_channels if c.element == element) == list(masses)
    assert sorted(c.isotope_mass or 0 for c in real_run.analyte_channels if c.element == "Se") == [77, 78, 80, 82]
    assert sorted(c.isotope_mass or 0 for c in real_run.analyte_channels if c.element == "Pb") == [206, 207, 208]
    assert {c.cell_mode for c in real_run.channels} == {"No Gas", "He"}
    lanthanum = real_run.channels[_code(real_run, "139La [No Gas]")]
    assert (lanthanum.element, lanthanum.isotope_mass, lanthanum.cell_mode, lanthanum.label) == (
        "La",
        139,
        "No Gas",
        "139  La  [ No Gas ] ",
    )
    rare_earths = {"Y", "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"}
    assert rare_earths <= {c.element for c in real_run.analyte_channels}


def test_real_batch_concentration_values(real_run: ParsedRun) -> None:
    values = [value for acquisition in real_run.acquisitions for value in acquisition.values]
    assert real_run.value_count == 7146
    assert len(values) == 7146  # empty Conc. cells (uncalibrated channels) yield no value at all
    censored = [value for value in values if value.qualifier is Qualifier.LESS_THAN]
    assert len(censored) == 608
    assert {(value.raw_text, value.value) for value in censored} == {("<0.000", 0.0)}
    assert {value.unit for value in values} == {"ppb"}
    assert {value.basis for value in values} == {ValueBasis.SOLUTION}
    # The first four acquisitions precede the calibration: nothing is calibrated yet.
    assert [len(a.values) for a in real_run.acquisitions[:4]] == [0, 0, 0, 0]


def test_real_batch_drift_check_readings(real_run: ParsedRun) -> None:
    """The README's CCV failures, read cell by cell: La 77.3 % at 101SMPL, Na 113.8 % at 059SMPL."""
    assert real_run.acquisitions[100].data_file == "101SMPL.d"
    assert real_run.acquisitions[100].label == "Deriv TracesETMaj"
    assert _value(real_run, 101, "139La [No Gas]") == pytest.approx(0.079363933)
    assert _value(real_run, 101, "139La [No Gas]") / 0.10261 == pytest.approx(0.773, abs=5e-4)  # type: ignore[operator]
    assert _value(real_run, 107, "139La [No Gas]") / 0.10261 == pytest.approx(0.737, abs=5e-4)  # type: ignore[operator]
    assert _value(real_run, 59, "23Na [He]") / 102.73652 == pytest.approx(1.138, abs=5e-4)  # type: ignore[operator]
    assert _value(real_run, 59, "56Fe [He]") / 103.93201 == pytest.approx(1.109, abs=5e-4)  # type: ignore[operator]
    value = next(v for v in real_run.acquisitions[58].values if v.channel == _code(real_run, "23Na [He]"))
    assert (value.raw_text, value.rsd_percent, value.line) == ("116.8903437", 0.285935122, 61)


def test_real_batch_levels_types_dates_and_files(real_run: ParsedRun) -> None:
    first, blank, standard = real_run.acquisitions[0], real_run.acquisitions[4], real_run.acquisitions[5]
    assert (first.label, first.vendor_type, first.calibration_level, first.data_file) == ("0", "Sample", None, "001SMPL.d")
    assert first.acquired_at == dt.datetime(2018, 12, 19, 10, 42)  # 19/12/2018: day-first
    assert (blank.vendor_type, blank.calibration_level) == ("CalBlk", 1)
    assert (standard.label, standard.vendor_type, standard.calibration_level) == ("Traces 0.1 ppb", "CalStd", 2)
    assert real_run.acquisitions[-1].acquired_at == dt.datetime(2018, 12, 19, 19, 42)
    levels = [a.calibration_level for a in real_run.acquisitions if a.vendor_type != "Sample"]
    assert levels == list(range(1, 18))
    assert sum(1 for a in real_run.acquisitions if a.label == "0") == 34
    assert sum(1 for a in real_run.acquisitions if a.label == "Deriv TracesETMaj") == 8


def test_real_batch_internal_standard_counts(real_run: ParsedRun) -> None:
    scandium, indium = _code(real_run, "45Sc [He]"), _code(real_run, "115In [No Gas]")
    first = real_run.acquisitions[0]
    assert [(r.channel, r.counts_per_second, r.recovery_percent) for r in first.internal_standards] == [
        (scandium, 35278.59667, None),
        (indium, 274124.3567, None),
    ]
    assert all(len(a.internal_standards) == 2 for a in real_run.acquisitions)
    assert real_run.acquisitions[92].internal_standards[0].counts_per_second == 222969.6667  # 093SMPL: a Sc-rich sample


def test_parsers_import_no_django() -> None:
    code = (
        "import sys; import assays.importers.registry, assays.importers.agilent_masshunter, "
        "assays.importers.agilent_batchlog, assays.importers.time_resolved; print('django' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[3]
    )
    assert result.stdout.strip() == "False"


# -- variants generated from the real text ---------------------------------------------------

_DECIMAL = re.compile(r"^[<>]?-?\d+\.\d+(E[-+]?\d+)?$")


def _decimal_comma(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[:2] + [";".join(f.replace(".", ",") if _DECIMAL.match(f) else f for f in line.split(";")) for line in lines[2:]])


def _twelve_hour(match: re.Match[str]) -> str:
    day, month, year, hour, minute = match.groups()
    clock = int(hour) % 12 or 12
    return f"{month}/{day}/{year} {clock}:{minute} {'PM' if int(hour) >= 12 else 'AM'}"


VARIANTS = {
    "comma-delimited, decimal point": lambda text: text.replace(";", ",").encode(),
    "semicolon, decimal comma": lambda text: _decimal_comma(text).encode(),
    "comma-delimited, quoted decimal comma": lambda text: "\n".join(
        ",".join(f'"{f}"' if "," in f else f for f in line.split(";")) for line in _decimal_comma(text).split("\n")
    ).encode(),
    "tab-delimited": lambda text: text.replace(";", "\t").encode(),
    "ISO dates": lambda text: re.sub(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d)", r"\3-\2-\1T\4:\5:00", text).encode(),
    "year-first dates with seconds": lambda text: re.sub(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d)", r"\3/\2/\1 \4:\5:00", text).encode(),
    "US month-first 12-hour dates": lambda text: re.sub(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d)", _twelve_hour, text).encode(),
    "German dotted dates": lambda text: re.sub(r"(\d\d)/(\d\d)/(\d{4})", r"\1.\2.\3", text).encode(),
    "English FALSE": lambda text: text.replace(";FAUX;", ";FALSE;").encode(),
    "German FALSCH": lambda text: text.replace(";FAUX;", ";FALSCH;").encode(),
    "Italian and Spanish FALSO": lambda text: text.replace(";FAUX;", ";FALSO;").encode(),
    "CRLF": lambda text: text.replace("\n", "\r\n").encode(),
    "UTF-8 with BOM": lambda text: codecs.BOM_UTF8 + text.encode(),
    "UTF-16 with BOM": lambda text: text.encode("utf-16"),
    "UTF-16 big-endian with BOM, CRLF": lambda text: codecs.BOM_UTF16_BE + text.replace("\n", "\r\n").encode("utf-16-be"),
    "no trailing newline, blank lines at the end": lambda text: (text.rstrip("\n") + "\n\n;;;\n").encode(),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_parses_exactly_like_the_real_file(variant: str, real_text: str, real_run: ParsedRun) -> None:
    data = VARIANTS[variant](real_text)
    assert detect_format(data, file_name=NAME) == "agilent-masshunter"
    run = parse(data, file_name=NAME)
    assert _fingerprint(run) == _fingerprint(real_run)
    assert run.value_count == 7146
    assert run.warnings == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_deferred_values_are_read_when_asked_and_are_the_same(variant: str, real_text: str, real_run: ParsedRun) -> None:
    run = parse(VARIANTS[variant](real_text), file_name=NAME, defer_values=True)
    assert all(acquisition.values == [] and acquisition.deferred_values is not None for acquisition in run.acquisitions)
    for acquisition in run.acquisitions:
        assert acquisition.load_values() is acquisition.values
        assert acquisition.deferred_values is None
    assert _fingerprint(run) == _fingerprint(real_run)
    assert run.value_count == 7146


def test_cp1252_export_with_micro_sign_unit(real_text: str, real_run: ParsedRun) -> None:
    data = real_text.replace("Conc. [ ppb ]", "Conc. [ µg/L ]").replace("\n", "\r\n").encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    run = parse(data, file_name=NAME)
    assert {value.unit for acquisition in run.acquisitions for value in acquisition.values} == {"µg/L"}
    assert _fingerprint(run) == _fingerprint(real_run)


def test_rejected_flag_in_any_language(real_text: str) -> None:
    lines = real_text.split("\n")
    lines[2] = lines[2].replace(";FAUX;", ";VRAI;", 1)
    lines[3] = lines[3].replace(";FAUX;", ";TRUE;", 1)
    lines[4] = lines[4].replace(";FAUX;", ";WAHR;", 1)
    lines[5] = lines[5].replace(";FAUX;", ";VERDADERO;", 1)
    lines[6] = lines[6].replace(";FAUX;", ";;", 1)  # an empty Rjct cell: not rejected
    run = parse("\n".join(lines).encode(), file_name=NAME)
    assert [a.rejected_by_instrument for a in run.acquisitions[:8]] == [True, True, True, True, False, False, False, False]


def test_decimal_comma_with_thousands_points(real_text: str, real_run: ParsedRun) -> None:
    text = _decimal_comma(real_text)
    lines = text.split("\n")
    fields = lines[60].split(";")  # 059SMPL: Na 23 Conc. is field 7 + 3*4 + 2
    assert fields[21] == "116,8903437"
    fields[21] = "1.116,8903437"
    lines[60] = ";".join(fields)
    run = parse("\n".join(lines).encode(), file_name=NAME)
    assert _value(run, 59, "23Na [He]") == pytest.approx(1116.8903437)


def test_ambiguous_dates_are_read_day_first_with_a_warning(real_text: str) -> None:
    run = parse(real_text.replace("19/12/2018", "05/12/2018").encode(), file_name=NAME)
    assert run.acquisitions[0].acquired_at == dt.datetime(2018, 12, 5, 10, 42)
    assert any("day-first" in warning for warning in run.warnings)


def test_ambiguous_dates_with_a_12_hour_clock_are_read_month_first(real_text: str) -> None:
    text = re.sub(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d)", _twelve_hour, real_text.replace("19/12/2018", "05/12/2018"))
    run = parse(text.encode(), file_name=NAME)
    assert run.acquisitions[0].acquired_at == dt.datetime(2018, 12, 5, 10, 42)
    assert run.acquisitions[-1].acquired_at == dt.datetime(2018, 12, 5, 19, 42)
    assert any("month-first" in warning for warning in run.warnings)


def test_iso_dates_with_offset_keep_the_wall_clock(real_text: str) -> None:
    text = re.sub(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d)", r"\3-\2-\1T\4:\5:07+01:00", real_text)
    run = parse(text.encode(), file_name=NAME)
    assert run.acquisitions[0].acquired_at == dt.datetime(2018, 12, 19, 10, 42, 7)


# -- small synthetic batches for the cases the real file does not have ------------------------


def _batch(
    channels: list[tuple[str, list[str]]],
    rows: list[list[str]],
    *,
    sample_columns: tuple[str, ...] = ("", "Rjct", "Data File", "Acq. Date-Time", "Type", "Level", "Sample Name"),
    delimiter: str = ";",
) -> bytes:
    label_row = ["Sample"] + [""] * (len(sample_columns) - 1)
    header_row = list(sample_columns)
    for label, columns in channels:
        label_row += [label] + [""] * (len(columns) - 1)
        header_row += columns
    lines = [delimiter.join(label_row), delimiter.join(header_row)] + [delimiter.join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


ANALYTE = ["CPS", "CPS RSD", "Conc. [ ppb ]", "Conc. RSD"]
ISTD = ["CPS", "CPS RSD"]
SAMPLE = ["", "FALSE", "001SMPL.d", "2024-03-01 09:00", "Sample", "", "S-1"]


def test_na_concentration_is_kept_without_a_number() -> None:
    data = _batch(
        [("139  La  [ No Gas ] ", ANALYTE), ("140  Ce  [ No Gas ] ", ANALYTE)],
        [[*SAMPLE, "10", "1", "N/A", "N/A", "20", "2", "> 500", "3"]],
    )
    run = parse(data, file_name="b.csv")
    na, over = run.acquisitions[0].values
    assert (na.value, na.qualifier, na.raw_text, na.rsd_percent) == (None, Qualifier.EQUAL, "N/A", None)
    assert (over.value, over.qualifier, over.raw_text, over.rsd_percent) == (500.0, Qualifier.GREATER_THAN, "> 500", 3.0)
    assert run.value_count == 1


def test_triple_quad_mass_shift_and_istd_recovery() -> None:
    data = _batch(
        [("75 -> 91  As  [ O2 ] ", ANALYTE), ("103  Rh ( ISTD )  [ He ] ", ["CPS", "CPS RSD", "ISTD Recovery %"])],
        [[*SAMPLE, "10", "1", "0.25", "2", "5000", "1", "98.5"]],
    )
    run = parse(data, file_name="b.csv")
    arsenic, rhodium = run.channels
    assert (arsenic.code, arsenic.q1_mass, arsenic.q2_mass, arsenic.isotope_mass) == ("75As 75->91 [O2]", 75, 91, 75)
    assert rhodium.is_internal_standard
    (response,) = run.acquisitions[0].internal_standards
    assert (response.counts_per_second, response.recovery_percent) == (5000.0, 98.5)


def test_units_per_channel_and_solid_basis() -> None:
    data = _batch(
        [("139  La  [ No Gas ] ", ["CPS", "Conc. [ ppm ]"]), ("56  Fe  [ He ] ", ["CPS", "Conc. [ mg/kg ]"])],
        [[*SAMPLE, "10", "1.5", "20", "2.5"]],
    )
    run = parse(data, file_name="b.csv")
    assert [(v.unit, v.basis, v.value, v.rsd_percent) for v in run.acquisitions[0].values] == [
        ("ppm", ValueBasis.SOLUTION, 1.5, None),
        ("mg/kg", ValueBasis.SOLID, 2.5, None),
    ]


def test_counts_only_batch_holds_no_concentrations() -> None:
    run = parse(_batch([("139  La  [ No Gas ] ", ISTD)], [[*SAMPLE, "10", "1"]]), file_name="b.csv")
    assert not run.holds_concentrations
    assert run.value_count == 0
    assert "no concentrations" in run.warnings[0]


def test_sample_columns_found_by_name_in_any_order_with_total_dilution() -> None:
    columns = ("Sample Name", "Type", "Total Dil.", "Data File")
    data = _batch([("139  La  [ No Gas ] ", ANALYTE)], [["S-1", "Sample", "10", "001SMPL.d", "1", "1", "0.5", "1"]], sample_columns=columns)
    run = parse(data, file_name="b.csv")
    acquisition = run.acquisitions[0]
    assert (acquisition.label, acquisition.vendor_type, acquisition.dilution_factor, acquisition.data_file) == (
        "S-1",
        "Sample",
        10.0,
        "001SMPL.d",
    )
    assert acquisition.acquired_at is None
    assert acquisition.values[0].value == 0.5


@pytest.mark.parametrize("cell", ["0", "-2", "x"])
def test_bad_total_dilution(cell: str) -> None:
    columns = ("Sample Name", "Total Dil.")
    data = _batch(
        [("139  La  [ No Gas ] ", ANALYTE)],
        [["S-1", "1", "1", "1", "0.5", "1"], ["S-2", cell, "1", "1", "0.5", "1"]],
        sample_columns=columns,
    )
    with pytest.raises(ImportFormatError) as error:
        parse(data, file_name="b.csv")
    assert (error.value.line, error.value.column) == (4, "Total Dil.")


def test_quoted_fields_keep_line_numbers_right() -> None:
    data = _batch(
        [("139  La  [ No Gas ] ", ANALYTE)],
        [
            ["", "FALSE", "001SMPL.d", "2024-03-01 09:00", "Sample", "", '"rinse; then\nS-1"', "1", "1", "0.5", "1"],
            ["", "FALSE", "002SMPL.d", "2024-03-01 09:05", "Sample", "", "S-2", "1", "1", "oops", "1"],
        ],
    )
    with pytest.raises(ImportFormatError) as error:
        parse(data, file_name="b.csv")
    assert error.value.line == 5  # the quoted newline made the first row two lines long


def test_trailing_empty_fields_are_tolerated() -> None:
    data = _batch([("139  La  [ No Gas ] ", ANALYTE)], [[*SAMPLE, "1", "1", "0.5", "1", "", ""]])
    assert parse(data, file_name="b.csv").acquisitions[0].values[0].value == 0.5


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("139  La  [ No Gas ] ", ("La", 139, "No Gas", False)),
        ("45  Sc ( ISTD )  [ He ] ", ("Sc", 45, "He", True)),
        ("139  La ", ("La", 139, "", False)),
        ("Eu153", ("Eu", 153, "", False)),  # the MassHunter time-resolved style
        ("P31", ("P", 31, "", False)),
        ("153Eu", ("Eu", 153, "", False)),  # Qtegra
        ("111Cd (KED)", ("Cd", 111, "KED", False)),
        ("Ag 107", ("Ag", 107, "", False)),  # PerkinElmer
        ("115In (ISTD)", ("In", 115, "", True)),
    ],
)
def test_channel_label_styles(label: str, expected: tuple[str, int, str, bool]) -> None:
    channel = parse_isotope_label(label)
    assert channel is not None
    assert (channel.element, channel.isotope_mass, channel.cell_mode, channel.is_internal_standard) == expected
    assert channel.label == label


@pytest.mark.parametrize("label", ["Sample", "Total", "CPS", "Conc. [ ppb ]", "139 La [He] [O2]", "La", "1234 La", ""])
def test_labels_that_are_not_channels(label: str) -> None:
    assert parse_isotope_label(label) is None


@pytest.mark.parametrize(
    ("label", "fragment"), [("139  Xx  [ No Gas ] ", "'Xx'"), ("56  La  [ He ] ", "no isotope of La"), ("Qq12", "'Qq'")]
)
def test_channel_shaped_labels_with_an_impossible_element_or_mass(label: str, fragment: str) -> None:
    with pytest.raises(ChannelLabelError, match=fragment):
        parse_isotope_label(label)


# -- bad files: every error names the file, the line and the column ----------------------------


def _set_cell(text: str, line: int, column: int, value: str) -> bytes:
    lines = text.split("\n")
    fields = lines[line - 1].split(";")
    fields[column] = value
    lines[line - 1] = ";".join(fields)
    return "\n".join(lines).encode()


def _error(data: bytes) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as error:
        agilent_masshunter.parse(data, file_name=NAME)
    assert str(error.value).startswith(NAME)
    return error.value


# Field 7 + 4k is the CPS of channel k, + 2 its Conc., + 3 its Conc. RSD; line 61 is 059SMPL.
NA_CONC = 7 + 3 * 4 + 2


@pytest.mark.parametrize("cell", ["abc", "1.2.3", "12 ppb", "--5", "<", "0x10", "1_000", "١٢"])
def test_non_numeric_concentration(real_text: str, cell: str) -> None:
    error = _error(_set_cell(real_text, 61, NA_CONC, cell))
    assert (error.line, error.column) == (61, "'Conc. [ ppb ]' of 23 Na [ He ]")


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-Infinity", "1e999", "<inf"])
def test_nan_and_infinity_are_refused(real_text: str, cell: str) -> None:
    error = _error(_set_cell(real_text, 61, NA_CONC, cell))
    assert (error.line, error.column) == (61, "'Conc. [ ppb ]' of 23 Na [ He ]")
    assert "number" in error.message


@pytest.mark.parametrize(("column", "header"), [(NA_CONC + 1, "'Conc. RSD' of 23 Na [ He ]"), (283, "'CPS' of 45 Sc ( ISTD ) [ He ]")])
def test_nan_in_rsd_and_istd_columns(real_text: str, column: int, header: str) -> None:
    error = _error(_set_cell(real_text, 61, column, "nan"))
    assert (error.line, error.column) == (61, header)


def test_header_only(real_text: str) -> None:
    error = _error("\n".join(real_text.split("\n")[:2]).encode())
    assert error.line == 3
    assert "no acquisitions" in error.message


def test_one_header_row_only(real_text: str) -> None:
    error = _error(real_text.split("\n")[0].encode())
    assert error.line == 2


def test_truncated_last_row(real_text: str) -> None:
    data = real_text.rstrip("\n")
    error = _error(data[: data.rindex("\n") + 400].encode())
    assert error.line == 112
    assert "truncated" in error.message


def test_row_with_more_fields_than_the_header(real_text: str) -> None:
    lines = real_text.split("\n")
    lines[40] += ";12.5"
    error = _error("\n".join(lines).encode())
    assert error.line == 41
    assert "288 fields" in error.message


def test_duplicate_channel_label(real_text: str) -> None:
    error = _error(real_text.replace("57  Fe  [ He ] ", "56  Fe  [ He ] ", 1).encode())
    assert (error.line, error.column) == (1, "56 Fe [ He ]")
    assert "twice" in error.message


def test_duplicate_channel_in_another_spelling(real_text: str) -> None:
    error = _error(real_text.replace("57  Fe  [ He ] ", "56Fe [He]", 1).encode())
    assert (error.line, error.column) == (1, "56Fe [He]")


def test_unknown_element_in_a_label(real_text: str) -> None:
    error = _error(real_text.replace("139  La  [ No Gas ] ", "139  Lx  [ No Gas ] ").encode())
    assert (error.line, error.column) == (1, "139 Lx [ No Gas ]")
    assert "'Lx'" in error.message


def test_a_label_that_is_not_a_channel(real_text: str) -> None:
    error = _error(real_text.replace("139  La  [ No Gas ] ", "Lanthanum total").encode())
    assert (error.line, error.column) == (1, "Lanthanum total")
    assert "not a channel label" in error.message


def test_measurement_columns_without_a_channel_label(real_text: str) -> None:
    error = _error(real_text.replace(";7  Li  [ No Gas ] ;", ";;", 1).encode())
    assert (error.line, error.column) == (1, "Sample")


@pytest.mark.parametrize(
    ("column", "cell", "header", "fragment"),
    [
        (1, "PEUT-ETRE", "Rjct", "true/false"),
        (3, "19/13/2018 10:42", "Acq. Date-Time", "date"),
        (3, "yesterday", "Acq. Date-Time", "date"),
        (3, "12/25/2018 10:42", "Acq. Date-Time", "day-first"),
        (5, "two", "Level", "whole number"),
        (5, "2.5", "Level", "whole number"),
    ],
)
def test_bad_sample_cells(real_text: str, column: int, cell: str, header: str, fragment: str) -> None:
    error = _error(_set_cell(real_text, 61, column, cell))
    assert (error.line, error.column) == (61, header)
    assert fragment in error.message


def test_concentration_column_without_a_unit(real_text: str) -> None:
    error = _error(real_text.replace("Conc. [ ppb ]", "Conc.", 1).encode())
    assert (error.line, error.column) == (2, "Conc.")


def test_no_sample_name_column(real_text: str) -> None:
    error = _error(real_text.replace(";Sample Name;", ";Sample Label;", 1).encode())
    assert error.line == 2
    assert "Sample Name" in error.message


def test_repeated_column_within_a_channel(real_text: str) -> None:
    error = _error(real_text.replace("Conc. RSD", "Conc. [ ppb ]", 1).encode())
    assert (error.line, error.column) == (2, "Conc. [ ppb ]")


def test_unterminated_quote_names_its_line(real_text: str) -> None:
    lines = real_text.split("\n")
    lines[50] = lines[50].replace(";0;", ';"0;', 1)
    error = _error("\n".join(lines).encode())
    assert error.line is not None
    assert error.line >= 51


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0, max_value=REAL.stat().st_size - 1), junk=st.binary(min_size=0, max_size=12), cut=st.booleans())
def test_damaged_file_gives_a_run_or_a_format_error(real_text: str, position: int, junk: bytes, cut: bool) -> None:
    data = REAL.read_bytes()
    damaged = data[:position] + junk + (b"" if cut else data[position + len(junk) :])
    outcome: ParsedRun | ImportFormatError
    try:
        outcome = agilent_masshunter.parse(damaged, file_name=NAME)
    except ImportFormatError as error:
        outcome = error
    assert isinstance(outcome, ParsedRun) or outcome.file_name == NAME
