"""Files a partner downloads that are built on the fly rather than stored: one lot's released
results as CSV. The partner API (``/api/v1/partner/lots/<code>/results.csv``) and the portal
(``/portal/``) send the same bytes, so a partner's import works whichever door it used.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from assays.models import Lot, Partner
from assays.selectors.partner import RESULT_FIELDS, partner_results


@dataclass(frozen=True, slots=True)
class CsvFile:
    body: bytes
    rows: int
    file_name: str


def _cell(value: object) -> object:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)  # full precision, as stored
    return value


def safe_file_stem(code: str) -> str:
    """A lot code as a file name: free text may hold a slash or a quote, a file name may not."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in code)


def lot_results_csv(*, partner: Partner, lot: Lot) -> CsvFile:
    """The accepted results of ``lot`` released to ``partner`` (``partner_results``): UTF-8, CRLF
    line ends, a header of ``RESULT_FIELDS``, one row per sample and analyte. Only a header while
    the lot is not released to the partner."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RESULT_FIELDS)
    count = 0
    for row in partner_results(partner=partner, lot=lot).iterator(chunk_size=2000):
        writer.writerow([_cell(row[field]) for field in RESULT_FIELDS])
        count += 1
    return CsvFile(body=buffer.getvalue().encode("utf-8"), rows=count, file_name=f"{safe_file_stem(lot.code)}-results.csv")
