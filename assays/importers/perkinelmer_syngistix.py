"""``perkinelmer-syngistix``: PerkinElmer Syngistix (NexION) and WinLab32 (Optima, PinAAcle) exports.

PURE. Two layouts, one format name, told apart by the file's first bytes:

- the Syngistix "Conc. in Sample Units" workbook (``.xlsx``): on the sheet of that name, a header
  row ``Sample Id, R, Acquisition Time, A/S Loc, QC Status, Dataset File, Method File`` then one
  column per analyte (``Ag 107``, ``Al 396.153``), one row per sample. The unit comes either with
  the analyte (``Ag 107 (mg/kg)``) or in a units row right under the header. Values in sample
  units are mass fractions of the solid, stored as they are (basis SOLID); ``ppm`` there is mg/kg.
  ``R`` and ``QC Status`` are not read: the layout says nothing of what they hold.
- the WinLab32/Syngistix long CSV: one row per sample x analyte with ``Sample ID, Analyte Name,
  Date, Time, Reported Conc (Calib|Samp), Units (Calib|Samp)``, possibly under a title line. The
  units column's heading says what the values are: ``Units (Samp)`` = sample units (SOLID, as
  in the real fixture, whose values column is headed ``Reported Conc (Calib)``), ``Units
  (Calib)`` = calibration units, i.e. the measured solution.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from dataclasses import dataclass

from assays.chemistry.units import KNOWN_UNITS, Medium, UnitError, unit_lookup
from assays.importers.analytes import AnalyteLabelError, read_analyte
from assays.importers.core import (
    ImportFormatError,
    ParsedAcquisition,
    ParsedChannel,
    ParsedRun,
    ParsedValue,
    Qualifier,
    ValueBasis,
)
from assays.importers.tabular import (
    cell_beyond_header,
    clip,
    column_letter,
    combine,
    date_format,
    datetime_format,
    read_datetime,
    time_format,
)
from assays.importers.text import cyclic_gc_paused, decode_export, iter_records, parse_reported_value, sniff_delimiter, uses_decimal_comma
from assays.importers.units import UnitBasisError, read_unit

FORMAT = "perkinelmer-syngistix"
SHEET = "Conc. in Sample Units"
_ZIP_MAGIC = b"PK\x03\x04"
# A workbook that unpacks to more than this is refused before openpyxl sees it (a zip bomb).
_MAX_UNPACKED_BYTES = 200_000_000
_MAX_SHEET_ROWS = 200_000
_WORKBOOK_META = ("sample id", "r", "acquisition time", "a/s loc", "qc status", "dataset file", "method file")
_UNIT_SUFFIX = re.compile(r"^(.*?)\s*[(\[]\s*([^()\[\]]+?)\s*[)\]]$")


def _key(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").split()).casefold()


def _sheet_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.casefold())


# --- detection -------------------------------------------------------------------------------


def sniff(data: bytes, text: str | None, file_name: str) -> int:
    if data.startswith(_ZIP_MAGIC):
        return _sniff_workbook(data, file_name)
    if text is None:
        return 0
    found = _find_csv_header(text[:50_000])
    if found is None:
        return 0
    keys = set(found[2])
    return 90 if any(key.startswith("reported conc") for key in keys) else 60


def _sniff_workbook(data: bytes, file_name: str) -> int:
    # A damaged archive named .xlsx is still claimed, so that its refusal says "damaged workbook".
    damaged = 50 if file_name.casefold().endswith((".xlsx", ".xlsm")) else 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("xl/workbook.xml")
            if info.file_size > 5_000_000:
                return damaged
            workbook = archive.read(info).decode("utf-8", "replace")
    except Exception:  # no workbook part, or a damaged archive (zipfile raises more than BadZipFile)
        return damaged
    # The workbook part lists the sheet names; ours is a workbook with the Syngistix sheet.
    return 95 if _sheet_key(SHEET) in _sheet_key(workbook) else 55


# --- the long CSV ------------------------------------------------------------------------------


def _find_csv_header(text: str) -> tuple[int, str, list[str]] | None:
    """(0-based line, delimiter, column keys) of the header line, looked for in the first 20 lines."""
    for number, line in enumerate(text.split("\n", 20)[:20]):
        if "sample id" not in line.casefold():
            continue
        try:
            delimiter = sniff_delimiter([line], file_name="")
        except ImportFormatError:
            continue
        keys = [_key(cell.strip().strip('"')) for cell in line.split(delimiter)]
        if "sample id" in keys and ("analyte name" in keys or "analyte" in keys):
            return number, delimiter, keys
    return None


@dataclass(slots=True)
class _CsvColumns:
    sample_id: int
    analyte: int
    value: int
    unit: int
    sample_units: bool
    date: int | None
    time: int | None
    replicate: int | None
    rsd: int | None
    vendor_type: int | None
    names: list[str]


def _pick(keys: list[str], *candidates: str) -> int | None:
    for candidate in candidates:
        if candidate in keys:
            return keys.index(candidate)
    return None


def _csv_columns(keys: list[str], cells: list[str], *, line: int, file_name: str) -> _CsvColumns:
    sample_id = _pick(keys, "sample id")
    analyte = _pick(keys, "analyte name", "analyte")
    sample_value = _pick(keys, "reported conc (samp)", "conc (samp)", "sample conc")
    calib_value = _pick(keys, "reported conc (calib)", "conc (calib)", "reported conc", "concentration", "conc")
    sample_unit = _pick(keys, "units (samp)", "unit (samp)", "sample units")
    calib_unit = _pick(keys, "units (calib)", "unit (calib)", "calib units")
    plain_unit = _pick(keys, "units", "unit")
    value: int | None
    unit: int | None
    if sample_value is not None:
        value, unit, sample_units = sample_value, sample_unit if sample_unit is not None else plain_unit, True
    else:
        value = calib_value
        if calib_unit is not None:
            unit, sample_units = calib_unit, False
        elif sample_unit is not None:
            unit, sample_units = sample_unit, True
        else:
            unit, sample_units = plain_unit, False
    missing = [
        name
        for name, index in (("Sample ID", sample_id), ("Analyte Name", analyte), ("Reported Conc", value), ("Units", unit))
        if index is None
    ]
    if missing or sample_id is None or analyte is None or value is None or unit is None:
        raise ImportFormatError(f"missing column {', '.join(missing)} in the header", file_name=file_name, line=line)
    return _CsvColumns(
        sample_id=sample_id,
        analyte=analyte,
        value=value,
        unit=unit,
        sample_units=sample_units,
        date=_pick(keys, "date"),
        time=_pick(keys, "time"),
        replicate=_pick(keys, "replicate", "repl", "rep", "replicate #"),
        rsd=_pick(keys, "%rsd", "rsd", "rsd (samp)", "rsd (calib)", "conc rsd"),
        vendor_type=_pick(keys, "sample type", "type"),
        names=[cell.strip() for cell in cells],
    )


def _unit(text: str, *, sample_units: bool, file_name: str, line: int, column: str) -> tuple[str, ValueBasis]:
    """Sample units are of the solid (ppm = mg/kg); calibration units are of the solution."""
    stated = ValueBasis.SOLID if sample_units else ValueBasis.SOLUTION
    try:
        return read_unit(text, stated=stated)
    except UnitBasisError as error:
        what = "sample units" if sample_units else "calibration units"
        raise ImportFormatError(f"{error} ({what})", file_name=file_name, line=line, column=column) from None
    except UnitError as error:
        raise ImportFormatError(str(error) if text.strip() else "no unit", file_name=file_name, line=line, column=column) from None


def _unreadable(cells: list[tuple[int, str]], patterns: list[str]) -> tuple[int, str]:
    """The first cell that the most widely fitting pattern does not read."""

    def reads(text: str, pattern: str) -> bool:
        try:
            dt.datetime.strptime(" ".join(text.split()).upper(), pattern)  # naive instrument time
        except ValueError:
            return False
        return True

    best = max(patterns, key=lambda pattern: sum(1 for _, text in cells if reads(text, pattern)))
    return next(((line, text) for line, text in cells if not reads(text, best)), cells[0])


def _parse_csv(data: bytes, *, file_name: str) -> ParsedRun:
    text = decode_export(data, file_name=file_name)
    found = _find_csv_header(text)
    if found is None:
        raise ImportFormatError(
            "no header line with 'Sample ID' and 'Analyte Name' in the first 20 lines (is this a WinLab32/Syngistix export?)",
            file_name=file_name,
            line=1,
        )
    header_index, delimiter, _ = found
    rows = list(iter_records(text, delimiter=delimiter, file_name=file_name))
    position = next((index for index, (line, _) in enumerate(rows) if line == header_index + 1), None)
    if position is None:  # the header line sits inside a quoted cell that began above it
        raise ImportFormatError(
            "the header line is inside a quoted cell (an unclosed quote above it?)", file_name=file_name, line=header_index + 1
        )
    header_line, header_cells = rows[position]
    columns = _csv_columns([_key(cell) for cell in header_cells], header_cells, line=header_line, file_name=file_name)
    width = len(header_cells)
    while width and not header_cells[width - 1].strip():
        width -= 1
    body = rows[position + 1 :]
    if not body:
        raise ImportFormatError("no results: the file has a header and no rows", file_name=file_name, line=header_line + 1)
    for line, row in body:
        if len(row) < width:
            raise ImportFormatError(
                f"{len(row)} cells where the header has {width}: no cell for {columns.names[len(row)]!r}",
                file_name=file_name,
                line=line,
                column=f"'{columns.names[len(row)]}'",
            )
        extra = cell_beyond_header(row, width=width, header_width=len(header_cells))
        if extra is not None:
            raise ImportFormatError(
                f"{len(row)} cells where the header has {width}", file_name=file_name, line=line, column=column_letter(extra)
            )

    warnings: list[str] = []
    date_pattern = time_pattern = None
    if columns.date is not None:
        date_cells = [(line, row[columns.date]) for line, row in body if row[columns.date].strip()]
        date_pattern, ambiguous = date_format([text for _, text in date_cells])
        if date_cells and date_pattern is None:
            line, bad = _unreadable(date_cells, ["%d-%m-%y", "%m-%d-%y", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y"])
            raise ImportFormatError(
                f"not a date, or not written like the others: {clip(bad, 30)}", file_name=file_name, line=line, column="'Date'"
            )
        if ambiguous and date_pattern is not None:
            warnings.append(f"dates read as {date_pattern.replace('%', '')} (day first); the file's dates fit either order")
    if columns.time is not None:
        time_cells = [(line, row[columns.time]) for line, row in body if row[columns.time].strip()]
        time_pattern = time_format([text for _, text in time_cells])
        if time_cells and time_pattern is None:
            line, bad = _unreadable(time_cells, ["%H:%M:%S", "%I:%M:%S %p", "%H:%M"])
            raise ImportFormatError(
                f"not a time, or not written like the others: {clip(bad, 30)}", file_name=file_name, line=line, column="'Time'"
            )

    decimal_comma = delimiter != "," and uses_decimal_comma([row[columns.value] for _, row in body[:2000]])
    channels: list[ParsedChannel] = []
    by_label: dict[str, int] = {}
    by_code: dict[str, int] = {}
    units: dict[str, tuple[str, ValueBasis]] = {}
    acquisitions: dict[tuple[str, str, str], ParsedAcquisition] = {}
    seen: dict[tuple[tuple[str, str, str], int, str], int] = {}
    value_column = f"'{columns.names[columns.value]}'"
    unit_column = f"'{columns.names[columns.unit]}'"
    for line, row in body:
        sample_id = row[columns.sample_id].strip()
        if not sample_id:
            raise ImportFormatError("no Sample ID", file_name=file_name, line=line, column=f"'{columns.names[columns.sample_id]}'")
        label = row[columns.analyte]
        channel = by_label.get(label)
        if channel is None:
            try:
                parsed = read_analyte(label, allow_named=False)
            except AnalyteLabelError as error:
                raise ImportFormatError(
                    f"unknown analyte: {error}", file_name=file_name, line=line, column=f"'{columns.names[columns.analyte]}'"
                ) from None
            channel = by_code.get(parsed.code)
            if channel is None:
                channel = by_code[parsed.code] = len(channels)
                channels.append(parsed)
            by_label[label] = channel
        unit_text = row[columns.unit]
        known = units.get(unit_text)
        if known is None:
            known = _unit(unit_text, sample_units=columns.sample_units, file_name=file_name, line=line, column=unit_column)
            units[unit_text] = known
        unit, basis = known
        raw = row[columns.value]
        if len(raw) > 100:
            raise ImportFormatError(f"not a number: {clip(raw)}", file_name=file_name, line=line, column=value_column)
        value, qualifier = parse_reported_value(raw, decimal_comma=decimal_comma, file_name=file_name, line=line, column=value_column)
        rsd = None
        if columns.rsd is not None:
            rsd_text = row[columns.rsd]
            if len(rsd_text) > 100:
                raise ImportFormatError(f"not a number: {clip(rsd_text)}", file_name=file_name, line=line, column="'RSD'")
            rsd, _ = parse_reported_value(rsd_text, decimal_comma=decimal_comma, file_name=file_name, line=line, column="'RSD'")
        date_text = row[columns.date] if columns.date is not None else ""
        time_text = row[columns.time] if columns.time is not None else ""
        key = (sample_id, date_text.strip(), time_text.strip())
        replicate = row[columns.replicate].strip() if columns.replicate is not None else ""
        first = seen.get((key, channel, replicate))
        if first is not None:
            raise ImportFormatError(
                f"sample {clip(sample_id, 40)} analyte {clip(label, 30)} twice in one acquisition: line {line} repeats line {first}",
                file_name=file_name,
                line=line,
                column=f"'{columns.names[columns.analyte]}'",
            )
        seen[(key, channel, replicate)] = line
        acquisition = acquisitions.get(key)
        if acquisition is None:
            acquisition = acquisitions[key] = ParsedAcquisition(
                sequence=len(acquisitions) + 1,
                label=sample_id,
                vendor_type=row[columns.vendor_type].strip() if columns.vendor_type is not None else "",
                acquired_at=combine(date_text, date_pattern, time_text, time_pattern),
                line=line,
            )
        acquisition.values.append(
            ParsedValue(
                channel=channel,
                value=value,
                qualifier=qualifier,
                unit=unit,
                basis=basis,
                raw_text=raw.strip(),
                rsd_percent=rsd,
                replicate=replicate,
                line=line,
            )
        )
    return ParsedRun(
        format=FORMAT,
        file_name=file_name,
        channels=channels,
        acquisitions=list(acquisitions.values()),
        instrument_hint="PerkinElmer WinLab32/Syngistix",
        warnings=warnings,
    )


# --- the workbook ------------------------------------------------------------------------------

Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | dt.timedelta | None


def _read_sheet(data: bytes, *, file_name: str) -> list[tuple[Cell, ...]]:
    """The rows of the "Conc. in Sample Units" sheet, every cell a plain value."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        # zipfile raises NotImplementedError for a member needing a newer zip version, and
        # RuntimeError for an encrypted one: to a person both are a workbook it cannot read.
        raise ImportFormatError(f"a damaged .xlsx workbook (not a readable zip archive: {error})", file_name=file_name) from None
    if "xl/workbook.xml" not in names:
        raise ImportFormatError("a zip archive, but not an .xlsx workbook (no xl/workbook.xml)", file_name=file_name)
    if unpacked > _MAX_UNPACKED_BYTES:
        raise ImportFormatError(f"the workbook unpacks to {unpacked:,} bytes, more than a results export holds", file_name=file_name)

    from openpyxl import load_workbook  # imported here: only workbooks pay for it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises anything from KeyError to XML errors on a damaged file
        raise ImportFormatError(f"a damaged .xlsx workbook ({type(error).__name__})", file_name=file_name) from None
    try:
        sheets = {_sheet_key(name): name for name in workbook.sheetnames}
        name = sheets.get(_sheet_key(SHEET))
        if name is None:
            listed = ", ".join(repr(sheet) for sheet in workbook.sheetnames[:10])
            raise ImportFormatError(
                f"the workbook has no sheet {SHEET!r} (it has {listed}); export the Syngistix report 'Conc. in Sample Units'",
                file_name=file_name,
            )
        sheet = workbook[name]
        rows: list[tuple[Cell, ...]] = []
        try:
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # a writer's stale dimension tag would hide rows
            for row in sheet.iter_rows(values_only=True):
                rows.append(tuple(_plain(cell) for cell in row))
                if len(rows) > _MAX_SHEET_ROWS:
                    raise ImportFormatError(f"the sheet has more than {_MAX_SHEET_ROWS:,} rows", file_name=file_name)
        except ImportFormatError:
            raise
        except Exception as error:  # a damaged sheet part
            raise ImportFormatError(
                f"a damaged .xlsx workbook: sheet {name!r} cannot be read ({type(error).__name__})", file_name=file_name, line=len(rows) + 1
            ) from None
        return rows
    finally:
        workbook.close()


def _plain(cell: object) -> Cell:
    """A cell value as one of the plain types; rich text and formulas (no cached value) as text."""
    if cell is None or isinstance(cell, str | int | float | bool | dt.datetime | dt.date | dt.time | dt.timedelta):
        return cell
    return str(cell)


def _cell_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 1e15:
        return str(int(cell))
    return str(cell)


def _is_unit(text: str) -> bool:
    try:
        unit_lookup(text, medium=Medium.SOLID)
    except UnitError:
        return False
    return True


def _workbook_unit(header: str) -> tuple[str, str | None]:
    """``Ag 107 (mg/kg)`` -> ("Ag 107", "mg/kg"); a trailing group that is not a unit stays in the label."""
    match = _UNIT_SUFFIX.match(header.strip())
    if match and _is_unit(match.group(2)):
        return match.group(1), match.group(2)
    return header.strip(), None


@dataclass(frozen=True, slots=True)
class _AnalyteColumn:
    index: int
    channel: int
    unit: str
    where: str


def _parse_workbook(data: bytes, *, file_name: str) -> ParsedRun:
    rows = _read_sheet(data, file_name=file_name)
    header_index = next(
        (index for index, row in enumerate(rows[:30]) if any(_key(_cell_text(cell)) == "sample id" for cell in row)),
        None,
    )
    if header_index is None:
        raise ImportFormatError(f"no header row with 'Sample Id' in the first 30 rows of sheet {SHEET!r}", file_name=file_name, line=1)
    header = [_cell_text(cell).strip() for cell in rows[header_index]]
    header_line = header_index + 1
    keys = [_key(name) for name in header]
    sample_column = keys.index("sample id")
    meta = {key: keys.index(key) for key in _WORKBOOK_META if key in keys}
    candidates = [index for index, key in enumerate(keys) if key and key not in _WORKBOOK_META]
    if not candidates:
        raise ImportFormatError("no analyte column after the sample columns", file_name=file_name, line=header_line)

    units_row: tuple[Cell, ...] | None = None
    if header_index + 1 < len(rows):
        following = rows[header_index + 1]
        first = _key(_cell_text(following[sample_column])) if sample_column < len(following) else ""
        texts = [_cell_text(following[index]) for index in candidates if index < len(following)]
        if first in {"", "unit", "units"} and any(texts) and all(_is_unit(text) for text in texts if text.strip()):
            units_row = following

    channels: list[ParsedChannel] = []
    by_code: dict[str, int] = {}
    columns: list[_AnalyteColumn] = []
    for index in candidates:
        where = f"{column_letter(index)} {clip(header[index], 40)}"
        label, unit_text = _workbook_unit(header[index])
        if unit_text is None and units_row is not None and index < len(units_row) and _cell_text(units_row[index]).strip():
            unit_text = _cell_text(units_row[index])
        try:
            channel = read_analyte(label, allow_named=False)
        except AnalyteLabelError as error:
            raise ImportFormatError(f"unknown analyte: {error}", file_name=file_name, line=header_line, column=where) from None
        if unit_text is None:
            raise ImportFormatError(
                f"no unit for {clip(label, 30)}: name it in the header ('Ag 107 (mg/kg)') or in a units row under it "
                f"(one of {', '.join(KNOWN_UNITS)})",
                file_name=file_name,
                line=header_line + (1 if units_row is not None else 0),
                column=where,
            )
        unit, _ = _unit(unit_text, sample_units=True, file_name=file_name, line=header_line, column=where)
        if channel.code in by_code:
            first_column = next(column for column in columns if column.channel == by_code[channel.code])
            raise ImportFormatError(
                f"duplicate channel: columns {column_letter(first_column.index)} and {column_letter(index)} are both {channel.code}",
                file_name=file_name,
                line=header_line,
                column=where,
            )
        by_code[channel.code] = len(channels)
        channels.append(channel)
        columns.append(_AnalyteColumn(index=index, channel=by_code[channel.code], unit=unit, where=where))

    start = header_index + (2 if units_row is not None else 1)
    body = [(number, row) for number, row in enumerate(rows[start:], start=start + 1) if any(_cell_text(cell).strip() for cell in row)]
    if not body:
        raise ImportFormatError(f"no results: sheet {SHEET!r} has a header and no rows", file_name=file_name, line=start + 1)

    time_column = meta.get("acquisition time")
    time_pattern: str | None = None
    warnings: list[str] = []
    if time_column is not None:
        time_cells: list[tuple[int, str]] = []
        for number, row in body:
            cell = row[time_column] if time_column < len(row) else None
            if isinstance(cell, str) and cell.strip():
                time_cells.append((number, cell))
        time_pattern, ambiguous = datetime_format([text for _, text in time_cells])
        if time_cells and time_pattern is None:
            number, bad = next(((number, text) for number, text in time_cells if datetime_format([text])[0] is None), time_cells[0])
            raise ImportFormatError(
                f"not a date and time, or not written like the others: {clip(bad, 30)}",
                file_name=file_name,
                line=number,
                column=f"{column_letter(time_column)} 'Acquisition Time'",
            )
        if ambiguous:
            warnings.append("acquisition times read day first; the file's dates fit either order")

    acquisitions: list[ParsedAcquisition] = []
    for number, row in body:
        sample_id = _cell_text(row[sample_column]).strip() if sample_column < len(row) else ""
        if not sample_id:
            raise ImportFormatError("no Sample Id", file_name=file_name, line=number, column=f"{column_letter(sample_column)} 'Sample Id'")
        acquisition = ParsedAcquisition(
            sequence=len(acquisitions) + 1,
            label=sample_id,
            acquired_at=_acquired_at(row, time_column, time_pattern, file_name=file_name, line=number),
            data_file=_cell_text(row[meta["dataset file"]]).strip() if "dataset file" in meta and meta["dataset file"] < len(row) else "",
            line=number,
        )
        for column in columns:
            cell = row[column.index] if column.index < len(row) else None
            value, qualifier, raw = _workbook_value(cell, file_name=file_name, line=number, column=column.where)
            acquisition.values.append(
                ParsedValue(
                    channel=column.channel,
                    value=value,
                    qualifier=qualifier,
                    unit=column.unit,
                    basis=ValueBasis.SOLID,
                    raw_text=raw,
                    line=number,
                )
            )
        acquisitions.append(acquisition)
    return ParsedRun(
        format=FORMAT,
        file_name=file_name,
        channels=channels,
        acquisitions=acquisitions,
        instrument_hint="PerkinElmer Syngistix",
        warnings=warnings,
    )


def _acquired_at(row: tuple[Cell, ...], column: int | None, pattern: str | None, *, file_name: str, line: int) -> dt.datetime | None:
    if column is None or column >= len(row) or row[column] is None:
        return None
    cell = row[column]
    where = f"{column_letter(column)} 'Acquisition Time'"
    if isinstance(cell, dt.datetime):
        return cell.replace(tzinfo=None)
    if isinstance(cell, dt.date):
        return dt.datetime.combine(cell, dt.time())
    if isinstance(cell, str):
        if not cell.strip():
            return None
        return read_datetime(cell, pattern) if pattern is not None else None
    raise ImportFormatError(f"not a date and time: {clip(_cell_text(cell), 30)}", file_name=file_name, line=line, column=where)


def _workbook_value(cell: Cell, *, file_name: str, line: int, column: str) -> tuple[float | None, Qualifier, str]:
    if cell is None:
        return None, Qualifier.EQUAL, ""
    if isinstance(cell, bool) or not isinstance(cell, int | float | str):
        raise ImportFormatError(f"not a number: {clip(_cell_text(cell), 30)}", file_name=file_name, line=line, column=column)
    if isinstance(cell, int | float):
        number = float(cell)
        if not math.isfinite(number):
            raise ImportFormatError(f"not a finite number: {cell!r}", file_name=file_name, line=line, column=column)
        return number, Qualifier.EQUAL, _cell_text(cell)
    if len(cell) > 100:
        raise ImportFormatError(f"not a number: {clip(cell)}", file_name=file_name, line=line, column=column)
    value, qualifier = parse_reported_value(cell, decimal_comma=False, file_name=file_name, line=line, column=column)
    return value, qualifier, cell.strip()


# --- entry point -----------------------------------------------------------------------------


def parse(data: bytes, *, file_name: str) -> ParsedRun:
    with cyclic_gc_paused():
        if data.startswith(_ZIP_MAGIC):
            return _parse_workbook(data, file_name=file_name)
        return _parse_csv(data, file_name=file_name)
