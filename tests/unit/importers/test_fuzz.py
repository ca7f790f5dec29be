"""Fuzzing every parser: whatever the bytes, parse returns a ParsedRun or raises ImportFormatError.

Inputs: random bytes, random text over the characters exports are made of, and mutations of
valid files (real fixtures and the tests' own exports): byte flips, truncation, inserted
delimiters, quotes, line breaks and odd tokens, deleted and repeated spans. Workbooks are also
fuzzed cell by cell. 200 examples per parser and strategy keep it to seconds.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from assays.importers import perkinelmer_syngistix, registry
from assays.importers.core import ImportFormatError, ParsedRun
from tests.unit.importers.export_builders import (
    GENERIC_LONG_CSV,
    WINLAB_CSV,
    qtegra_concentration_csv,
    read_fixture,
    syngistix_workbook,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FORMATS = registry.format_names()


def _agilent_head() -> bytes:
    # The whole real batch is 340 kB; its header rows and a few acquisitions carry every quirk.
    lines = read_fixture("agilent_masshunter_batch_full_semicolon.csv").split(b"\n")
    return b"\n".join(lines[:8]) + b"\n"


_QTEGRA_OES = read_fixture("thermo_qtegra_icapoes_conc_semicolon.csv")
_WINLAB_REAL = read_fixture("perkinelmer_winlab32_style_test_fixture.csv")
# Each parser is fuzzed mostly from its own valid files (so that mutations reach past the header),
# and sometimes from the others'.
OWN_SEEDS: dict[str, tuple[bytes, ...]] = {
    "agilent-masshunter": (_agilent_head(),),
    "agilent-batchlog": (read_fixture("agilent_masshunter_7700_BatchLog.csv"),),
    "agilent-time-resolved": (read_fixture("agilent_masshunter_7700_1d_time_resolved.csv"),),
    "thermo-qtegra-time-resolved": (read_fixture("thermo_qtegra_icapRQ_time_resolved_ldr.csv"),),
    "thermo-qtegra": (
        _QTEGRA_OES,
        qtegra_concentration_csv().encode("utf-8"),
        qtegra_concentration_csv(decimal_comma=True).encode("utf-16"),
        qtegra_concentration_csv(delimiter=",", index_row=False).encode("utf-8"),
    ),
    "perkinelmer-syngistix": (_WINLAB_REAL, WINLAB_CSV.encode("utf-8"), syngistix_workbook()),
    "generic-long": (
        GENERIC_LONG_CSV.encode("utf-8"),
        GENERIC_LONG_CSV.replace(",", ";").encode("cp1252", "replace"),
        b"sample_id,analyte,value,unit,replicate,basis\nS1,Nd,1.5,ppm,1,solid\nS1,Nd,1.6,ppm,2,solid\n",
    ),
}
SEEDS: tuple[bytes, ...] = tuple(seed for seeds in OWN_SEEDS.values() for seed in seeds)

TOKENS = (
    b",",
    b";",
    b"\t",
    b'"',
    b"\n",
    b"\r\n",
    b"\r",
    b"<",
    b">",
    b"-",
    b"NaN",
    b"inf",
    b"1e999",
    b"N/A",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3\xa9",
    b"Y (ppm)",
    b"Conc. average",
    b"Raw.Average",
    b"Sample ID",
    b"(ISTD)",
    b"[ He ]",
    b"{85}",
    b"|",
    b".16O",
    b"31/02/2021",
    b"FAUX",
    b"9" * 400,
)


@st.composite
def mutated(draw: st.DrawFn, own: tuple[bytes, ...] = SEEDS) -> bytes:
    seeds = own if draw(st.integers(min_value=0, max_value=4)) else SEEDS
    data = bytearray(draw(st.sampled_from(seeds)))
    operations = draw(
        st.lists(
            st.tuples(
                st.sampled_from(("flip", "truncate", "insert", "delete", "repeat")),
                st.integers(min_value=0, max_value=2**31),
                st.integers(min_value=1, max_value=255),
                st.sampled_from(TOKENS),
            ),
            min_size=1,
            max_size=4,
        )
    )
    for operation, position, amount, token in operations:
        at = position % (len(data) + 1)
        if operation == "flip" and data:
            data[at % len(data)] ^= amount
        elif operation == "truncate":
            del data[at:]
        elif operation == "insert":
            data[at:at] = token
        elif operation == "delete":
            del data[at : at + amount]
        elif operation == "repeat":
            data[at:at] = data[at : at + amount]
    return bytes(data)


EXPORT_TEXT = st.text(
    alphabet=st.sampled_from(list(',;\t"\n\r <>.-0123456789eE%()[]{}|/µ²⁻ ABCDFHIKLNOPRSTYZacdeghilmnoprstuy')), max_size=400
)
RANDOM_INPUT = st.one_of(
    st.binary(max_size=600),
    EXPORT_TEXT.map(lambda text: text.encode("utf-8")),
    EXPORT_TEXT.map(lambda text: ("sample_id,analyte,value,unit,qualifier,lod,loq\n" + text).encode("utf-8")),
    EXPORT_TEXT.map(lambda text: (";;Conc. average;Raw.Average\n;;0;0\n;;153Eu;115In (ISTD)\n;;Y (ppb);Y (cps)\n" + text).encode("utf-8")),
    EXPORT_TEXT.map(lambda text: ("Sample ID,Analyte Name,Date,Time,Reported Conc (Calib),Units (Samp)\n" + text).encode("utf-8")),
)


def _parses_or_refuses(data: bytes, format: str | None) -> None:
    try:
        run = registry.parse(data, file_name="fuzz.csv", format=format)
    except ImportFormatError as error:
        refusal = str(error)
    else:
        _check_run(run)
        return
    assert refusal.startswith("fuzz.csv")


def _check_run(run: ParsedRun) -> None:
    assert isinstance(run, ParsedRun)
    assert run.file_name.startswith("fuzz.")
    for acquisition in run.acquisitions:
        for value in acquisition.values:
            assert 0 <= value.channel < len(run.channels)
            assert value.value is None or value.value == value.value  # never NaN


@pytest.mark.parametrize("format", FORMATS)
@FUZZ
@given(data=RANDOM_INPUT)
def test_random_input(format: str, data: bytes) -> None:
    _parses_or_refuses(data, format)


@pytest.mark.parametrize("format", FORMATS)
@FUZZ
@given(data=st.data())
def test_mutated_valid_files(format: str, data: st.DataObject) -> None:
    _parses_or_refuses(data.draw(mutated(OWN_SEEDS.get(format, SEEDS))), format)


def test_every_parser_has_seeds_of_its_own() -> None:
    assert set(OWN_SEEDS) == set(FORMATS)
    for name, seeds in OWN_SEEDS.items():
        if registry.FORMATS[FORMATS.index(name)].importable:
            assert all(registry.parse(seed, file_name="seed.csv", format=name).acquisitions for seed in seeds)


@FUZZ
@given(data=st.one_of(mutated(), RANDOM_INPUT))
def test_auto_detection(data: bytes) -> None:
    _parses_or_refuses(data, None)


CELL = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.sampled_from(list("<>0123456789.,-eE NA/ptm%()kgLµ")), max_size=12),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)),
)
HEADER_CELL = st.one_of(
    st.sampled_from(["Sample Id", "R", "Acquisition Time", "A/S Loc", "QC Status", "Dataset File", "Ag 107 (mg/kg)", "Nd 146", "mg/kg"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=10),  # openpyxl cannot write control characters
    st.none(),
)


@FUZZ
@given(
    sheet=st.sampled_from(["Conc. in Sample Units", "Conc in sample units", "Sheet1"]),
    header=st.lists(HEADER_CELL, max_size=10),
    rows=st.lists(st.lists(CELL, max_size=10), max_size=6),
)
def test_syngistix_workbook_cells(sheet: str, header: list[object], rows: list[list[object]]) -> None:
    workbook = Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = sheet
    worksheet.append(header)
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    try:
        run = perkinelmer_syngistix.parse(buffer.getvalue(), file_name="fuzz.xlsx")
    except ImportFormatError as error:
        refusal = str(error)
    else:
        _check_run(run)
        return
    assert refusal.startswith("fuzz.xlsx")
