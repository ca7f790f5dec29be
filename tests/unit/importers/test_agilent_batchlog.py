"""MassHunter BatchLog.csv: refused as results, read for its dilution factors."""

from __future__ import annotations

from pathlib import Path

import pytest

from assays.importers.agilent_batchlog import read_batch_log
from assays.importers.core import ImportFormatError
from assays.importers.registry import detect_format, parse

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared/fixtures/instruments"
BATCHLOG = FIXTURES / "agilent_masshunter_7700_BatchLog.csv"


def _with_dilutions(dilutions: list[str], names: list[str] | None = None) -> bytes:
    """The real batch log with its ``Total Dil.`` (and optionally ``Sample Name``) cells replaced."""
    lines = BATCHLOG.read_bytes().decode().split("\r\n")
    header = lines[0].split(",")
    dilution_at, name_at = header.index("Total Dil."), header.index("Sample Name")
    for index, dilution in enumerate(dilutions, start=1):
        fields = lines[index].split(",")
        fields[dilution_at] = dilution
        if names is not None:
            fields[name_at] = names[index - 1]
        lines[index] = ",".join(fields)
    return "\r\n".join(lines).encode()


def test_real_batch_log_is_detected_and_refused_as_results() -> None:
    data = BATCHLOG.read_bytes()
    assert detect_format(data, file_name="BatchLog.csv") == "agilent-batchlog"
    with pytest.raises(ImportFormatError, match="a batch log, not results") as error:
        parse(data, file_name="BatchLog.csv")
    assert (error.value.file_name, error.value.line) == ("BatchLog.csv", 1)
    assert "File > Export > Batch table" in error.value.message


def test_real_batch_log_has_no_dilutions() -> None:
    # Every Total Dil. cell of the real file is "-": nothing to pick up, and that is not an error.
    assert read_batch_log(BATCHLOG.read_bytes(), file_name="BatchLog.csv") == {}


def test_dilutions_by_data_file_and_by_sample_name() -> None:
    data = _with_dilutions(["10", "-", "2.5", "10", "20"], names=["A", "B", "C", "A", "A"])
    assert read_batch_log(data, file_name="BatchLog.csv") == {
        "1.d": 10.0,
        "3.d": 2.5,
        "4.d": 10.0,
        "5.d": 20.0,
        "C": 2.5,  # "A" has two factors: only its data files say which
    }


def test_decimal_comma_dilutions() -> None:
    data = _with_dilutions(["2,5", "10", "-", "-", "-"]).replace(b",", b";")
    # the semicolon version: every comma became a semicolon, so restore the decimal comma
    data = data.replace(b";2;5;", b";2,5;")
    assert read_batch_log(data, file_name="BatchLog.csv")["1.d"] == 2.5


@pytest.mark.parametrize("cell", ["0", "-3", "abc", "nan"])
def test_bad_dilution_names_line_and_column(cell: str) -> None:
    with pytest.raises(ImportFormatError) as error:
        read_batch_log(_with_dilutions(["10", "10", cell, "10", "10"]), file_name="BatchLog.csv")
    assert (error.value.file_name, error.value.line, error.value.column) == ("BatchLog.csv", 4, "Total Dil.")


def test_not_a_batch_log() -> None:
    with pytest.raises(ImportFormatError, match="not a MassHunter batch log"):
        read_batch_log((FIXTURES / "agilent_masshunter_batch_full_semicolon.csv").read_bytes(), file_name="User_Raw.csv")
    with pytest.raises(ImportFormatError):
        read_batch_log(b";;;\n", file_name="x.csv")


def test_batch_log_without_total_dilution_column() -> None:
    data = BATCHLOG.read_bytes().replace(b"Total Dil.", b"Something")
    with pytest.raises(ImportFormatError, match=r"no 'Total Dil\.' column") as error:
        read_batch_log(data, file_name="BatchLog.csv")
    assert error.value.line == 1


def test_truncated_batch_log_row() -> None:
    data = BATCHLOG.read_bytes().decode().split("\r\n")
    data[3] = ",".join(data[3].split(",")[:10])
    with pytest.raises(ImportFormatError) as error:
        read_batch_log("\r\n".join(data).encode(), file_name="BatchLog.csv")
    assert error.value.line == 4
