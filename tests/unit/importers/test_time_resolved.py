"""Time-resolved exports are recognised and refused with what to export instead."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from assays.importers import time_resolved
from assays.importers.core import ImportFormatError
from assays.importers.registry import detect_format, parse
from assays.importers.text import decode_export

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared/fixtures/instruments"
AGILENT = FIXTURES / "agilent_masshunter_7700_1d_time_resolved.csv"
QTEGRA = FIXTURES / "thermo_qtegra_icapRQ_time_resolved_ldr.csv"


def test_agilent_time_resolved_is_refused_with_the_export_to_use() -> None:
    data = AGILENT.read_bytes()
    assert detect_format(data, file_name="1.csv") == "agilent-time-resolved"
    with pytest.raises(ImportFormatError) as error:
        parse(data, file_name="1.csv")
    message = error.value.message
    assert error.value.file_name == "1.csv"
    assert "time-resolved" in message
    assert r"D:\DATA\OM\test_7700.b\1.d" in message  # which acquisition it came from
    assert "not a results report" in message
    assert "File > Export > Batch table" in message
    assert "MassHunter's Data Analysis" in message


def test_qtegra_ldr_is_refused_with_the_export_to_use() -> None:
    data = QTEGRA.read_bytes()
    assert detect_format(data, file_name="test_icap_ldr_1.csv") == "thermo-qtegra-time-resolved"
    with pytest.raises(ImportFormatError) as error:
        parse(data, file_name="test_icap_ldr_1.csv")
    message = error.value.message
    assert "Qtegra time-resolved (LDR)" in message
    assert "(iCAP RQ)" in message
    assert "not concentrations" in message
    assert "Concentration export" in message
    assert "LabBook's evaluation results" in message


@pytest.mark.parametrize("fmt", ["agilent-time-resolved", "thermo-qtegra-time-resolved"])
def test_forcing_the_format_refuses_too(fmt: str) -> None:
    data = (AGILENT if fmt.startswith("agilent") else QTEGRA).read_bytes()
    with pytest.raises(ImportFormatError, match="nothing in it can be imported"):
        parse(data, file_name="f.csv", format=fmt)


@pytest.mark.parametrize("path", [AGILENT, QTEGRA], ids=lambda path: path.name)
def test_recognised_in_any_encoding_and_line_ending(path: Path) -> None:
    text = path.read_bytes().decode().replace("\r\n", "\n")
    expected = detect_format(path.read_bytes(), file_name=path.name)
    for data in (text.encode(), codecs.BOM_UTF8 + text.encode(), text.replace("\n", "\r\n").encode("utf-16"), text.encode("cp1252")):
        assert detect_format(data, file_name=path.name) == expected


def test_sniffers_leave_quantitative_exports_alone() -> None:
    for name in (
        "agilent_masshunter_batch_full_semicolon.csv",
        "thermo_qtegra_icapoes_conc_semicolon.csv",
        "agilent_masshunter_7700_BatchLog.csv",
    ):
        data = (FIXTURES / name).read_bytes()
        text = decode_export(data, file_name=name)
        assert time_resolved.sniff_agilent(data, text, name) == 0
        assert time_resolved.sniff_qtegra(data, text, name) == 0


def test_a_qtegra_preamble_without_a_time_table_is_not_claimed() -> None:
    # The quantitative Qtegra export carries the same Key:Name=Value preamble in some versions.
    text = "Software:Name=Qtegra;Version=2.7;\nConfiguration:Machine=iCAP RQ;\n\nSample;153Eu\nA;1.0\n"
    assert time_resolved.sniff_qtegra(text.encode(), text, "q.csv") < 50


def test_sniffers_on_no_text() -> None:
    assert time_resolved.sniff_agilent(b"\x00\x01", None, "x") == 0
    assert time_resolved.sniff_qtegra(b"\x00\x01", None, "x") == 0
