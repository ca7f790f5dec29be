"""Reading the text of an export: encodings, delimiters, numbers and censoring tokens.

Shared by every text parser, so that one file's quirks are handled once: UTF-8 (with or without
BOM), UTF-16 with BOM and cp1252; CRLF or LF; ``,`` ``;`` or tab; decimal point or comma.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import io
import math
import re
from collections.abc import Iterator

from assays.importers.core import ImportFormatError, Qualifier

# Cells that hold no number, as instruments write them.
EMPTY_TOKENS = frozenset({"", "-", "--", "n/a", "na", "n.a.", "#n/a", "----", "nd", "n.d."})
# re.ASCII: without it \d also matches Arabic-Indic and other digits, which float() then reads.
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$", re.ASCII)
_THOUSANDS_POINT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$", re.ASCII)  # 1.234,5 (decimal comma locale)
_THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3})+\.\d+$", re.ASCII)  # 1,234.5


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a parser builds its objects.

    A large export becomes a hundred thousand small objects that form no reference cycles, so a
    collection can free none of them; yet their allocation alone triggers collections that scan
    the whole growing heap again and again (a third of the parse time of a 2,000 x 60 batch).
    Reference counting still frees everything as usual. Nested uses and a collector already
    disabled by the caller are left as they are. Imports and lot assessments pause it too (the
    planned rows, a chunk's outcomes). The switch is process-wide: a thread running beside them has
    its cycles collected when they end.

    On the way out, what was allocated meanwhile joins the oldest generation unexamined (freeze,
    then unfreeze: ``gc.unfreeze`` puts the objects back in the oldest generation and the count of
    new allocations is reset). Re-enabled as it was, the collector's next allocation would examine
    every one of them in one young collection (a fifth of a 120,000-value parse, and as much of an
    assessed chunk), to free nothing. Cyclic garbage made elsewhere in the process meanwhile is
    freed by the next full collection instead of a young one.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def decode_export(data: bytes, *, file_name: str) -> str:
    """The file's text with LF line ends. Refuses what is not text, naming the file."""
    if not data.strip():
        raise ImportFormatError("the file is empty", file_name=file_name)
    if data.startswith(codecs.BOM_UTF8):
        text = _decode(data[len(codecs.BOM_UTF8) :], "utf-8", file_name=file_name)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode(data, "utf-16", file_name=file_name)
    else:
        if b"\x00" in data:
            raise ImportFormatError(
                "this is a binary file, not a text export (if it is UTF-16, save it with a byte-order mark)", file_name=file_name
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Windows instrument PCs save in cp1252 (µ, °, ²); it decodes any byte but five.
            text = _decode(data, "cp1252", file_name=file_name)
    if "\x00" in text:
        raise ImportFormatError("the text holds NUL characters: a damaged or binary file", file_name=file_name)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(data: bytes, encoding: str, *, file_name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFormatError(f"not valid {encoding} text (byte {error.start})", file_name=file_name, line=line) from None


def sniff_delimiter(lines: list[str], *, file_name: str, candidates: str = ",;\t") -> str:
    """The delimiter that splits the header lines most consistently."""
    best, best_score = "", 0
    for delimiter in candidates:
        counts = [line.count(delimiter) for line in lines if line.strip()]
        if not counts or min(counts) == 0:
            continue
        score = min(counts)
        if score > best_score:
            best, best_score = delimiter, score
    if not best:
        raise ImportFormatError("cannot tell the delimiter: no ',', ';' or tab separates the header", file_name=file_name, line=1)
    return best


def read_rows(text: str, *, delimiter: str, file_name: str, max_field_size: int = 1_000_000) -> list[list[str]]:
    """All rows, as csv splits them. A malformed quote is reported with its line."""
    csv.field_size_limit(max_field_size)
    # A StringIO keeps each line's "\n", so a newline inside a quoted field survives (a list of
    # split lines would lose it); it splits on "\n" only, as decode_export left the text.
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as error:
        raise ImportFormatError(f"malformed CSV: {error}", file_name=file_name, line=reader.line_num) from None
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    return rows


def iter_records(text: str, *, delimiter: str, file_name: str, max_field_size: int = 1_000_000) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields) for every record, blank lines skipped.

    Without a quote anywhere a plain split is exact and several times faster than ``csv``; with
    quotes, ``csv`` handles them and a quoted newline still leaves the line numbers right.
    """
    if '"' not in text:
        blank = delimiter + " \t"
        for index, line in enumerate(text.split("\n"), start=1):
            if line.strip(blank):
                yield index, line.split(delimiter)
        return
    csv.field_size_limit(max_field_size)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as error:
        # The record's first line: where an unclosed quote opened, not where csv gave up.
        raise ImportFormatError(f"malformed CSV: {error}", file_name=file_name, line=start) from None


def uses_decimal_comma(cells: list[str]) -> bool:
    """True when numbers in these cells are written 0,123 (a decimal-comma locale)."""
    comma = point = 0
    for cell in cells:
        text = cell.strip().lstrip("<>")
        if _NUMBER.match(text):
            if "," in text:
                comma += 1
            elif "." in text:
                point += 1
    return comma > point


def parse_number(text: str, *, decimal_comma: bool, file_name: str, line: int | None = None, column: str | None = None) -> float | None:
    """A finite float, or None for a cell that holds no number. NaN, inf and words are refused."""
    cell = text.strip().replace("\u00a0", "").replace(" ", "")
    if cell.lower() in EMPTY_TOKENS:
        return None
    if decimal_comma:
        if _THOUSANDS_POINT.match(cell):
            cell = cell.replace(".", "")
        cell = cell.replace(",", ".")
    elif _THOUSANDS_COMMA.match(cell):
        cell = cell.replace(",", "")
    if not _NUMBER.match(cell) or ("," in cell):
        raise ImportFormatError(f"not a number: {text.strip()!r}", file_name=file_name, line=line, column=column)
    number = float(cell)
    if not math.isfinite(number):  # the pattern admits no inf or nan, but 1e999 overflows to inf
        raise ImportFormatError(f"not a finite number: {text.strip()!r}", file_name=file_name, line=line, column=column)
    return number


def parse_reported_value(
    text: str, *, decimal_comma: bool, file_name: str, line: int | None = None, column: str | None = None
) -> tuple[float | None, Qualifier]:
    """A concentration cell: ``0.123``, ``<0.000``, ``> 500``, ``N/A`` or empty."""
    cell = text.strip()
    qualifier = Qualifier.EQUAL
    if cell[:1] in {"<", ">"}:
        qualifier = Qualifier.LESS_THAN if cell[0] == "<" else Qualifier.GREATER_THAN
        cell = cell[1:].strip()
        if not cell:
            raise ImportFormatError(f"a censoring sign without a number: {text.strip()!r}", file_name=file_name, line=line, column=column)
    value = parse_number(cell, decimal_comma=decimal_comma, file_name=file_name, line=line, column=column)
    if value is None and qualifier is not Qualifier.EQUAL:
        raise ImportFormatError(f"a censoring sign without a number: {text.strip()!r}", file_name=file_name, line=line, column=column)
    return value, qualifier
