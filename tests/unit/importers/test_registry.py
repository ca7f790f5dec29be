"""The format registry: detection over every real fixture, explicit formats, and what it refuses."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from assays.importers import registry
from assays.importers.core import ImportFormatError, ParsedRun
from assays.importers.registry import FORMATS, detect_format, format_names, parse
from assays.importers.text import decode_export

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared/fixtures/instruments"
MASSHUNTER = FIXTURES / "agilent_masshunter_batch_full_semicolon.csv"

# What this part of the registry must recognise in the real files.
EXPECTED = {
    "agilent_masshunter_batch_full_semicolon.csv": "agilent-masshunter",
    "agilent_masshunter_7700_BatchLog.csv": "agilent-batchlog",
    "agilent_masshunter_7700_1d_time_resolved.csv": "agilent-time-resolved",
    "thermo_qtegra_icapRQ_time_resolved_ldr.csv": "thermo-qtegra-time-resolved",
}


@pytest.mark.parametrize(("file_name", "format_name"), sorted(EXPECTED.items()))
def test_real_fixtures_are_detected(file_name: str, format_name: str) -> None:
    data = (FIXTURES / file_name).read_bytes()
    assert detect_format(data, file_name=file_name) == format_name
    # Detection reads the content, not the name.
    assert detect_format(data, file_name="upload.bin") == format_name


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.csv")), ids=lambda path: path.name)
def test_every_sniffer_scores_every_real_fixture_without_raising(path: Path) -> None:
    data = path.read_bytes()
    text = decode_export(data, file_name=path.name)
    scores = {spec.name: spec.sniff(data, text, path.name) for spec in registry._SPECS}
    assert all(isinstance(score, int) and 0 <= score <= 100 for score in scores.values()), scores
    # No file is claimed with confidence by two formats.
    assert sum(1 for score in scores.values() if score >= registry.DETECTION_THRESHOLD) <= 1, scores
    # And a sniffer handed no text (a binary file) does not fail either.
    assert all(0 <= spec.sniff(data, None, path.name) <= 100 for spec in registry._SPECS)


def test_the_standards_companion_is_not_mistaken_for_results() -> None:
    data = (FIXTURES / "agilent_masshunter_batch_full_standards.csv").read_bytes()
    with pytest.raises(ImportFormatError) as error:
        detect_format(data, file_name="User_Std.csv")
    assert error.value.file_name == "User_Std.csv"
    assert "known formats" in error.value.message
    for name in format_names(importable_only=True):
        assert name in error.value.message


def test_unrecognised_text_lists_the_known_formats() -> None:
    with pytest.raises(ImportFormatError, match="agilent-masshunter") as error:
        parse(b"hello,world\n1,2\n", file_name="notes.csv")
    assert str(error.value).startswith("notes.csv:")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"PK\x03\x04\x00\x00garbage\x00\x00", "binary"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ],
)
def test_empty_and_binary_files(data: bytes, fragment: str) -> None:
    with pytest.raises(ImportFormatError, match=fragment) as error:
        parse(data, file_name="upload.csv")
    assert error.value.file_name == "upload.csv"


def test_explicit_format_skips_detection() -> None:
    data = MASSHUNTER.read_bytes()
    run = parse(data, file_name="x.csv", format="agilent-masshunter")
    assert isinstance(run, ParsedRun)
    assert run.format == "agilent-masshunter"
    assert len(run.acquisitions) == 110


def test_explicit_format_that_does_not_fit_gives_a_format_error() -> None:
    data = (FIXTURES / "thermo_qtegra_icapoes_conc_semicolon.csv").read_bytes()
    with pytest.raises(ImportFormatError) as error:
        parse(data, file_name="qtegra.csv", format="agilent-masshunter")
    assert error.value.file_name == "qtegra.csv"
    assert error.value.line is not None


def test_unknown_format_name_lists_the_known_ones() -> None:
    with pytest.raises(ImportFormatError, match="unknown format 'agilent'") as error:
        parse(MASSHUNTER.read_bytes(), file_name="x.csv", format="agilent")
    assert "agilent-masshunter" in error.value.message


def test_formats_for_the_ui_and_cli() -> None:
    names = [info.name for info in FORMATS]
    assert len(names) == len(set(names))
    assert {"agilent-masshunter", "agilent-batchlog", "agilent-time-resolved", "thermo-qtegra-time-resolved"} <= set(names)
    assert all(info.description for info in FORMATS)
    assert "agilent-masshunter" in format_names(importable_only=True)
    assert "agilent-time-resolved" not in format_names(importable_only=True)
    assert format_names() == names


def test_detection_survives_encodings_and_line_endings() -> None:
    text = MASSHUNTER.read_bytes().decode()
    for data in (text.encode("utf-16"), codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode(), text.replace("\n", "\r").encode()):
        assert detect_format(data, file_name="x.csv") == "agilent-masshunter"
