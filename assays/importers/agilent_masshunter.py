"""Agilent MassHunter ICP-MS: the batch table export (Data Analysis > File > Export > Batch table).

Layout, as in the real ``User_Raw.csv`` (``agilent_masshunter_batch_full_semicolon.csv``):

- header row 1: section titles (``Sample`` over the sample columns), then one channel label per
  group of measurement columns: ``139  La  [ No Gas ] `` over ``CPS``, ``CPS RSD``,
  ``Conc. [ ppb ]``, ``Conc. RSD``; internal standards ``45  Sc ( ISTD )  [ He ] `` over ``CPS``,
  ``CPS RSD`` (and ``ISTD Recovery %`` when the method exports it);
- header row 2: the column names; the sample columns are found by name (``Rjct``, ``Data File``,
  ``Acq. Date-Time``, ``Type``, ``Level``, ``Sample Name``), not by position;
- one row per acquisition. ``,`` or ``;``; decimal point or comma (a spreadsheet in a
  decimal-comma locale re-saves it so); ``Rjct`` in the spreadsheet's language (``FAUX``);
  dates day-first, month-first, year-first or ISO; ``<0.000`` for a concentration calculated
  below zero; ``N/A`` where no number could be computed; an empty ``Conc.`` cell for a channel not
  calibrated in that acquisition, which is no value at all and yields no ``ParsedValue``.

Speed matters (a 2,000 x 60 batch must parse faster than PostgreSQL can COPY its values): cells
are split, not matched, and a number is tried with ``float`` before any pattern.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, cast

from assays.importers.channel_labels import ChannelLabelError, parse_isotope_label
from assays.importers.core import (
    ImportFormatError,
    InternalStandardResponse,
    ParsedAcquisition,
    ParsedChannel,
    ParsedRun,
    ParsedValue,
    Qualifier,
    ValueBasis,
)
from assays.importers.text import (
    cyclic_gc_paused,
    decode_export,
    iter_records,
    parse_number,
    parse_reported_value,
    sniff_delimiter,
    uses_decimal_comma,
)

FORMAT_NAME = "agilent-masshunter"

# Sample columns of header row 2, by folded name.
_SAMPLE_COLUMNS = {
    "rjct": "rejected",
    "data file": "data_file",
    "acq. date-time": "acquired_at",
    "acq. date time": "acquired_at",
    "type": "vendor_type",
    "sample type": "vendor_type",
    "level": "level",
    "sample name": "label",
    "total dil.": "dilution",
}

# Excel writes a boolean in the user's language when it re-saves the file.
_TRUE = frozenset(
    {"true", "vrai", "wahr", "vero", "verdadero", "verdadeiro", "waar", "sant", "sann", "tosi", "prawda", "pravda", "igaz"}
    | {"doğru", "истина", "1", "yes", "y", "x"}
)
_FALSE = frozenset(
    {"false", "faux", "falsch", "falso", "onwaar", "falskt", "falsk", "usann", "epätosi", "fałsz", "nepravda", "hamis"}
    | {"yanliş", "ложь", "0", "no", "n", ""}
)

_SOLID_UNITS = frozenset({"mg/kg", "µg/g", "μg/g", "ug/g", "g/kg", "µg/kg", "μg/kg", "ug/kg", "ng/g", "%", "wt%", "wt.%", "% w/w"})

_DATE = re.compile(
    r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([AaPp]\.?[Mm]\.?)?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2})?$",
    re.ASCII,
)
_UNIT = re.compile(r"\[([^\]]*)\]")


@dataclass(slots=True)
class _Group:
    """One channel's columns."""

    label: str
    cps: int | None = None
    conc: int | None = None
    conc_rsd: int | None = None
    recovery: int | None = None
    measured: bool = False  # it has CPS / Conc. / RSD columns, so its label must be a channel
    unit: str = ""
    conc_header: str = ""
    rsd_header: str = ""


def _fold(cell: str) -> str:
    return " ".join(cell.split()).lower()


def _head_rows(text: str, count: int) -> list[str]:
    return [line for line in text[:65536].split("\n", count + 5)[: count + 5] if line.strip()][:count]


def sniff(data: bytes, text: str | None, file_name: str) -> int:
    if not text:
        return 0
    head = _head_rows(text, 2)
    if len(head) < 2:
        return 0
    for delimiter in ";,\t":
        names = {_fold(cell).strip('"') for cell in head[1].split(delimiter)}
        if "sample name" not in names:
            continue
        score = 40
        score += 10 * sum(1 for name in ("data file", "acq. date-time", "type", "rjct") if name in names)
        if "cps" in names or any(name.startswith("conc.") for name in names):
            score += 10
        if "[" in head[0] or "istd" in head[0].lower():
            score += 5
        return min(score, 95)
    return 0


def _column_plan(row1: list[str], row2: list[str], *, file_name: str) -> tuple[dict[str, int], list[_Group]]:
    """Where the sample columns are, and each channel group's columns."""
    sample_columns: dict[str, int] = {}
    groups: list[_Group] = []
    current: _Group | None = None
    for index, name in enumerate(row2):
        folded = _fold(name)
        title = row1[index].strip()
        role = _SAMPLE_COLUMNS.get(folded)
        if role is not None and not title:
            if role in sample_columns:
                raise ImportFormatError(f"the column {name.strip()!r} appears twice", file_name=file_name, line=2, column=name.strip())
            sample_columns[role] = index
            continue
        if title:
            current = _Group(label=row1[index])
            groups.append(current)
            if role is not None:  # a section title over a sample column: ``Sample`` over its first column
                sample_columns.setdefault(role, index)
                continue
        if current is None or not folded:
            continue
        _assign(current, index, name, folded, file_name=file_name)
    return sample_columns, groups


def _assign(group: _Group, index: int, name: str, folded: str, *, file_name: str) -> None:
    slot: str | None
    if folded == "cps":
        slot = "cps"
    elif folded.startswith("conc") and "rsd" in folded:
        slot = "conc_rsd"
    elif folded.startswith("conc"):
        slot = "conc"
    elif "recovery" in folded:
        slot = "recovery"
    elif folded.startswith("cps"):  # CPS RSD: the spread of the counts is not stored
        group.measured = True
        return
    else:
        return  # a column the LIMS does not use (QC flags, ratios): ignored
    group.measured = True
    if getattr(group, slot) is not None:
        raise ImportFormatError(
            f"the column {name.strip()!r} appears twice under {_fold(group.label)!r}", file_name=file_name, line=2, column=name.strip()
        )
    setattr(group, slot, index)
    if slot == "conc":
        units = _UNIT.findall(name)
        unit = " ".join(units[0].split()) if units else ""
        if not unit:
            raise ImportFormatError(
                f"the concentration column of {_fold(group.label)!r} names no unit (expected like 'Conc. [ ppb ]')",
                file_name=file_name,
                line=2,
                column=name.strip(),
            )
        group.unit = unit
        group.conc_header = f"{name.strip()!r} of {' '.join(group.label.split())}"
    elif slot == "conc_rsd":
        group.rsd_header = f"{name.strip()!r} of {' '.join(group.label.split())}"


def _channels(groups: list[_Group], *, file_name: str) -> list[tuple[_Group, ParsedChannel]]:
    channels: list[tuple[_Group, ParsedChannel]] = []
    seen: dict[tuple[str, bool], str] = {}
    for group in groups:
        if not group.measured:
            continue  # a section title such as ``Sample``
        shown = " ".join(group.label.split())
        try:
            channel = parse_isotope_label(group.label)
        except ChannelLabelError as error:
            raise ImportFormatError(
                f"the channel label {shown!r} cannot be right: {error}", file_name=file_name, line=1, column=shown
            ) from None
        if channel is None:
            raise ImportFormatError(
                f"{shown!r} heads measurement columns but is not a channel label (expected like '139  La  [ No Gas ]')",
                file_name=file_name,
                line=1,
                column=shown,
            )
        key = (channel.code, channel.is_internal_standard)
        if key in seen:
            raise ImportFormatError(
                f"the channel {shown!r} appears twice (also as {seen[key]!r}); each channel must have one set of columns",
                file_name=file_name,
                line=1,
                column=shown,
            )
        seen[key] = shown
        channels.append((group, channel))
    return channels


def _rejected(cell: str, *, file_name: str, line: int, column: str) -> bool:
    folded = cell.strip().lower()
    if folded in _FALSE:
        return False
    if folded in _TRUE:
        return True
    raise ImportFormatError(f"not a true/false value: {cell.strip()!r}", file_name=file_name, line=line, column=column)


def _level(cell: str, *, file_name: str, line: int, column: str) -> int | None:
    text = cell.strip()
    if text in {"", "-"}:
        return None
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        number = -1.0
    if not math.isfinite(number) or not 0 <= number <= 10_000 or number != int(number):
        raise ImportFormatError(f"a calibration level is a whole number, not {text!r}", file_name=file_name, line=line, column=column)
    return int(number)


def _dates(cells: list[tuple[int, str]], *, column: str, file_name: str) -> tuple[list[dt.datetime | None], str]:
    """Every acquisition time, and a warning when the day/month order had to be assumed.

    ``19/12/2018`` is day-first in any locale; whether ``05/06/2018`` is 5 June or 6 May is
    decided for the whole file at once: by a field above 12 somewhere, else by an AM/PM clock
    (a US locale), else day-first with a warning.
    """
    parts: list[tuple[int, str, re.Match[str] | None]] = []
    day_first_line = month_first_line = 0
    twelve_hour = False
    for line, text in cells:
        stripped = text.strip()
        if not stripped or stripped == "-":
            parts.append((line, stripped, None))
            continue
        match = _DATE.match(stripped)
        if match is None:
            raise ImportFormatError(f"not a date and time: {stripped!r}", file_name=file_name, line=line, column=column)
        parts.append((line, stripped, match))
        if len(match.group(1)) < 4:
            first, second = int(match.group(1)), int(match.group(2))
            if first > 12 and not day_first_line:
                day_first_line = line
            if second > 12 and not month_first_line:
                month_first_line = line
            twelve_hour |= match.group(7) is not None
    day_first_evidence, month_first_evidence = bool(day_first_line), bool(month_first_line)
    if day_first_evidence and month_first_evidence:
        raise ImportFormatError(
            f"the dates mix day-first (line {day_first_line}) and month-first (line {month_first_line}) orders",
            file_name=file_name,
            line=max(day_first_line, month_first_line),
            column=column,
        )
    day_first = day_first_evidence or not (month_first_evidence or twelve_hour)
    ambiguous = not day_first_evidence and not month_first_evidence and any(match and len(match.group(1)) < 4 for _, _, match in parts)
    warning = ""
    if ambiguous:
        order = "day-first (dd/mm/yyyy)" if day_first else "month-first (mm/dd/yyyy, the clock is 12-hour)"
        warning = f"no date in the file tells day from month; the dates were read {order}"
    result: list[dt.datetime | None] = []
    for line, stripped, match in parts:
        if match is None:
            result.append(None)
            continue
        a, b, c = match.group(1), match.group(2), match.group(3)
        if len(a) == 4:
            year, month, day = int(a), int(b), int(c)
        else:
            year = int(c) + (2000 if len(c) <= 2 else 0)
            day, month = (int(a), int(b)) if day_first else (int(b), int(a))
        hour = int(match.group(4) or 0)
        minute = int(match.group(5) or 0)
        second = int(match.group(6) or 0)
        meridiem = (match.group(7) or "").replace(".", "").lower()
        if meridiem:
            if not 1 <= hour <= 12:
                raise ImportFormatError(f"not a 12-hour clock time: {stripped!r}", file_name=file_name, line=line, column=column)
            hour = hour % 12 + (12 if meridiem == "pm" else 0)
        try:
            result.append(dt.datetime(year, month, day, hour, minute, second))  # the instrument's local time, naive
        except ValueError as error:
            raise ImportFormatError(
                f"not a valid date and time: {stripped!r} ({error})", file_name=file_name, line=line, column=column
            ) from None
    return result, warning


def parse(data: bytes, *, file_name: str, defer_values: bool = False) -> ParsedRun:
    """The batch table as a ParsedRun. ``defer_values``: each acquisition's concentrations are read
    by its ``load_values`` (the row's cells are kept until then); everything else is read now."""
    with cyclic_gc_paused():
        return _parse(data, file_name=file_name, defer_values=defer_values)


def _parse(data: bytes, *, file_name: str, defer_values: bool) -> ParsedRun:
    text = decode_export(data, file_name=file_name)
    head = _head_rows(text, 2)
    if len(head) < 2:
        raise ImportFormatError(
            "a MassHunter batch table has two header rows; this file has fewer", file_name=file_name, line=len(head) + 1
        )
    delimiter = sniff_delimiter(head, file_name=file_name, candidates=";,\t")
    records = iter_records(text, delimiter=delimiter, file_name=file_name)
    header_rows = list(itertools.islice(records, 2))
    if len(header_rows) < 2:
        raise ImportFormatError("a MassHunter batch table has two header rows; this file has fewer", file_name=file_name, line=2)
    (_, row1), (line2, row2) = header_rows
    width = len(row2)
    if len(row1) > width and any(cell.strip() for cell in row1[width:]):
        raise ImportFormatError(f"header row 1 has {len(row1)} fields, header row 2 has {width}", file_name=file_name, line=1)
    row1 = (row1 + [""] * width)[:width]
    sample_columns, groups = _column_plan(row1, row2, file_name=file_name)
    if "label" not in sample_columns:
        raise ImportFormatError("no 'Sample Name' column in the second header row", file_name=file_name, line=line2)
    plan = _channels(groups, file_name=file_name)
    if not plan:
        raise ImportFormatError("no channel columns: the first header row names no isotope", file_name=file_name, line=1)

    # Rows are read as they are parsed, so that each row's cells are freed before the next is
    # split; the first rows are held back to tell a decimal comma from a decimal point.
    first_rows = list(itertools.islice(records, 20))
    if not first_rows:
        raise ImportFormatError("the file has its two header rows but no acquisitions", file_name=file_name, line=line2 + 1)
    decimal_comma = _decimal_comma(first_rows, plan)

    channels = [channel for _, channel in plan]
    analytes = [
        _Analyte(index, group.unit, _basis(group.unit), group.conc_header, group.rsd_header)
        for index, (group, channel) in enumerate(plan)
        if not channel.is_internal_standard and group.conc is not None
    ]
    # One C-level gather per row instead of an index per cell; a missing RSD column reads the
    # empty cell appended after the row's last field.
    conc_cells = _gather([group.conc for group, channel in plan if not channel.is_internal_standard and group.conc is not None])
    rsd_cells = _gather(
        [
            width if group.conc_rsd is None else group.conc_rsd
            for group, channel in plan
            if not channel.is_internal_standard and group.conc is not None
        ]
    )
    standards = [(index, group) for index, (group, channel) in enumerate(plan) if channel.is_internal_standard]
    warnings: list[str] = []
    if not analytes:
        warnings.append("the batch table has no 'Conc.' columns: counts only, no concentrations to import")

    at = sample_columns.get
    label_at, type_at, level_at, file_at = sample_columns["label"], at("vendor_type"), at("level"), at("data_file")
    rejected_at, date_at, dilution_at = at("rejected"), at("acquired_at"), at("dilution")

    def header(index: int | None) -> str:
        return row2[index].strip() if index is not None else ""

    acquisitions: list[ParsedAcquisition] = []
    tokens: dict[str, tuple[float | None, Qualifier]] = {}
    date_cells: list[tuple[int, str]] = []
    for sequence, (line, fields) in enumerate(itertools.chain(first_rows, records), start=1):
        if len(fields) != width:
            if len(fields) < width:
                raise ImportFormatError(
                    f"the row has {len(fields)} fields where the header has {width}: a truncated or damaged row",
                    file_name=file_name,
                    line=line,
                )
            if any(cell.strip() for cell in fields[width:]):
                raise ImportFormatError(f"the row has {len(fields)} fields where the header has {width}", file_name=file_name, line=line)
        acquisition = ParsedAcquisition(
            sequence=sequence,
            label=fields[label_at].strip(),
            vendor_type=fields[type_at].strip() if type_at is not None else "",
            calibration_level=_level(fields[level_at], file_name=file_name, line=line, column=header(level_at))
            if level_at is not None
            else None,
            rejected_by_instrument=(
                _rejected(fields[rejected_at], file_name=file_name, line=line, column=header(rejected_at))
                if rejected_at is not None
                else False
            ),
            data_file=fields[file_at].strip() if file_at is not None else "",
            line=line,
        )
        if dilution_at is not None:
            dilution = parse_number(
                fields[dilution_at], decimal_comma=decimal_comma, file_name=file_name, line=line, column=header(dilution_at)
            )
            if dilution is not None and dilution <= 0:
                raise ImportFormatError(
                    f"a dilution factor must be positive, not {fields[dilution_at].strip()!r}",
                    file_name=file_name,
                    line=line,
                    column=header(dilution_at),
                )
            acquisition.dilution_factor = dilution
        if date_at is not None:
            date_cells.append((line, fields[date_at]))

        if analytes:
            if len(fields) == width:
                fields.append("")  # the cell read for a channel without a 'Conc. RSD' column
            read_values = functools.partial(
                _row_values,
                analytes,
                conc_cells(fields),
                rsd_cells(fields),
                decimal_comma=decimal_comma,
                file_name=file_name,
                line=line,
                tokens=tokens,
            )
            if defer_values:
                acquisition.deferred_values = read_values
            else:
                acquisition.values = read_values()
        for channel_index, group in standards:
            cps = _number(fields, group.cps, decimal_comma=decimal_comma, file_name=file_name, line=line, row2=row2, group=group)
            recovery = _number(fields, group.recovery, decimal_comma=decimal_comma, file_name=file_name, line=line, row2=row2, group=group)
            if cps is not None or recovery is not None:
                acquisition.internal_standards.append(
                    InternalStandardResponse(channel=channel_index, counts_per_second=cps, recovery_percent=recovery)
                )
        acquisitions.append(acquisition)

    if date_at is not None:
        times, warning = _dates(date_cells, column=header(date_at), file_name=file_name)
        for acquisition, acquired_at in zip(acquisitions, times, strict=True):
            acquisition.acquired_at = acquired_at
        if warning:
            warnings.append(warning)
    return ParsedRun(
        format=FORMAT_NAME,
        file_name=file_name,
        channels=channels,
        acquisitions=acquisitions,
        holds_concentrations=bool(analytes),
        instrument_hint="Agilent MassHunter",
        warnings=warnings,
    )


# The hot loop builds ParsedValue positionally (keywords cost a sixth of the parse time): this
# fails at import, not silently, if core.py ever reorders or adds fields.
# The last two (a reported U and its k) are left to their defaults: an instrument states no U.
_VALUE_FIELDS = (
    *("channel", "value", "qualifier", "unit", "basis", "raw_text", "rsd_percent", "lod", "loq", "replicate", "line"),
    *("expanded_u", "coverage_factor"),
)
if tuple(field.name for field in dataclasses.fields(ParsedValue)) != _VALUE_FIELDS:  # pragma: no cover
    raise RuntimeError("ParsedValue's fields changed: update the positional call in agilent_masshunter._row_values")


class _Analyte(NamedTuple):
    channel: int
    unit: str
    basis: ValueBasis
    conc_header: str
    rsd_header: str


def _gather(columns: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    if not columns:
        return lambda fields: ()
    if len(columns) == 1:
        only = columns[0]
        return lambda fields: (fields[only],)
    getter = operator.itemgetter(*columns)
    return cast("Callable[[list[str]], tuple[str, ...]]", getter)


def _row_values(
    analytes: list[_Analyte],
    conc_cells: tuple[str, ...],
    rsd_cells: tuple[str, ...],
    *,
    decimal_comma: bool,
    file_name: str,
    line: int,
    tokens: dict[str, tuple[float | None, Qualifier]],
) -> list[ParsedValue]:
    """The concentrations of one acquisition: the hot loop of the parser, kept flat for speed."""
    # float() also reads "nan", "inf", "1_0" and non-ASCII digits: checked once for the row, and
    # then cell by cell the strict way only in a row that holds such a character.
    joined = "".join(conc_cells) + "".join(rsd_cells)
    plain = joined.isascii() and "_" not in joined
    equal = Qualifier.EQUAL
    values: list[ParsedValue] = []
    append = values.append
    for (channel, unit, basis, conc_header, rsd_header), cell, rsd_cell in zip(analytes, conc_cells, rsd_cells, strict=True):
        if not cell:
            continue  # not calibrated in this acquisition: no value, not a missing one
        value: float | None
        try:
            value = float(cell.replace(",", ".") if decimal_comma else cell)
            if value - value or not plain:  # NaN or inf (x - x is 0.0 for every finite x)
                raise ValueError(cell)
            qualifier = equal
        except ValueError:
            # ``<0.000`` and ``N/A`` come back thousands of times: read each spelling once.
            known = tokens.get(cell)
            if known is None:
                known = parse_reported_value(cell, decimal_comma=decimal_comma, file_name=file_name, line=line, column=conc_header)
                tokens[cell] = known
            value, qualifier = known
            if value is None and not cell.strip():
                continue
        rsd: float | None
        try:
            rsd = float(rsd_cell.replace(",", ".") if decimal_comma else rsd_cell)
            if rsd - rsd or not plain:
                raise ValueError(rsd_cell)
        except ValueError:
            rsd = parse_number(rsd_cell, decimal_comma=decimal_comma, file_name=file_name, line=line, column=rsd_header)
        append(ParsedValue(channel, value, qualifier, unit, basis, cell, rsd, None, None, "", line))
    return values


def _number(
    fields: list[str], index: int | None, *, decimal_comma: bool, file_name: str, line: int, row2: list[str], group: _Group
) -> float | None:
    if index is None:
        return None
    cell = fields[index]
    try:
        number = float(cell.replace(",", ".") if decimal_comma else cell)
        if not (number - number or "_" in cell or not cell.isascii()):
            return number
    except ValueError:
        pass
    return parse_number(
        cell,
        decimal_comma=decimal_comma,
        file_name=file_name,
        line=line,
        column=f"{row2[index].strip()!r} of {' '.join(group.label.split())}",
    )


def _basis(unit: str) -> ValueBasis:
    return ValueBasis.SOLID if unit.replace(" ", "").lower() in _SOLID_UNITS else ValueBasis.SOLUTION


def _decimal_comma(rows: list[tuple[int, list[str]]], plan: list[tuple[_Group, ParsedChannel]]) -> bool:
    """Decided on the measurement cells of the first rows (a cell with a separator in each)."""
    columns = [index for group, _ in plan for index in (group.cps, group.conc, group.conc_rsd, group.recovery) if index is not None]
    sample = [
        fields[index] for _, fields in rows for index in columns if index < len(fields) and ("," in fields[index] or "." in fields[index])
    ]
    return uses_decimal_comma(sample)
