"""Agilent MassHunter ``BatchLog.csv``: the acquisition sequence of a ``.b`` batch folder.

It holds no results, so ``parse`` refuses it; but its ``Total Dil.`` column is the dilution the
instrument applied to each acquisition, which the import service can pick up through
``read_batch_log`` alongside the batch table of the same run.

Layout (MassHunter 7700/7900): one header row ``#,Acq. Date-Time,Sample Type,Sample Name,Vial#,
File Name,…,Total Dil.,…`` then one row per acquisition; ``-`` for an empty cell; a trailing
delimiter on every line; ``File Name`` is the full path of the ``.d`` folder.
"""

from __future__ import annotations

from assays.importers.core import ImportFormatError, ParsedRun
from assays.importers.text import decode_export, iter_records, parse_number, sniff_delimiter, uses_decimal_comma

_SIGNATURE = ("acq. date-time", "sample type", "sample name", "file name", "acquisition result")


def _fold(cell: str) -> str:
    return " ".join(cell.split()).lower()


def sniff(data: bytes, text: str | None, file_name: str) -> int:
    if not text:
        return 0
    first = _fold(text[:4096].split("\n", 1)[0])
    found = sum(1 for column in _SIGNATURE if column in first)
    if found < 4:
        return 0
    score = 60 + 5 * found
    if "total dil." in first:
        score += 10
    if file_name.lower().endswith("batchlog.csv"):
        score += 5
    return min(score, 100)


def parse(data: bytes, *, file_name: str) -> ParsedRun:
    raise ImportFormatError(
        "this is a MassHunter batch log (BatchLog.csv), a batch log, not results: it lists the acquisitions and their "
        "dilutions but no concentrations; import the batch table exported from MassHunter's Data Analysis "
        "(File > Export > Batch table), and the batch log alongside it if its dilution factors are wanted",
        file_name=file_name,
        line=1,
    )


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def read_batch_log(data: bytes, *, file_name: str) -> dict[str, float]:
    """Total dilution per acquisition: data file name (``1.d``, as the batch table's ``Data File``
    shows it) -> factor, and sample name -> factor where the name is not repeated with another
    factor. Acquisitions with no dilution (``-``) are absent.
    """
    text = decode_export(data, file_name=file_name)
    head = text[:4096].split("\n", 1)[0]
    delimiter = sniff_delimiter([head], file_name=file_name)
    records = iter_records(text, delimiter=delimiter, file_name=file_name)
    first = next(records, None)
    header = [_fold(cell) for cell in first[1]] if first is not None else []
    if first is None or sum(1 for column in _SIGNATURE if column in header) < 4:
        raise ImportFormatError(
            "not a MassHunter batch log: its header lacks 'Acq. Date-Time', 'Sample Type', 'File Name'…", file_name=file_name, line=1
        )
    try:
        dilution_at = header.index("total dil.")
    except ValueError:
        raise ImportFormatError("the batch log has no 'Total Dil.' column", file_name=file_name, line=first[0]) from None
    file_at = header.index("file name") if "file name" in header else None
    name_at = header.index("sample name") if "sample name" in header else None
    rows = list(records)
    decimal_comma = uses_decimal_comma([fields[dilution_at] for _, fields in rows if len(fields) > dilution_at])

    by_file: dict[str, float] = {}
    by_name: dict[str, float] = {}
    ambiguous: set[str] = set()
    column = first[1][dilution_at].strip()
    for line, fields in rows:
        if len(fields) <= max(dilution_at, file_at or 0, name_at or 0):
            raise ImportFormatError(f"the row has {len(fields)} fields, the header {len(first[1])}", file_name=file_name, line=line)
        cell = fields[dilution_at].strip()
        factor = parse_number(cell, decimal_comma=decimal_comma, file_name=file_name, line=line, column=column)
        if factor is None:  # "-": no dilution recorded
            continue
        if factor <= 0:
            raise ImportFormatError(f"a dilution factor must be positive, not {cell!r}", file_name=file_name, line=line, column=column)
        if file_at is not None and fields[file_at].strip() not in {"", "-"}:
            by_file[_basename(fields[file_at].strip())] = factor
        if name_at is not None and fields[name_at].strip() not in {"", "-"}:
            name = fields[name_at].strip()
            if name in by_name and by_name[name] != factor:
                ambiguous.add(name)
            by_name[name] = factor
    for name in ambiguous:
        del by_name[name]
    # A data file name wins over a sample name that happens to read the same.
    return {**by_name, **by_file}
