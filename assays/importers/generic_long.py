"""``generic-long``: one result per row, for any instrument and for results typed by hand.

PURE. The layout is documented in ``docs/import-formats.md``::

    sample_id,analyte,value,unit,qualifier,lod,loq[,replicate][,basis][,expanded_u,coverage_factor]

``sample_id``, ``analyte``, ``value`` and ``unit`` are required; the others are optional columns.
A value may carry its own censoring sign (``<0.5``) or take it from ``qualifier``; ``<`` with an
empty value stands at the row's LOD. ``expanded_u`` and ``coverage_factor`` are the uncertainty a
report states with a result ("U = 0.4 % (k = 2)"), U in the value's unit: both or neither, and
never on a result below its LOD. A (sample, analyte) pair may appear once per replicate: a
repeat without a distinguishing ``replicate`` is an error naming both lines, because silently
keeping one of them (or both) would change a reported purity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assays.chemistry.units import UnitError
from assays.importers.analytes import SOLID_ONLY, AnalyteLabelError, read_analyte
from assays.importers.core import (
    ImportFormatError,
    ParsedAcquisition,
    ParsedChannel,
    ParsedRun,
    ParsedValue,
    Qualifier,
    ValueBasis,
)
from assays.importers.tabular import cell_beyond_header, clip
from assays.importers.text import (
    cyclic_gc_paused,
    decode_export,
    iter_records,
    parse_number,
    parse_reported_value,
    sniff_delimiter,
    uses_decimal_comma,
)
from assays.importers.units import UnitBasisError, read_unit

FORMAT = "generic-long"

REQUIRED_COLUMNS = ("sample_id", "analyte", "value", "unit")
OPTIONAL_COLUMNS = ("qualifier", "lod", "loq", "replicate", "basis", "expanded_u", "coverage_factor")
# A coverage factor outside this range is a typing slip (95 is a confidence level, not a k).
COVERAGE_FACTOR_RANGE = (1.0, 10.0)
_QUALIFIERS = {"": None, "=": Qualifier.EQUAL, "<": Qualifier.LESS_THAN, ">": Qualifier.GREATER_THAN}
_BASES = {"": None, "solid": ValueBasis.SOLID, "solution": ValueBasis.SOLUTION}
_PLAIN_NUMBER = re.compile(r"-?\d{1,15}(?:\.\d{1,15})?")  # read by float() exactly as by parse_number


def _column_key(name: str) -> str:
    return "_".join(name.strip().lstrip("\ufeff").casefold().replace("-", " ").split())


def _header(text: str) -> tuple[str, list[str]] | None:
    """The first non-blank line and its cells split by the delimiter that splits it."""
    for line in text.split("\n", 50)[:50]:
        if line.strip():
            try:
                delimiter = sniff_delimiter([line], file_name="")
            except ImportFormatError:
                return None
            return delimiter, [_column_key(cell) for cell in line.split(delimiter)]
    return None


def sniff(data: bytes, text: str | None, file_name: str) -> int:
    if text is None:
        return 0
    header = _header(text[:20_000])
    if header is None:
        return 0
    names = set(header[1])
    found = sum(1 for column in REQUIRED_COLUMNS if column in names)
    if found == len(REQUIRED_COLUMNS):
        return 95
    # A header that is clearly ours but lacks a column: claim it, so the error names the column.
    if found == len(REQUIRED_COLUMNS) - 1 and {"sample_id", "analyte"} <= names:
        return 60
    return 0


@dataclass(slots=True)
class _Columns:
    sample_id: int
    analyte: int
    value: int
    unit: int
    qualifier: int | None
    lod: int | None
    loq: int | None
    replicate: int | None
    basis: int | None
    expanded_u: int | None
    coverage_factor: int | None
    width: int
    names: list[str]


def _columns(header: list[str], *, line: int, file_name: str, warnings: list[str]) -> _Columns:
    keys = [_column_key(cell) for cell in header]
    while keys and not keys[-1]:
        keys.pop()
    positions: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in positions and key in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            raise ImportFormatError(
                f"the column {key!r} appears twice (columns {positions[key] + 1} and {index + 1})",
                file_name=file_name,
                line=line,
                column=f"'{key}'",
            )
        positions.setdefault(key, index)
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        raise ImportFormatError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; a generic-long file starts with the header "
            "'sample_id,analyte,value,unit' and may add qualifier, lod, loq, replicate, basis, expanded_u, coverage_factor",
            file_name=file_name,
            line=line,
        )
    ignored = [header[index].strip() for index, key in enumerate(keys) if key and key not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if ignored:
        warnings.append(f"ignored columns: {', '.join(clip(name, 40) for name in ignored)}")
    return _Columns(
        sample_id=positions["sample_id"],
        analyte=positions["analyte"],
        value=positions["value"],
        unit=positions["unit"],
        qualifier=positions.get("qualifier"),
        lod=positions.get("lod"),
        loq=positions.get("loq"),
        replicate=positions.get("replicate"),
        basis=positions.get("basis"),
        expanded_u=positions.get("expanded_u"),
        coverage_factor=positions.get("coverage_factor"),
        width=len(keys),
        names=keys,
    )


class _Reader:
    """Per-file state: caches of channels and units by their text, so 120,000 rows stay cheap."""

    def __init__(self, *, file_name: str, decimal_comma: bool) -> None:
        self.file_name = file_name
        self.decimal_comma = decimal_comma
        self.channels: list[ParsedChannel] = []
        self.channel_by_label: dict[str, int] = {}
        self.channel_by_code: dict[str, int] = {}
        self.units: dict[tuple[str, ValueBasis | None, ValueBasis], tuple[str, ValueBasis]] = {}
        self.limits: dict[str, float | None] = {}

    def channel(self, text: str, *, line: int) -> int:
        index = self.channel_by_label.get(text)
        if index is not None:
            return index
        try:
            channel = read_analyte(text)
        except AnalyteLabelError as error:
            raise ImportFormatError(f"unknown analyte: {error}", file_name=self.file_name, line=line, column="'analyte'") from None
        code = channel.code
        index = self.channel_by_code.get(code)
        if index is None:
            index = len(self.channels)
            self.channels.append(channel)
            self.channel_by_code[code] = index
        self.channel_by_label[text] = index
        return index

    def unit(self, text: str, *, stated: ValueBasis | None, default: ValueBasis, line: int) -> tuple[str, ValueBasis]:
        key = (text, stated, default)
        found = self.units.get(key)
        if found is None:
            try:
                found = read_unit(text, stated=stated, default=default)
            except UnitBasisError as error:
                raise ImportFormatError(str(error), file_name=self.file_name, line=line, column="'basis'") from None
            except UnitError as error:
                message = str(error) if text.strip() else "no unit given"
                raise ImportFormatError(message, file_name=self.file_name, line=line, column="'unit'") from None
            self.units[key] = found
        return found

    def number(self, text: str, *, line: int, column: str) -> float | None:
        """A limit cell. Limits repeat down a file (one LOD per analyte), so each text is read once."""
        if text in self.limits:
            return self.limits[text]
        if len(text) > 100:
            raise ImportFormatError(f"not a number: {clip(text)}", file_name=self.file_name, line=line, column=f"'{column}'")
        number = parse_number(text, decimal_comma=self.decimal_comma, file_name=self.file_name, line=line, column=f"'{column}'")
        if len(self.limits) < 10_000:
            self.limits[text] = number
        return number

    def value(self, text: str, *, line: int) -> tuple[float | None, Qualifier]:
        if _PLAIN_NUMBER.fullmatch(text):  # the common case, without the general reader's steps
            return float(text), Qualifier.EQUAL
        if len(text) > 100:
            raise ImportFormatError(f"not a number: {clip(text)}", file_name=self.file_name, line=line, column="'value'")
        return parse_reported_value(text, decimal_comma=self.decimal_comma, file_name=self.file_name, line=line, column="'value'")


def _decimal_comma(rows: list[tuple[int, list[str]]], columns: _Columns, delimiter: str) -> bool:
    if delimiter == ",":
        return False
    indexes = [index for index in (columns.value, columns.lod, columns.loq, columns.expanded_u) if index is not None]
    return uses_decimal_comma([row[index] for _, row in rows[:2000] for index in indexes if index < len(row)])


def parse(data: bytes, *, file_name: str) -> ParsedRun:
    with cyclic_gc_paused():
        return _parse(data, file_name=file_name)


def _parse(data: bytes, *, file_name: str) -> ParsedRun:
    text = decode_export(data, file_name=file_name)
    header = _header(text)
    if header is None:
        raise ImportFormatError("cannot tell the delimiter: no ',', ';' or tab separates the header's columns", file_name=file_name, line=1)
    delimiter = header[0]
    rows = list(iter_records(text, delimiter=delimiter, file_name=file_name))
    if not rows:  # pragma: no cover - decode_export refuses a blank file first
        raise ImportFormatError("the file is empty", file_name=file_name)
    header_line, header_cells = rows[0]
    warnings: list[str] = []
    columns = _columns(header_cells, line=header_line, file_name=file_name, warnings=warnings)
    body = rows[1:]
    if not body:
        raise ImportFormatError("no results: the file has a header and no rows", file_name=file_name, line=header_line + 1)
    reader = _Reader(file_name=file_name, decimal_comma=_decimal_comma(body, columns, delimiter))
    acquisitions: dict[str, ParsedAcquisition] = {}
    seen: dict[tuple[str, int, str], int] = {}
    for line, row in body:
        if len(row) < columns.width:
            raise ImportFormatError(
                f"{len(row)} cells where the header has {columns.width}: no cell for '{columns.names[len(row)]}'",
                file_name=file_name,
                line=line,
                column=f"'{columns.names[len(row)]}'",
            )
        extra = cell_beyond_header(row, width=columns.width, header_width=len(header_cells))
        if extra is not None:
            raise ImportFormatError(
                f"{len(row)} cells where the header has {columns.width} (a stray {delimiter!r}, or a decimal comma in a ',' file?)",
                file_name=file_name,
                line=line,
                column=f"{extra + 1} (beyond the header)",
            )
        value = _row_value(row, line=line, columns=columns, reader=reader)
        sample_id = row[columns.sample_id].strip()
        key = (sample_id, value.channel, value.replicate)
        first = seen.get(key)
        if first is not None:
            channel = reader.channels[value.channel]
            again = f" replicate {value.replicate!r}" if value.replicate else ""
            raise ImportFormatError(
                f"sample {clip(sample_id, 40)} analyte {clip(channel.label, 30)}{again} again: line {line} repeats line {first}; "
                "give each repeat its own 'replicate'",
                file_name=file_name,
                line=line,
                column="'analyte'",
            )
        seen[key] = line
        acquisition = acquisitions.get(sample_id)
        if acquisition is None:
            acquisition = acquisitions[sample_id] = ParsedAcquisition(sequence=len(acquisitions) + 1, label=sample_id, line=line)
        acquisition.values.append(value)
    return ParsedRun(
        format=FORMAT,
        file_name=file_name,
        channels=reader.channels,
        acquisitions=list(acquisitions.values()),
        warnings=warnings,
    )


def _row_value(row: list[str], *, line: int, columns: _Columns, reader: _Reader) -> ParsedValue:
    file_name = reader.file_name
    if not row[columns.sample_id].strip():
        raise ImportFormatError("no sample_id", file_name=file_name, line=line, column="'sample_id'")
    channel_index = reader.channel(row[columns.analyte], line=line)
    channel = reader.channels[channel_index]

    lod = reader.number(row[columns.lod], line=line, column="lod") if columns.lod is not None else None
    loq = reader.number(row[columns.loq], line=line, column="loq") if columns.loq is not None else None
    for limit, name in ((lod, "lod"), (loq, "loq")):
        if limit is not None and limit < 0:
            raise ImportFormatError(f"a negative {name.upper()}: {limit:g}", file_name=file_name, line=line, column=f"'{name}'")
    if lod is not None and loq is not None and loq < lod:
        raise ImportFormatError(f"the LOQ ({loq:g}) is below the LOD ({lod:g})", file_name=file_name, line=line, column="'loq'")

    raw = row[columns.value]
    value: float | None
    if lod is not None and raw.strip() == "<":
        value, qualifier = None, Qualifier.LESS_THAN  # "< LOD" typed as a bare '<', the limit in its own column
    else:
        value, qualifier = reader.value(raw, line=line)
    if columns.qualifier is not None:
        written = row[columns.qualifier].strip()
        if written not in _QUALIFIERS:
            raise ImportFormatError(
                f"qualifier {clip(written, 20)} is not one of '<', '>', '=' or empty", file_name=file_name, line=line, column="'qualifier'"
            )
        stated = _QUALIFIERS[written]
        if stated is not None:
            if raw.strip()[:1] in {"<", ">"} and stated is not qualifier:
                raise ImportFormatError(
                    f"the value {clip(raw, 20)} and the qualifier {written!r} disagree",
                    file_name=file_name,
                    line=line,
                    column="'qualifier'",
                )
            qualifier = stated

    if value is None:
        if qualifier is Qualifier.LESS_THAN and lod is not None:
            value = lod  # "< LOD": the limit stands in its own column
        else:
            hint = "give a number, or the qualifier '<' with the LOD" if columns.lod is not None else "give a number, or '<' and the limit"
            raise ImportFormatError(f"no value ({clip(raw, 20)}): {hint}", file_name=file_name, line=line, column="'value'")
    if qualifier is not Qualifier.EQUAL and value < 0:
        raise ImportFormatError(f"a censored value needs a positive limit, not {value:g}", file_name=file_name, line=line, column="'value'")

    unit, basis = _unit(row, line=line, columns=columns, channel=channel, reader=reader)
    expanded_u, coverage_factor = _reported_uncertainty(row, line=line, columns=columns, reader=reader, qualifier=qualifier)
    return ParsedValue(
        channel=channel_index,
        value=value,
        qualifier=qualifier,
        unit=unit,
        basis=basis,
        raw_text=raw.strip(),
        lod=lod,
        loq=loq,
        expanded_u=expanded_u,
        coverage_factor=coverage_factor,
        replicate=row[columns.replicate].strip() if columns.replicate is not None else "",
        line=line,
    )


def _reported_uncertainty(
    row: list[str], *, line: int, columns: _Columns, reader: _Reader, qualifier: Qualifier
) -> tuple[float | None, float | None]:
    """The row's stated U and k: both or neither; U >= 0 in the value's unit, k in
    ``COVERAGE_FACTOR_RANGE``; none on a censored result (its u is LOD/√12 by the convention)."""
    if columns.expanded_u is None and columns.coverage_factor is None:
        return None, None
    file_name = reader.file_name
    expanded = reader.number(row[columns.expanded_u], line=line, column="expanded_u") if columns.expanded_u is not None else None
    k = reader.number(row[columns.coverage_factor], line=line, column="coverage_factor") if columns.coverage_factor is not None else None
    if expanded is None and k is None:
        return None, None
    if expanded is None:
        raise ImportFormatError(
            "a coverage factor without an expanded uncertainty: give U in 'expanded_u', or leave k empty",
            file_name=file_name,
            line=line,
            column="'expanded_u'",
        )
    if k is None:
        raise ImportFormatError(
            f"an expanded uncertainty ({expanded:g}) without its coverage factor: give the report's k (usually 2) in 'coverage_factor'",
            file_name=file_name,
            line=line,
            column="'coverage_factor'",
        )
    if expanded < 0:
        raise ImportFormatError(f"a negative expanded uncertainty: {expanded:g}", file_name=file_name, line=line, column="'expanded_u'")
    low, high = COVERAGE_FACTOR_RANGE
    if not low <= k <= high:
        raise ImportFormatError(
            f"a coverage factor of {k:g}: k is between {low:g} and {high:g} (usually 2, for about 95 %)",
            file_name=file_name,
            line=line,
            column="'coverage_factor'",
        )
    if qualifier is not Qualifier.EQUAL:
        raise ImportFormatError(
            f"an expanded uncertainty on a result reported as '{qualifier.value} limit': a result below the LOD or over the range has none",
            file_name=file_name,
            line=line,
            column="'expanded_u'",
        )
    return expanded, k


def _unit(row: list[str], *, line: int, columns: _Columns, channel: ParsedChannel, reader: _Reader) -> tuple[str, ValueBasis]:
    stated: ValueBasis | None = None
    if columns.basis is not None:
        written = row[columns.basis].strip().casefold()
        if written not in _BASES:
            raise ImportFormatError(
                f"basis {clip(written, 20)} is not 'solid', 'solution' or empty", file_name=reader.file_name, line=line, column="'basis'"
            )
        stated = _BASES[written]
    solid_only = channel.element is None and channel.name in SOLID_ONLY
    # ppm/ppb/ppt do not say solid or solution: solution (ppm = mg/L), as an ICP's own results
    # are, unless the basis column says solid or the analyte only exists in the solid (LOI).
    default = ValueBasis.SOLID if solid_only else ValueBasis.SOLUTION
    unit, basis = reader.unit(row[columns.unit], stated=stated, default=default, line=line)
    if solid_only and basis is not ValueBasis.SOLID:
        raise ImportFormatError(
            f"{channel.name} is a mass fraction of the solid: give it in %, mg/kg or µg/g, not {unit}",
            file_name=reader.file_name,
            line=line,
            column="'unit'",
        )
    return unit, basis
