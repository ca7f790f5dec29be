"""The sample sheet: a CSV (or a list of records) that registers samples, and their lots, in bulk.

PURE: no Django, no database. It checks everything a row can be judged on by itself and against
the other rows of the same sheet, and collects every problem with its line and column instead of
stopping at the first, so a technician fixes the whole sheet in one pass. What needs the database
(does the product exist, is the sample already registered, may this user register at that site)
is ``assays.services.registration``'s business.

Columns (header names exact, surrounding spaces ignored; docs/import-formats.md, "Sample sheet"):

- required: ``sample_id, lot, lot_kind, product, supplier, sample_mass_g, final_volume_ml,
  dilution_factor``;
- optional: ``site`` (the site registering the sample; empty: the default site), ``sample_type``
  (routine, duplicate or retain; empty: routine), ``received_on`` (the lot's receipt date,
  YYYY-MM-DD), ``notes`` (kept on the sample's first custody event), and who took the sample,
  when and how, which its certificate prints (ISO/IEC 17025 §7.8.2): ``sampled_by`` (free text: a
  sampler is often the customer's or a surveyor's staff), ``sampled_at`` (ISO 8601 with its UTC
  offset, 2026-04-29T07:30+02:00 or ...Z: a time without one could be any of a day's 24 hours
  across the sites a sheet may come from) and ``sampling_method`` (the plan or standard);
- any other column is allowed, kept in ``SheetRow.extra`` and reported as ignored.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from assays.errors import DomainError
from assays.importers.core import ImportFormatError
from assays.importers.text import decode_export, parse_number, sniff_delimiter, uses_decimal_comma
from assays.sample_codes import normalise_sample_code

REQUIRED_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "lot",
    "lot_kind",
    "product",
    "supplier",
    "sample_mass_g",
    "final_volume_ml",
    "dilution_factor",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("site", "sample_type", "received_on", "notes", "sampled_by", "sampled_at", "sampling_method")
KNOWN_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

LOT_KINDS = ("feedstock", "intermediate", "product")
SAMPLE_TYPES = ("routine", "duplicate", "retain")

# A sheet is typed or exported by a person; far beyond this it is a mistake (or an attack) and
# would hold a request for minutes.
MAX_ROWS = 20_000
LOT_CODE_MAX = 40
SITE_CODE_MAX = 16
PRODUCT_CODE_MAX = 32
PARTNER_CODE_MAX = 32
NOTES_MAX = 2_000
SAMPLED_BY_MAX = 120  # assays.models.Sample's columns
SAMPLING_METHOD_MAX = 200

# ``problem(column, message)``: records one error on the row being checked.
Problem = Callable[[str | None, str], None]


@dataclass(frozen=True, slots=True)
class DecimalColumn:
    """The precision of a preparation column as the database stores it (``assays.models.Sample``).

    A value is refused, not rounded, when it has more decimal places than the column keeps: a
    regulated record stores what the technician wrote or nothing.
    """

    name: str
    unit: str
    decimal_places: int
    max_digits: int
    minimum: Decimal  # inclusive, except for the "positive" columns (minimum 0, exclusive)
    minimum_inclusive: bool

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimal_places)

    @property
    def upper_bound(self) -> Decimal:
        return Decimal(10) ** (self.max_digits - self.decimal_places)


MASS = DecimalColumn("sample_mass_g", "g", decimal_places=6, max_digits=12, minimum=Decimal(0), minimum_inclusive=False)
VOLUME = DecimalColumn("final_volume_ml", "mL", decimal_places=4, max_digits=12, minimum=Decimal(0), minimum_inclusive=False)
DILUTION = DecimalColumn("dilution_factor", "", decimal_places=4, max_digits=12, minimum=Decimal(1), minimum_inclusive=True)
DECIMAL_COLUMNS: tuple[DecimalColumn, ...] = (MASS, VOLUME, DILUTION)


@dataclass(frozen=True, slots=True)
class SheetError:
    """One problem, where a person can find it: ``line`` is the file's line (the header is line 1)
    or, for a list of records, the record's 1-based position; None for the sheet as a whole."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, int | str | None]:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass(frozen=True, slots=True)
class SheetLine:
    """A data line as written (trimmed), for a preview that shows the rows with errors too."""

    line: int
    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SheetRow:
    """A row that passed every check this module can make. Codes are trimmed; the sample id is
    normalised (upper case); decimals carry exactly the column's decimal places."""

    line: int
    sample_id: str
    lot: str
    lot_kind: str
    product: str  # "" for none
    supplier: str  # "" for none
    sample_mass_g: Decimal
    final_volume_ml: Decimal
    dilution_factor: Decimal
    site: str = ""  # "" for the default site
    sample_type: str = "routine"
    received_on: dt.date | None = None
    notes: str = ""
    sampled_by: str = ""
    sampled_at: dt.datetime | None = None  # aware
    sampling_method: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SampleSheet:
    file_name: str
    rows: list[SheetRow]  # the valid rows, in sheet order
    errors: list[SheetError]
    lines: list[SheetLine]  # every data line, valid or not
    ignored_columns: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


# --- Entry points ---------------------------------------------------------------------------------


def parse_sample_sheet(data: bytes, *, file_name: str = "sample sheet") -> SampleSheet:
    """A CSV sample sheet: UTF-8 (BOM or not), UTF-16 with BOM or cp1252; ``,`` ``;`` or tab; a
    decimal comma with ``;`` or tab. Never raises for bad content: every problem is a ``SheetError``."""
    try:
        text = decode_export(data, file_name=file_name)
        lines = text.split("\n")
        header_text = next((line for line in lines if line.strip()), "")
        delimiter = sniff_delimiter([header_text], file_name=file_name)
        numbered = list(_numbered_rows(text, delimiter=delimiter, file_name=file_name))
    except ImportFormatError as error:
        return SampleSheet(file_name, [], [SheetError(error.line, error.column, error.message)], [], [])
    if not numbered:  # pragma: no cover - decode_export refuses a blank file first
        return SampleSheet(file_name, [], [SheetError(None, None, "the sheet is empty")], [], [])
    header_line, header_cells = numbered[0]
    header = [cell.strip() for cell in header_cells]
    records: list[tuple[int, dict[str, str]]] = []
    misshapen: list[SheetLine] = []
    errors: list[SheetError] = []
    for line, cells in numbered[1:]:
        if not any(cell.strip() for cell in cells):
            continue  # a line of empty cells (";;;;") is not a row
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name}
        if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
            errors.append(SheetError(line, None, f"{len(cells)} cells where the header has {len(header)}: a stray delimiter?"))
            misshapen.append(SheetLine(line, values))
            continue
        if len(cells) < len(header):
            errors.append(SheetError(line, None, f"{len(cells)} cells where the header has {len(header)}: a missing delimiter?"))
            misshapen.append(SheetLine(line, values))
            continue
        records.append((line, values))
    # A decimal comma is only possible when ',' does not separate the cells.
    decimal_comma = delimiter != "," and uses_decimal_comma(
        [values.get(column.name, "") for _, values in records for column in DECIMAL_COLUMNS]
    )
    sheet = _validate(
        file_name=file_name,
        header=header,
        header_line=header_line,
        records=records,
        decimal_comma=decimal_comma,
        every_record_has_every_column=True,
    )
    # The preview shows a misshapen line too, as far as its cells go.
    sheet.lines = sorted([*sheet.lines, *misshapen], key=lambda sheet_line: sheet_line.line)
    return _merge_errors(sheet, errors)


def sheet_from_records(records: object, *, file_name: str = "request") -> SampleSheet:
    """A sheet given as a list of objects with the column names as keys (the JSON API, the web
    form). ``line`` in errors is the record's 1-based position. Numbers may be JSON numbers."""
    if not isinstance(records, Sequence) or isinstance(records, str | bytes):
        return SampleSheet(file_name, [], [SheetError(None, None, "expected a list of sample rows")], [], [])
    if not records:
        return SampleSheet(file_name, [], [SheetError(None, None, "the sheet holds no rows")], [], [])
    header: list[str] = []
    converted: list[tuple[int, dict[str, str]]] = []
    errors: list[SheetError] = []
    for position, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            errors.append(SheetError(position, None, "expected an object with the column names as keys"))
            continue
        values: dict[str, str] = {}
        for key, value in record.items():
            name = str(key).strip()
            if name not in header:
                header.append(name)
            text = _record_text(value)
            if text is None:
                errors.append(SheetError(position, name, f"expected text or a number, not {type(value).__name__}"))
                text = ""
            values[name] = text.strip()
        converted.append((position, values))
    sheet = _validate(
        file_name=file_name,
        header=header,
        header_line=None,
        records=converted,
        decimal_comma=False,
        every_record_has_every_column=False,
    )
    return _merge_errors(sheet, errors)


# --- Reading ----------------------------------------------------------------------------------------


def _numbered_rows(text: str, *, delimiter: str, file_name: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line each starts on. A quoted cell may span lines (a note with a line
    break): the reader gets the line ends, so the break is kept and later line numbers stay right."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as error:
        raise ImportFormatError(f"malformed CSV: {error}", file_name=file_name, line=reader.line_num) from None


def _record_text(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return None  # JSON true/false is neither a code nor a number
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 0.1 stays "0.1".
        return repr(value)
    if isinstance(value, str):
        return value
    return None


def _merge_errors(sheet: SampleSheet, errors: list[SheetError]) -> SampleSheet:
    """Adds the errors found while reading, and drops the rows they concern from the valid ones."""
    bad_lines = {error.line for error in errors}
    sheet.rows = [row for row in sheet.rows if row.line not in bad_lines]
    # A cell that could not be read is reported once, as unreadable, not again as empty.
    unreadable = {(error.line, error.column) for error in errors if error.column is not None}
    later = [error for error in sheet.errors if (error.line, error.column) not in unreadable]
    sheet.errors = sorted([*errors, *later], key=error_order)
    return sheet


def error_order(error: SheetError) -> tuple[int, int, str]:
    """Sheet-wide errors first, then by line, and within a line in the order of the columns."""
    column = error.column or ""
    position = KNOWN_COLUMNS.index(column) if column in KNOWN_COLUMNS else len(KNOWN_COLUMNS)
    return (error.line or 0, position if column else -1, column)


# --- Validation -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _LotFirstSeen:
    line: int
    kind: str
    product: str
    supplier: str
    received_on: dt.date | None


def _validate(
    *,
    file_name: str,
    header: list[str],
    header_line: int | None,
    records: list[tuple[int, dict[str, str]]],
    decimal_comma: bool,
    every_record_has_every_column: bool,
) -> SampleSheet:
    errors: list[SheetError] = []
    present = set(header)
    missing = [column for column in REQUIRED_COLUMNS if column not in present]
    header_missing = set(missing) if every_record_has_every_column else set()
    if every_record_has_every_column:
        for name in sorted({name for name in header if header.count(name) > 1 and name}):
            errors.append(SheetError(header_line, name, "this column appears more than once"))
        if "" in header:
            errors.append(SheetError(header_line, None, f"column {header.index('') + 1} has no name"))
        for column in missing:
            errors.append(SheetError(header_line, column, f"missing required column {column!r}{_near_miss(column, header)}"))
    ignored = [name for name in header if name and name not in KNOWN_COLUMNS]
    if len(records) > MAX_ROWS:
        errors.append(SheetError(None, None, f"{len(records)} rows: a sheet holds at most {MAX_ROWS}; split it"))
        return SampleSheet(file_name, [], errors, [], ignored)
    if not records and not errors:
        errors.append(SheetError(None, None, "the sheet has a header but no rows"))

    rows: list[SheetRow] = []
    seen_samples: dict[str, int] = {}
    seen_lots: dict[str, _LotFirstSeen] = {}
    for line, values in records:
        row_errors: list[SheetError] = []

        def problem(column: str | None, message: str, *, _line: int = line, _errors: list[SheetError] = row_errors) -> None:
            _errors.append(SheetError(_line, column, message))

        def cell(column: str, *, _values: dict[str, str] = values) -> str:
            # A column the CSV header lacks was reported on the header line; a record may leave out
            # a key, which reads as an empty cell (and is reported as such where a value is required).
            return _values.get(column, "")

        sample_id = _check_sample_id(cell("sample_id"), problem)
        lot = _check_code(cell("lot"), "lot", LOT_CODE_MAX, problem, required=True)
        lot_kind = cell("lot_kind").lower()
        if "lot_kind" in values and not lot_kind:
            problem("lot_kind", f"a lot kind is required: {', '.join(LOT_KINDS)}")
        elif "lot_kind" in values and lot_kind not in LOT_KINDS:
            problem("lot_kind", f"{values['lot_kind']!r} is not a lot kind: use {', '.join(LOT_KINDS)}")
        product = _check_code(cell("product"), "product", PRODUCT_CODE_MAX, problem, required=False)
        if lot_kind == "product" and "product" in values and not product:
            problem("product", "a product lot names its product")
        supplier = _check_code(cell("supplier"), "supplier", PARTNER_CODE_MAX, problem, required=False)
        site = _check_code(cell("site"), "site", SITE_CODE_MAX, problem, required=False)
        numbers = {
            column.name: _check_decimal(column, cell(column.name), decimal_comma, file_name, line, problem) for column in DECIMAL_COLUMNS
        }
        sample_type = cell("sample_type").lower() or "routine"
        if sample_type not in SAMPLE_TYPES:
            problem("sample_type", f"{values['sample_type']!r} is not a sample type: use {', '.join(SAMPLE_TYPES)}")
        received_on = _check_date(cell("received_on"), problem)
        notes = _check_text(cell("notes"), "notes", NOTES_MAX, problem)
        sampled_by = _check_text(cell("sampled_by"), "sampled_by", SAMPLED_BY_MAX, problem)
        sampled_at = _check_moment(cell("sampled_at"), problem)
        sampling_method = _check_text(cell("sampling_method"), "sampling_method", SAMPLING_METHOD_MAX, problem)

        if sample_id:
            first = seen_samples.setdefault(sample_id, line)
            if first != line:
                problem("sample_id", f"sample id {sample_id!r} is already on line {first}")
        if lot and lot_kind in LOT_KINDS:
            described = _LotFirstSeen(line, lot_kind, product, supplier, received_on)
            earlier = seen_lots.setdefault(lot, described)
            if earlier is not described:
                for column, mine, theirs in (
                    ("lot_kind", lot_kind, earlier.kind),
                    ("product", product, earlier.product),
                    ("supplier", supplier, earlier.supplier),
                    ("received_on", received_on, earlier.received_on),
                ):
                    if mine != theirs:
                        problem(
                            column,
                            f"lot {lot!r} has {column} {_shown(theirs)} on line {earlier.line} but {_shown(mine)} here; "
                            "all rows of one lot describe it the same way",
                        )

        # A column the header lacks was reported once, on the header line, not again on every row.
        errors.extend(error for error in row_errors if error.column not in header_missing)
        if row_errors:
            continue
        mass, volume, dilution = (numbers[column.name] for column in DECIMAL_COLUMNS)
        if mass is None or volume is None or dilution is None:  # pragma: no cover - an unparsed number is an error above
            continue
        rows.append(
            SheetRow(
                line=line,
                sample_id=sample_id,
                lot=lot,
                lot_kind=lot_kind,
                product=product,
                supplier=supplier,
                sample_mass_g=mass,
                final_volume_ml=volume,
                dilution_factor=dilution,
                site=site,
                sample_type=sample_type,
                received_on=received_on,
                notes=notes,
                sampled_by=sampled_by,
                sampled_at=sampled_at,
                sampling_method=sampling_method,
                extra={name: value for name, value in values.items() if name not in KNOWN_COLUMNS},
            )
        )
    lines = [SheetLine(line, dict(values)) for line, values in records]
    return SampleSheet(file_name, rows, errors, lines, ignored)


def _near_miss(column: str, header: list[str]) -> str:
    for name in header:
        if name.replace(" ", "_").lower() == column and name != column:
            return f" (found {name!r}: header names are exact, lower case with underscores)"
    return ""


def _check_sample_id(raw: str, problem: Problem) -> str:
    if not raw:
        problem("sample_id", "a sample id is required")
        return ""
    try:
        return normalise_sample_code(raw)
    except DomainError as error:
        problem("sample_id", str(error))
        return ""


def _check_code(raw: str, column: str, max_length: int, problem: Problem, *, required: bool) -> str:
    if not raw:
        if required:
            problem(column, f"a {column} code is required")
        return ""
    if len(raw) > max_length:
        problem(column, f"{raw[:50]!r}…: a {column} code has at most {max_length} characters")
        return ""
    if any(not character.isprintable() for character in raw):
        problem(column, f"{raw!r}: a {column} code holds printable characters only")
        return ""
    return raw


def _check_decimal(column: DecimalColumn, raw: str, decimal_comma: bool, file_name: str, line: int, problem: Problem) -> Decimal | None:
    if not raw:
        if column is DILUTION:
            return Decimal(1).quantize(column.quantum)  # undiluted: the model's default too
        problem(column.name, f"{column.name} is required")
        return None
    try:
        number = parse_number(raw, decimal_comma=decimal_comma, file_name=file_name, line=line, column=column.name)
    except ImportFormatError as error:
        problem(column.name, error.message)
        return None
    if number is None:  # an "n/a"-like token: a preparation value is a number or nothing
        problem(column.name, f"{raw!r} is not a number")
        return None
    value = Decimal(repr(number))
    unit = f" {column.unit}" if column.unit else ""
    too_small = value < column.minimum if column.minimum_inclusive else value <= column.minimum
    if too_small:
        bound = "at least" if column.minimum_inclusive else "more than"
        problem(column.name, f"{raw!r}: must be {bound} {column.minimum}{unit}")
        return None
    if value >= column.upper_bound:
        problem(column.name, f"{raw!r}: must be less than {column.upper_bound:,}{unit}")
        return None
    try:
        exact = value.quantize(column.quantum, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # pragma: no cover - the bounds above keep the quantize in range
        problem(column.name, f"{raw!r} is out of range")
        return None
    if exact != value:
        problem(column.name, f"{raw!r}: at most {column.decimal_places} decimal places are kept; round it yourself")
        return None
    return exact


def _check_date(raw: str, problem: Problem) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        problem("received_on", f"{raw!r}: write the date as YYYY-MM-DD")
        return None


def _check_text(raw: str, column: str, limit: int, problem: Problem) -> str:
    if len(raw) > limit:
        problem(column, f"{len(raw)} characters: {column} holds at most {limit}")
    return raw


def _check_moment(raw: str, problem: Problem) -> dt.datetime | None:
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        problem("sampled_at", f"{raw!r}: write the time as ISO 8601 with its UTC offset, e.g. 2026-04-29T07:30+02:00 or 2026-04-29T05:30Z")
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        problem("sampled_at", f"{raw!r} has no UTC offset: add it (2026-04-29T07:30+02:00, or Z for UTC), as the time could be any site's")
        return None
    return moment


def _shown(value: object) -> str:
    if value is None or value == "":
        return "(none)"
    return repr(str(value))
