"""Results typed by hand for a lot's samples (LOI, anions, a result from an outside lab), saved as a run.

The grid's rows become a ``generic-long`` file (``sample_id, analyte, value, unit, lod``, and
``expanded_u, coverage_factor`` when a row states an uncertainty) that goes
through the same parser and the same ``run_import`` as an uploaded file, so a typed result is
validated, converted, censored, stored and audited exactly like an imported one. The run belongs
to a manual method (``Method.is_manual``) and to the site's manual-entry instrument
(``MANUAL-<site code>``, technique "other"), both created on first use: they are master data,
not regulated records, so creating them writes no audit event.

Errors name the grid's row (its number as shown, blank rows included) and column, with the
generic-long parser's own message. Each row is checked on its own first, so every bad row is
reported at once rather than the first only; the rows together are then checked for repeats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from assays.errors import DomainError, PermissionDeniedError
from assays.importers import generic_long
from assays.importers.core import ImportFormatError
from assays.models import Instrument, Method, Sample, Site, Technique
from assays.permissions import Capability, can
from assays.selectors.runs import manual_entry_samples
from assays.services.runs import ImportSummary, run_import

MANUAL_METHOD_CODE = "MANUAL"
MANUAL_INSTRUMENT_PREFIX = "MANUAL-"
# What the grid writes, in this order; the parser reads the header, so the order is free.
CSV_COLUMNS = ("sample_id", "analyte", "value", "unit", "lod")
# Written only when a row states an uncertainty (an outside laboratory's U and k), so that results
# typed without one make the same file as before, and typing them again finds the run saved.
UNCERTAINTY_COLUMNS = ("expanded_u", "coverage_factor")
GRID_COLUMNS = CSV_COLUMNS + UNCERTAINTY_COLUMNS
# A person types these; more than this in one go is a file, and belongs in an upload.
MAX_ROWS = 500
_FIELD_MAX = 100


@dataclass(frozen=True, slots=True)
class ManualRow:
    """One row of the grid as typed. ``number`` is its position in the grid (1-based)."""

    number: int
    sample: str = ""
    analyte: str = ""
    value: str = ""
    lod: str = ""
    unit: str = ""
    expanded_u: str = ""  # U as the report states it, in the value's unit
    coverage_factor: str = ""  # the report's k

    @property
    def is_blank(self) -> bool:
        # Sample, analyte, unit and k may be filled in ahead (the lot's samples, "LOI in % on every
        # row"): a row is a result once a value, a limit or an uncertainty is typed.
        return not (self.value.strip() or self.lod.strip() or self.expanded_u.strip())

    @property
    def states_uncertainty(self) -> bool:
        return bool(self.expanded_u.strip() or self.coverage_factor.strip())

    def cells(self) -> list[str]:
        """The row's cells in ``GRID_COLUMNS`` order."""
        return [
            self.sample.strip().upper(),
            self.analyte.strip(),
            self.value.strip(),
            self.unit.strip(),
            self.lod.strip(),
            self.expanded_u.strip(),
            self.coverage_factor.strip(),
        ]


@dataclass(frozen=True, slots=True)
class RowError:
    row: int | None  # None: about the entry as a whole
    column: str | None  # one of GRID_COLUMNS ("sample_id" is shown as the sample column)
    message: str

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column:
            where.append(self.column)
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(slots=True)
class ManualEntryResult:
    errors: list[RowError] = field(default_factory=list)
    summary: ImportSummary | None = None
    rows: int = 0  # results entered (blank rows left out)

    @property
    def ok(self) -> bool:
        return not self.errors and self.summary is not None

    @property
    def run_id(self) -> int | None:
        return self.summary.run_id if self.summary is not None else None


def _csv(rows: Sequence[ManualRow]) -> bytes:
    columns = GRID_COLUMNS if any(row.states_uncertainty for row in rows) else CSV_COLUMNS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row.cells()[: len(columns)])
    return buffer.getvalue().encode("utf-8")


def _column(error: ImportFormatError) -> str | None:
    # The parser names a column as it appears in the header, quoted: "'value'".
    name = (error.column or "").strip("'")
    return name if name in GRID_COLUMNS else None


def _row_errors(rows: Sequence[ManualRow], *, samples: dict[str, Sample], lot_code: str, file_name: str) -> list[RowError]:
    errors: list[RowError] = []
    for row in rows:
        too_long = next((name for name, text in zip(GRID_COLUMNS, row.cells(), strict=True) if len(text) > _FIELD_MAX), None)
        if too_long is not None:
            errors.append(RowError(row.number, too_long, f"longer than {_FIELD_MAX} characters"))
            continue
        code = row.sample.strip().upper()
        sample_error = None
        if not code:
            sample_error = RowError(row.number, "sample_id", "choose the sample")
        elif code not in samples:
            sample_error = RowError(row.number, "sample_id", f"{code} is not a sample of lot {lot_code} held at your sites")
        if sample_error is not None:
            errors.append(sample_error)
        try:
            generic_long.parse(_csv([row]), file_name=file_name)
        except ImportFormatError as error:
            # The parser's "no sample_id" says less than the message above.
            if sample_error is None or _column(error) != "sample_id":
                errors.append(RowError(row.number, _column(error), error.message))
    return errors


def _at_line(error: ImportFormatError, rows: Sequence[ManualRow]) -> RowError:
    """A file error as a grid error: line 1 is the header, line k + 1 the k-th entered row."""
    index = (error.line or 0) - 2
    row = rows[index].number if 0 <= index < len(rows) else None
    message = error.message
    if row is not None:
        # The parser's "line 5 repeats line 3" means rows, here.
        for number, entered in enumerate(rows, start=2):
            message = message.replace(f"line {number}", f"row {entered.number}")
    return RowError(row, _column(error), message)


def manual_instrument(*, site: Site) -> Instrument:
    """The site's manual-entry instrument, created on first use."""
    code = f"{MANUAL_INSTRUMENT_PREFIX}{site.code}"
    defaults = {"name": f"Manual entry ({site.code})", "site": site, "technique": Technique.OTHER, "vendor": "", "model": ""}
    try:
        with transaction.atomic():
            instrument, _ = Instrument.objects.get_or_create(code=code, defaults=defaults)
    except IntegrityError:
        # Created by a concurrent request a moment ago.
        instrument = Instrument.objects.get(code=code)
    if instrument.site_id != site.pk:
        raise DomainError(f"instrument {code} exists but belongs to site {instrument.site.code}; ask a lab admin to rename it")
    return instrument


def manual_method() -> Method:
    """The manual method: the first method flagged ``is_manual``, else ``MANUAL``, created on first use."""
    method = Method.objects.filter(is_manual=True).order_by("code").first()
    if method is not None:
        return method
    # Results typed in count as entered: the "none" rule pack (a lab admin may set another).
    defaults = {
        "name": "Results entered by hand (LOI, anions, outside laboratory)",
        "technique": Technique.OTHER,
        "is_manual": True,
        "rule_pack_code": "none",
    }
    try:
        with transaction.atomic():
            method, _ = Method.objects.get_or_create(code=MANUAL_METHOD_CODE, defaults=defaults)
    except IntegrityError:
        method = Method.objects.get(code=MANUAL_METHOD_CODE)
    if not method.is_manual:
        raise DomainError(f"method {MANUAL_METHOD_CODE} exists but is not flagged as manual; ask a lab admin")
    return method


def manual_results_save(
    *,
    actor: User,
    lot_code: str,
    rows: Sequence[ManualRow],
    method: Method | None = None,
    reference: str = "",
) -> ManualEntryResult:
    """Save the grid's results for the samples of lot ``lot_code`` as one run of a manual method.

    Writes nothing when any row is wrong (``errors`` lists every one). The same results typed twice
    give the same file, hence the run already saved (``summary.existing``), not a second copy.
    Raises ``PermissionDeniedError`` for an actor who may not import runs and ``NotFoundError``
    for a lot the actor may not see.
    """
    if not can(actor, Capability.IMPORT_RUNS):
        raise PermissionDeniedError("you may not enter results")
    if method is not None and not method.is_manual:
        raise DomainError(f"method {method.code} is not a manual method")
    lot, available = manual_entry_samples(actor=actor, lot_code=lot_code)
    lot_code = lot.code
    samples = {sample.code: sample for sample in available}
    # It becomes the run's file name: printable text only (PostgreSQL refuses a NUL byte).
    reference = " ".join("".join(char for char in reference if char.isprintable()).split())[:120]
    file_name = f"manual entry, lot {lot_code}" + (f" ({reference})" if reference else "")
    entered = [row for row in rows if not row.is_blank]
    result = ManualEntryResult(rows=len(entered))
    if not entered:
        result.errors.append(RowError(None, None, "nothing entered: type at least one result (analyte, value, unit)"))
        return result
    if len(entered) > MAX_ROWS:
        result.errors.append(RowError(None, None, f"{len(entered)} results: at most {MAX_ROWS} at a time (upload a generic-long file)"))
        return result
    result.errors = _row_errors(entered, samples=samples, lot_code=lot_code, file_name=file_name)
    if result.errors:
        return result
    data = _csv(entered)
    try:
        generic_long.parse(data, file_name=file_name)  # what only the rows together can get wrong: a repeat
    except ImportFormatError as error:
        result.errors.append(_at_line(error, entered))
        return result

    sites = {samples[row.sample.strip().upper()].site for row in entered}
    if len(sites) > 1:
        codes = ", ".join(sorted(site.code for site in sites))
        result.errors.append(RowError(None, "sample_id", f"the samples are held at different sites ({codes}): enter each site's apart"))
        return result
    instrument = manual_instrument(site=sites.pop())
    try:
        result.summary = run_import(
            actor=actor,
            data=data,
            file_name=file_name,
            instrument=instrument,
            method=method or manual_method(),
            format=generic_long.FORMAT,
        )
    except ImportFormatError as error:
        result.errors.append(_at_line(error, entered))
    return result
