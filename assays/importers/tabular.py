"""Cell text fit for a message, spreadsheet column letters, and dates written any of the usual ways.

PURE. Shared by the Qtegra, PerkinElmer and generic-long parsers.
"""

from __future__ import annotations

import datetime as dt


def clip(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut short: a 1 MB cell must not become a 1 MB message."""
    stripped = text.strip()
    if len(stripped) <= limit:
        return repr(stripped)
    return f"{stripped[:limit]!r}… ({len(stripped)} characters)"


def cell_beyond_header(row: list[str], *, width: int, header_width: int) -> int | None:
    """The index of the first cell a row has no business holding, or None.

    ``width`` is the header's used width, ``header_width`` its raw width (trailing empty header
    cells included). Any cell past the raw width counts even when empty: a stray delimiter ("1,5"
    in a comma file) leaves exactly that shape, and reading on would shift every later column.
    Between the two widths only a non-blank cell counts.
    """
    if len(row) > header_width:
        return header_width
    return next((index for index in range(width, len(row)) if row[index].strip()), None)


def column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index: 0 -> A, 27 -> AB."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d.%m.%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d-%m-%y",
    "%m-%d-%y",
    "%d.%m.%y",
)
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%H:%M:%S.%f")


def _parses(text: str, pattern: str) -> bool:
    try:
        dt.datetime.strptime(text, pattern)  # instrument clocks are naive local time
    except ValueError:
        return False
    return True


def date_format(samples: list[str]) -> tuple[str | None, bool]:
    """The one date format that reads every sample, and whether another would read them too.

    Day-first is preferred when both orders fit (``05/06/2021``): the fixtures' instruments are
    set to day-first locales; the caller says so in a warning when it was ambiguous.
    """
    distinct = sorted({sample.strip() for sample in samples if sample.strip()})
    if not distinct:
        return None, False
    fitting = [pattern for pattern in _DATE_FORMATS if all(_parses(sample, pattern) for sample in distinct)]
    if not fitting:
        return None, False
    return fitting[0], len(fitting) > 1


def time_format(samples: list[str]) -> str | None:
    distinct = sorted({" ".join(sample.split()).upper() for sample in samples if sample.strip()})
    for pattern in _TIME_FORMATS:
        if all(_parses(sample, pattern) for sample in distinct):
            return pattern
    return None


def combine(date_text: str, date_pattern: str | None, time_text: str, time_pattern: str | None) -> dt.datetime | None:
    """The naive datetime of a date cell and a time cell; None when a part is missing or unreadable."""
    if not date_text.strip() or date_pattern is None:
        return None
    try:
        date = dt.datetime.strptime(date_text.strip(), date_pattern).date()
        if time_text.strip() and time_pattern is not None:
            clock = dt.datetime.strptime(" ".join(time_text.split()).upper(), time_pattern).time()
        else:
            clock = dt.time()
    except ValueError:
        return None
    return dt.datetime.combine(date, clock)


def datetime_format(samples: list[str]) -> tuple[str | None, bool]:
    """The one "date time" format that reads every sample (``28/05/2021 12:40:54 PM``), and whether
    another would read them too. Day-first is preferred, as in ``date_format``."""
    distinct = sorted({" ".join(sample.split()).upper() for sample in samples if sample.strip()})
    if not distinct:
        return None, False
    fitting: list[str] = []
    for date_pattern in _DATE_FORMATS:
        for time_pattern in (*_TIME_FORMATS, ""):
            pattern = f"{date_pattern} {time_pattern}".strip()
            if all(_parses(sample, pattern) for sample in distinct):
                fitting.append(pattern)
                break
    if not fitting:
        return None, False
    return fitting[0], len(fitting) > 1


def read_datetime(text: str, pattern: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(" ".join(text.split()).upper(), pattern)  # instrument clocks are naive local time
    except ValueError:
        return None
