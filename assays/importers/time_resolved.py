"""Time-resolved exports: recognised, then refused with what to export instead.

A time-resolved file holds the intensity of each isotope against time during one acquisition
(Agilent's per-acquisition CSV inside ``N.d``, Qtegra's LDR export). It has no concentrations
and no sample identity, so there is nothing to import; but "unknown format" would leave the
technician guessing, so each is named and the message says which export holds the results.
"""

from __future__ import annotations

from assays.importers.core import ImportFormatError, ParsedRun
from assays.importers.text import decode_export

_HEAD = 8192

AGILENT_ADVICE = (
    "export the batch table from MassHunter's Data Analysis (File > Export > Batch table, as CSV) "
    "and import that file: it holds every acquisition's concentrations"
)
QTEGRA_ADVICE = (
    "in Qtegra, use the Concentration export from the LabBook's evaluation results "
    "(the quantitative export, one row per sample) and import that file"
)


def _head_lines(text: str | None, count: int) -> list[str]:
    if not text:
        return []
    return text[:_HEAD].split("\n", count)[:count]


def sniff_agilent(data: bytes, text: str | None, file_name: str) -> int:
    """``<path>.d`` / ``Intensity Vs Time,CPS`` / ``Acquired : …`` / ``Time [Sec],P31,…``."""
    lines = _head_lines(text, 6)
    if len(lines) < 4:
        return 0
    score = 0
    if lines[1].strip().lower().startswith("intensity vs time"):
        score += 50
    if any(line.strip().lower().startswith("time [sec]") for line in lines[2:6]):
        score += 40
    if lines[0].strip().lower().endswith(".d"):
        score += 5
    if any(line.strip().lower().startswith("acquired") for line in lines[1:4]):
        score += 5
    return min(score, 100)


def parse_agilent(data: bytes, *, file_name: str) -> ParsedRun:
    text = decode_export(data, file_name=file_name)
    lines = _head_lines(text, 3)
    source = lines[0].strip() if lines and lines[0].strip().lower().endswith(".d") else ""
    what = f" of acquisition {source}" if source else ""
    raise ImportFormatError(
        f"this is an Agilent MassHunter time-resolved export{what} (intensity in CPS against time, from inside a .d "
        f"folder), not a results report; nothing in it can be imported: {AGILENT_ADVICE}",
        file_name=file_name,
    )


def sniff_qtegra(data: bytes, text: str | None, file_name: str) -> int:
    """``Key:Name=Value;`` preamble naming Qtegra, then ``Time,31P,…`` and a ``dwell time=`` row."""
    if not text:
        return 0
    head = text[:_HEAD]
    lower = head.lower()
    score = 0
    if "software:name=qtegra" in lower:
        score += 30
    lines = head.split("\n")
    for index, line in enumerate(lines[:-1]):
        if line.strip().lower().startswith("time,") and "dwell time=" in lines[index + 1].lower():
            score += 68
            break
    return min(score, 100)


def parse_qtegra(data: bytes, *, file_name: str) -> ParsedRun:
    text = decode_export(data, file_name=file_name)
    machine = ""
    for line in text[:_HEAD].split("\n"):
        if line.lower().startswith("configuration:"):
            for pair in line.split(":", 1)[1].split(";"):
                key, _, value = pair.partition("=")
                if key.strip().lower() == "machine" and value.strip():
                    machine = f" ({value.strip()})"
            break
    raise ImportFormatError(
        f"this is a Thermo Qtegra time-resolved (LDR) export{machine}: intensity in counts per second against time "
        f"for one acquisition, not concentrations; nothing in it can be imported: {QTEGRA_ADVICE}",
        file_name=file_name,
    )
