"""``thermo-qtegra``: the Thermo Qtegra quantitative CSV export (iCAP RQ/TQ ICP-MS, iCAP PRO ICP-OES).

PURE. Qtegra's export engine writes a header of several rows above the acquisitions, each row
describing every value column; the leading columns (sequence number, sample label) are empty in
the header::

    ;;Raw.Average;Raw.STD;Conc. average;Conc. RSD        <- quantity (always the first row)
    ;;0;0;0;0                                           <- an index row of integers
    ;;153Eu;153Eu;111Cd (KED);111Cd (KED)                 <- analyte labels
    ;;Y (cps);Y (cps);Y (ppb);Y (%)                      <- units, as chart axis labels
    1;BLK;2.3;0.4;0.001;12.5

The rows after the first are told apart by their content (integers, ``Y (…)`` units, labels), so
a file missing the index row reads too. ``Y (ppm)`` is the y-axis caption "Y (ppm)": it is a unit,
never yttrium. Labels: ICP-MS ``153Eu``, ``111Cd (KED)``, triple-quad ``75As | 75As.16O (TQ-O2)``
or ``75As.16O (TQ-O2)``, internal standards marked ``(ISTD)``; ICP-OES ``Al 394.401 {85}
(Radial)``.

The ICP-OES export in the fixtures holds intensities (``Raw.Average``, ``Raw.STD``) and the
standards' nominal concentrations (``ExtCal.StandardConcentration``), but no sample
concentration: it parses (acquisitions, channels) with ``holds_concentrations=False``. The
ICP-MS concentration export (``Conc. average`` in ``Y (ppb)``) gives values with their units.
Quantities this parser does not know (``ExtCal.Slope`` …) are skipped with a warning.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

from assays.chemistry.units import UnitError
from assays.importers import time_resolved
from assays.importers.analytes import AnalyteLabelError, element_symbol, oes_line
from assays.importers.channel_labels import ChannelLabelError, parse_isotope_label
from assays.importers.core import (
    ImportFormatError,
    InternalStandardResponse,
    ParsedAcquisition,
    ParsedChannel,
    ParsedRun,
    ParsedValue,
    ValueBasis,
)
from assays.importers.tabular import cell_beyond_header, clip, column_letter
from assays.importers.text import (
    cyclic_gc_paused,
    decode_export,
    iter_records,
    parse_number,
    parse_reported_value,
    sniff_delimiter,
    uses_decimal_comma,
)
from assays.importers.units import read_unit

FORMAT = "thermo-qtegra"
INTENSITIES_ONLY = "intensities only, no concentrations to import"
_MAX_HEADER_ROWS = 8


class Quantity(enum.Enum):
    CONCENTRATION = "concentration"
    CONCENTRATION_RSD = "concentration RSD"
    CONCENTRATION_SD = "concentration SD"
    INTENSITY = "intensity"
    INTENSITY_SD = "intensity SD"
    INTENSITY_RSD = "intensity RSD"
    NOMINAL = "nominal standard concentration"
    RECOVERY = "internal standard recovery"


def _quantity_key(text: str) -> str:
    return re.sub(r"[\s._\-]", "", text).casefold()


_QUANTITIES: dict[str, Quantity] = {
    **dict.fromkeys(
        (
            "conc",
            "concaverage",
            "concavg",
            "concmean",
            "concentration",
            "concentrationaverage",
            "concentrationmean",
            "extcalconcentration",
            "extcalconcentrationaverage",
            "extcalaverageconcentration",
        ),
        Quantity.CONCENTRATION,
    ),
    **dict.fromkeys(
        ("concrsd", "conc%rsd", "concrsd%", "concentrationrsd", "extcalconcentrationrsd", "extcalconcentration%rsd"),
        Quantity.CONCENTRATION_RSD,
    ),
    **dict.fromkeys(
        ("concsd", "concstd", "concstdev", "concentrationsd", "concentrationstd", "extcalconcentrationsd", "extcalconcentrationstd"),
        Quantity.CONCENTRATION_SD,
    ),
    **dict.fromkeys(("rawaverage", "rawavg", "rawmean", "intensityaverage", "cpsaverage"), Quantity.INTENSITY),
    **dict.fromkeys(("rawstd", "rawsd", "rawstdev", "intensitysd", "intensitystd"), Quantity.INTENSITY_SD),
    **dict.fromkeys(("rawrsd", "raw%rsd", "intensityrsd"), Quantity.INTENSITY_RSD),
    **dict.fromkeys(("extcalstandardconcentration", "standardconcentration", "extcalnominalconcentration"), Quantity.NOMINAL),
    **dict.fromkeys(("isrecovery", "istdrecovery", "internalstandardrecovery", "recovery", "isrecovery%"), Quantity.RECOVERY),
}

_INTEGER = re.compile(r"^-?\d+$")
_UNIT_CELL = re.compile(r"^(?:Y\s*)?[(\[]\s*([^()\[\]]*?)\s*[)\]]$")
_SPECIES = re.compile(r"^(\d{1,3})([A-Za-z]{1,2})((?:\.\d{1,3}[A-Za-z]{1,2}\d?)*)$")
_ADDUCT = re.compile(r"\.(\d{1,3})([A-Za-z]{1,2})(\d?)")
_PARENS = re.compile(r"\(([^()]*)\)")


def sniff(data: bytes, text: str | None, file_name: str) -> int:
    if text is None:
        return 0
    head = [line for line in text[:50_000].split("\n", 12)[:12] if line.strip()][:6]
    if not head:
        return 0
    try:
        delimiter = sniff_delimiter(head[:1], file_name=file_name)
    except ImportFormatError:
        return 0
    first = head[0].split(delimiter)
    known = sum(1 for cell in first if _quantity_key(cell) in _QUANTITIES)
    if known == 0:
        return 0
    score = 60
    if not first[0].strip():
        score += 15
    if any(_UNIT_CELL.match(cell.strip()) for line in head[1:] for cell in line.split(delimiter) if cell.strip().startswith("Y")):
        score += 15
    return score


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    quantity: Quantity
    channel: int
    unit: str  # canonical spelling for concentration columns, else as written
    basis: ValueBasis | None
    where: str  # for messages: "C 'Al 394.401 {85} (Radial)' Raw.Average"


def _species_mass(text: str, *, label: str) -> tuple[str, int, int]:
    """``75As.16O`` -> ("As", 75, 91): element and mass of the first atom, mass of the ion."""
    match = _SPECIES.match(text.strip())
    if match is None:
        raise AnalyteLabelError(f"{label.strip()!r} is not an analyte label")
    symbol = element_symbol(match.group(2))
    if symbol is None:
        raise AnalyteLabelError(f"{match.group(2)!r} in {label.strip()!r} is not an element symbol")
    mass = int(match.group(1))
    total = mass
    for adduct_mass, adduct_symbol, count in _ADDUCT.findall(match.group(3)):
        if element_symbol(adduct_symbol) is None:
            raise AnalyteLabelError(f"{adduct_symbol!r} in {label.strip()!r} is not an element symbol")
        total += int(adduct_mass) * int(count or 1)
    return symbol, mass, total


def _triple_quad(label: str) -> ParsedChannel | None:
    """Qtegra's mass-shift labels: ``75As | 75As.16O (TQ-O2)`` or ``75As.16O (TQ-O2)``."""
    groups = [" ".join(group.split()) for group in _PARENS.findall(label)]
    core = " ".join(_PARENS.sub(" ", label).split())
    if "|" not in core and "." not in core:
        return None
    internal_standard = any(group.upper() == "ISTD" for group in groups)
    modes = [group for group in groups if group.upper() != "ISTD"]
    if len(modes) > 1:
        raise AnalyteLabelError(f"{label.strip()!r} names more than one cell mode")
    if "|" in core:
        first, _, second = core.partition("|")
        element, mass, _ = _species_mass(first, label=label)
        _, _, product = _species_mass(second, label=label)
    else:
        element, mass, product = _species_mass(core, label=label)
    return ParsedChannel(
        label=label,
        element=element,
        isotope_mass=mass,
        cell_mode=modes[0] if modes else "",
        q1_mass=mass,
        q2_mass=product,
        is_internal_standard=internal_standard,
    )


def read_label(label: str) -> ParsedChannel:
    """The channel a Qtegra analyte label names. Raises ``AnalyteLabelError``."""
    text = label.strip()
    channel = oes_line(text)
    if channel is None:
        channel = _triple_quad(text)
    if channel is None:
        try:
            channel = parse_isotope_label(text)
        except ChannelLabelError as error:
            raise AnalyteLabelError(str(error)) from None
    if channel is None:
        raise AnalyteLabelError(
            f"{text[:60]!r} is not an analyte label (expected e.g. '153Eu', '111Cd (KED)' or 'Al 394.401 {{85}} (Radial)')"
        )
    return channel


@dataclass(slots=True)
class _Header:
    leading: int  # columns before the first value column: sequence number, sample label
    width: int  # up to the last named quantity
    raw_width: int  # cells in the quantity row, trailing empty ones included
    columns: list[_Column]
    channels: list[ParsedChannel]
    first_data: int  # index into rows
    ignored: list[str]


def _read_header(rows: list[tuple[int, list[str]]], *, file_name: str) -> _Header:
    quantity_line, quantity_row = rows[0]
    leading = next((index for index, cell in enumerate(quantity_row) if cell.strip()), len(quantity_row))
    if leading == 0:
        raise ImportFormatError(
            "the first row must leave the sample columns empty and name a quantity (Raw.Average, Conc. average …) over each value column",
            file_name=file_name,
            line=quantity_line,
            column="A",
        )
    width = len(quantity_row)
    while width > leading and not quantity_row[width - 1].strip():
        width -= 1
    if width <= leading:
        raise ImportFormatError("the quantity row names no quantity", file_name=file_name, line=quantity_line)

    first_data = 1
    while first_data < len(rows) and not any(cell.strip() for cell in rows[first_data][1][:leading]):
        first_data += 1
    if first_data > _MAX_HEADER_ROWS:
        raise ImportFormatError(
            f"no acquisition row within the first {_MAX_HEADER_ROWS} rows: every row leaves the sample columns empty",
            file_name=file_name,
            line=rows[min(first_data, len(rows)) - 1][0],
        )

    label_row: tuple[int, list[str]] | None = None
    unit_row: tuple[int, list[str]] | None = None
    index_row: tuple[int, list[str]] | None = None
    for line, row in rows[1:first_data]:
        cells = [cell.strip() for cell in row[leading:width]]
        filled = [cell for cell in cells if cell]
        if not filled:
            continue
        if any(cell.strip() for cell in row[width:]):
            raise ImportFormatError(
                f"{len(row)} cells where the quantity row has {width}", file_name=file_name, line=line, column=column_letter(width)
            )
        if all(_INTEGER.match(cell) for cell in filled):
            role, found = "index", index_row
            index_row = (line, row)
        elif all(_UNIT_CELL.match(cell) for cell in filled):
            role, found = "unit", unit_row
            unit_row = (line, row)
        else:
            role, found = "analyte", label_row
            label_row = (line, row)
        if found is not None:
            raise ImportFormatError(f"two {role} rows in the header (lines {found[0]} and {line})", file_name=file_name, line=line)
    if label_row is None:
        raise ImportFormatError(
            "no analyte row in the header (a row of labels such as '153Eu' or 'Al 394.401 {85} (Radial)')",
            file_name=file_name,
            line=quantity_line,
        )

    channels: list[ParsedChannel] = []
    by_code: dict[str, int] = {}
    columns: list[_Column] = []
    seen: dict[tuple[Quantity, int], int] = {}
    ignored: list[str] = []
    label_line, labels = label_row
    for index in range(leading, width):
        quantity_text = quantity_row[index].strip()
        if not quantity_text:
            raise ImportFormatError(
                "a value column without a quantity", file_name=file_name, line=quantity_line, column=column_letter(index)
            )
        quantity = _QUANTITIES.get(_quantity_key(quantity_text))
        if quantity is None:
            if quantity_text not in ignored:
                ignored.append(quantity_text)
            continue
        label = labels[index] if index < len(labels) else ""
        if not label.strip():
            raise ImportFormatError(
                f"no analyte label over a {quantity_text} column", file_name=file_name, line=label_line, column=column_letter(index)
            )
        where = f"{column_letter(index)} {clip(label, 40)} {quantity_text}"
        try:
            channel = read_label(label)
        except AnalyteLabelError as error:
            raise ImportFormatError(f"unknown analyte: {error}", file_name=file_name, line=label_line, column=where) from None
        code = channel.code
        channel_index = by_code.get(code)
        if channel_index is None:
            channel_index = by_code[code] = len(channels)
            channels.append(channel)
        elif channels[channel_index].is_internal_standard != channel.is_internal_standard:
            raise ImportFormatError(
                f"{clip(label, 40)} is marked as an internal standard in one column and not in another",
                file_name=file_name,
                line=label_line,
                column=where,
            )
        first = seen.get((quantity, channel_index))
        if first is not None:
            raise ImportFormatError(
                f"duplicate channel: columns {column_letter(first)} and {column_letter(index)} both hold {quantity_text} of {code}",
                file_name=file_name,
                line=label_line,
                column=where,
            )
        seen[(quantity, channel_index)] = index
        unit_text = ""
        if unit_row is not None and index < len(unit_row[1]):
            unit_match = _UNIT_CELL.match(unit_row[1][index].strip())
            unit_text = unit_match.group(1) if unit_match else ""
        unit, basis = unit_text, None
        if quantity is Quantity.CONCENTRATION and not channel.is_internal_standard:
            try:
                # Qtegra reports what was measured, in the solution, unless its unit says otherwise.
                unit, basis = read_unit(unit_text, stated=None, default=ValueBasis.SOLUTION)
            except UnitError as error:
                problem = str(error) if unit_text else "no unit"
                raise ImportFormatError(
                    f"{problem} for a concentration column (the unit row gives it as 'Y (ppb)')",
                    file_name=file_name,
                    line=unit_row[0] if unit_row is not None else label_line,
                    column=where,
                ) from None
        columns.append(_Column(index=index, quantity=quantity, channel=channel_index, unit=unit, basis=basis, where=where))
    if not columns:
        raise ImportFormatError(
            f"no quantity this parser reads (found: {', '.join(clip(name, 30) for name in ignored)})",
            file_name=file_name,
            line=quantity_line,
        )
    return _Header(
        leading=leading,
        width=width,
        raw_width=len(quantity_row),
        columns=columns,
        channels=channels,
        first_data=first_data,
        ignored=ignored,
    )


def parse(data: bytes, *, file_name: str) -> ParsedRun:
    with cyclic_gc_paused():
        return _parse(data, file_name=file_name)


def _parse(data: bytes, *, file_name: str) -> ParsedRun:
    text = decode_export(data, file_name=file_name)
    if time_resolved.sniff_qtegra(data, text, file_name) >= 50:
        # The same software's other export: say what it is rather than "no quantity row".
        return time_resolved.parse_qtegra(data, file_name=file_name)
    head = [line for line in text.split("\n", 12)[:12] if line.strip()]
    delimiter = sniff_delimiter(head[:1], file_name=file_name)
    rows = list(iter_records(text, delimiter=delimiter, file_name=file_name))
    if not rows:  # pragma: no cover - decode_export refuses a blank file first
        raise ImportFormatError("the file is empty", file_name=file_name)
    header = _read_header(rows, file_name=file_name)
    body = rows[header.first_data :]
    if not body:
        raise ImportFormatError("no acquisitions: the file holds a header and no rows", file_name=file_name, line=rows[-1][0] + 1)

    value_indexes = [column.index for column in header.columns]
    decimal_comma = delimiter != "," and uses_decimal_comma(
        [row[index] for _, row in body[:200] for index in value_indexes if index < len(row)]
    )
    by_quantity: dict[Quantity, list[_Column]] = {}
    for column in header.columns:
        by_quantity.setdefault(column.quantity, []).append(column)
    concentration_columns = [
        column for column in by_quantity.get(Quantity.CONCENTRATION, []) if not header.channels[column.channel].is_internal_standard
    ]
    spread: dict[tuple[Quantity, int], _Column] = {
        (column.quantity, column.channel): column
        for column in header.columns
        if column.quantity in {Quantity.CONCENTRATION_RSD, Quantity.CONCENTRATION_SD, Quantity.INTENSITY, Quantity.RECOVERY}
    }
    standards = [channel for channel, parsed in enumerate(header.channels) if parsed.is_internal_standard]

    acquisitions: list[ParsedAcquisition] = []
    sequences: dict[int, int] = {}
    for line, row in body:
        acquisitions.append(
            _acquisition(
                line,
                row,
                header=header,
                file_name=file_name,
                decimal_comma=decimal_comma,
                concentration_columns=concentration_columns,
                spread=spread,
                standards=standards,
                position=len(acquisitions) + 1,
            )
        )
        sequence = acquisitions[-1].sequence
        if sequence in sequences:
            raise ImportFormatError(
                f"acquisition number {sequence} again: line {line} repeats line {sequences[sequence]}",
                file_name=file_name,
                line=line,
                column="A",
            )
        sequences[sequence] = line

    warnings: list[str] = []
    holds_concentrations = bool(concentration_columns)
    if not holds_concentrations:
        warnings.append(INTENSITIES_ONLY)
    if header.ignored:
        warnings.append(f"quantities not read: {', '.join(clip(name, 40) for name in header.ignored)}")
    is_oes = any(channel.wavelength_nm is not None for channel in header.channels)
    return ParsedRun(
        format=FORMAT,
        file_name=file_name,
        channels=header.channels,
        acquisitions=acquisitions,
        holds_concentrations=holds_concentrations,
        instrument_hint=f"Thermo Qtegra ({'ICP-OES' if is_oes else 'ICP-MS'})",
        warnings=warnings,
    )


def _acquisition(
    line: int,
    row: list[str],
    *,
    header: _Header,
    file_name: str,
    decimal_comma: bool,
    concentration_columns: list[_Column],
    spread: dict[tuple[Quantity, int], _Column],
    standards: list[int],
    position: int,
) -> ParsedAcquisition:
    if len(row) < header.width:
        raise ImportFormatError(
            f"{len(row)} cells where the header has {header.width} (a truncated row?)",
            file_name=file_name,
            line=line,
            column=column_letter(len(row)),
        )
    extra = cell_beyond_header(row, width=header.width, header_width=header.raw_width)
    if extra is not None:
        raise ImportFormatError(
            f"{len(row)} cells where the header has {header.width}", file_name=file_name, line=line, column=column_letter(extra)
        )
    sequence = position
    if header.leading >= 2:
        sequence_text = row[0].strip()
        if not _INTEGER.match(sequence_text) or len(sequence_text) > 9:
            raise ImportFormatError(f"not an acquisition number: {clip(sequence_text, 30)}", file_name=file_name, line=line, column="A")
        sequence = int(sequence_text)
    label = row[1 if header.leading >= 2 else 0].strip()
    if not label:
        raise ImportFormatError("no sample label", file_name=file_name, line=line, column=column_letter(1 if header.leading >= 2 else 0))

    numbers: dict[int, float | None] = {}
    for column in header.columns:
        if column.quantity is Quantity.CONCENTRATION:
            continue
        numbers[column.index] = _number(row[column.index], column=column, line=line, file_name=file_name, decimal_comma=decimal_comma)

    acquisition = ParsedAcquisition(sequence=sequence, label=label, line=line)
    nominal = [numbers[column.index] for column in header.columns if column.quantity is Quantity.NOMINAL]
    if nominal:
        given = [value for value in nominal if value is not None]
        # The export names no sample type; a nominal concentration is what makes a row a standard.
        acquisition.vendor_type = "Sample" if not given else ("CalBlk" if all(value == 0 for value in given) else "CalStd")

    for column in concentration_columns:
        raw = row[column.index]
        if len(raw) > 100:
            raise ImportFormatError(f"not a number: {clip(raw)}", file_name=file_name, line=line, column=column.where)
        value, qualifier = parse_reported_value(raw, decimal_comma=decimal_comma, file_name=file_name, line=line, column=column.where)
        rsd = _spread(numbers, spread, column.channel, value)
        acquisition.values.append(
            ParsedValue(
                channel=column.channel,
                value=value,
                qualifier=qualifier,
                unit=column.unit,
                basis=column.basis or ValueBasis.SOLUTION,
                raw_text=raw.strip(),
                rsd_percent=rsd,
                line=line,
            )
        )
    for channel in standards:
        counts = spread.get((Quantity.INTENSITY, channel))
        recovery = spread.get((Quantity.RECOVERY, channel))
        if counts is None and recovery is None:
            continue
        acquisition.internal_standards.append(
            InternalStandardResponse(
                channel=channel,
                counts_per_second=numbers[counts.index] if counts is not None else None,
                recovery_percent=numbers[recovery.index] if recovery is not None else None,
            )
        )
    return acquisition


def _number(text: str, *, column: _Column, line: int, file_name: str, decimal_comma: bool) -> float | None:
    if len(text) > 100:
        raise ImportFormatError(f"not a number: {clip(text)}", file_name=file_name, line=line, column=column.where)
    return parse_number(text, decimal_comma=decimal_comma, file_name=file_name, line=line, column=column.where)


def _spread(
    numbers: dict[int, float | None], spread: dict[tuple[Quantity, int], _Column], channel: int, value: float | None
) -> float | None:
    rsd_column = spread.get((Quantity.CONCENTRATION_RSD, channel))
    if rsd_column is not None:
        return numbers[rsd_column.index]
    sd_column = spread.get((Quantity.CONCENTRATION_SD, channel))
    if sd_column is None or value is None or value == 0:
        return None
    sd = numbers[sd_column.index]
    if sd is None:
        return None
    rsd = abs(100.0 * sd / value)
    return rsd if math.isfinite(rsd) else None
