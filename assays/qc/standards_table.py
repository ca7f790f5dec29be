"""A calibration standards table: the nominal concentration of every calibration level, per channel.

The layout labs keep beside their batch (the fixture ``agilent_masshunter_batch_full_standards.csv``):
a header ``Element;1;2;...;17`` (one column per calibration level), then one row per analyte
channel with its nominal concentration at each level, empty where the channel is not in that
level's series (trace levels and major levels are separate). Rows name the element only and come
in the order of the batch's channels, so an element measured on two isotopes has two rows: the
n-th row of an element belongs to the n-th channel of that element. A row may instead name the
channel outright (``56Fe [He]``, ``Fe 56``), which is then used as it is.

Concentrations are in the table's unit (µg/L by default). PURE: no Django.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from assays.chemistry.elements import ELEMENTS
from assays.importers.core import ImportFormatError
from assays.importers.text import decode_export, iter_records, parse_number, sniff_delimiter, uses_decimal_comma


@dataclass(frozen=True, slots=True)
class StandardsRow:
    line: int
    name: str  # as written: an element symbol or a channel label
    nominals: dict[int, float]  # level -> concentration


@dataclass(frozen=True, slots=True)
class StandardsTable:
    file_name: str
    levels: list[int]
    rows: list[StandardsRow]


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel the table may be assigned to: its canonical code and element."""

    code: str
    element: str | None
    aliases: tuple[str, ...] = ()  # other spellings a row may use (the file's own label)


def parse_standards_table(data: bytes, *, file_name: str) -> StandardsTable:
    text = decode_export(data, file_name=file_name)
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        raise ImportFormatError("the file is empty", file_name=file_name)
    delimiter = sniff_delimiter(lines[:1], file_name=file_name)
    records = list(iter_records(text, delimiter=delimiter, file_name=file_name))
    if not records:  # only delimiters and blanks
        raise ImportFormatError("the file is empty", file_name=file_name)
    header_line, header = records[0]
    levels: list[int] = []
    level_columns: list[tuple[int, int]] = []  # (cell index, level): an unheaded column shifts no level
    for position, cell in enumerate(header[1:], start=2):
        label = cell.strip()
        if not label:
            continue
        # isascii: str.isdigit also accepts "²" and other digits int() refuses
        if not (label.isascii() and label.isdigit()) or int(label) < 1:
            raise ImportFormatError(
                f"a level column must be headed by its level number (1, 2, ...), not {label!r}",
                file_name=file_name,
                line=header_line,
                column=f"{position}",
            )
        levels.append(int(label))
        level_columns.append((position - 1, int(label)))
    if not levels:
        raise ImportFormatError("no calibration level columns after the first column", file_name=file_name, line=header_line)
    if len(set(levels)) != len(levels):
        raise ImportFormatError("a calibration level is named twice in the header", file_name=file_name, line=header_line)
    decimal_comma = delimiter != "," and uses_decimal_comma([cell for _, row in records[1:] for cell in row[1:]])
    rows: list[StandardsRow] = []
    for line, cells in records[1:]:
        name = cells[0].strip()
        if not name:
            raise ImportFormatError("the first column must name the element or channel", file_name=file_name, line=line, column="1")
        if len(cells) - 1 > len(header) - 1 and any(cell.strip() for cell in cells[len(header) :]):
            raise ImportFormatError(
                f"{len(cells)} cells, but the header has {len(header)}", file_name=file_name, line=line, column=str(len(header) + 1)
            )
        unheaded = [index for index, cell in enumerate(cells[1 : len(header)], start=1) if cell.strip() and not header[index].strip()]
        if unheaded:
            raise ImportFormatError(
                "a value in a column without a level number in the header", file_name=file_name, line=line, column=str(unheaded[0] + 1)
            )
        nominals: dict[int, float] = {}
        for index, level in level_columns:
            cell = cells[index] if index < len(cells) else ""
            number = parse_number(cell, decimal_comma=decimal_comma, file_name=file_name, line=line, column=f"level {level}")
            if number is None:
                continue
            if number < 0:
                raise ImportFormatError(
                    f"a nominal concentration cannot be negative ({number:g})", file_name=file_name, line=line, column=f"level {level}"
                )
            nominals[level] = number
        rows.append(StandardsRow(line=line, name=name, nominals=nominals))
    if not rows:
        raise ImportFormatError("the table has a header but no rows", file_name=file_name, line=header_line)
    return StandardsTable(file_name=file_name, levels=levels, rows=rows)


def assign_channels(table: StandardsTable, *, channels: Sequence[ChannelRef]) -> dict[int, dict[str, float]]:
    """level -> channel code -> nominal. Element rows take that element's channels in order."""
    by_label: dict[str, ChannelRef] = {}
    for channel in channels:
        for spelling in (channel.code, *channel.aliases):
            by_label[_fold(spelling)] = channel
    queues: dict[str, list[ChannelRef]] = defaultdict(list)
    for channel in channels:
        if channel.element:
            queues[channel.element].append(channel)
    used: set[str] = set()
    assigned: dict[int, dict[str, float]] = defaultdict(dict)
    for row in table.rows:
        named = by_label.get(_fold(row.name))
        if named is not None:
            channel = named
        else:
            symbol = row.name.strip()
            if symbol not in ELEMENTS:
                raise ImportFormatError(
                    f"{row.name!r} is neither an element symbol nor a channel of the method",
                    file_name=table.file_name,
                    line=row.line,
                    column="1",
                )
            remaining = [candidate for candidate in queues.get(symbol, []) if candidate.code not in used]
            if not remaining:
                count = len(queues.get(symbol, []))
                raise ImportFormatError(
                    f"one {symbol} row more than the method has {symbol} channels ({count})",
                    file_name=table.file_name,
                    line=row.line,
                    column="1",
                )
            channel = remaining[0]
        if channel.code in used:
            raise ImportFormatError(f"a second row for channel {channel.code}", file_name=table.file_name, line=row.line, column="1")
        used.add(channel.code)
        for level, nominal in row.nominals.items():
            assigned[level][channel.code] = nominal
    return dict(assigned)


def _fold(text: str) -> str:
    return "".join(text.split()).lower()
