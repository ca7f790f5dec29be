"""Every export format the LIMS knows, and the choice of one for a file.

Adding a format is one ``FormatSpec`` in ``_SPECS``: a module with

- ``sniff(data: bytes, text: str | None, file_name: str) -> int``: 0 (not this format) to 100
  (certainly this format). ``text`` is the decoded file (None when it is not text); a sniffer
  reads only the head of it, so detection stays cheap on a large file.
- ``parse(data: bytes, *, file_name: str) -> ParsedRun``, raising ``ImportFormatError``; a format
  with ``defers_values`` also takes ``defer_values=True`` (``ParsedAcquisition.load_values``).

Files that are recognised only to be refused (a batch log, a time-resolved export) are formats
too, with ``importable=False``: detection names them, and their ``parse`` says what the file is
and which export to use instead. That is better than "unknown format" for the person at the
instrument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assays.importers import agilent_batchlog, agilent_masshunter, generic_long, perkinelmer_syngistix, thermo_qtegra, time_resolved
from assays.importers.core import ImportFormatError, ParsedRun
from assays.importers.text import cyclic_gc_paused, decode_export

Sniffer = Callable[[bytes, "str | None", str], int]
Parser = Callable[..., ParsedRun]

# Below this score a sniffer's guess is not trusted: the user has to name the format.
DETECTION_THRESHOLD = 50


@dataclass(frozen=True, slots=True)
class FormatSpec:
    name: str
    sniff: Sniffer
    parse: Parser
    description: str
    importable: bool = True  # False: recognised, then refused with a message saying what to export
    defers_values: bool = False  # its parse can leave each row's values to be read when needed


_SPECS: tuple[FormatSpec, ...] = (
    FormatSpec(
        "agilent-masshunter",
        agilent_masshunter.sniff,
        agilent_masshunter.parse,
        "Agilent MassHunter ICP-MS batch table export (CSV, 2 header rows: channels, then CPS / Conc. columns)",
        defers_values=True,
    ),
    FormatSpec(
        "agilent-batchlog",
        agilent_batchlog.sniff,
        agilent_batchlog.parse,
        "Agilent MassHunter BatchLog.csv (acquisition sequence and dilutions, no results)",
        importable=False,
    ),
    FormatSpec(
        "agilent-time-resolved",
        time_resolved.sniff_agilent,
        time_resolved.parse_agilent,
        "Agilent MassHunter time-resolved CSV from inside a .d folder (intensity against time, no results)",
        importable=False,
    ),
    FormatSpec(
        "thermo-qtegra-time-resolved",
        time_resolved.sniff_qtegra,
        time_resolved.parse_qtegra,
        "Thermo Qtegra time-resolved (LDR) CSV export (intensity against time, no results)",
        importable=False,
    ),
    FormatSpec(
        thermo_qtegra.FORMAT,
        thermo_qtegra.sniff,
        thermo_qtegra.parse,
        "Thermo Qtegra quantitative CSV export (iCAP ICP-MS and ICP-OES; header rows: quantity, index, analyte, unit)",
    ),
    FormatSpec(
        perkinelmer_syngistix.FORMAT,
        perkinelmer_syngistix.sniff,
        perkinelmer_syngistix.parse,
        "PerkinElmer Syngistix 'Conc. in Sample Units' workbook (.xlsx) or WinLab32/Syngistix long CSV (one row per sample x analyte)",
    ),
    FormatSpec(
        generic_long.FORMAT,
        generic_long.sniff,
        generic_long.parse,
        "Generic long CSV: sample_id, analyte, value, unit[, qualifier, lod, loq, replicate, basis], one result per row",
    ),
)


@dataclass(frozen=True, slots=True)
class FormatInfo:
    name: str
    description: str
    importable: bool


# For the UI and the CLI: every format by name, in the order above.
FORMATS: tuple[FormatInfo, ...] = tuple(FormatInfo(spec.name, spec.description, spec.importable) for spec in _SPECS)

_BY_NAME: dict[str, FormatSpec] = {spec.name: spec for spec in _SPECS}
if len(_BY_NAME) != len(_SPECS):  # pragma: no cover - a programming error caught at import
    raise RuntimeError("two export formats share a name")


def format_names(*, importable_only: bool = False) -> list[str]:
    return [spec.name for spec in _SPECS if spec.importable or not importable_only]


def _known_formats() -> str:
    return ", ".join(spec.name for spec in _SPECS if spec.importable)


def _spec(name: str, *, file_name: str) -> FormatSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ImportFormatError(f"unknown format {name!r}; the known formats are: {_known_formats()}", file_name=file_name) from None


def detect_format(data: bytes, *, file_name: str) -> str:
    """The name of the format that recognises this file best. Raises when none does."""
    text: str | None
    decode_error: ImportFormatError | None = None
    try:
        text = decode_export(data, file_name=file_name)
    except ImportFormatError as error:
        # Not text (or empty): binary formats (xlsx) may still recognise it.
        text, decode_error = None, error
    best_name, best_score = "", 0
    for spec in _SPECS:
        score = spec.sniff(data, text, file_name)
        if score > best_score:
            best_name, best_score = spec.name, score
    if best_score >= DETECTION_THRESHOLD:
        return best_name
    if decode_error is not None:
        raise decode_error
    raise ImportFormatError(
        f"not a format this LIMS recognises; the known formats are: {_known_formats()} (choose one explicitly if the file is one of them)",
        file_name=file_name,
    )


def parse(data: bytes, *, file_name: str, format: str | None = None, defer_values: bool = False) -> ParsedRun:
    """Parse one export into a ParsedRun, detecting its format unless ``format`` names it.

    ``defer_values``: a format that can leaves each acquisition's values unread, to be read by
    ``ParsedAcquisition.load_values`` (where a bad cell is then reported); the others parse whole.
    An import reads them while the database stores the rows before (``services.runs``).
    """
    name = format if format is not None else detect_format(data, file_name=file_name)
    spec = _spec(name, file_name=file_name)
    with cyclic_gc_paused():
        if defer_values and spec.defers_values:
            return spec.parse(data, file_name=file_name, defer_values=True)
        return spec.parse(data, file_name=file_name)
