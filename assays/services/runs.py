"""Importing an instrument export as a run (DESIGN.md, data flow step 2).

``run_import`` parses the file (``assays.importers.registry``), matches its acquisitions to the
samples the analyst may use at the instrument's site and to QC items
(``assays.importers.matching``), converts and censors every value (``assays.chemistry.units``,
``assays.chemistry.censoring``), and stores Run + Acquisitions + Measurements + internal-standard
readings in one transaction, with one audit event for the run and its counts. The run is
"pending QC"; on commit the run evaluation is enqueued. Lots are not touched: they are marked
stale by the QC evaluation, never by an import.

What is stored, and in which unit:

* a registered sample's values: mg/kg of the solid, basis ``as_received``, converted with its
  preparation, w = c · V · DF / (1000 · m); DF is the acquisition's own (the batch table's or
  batch log's ``Total Dil.``) when the file gives one, else the sample's, and is left out when the
  instrument's software has already applied it. A sample without mass or final volume keeps its
  values in µg/L (basis ``solution``), with a warning: nothing is guessed;
* every other acquisition (calibration blanks and standards, ICV/CCV/CCB, method blanks, LCS,
  CRMs, duplicates, spikes, and unmatched labels): µg/L of the measured solution, basis
  ``solution``, for run QC to use. A duplicate or spike is linked to its parent sample;
* values the file already gives on the solid (mg/kg, %): as they are.

Limits: the file's own LOD/LOQ (generic-long) where given, else the method channel's (solution
units, scaled per sample with V · DF / (1000 · m)), else, when asked, 3 s / 10 s of the run's
calibration blanks (flag ``lod_estimated``). Censoring: ``assays.chemistry.censoring``.

Reporting and confirmatory channels: not stored on measurements. The method's channel list says
which channel of an element reports; reading a result joins the run's method (one source of
truth: changing a method's reporting channel re-derives, and nothing stored goes stale). A
channel the method does not list is stored and flagged ``not_in_method``.

PostgreSQL: measurements go in with binary COPY, each acquisition's values read and converted
while the rows before it are stored (``_streams_values``), and the run's row last, when its summary
is complete; acquisitions and internal-standard readings with COPY under ids drawn from their
sequences (psycopg 3, on Django's connection and inside its transaction). Elsewhere, and for a
preview, every value is planned first and written with ``bulk_create``. A measurement's references
to its acquisition and analyte are checked once per statement there (migration 0006,
docs/architecture.md "Bulk integrity"), not row by row at commit. ``bench/import_bench.py``
measures all of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import math
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, connection, models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from psycopg import sql

from assays.bulk_insert import draw_ids
from assays.chemistry.censoring import BELOW_LOQ, NO_LOD, Limits, censor_fields, estimate_limits
from assays.chemistry.units import (
    SOLID_UNIT,
    SOLUTION_UNIT,
    Medium,
    Preparation,
    Unit,
    UnitError,
    unit_lookup,
)
from assays.errors import DomainError, PermissionDeniedError
from assays.importers import registry
from assays.importers.agilent_batchlog import read_batch_log
from assays.importers.core import ImportFormatError, ParsedAcquisition, ParsedChannel, ParsedRun, ParsedValue, Qualifier, ValueBasis
from assays.importers.matching import (
    AcquisitionLabel,
    LabelPattern,
    Match,
    MatchKind,
    MatchReport,
    PatternError,
    QcItem,
    match_acquisitions,
    normalise_label,
    parent_labels,
)
from assays.importers.text import cyclic_gc_paused
from assays.models import (
    Acquisition,
    Analyte,
    AuditAction,
    Basis,
    Element,
    Instrument,
    InternalStandardReading,
    Measurement,
    Method,
    MethodChannel,
    QcLabelPattern,
    ReferenceMaterial,
    Run,
    RunStatus,
    Sample,
    Technique,
)
from assays.permissions import Capability, can
from assays.selectors.samples import sample_list
from assays.selectors.scoping import visible_sites
from assays.services.audit import audit_record, audited_context, snapshot

NOT_IN_METHOD = "not_in_method"
LOD_ESTIMATED = "lod_estimated"

# Calibration blanks and continuing blanks are what the run's own noise is read from.
_BLANK_ITEMS = frozenset({QcItem.CALIBRATION_BLANK, QcItem.CCB})
_MAX_LABEL = Acquisition._meta.get_field("label").max_length or 200
_MAX_ANALYTE_CODE = Analyte._meta.get_field("code").max_length or 64
_MAX_SAMPLE_CODE = Sample._meta.get_field("code").max_length or 40
_MAX_SEQUENCE = 2_147_483_647  # a PositiveIntegerField on PostgreSQL


@dataclasses.dataclass
class ImportSummary:
    """What an import found and did, for the preview, the CLI's ``--json`` and the API.

    ``existing``: the same bytes (SHA-256) were imported before; ``run_id`` is that run and nothing
    was written. ``errors`` are the problems that refuse the file: a dry run lists them all; a
    real import raises ``ImportFormatError`` on them (and then writes nothing).
    """

    file_name: str
    sha256: str
    format: str = ""
    run_id: int | None = None
    existing: bool = False
    dry_run: bool = False
    instrument: str = ""
    method: str = ""
    acquisitions: int = 0
    channels: int = 0
    internal_standards: int = 0
    matched_samples: int = 0
    sample_acquisitions: int = 0
    qc_items: int = 0
    qc_roles: dict[str, int] = dataclasses.field(default_factory=dict)
    unmatched_labels: dict[str, int] = dataclasses.field(default_factory=dict)
    values: int = 0
    solid_values: int = 0
    solution_values: int = 0
    censored: int = 0
    below_loq: int = 0
    no_lod: int = 0
    not_in_method: int = 0
    internal_standard_readings: int = 0
    created_analytes: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def unmatched_acquisitions(self) -> int:
        return sum(self.unmatched_labels.values())

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ok"] = self.ok
        data["unmatched_acquisitions"] = self.unmatched_acquisitions
        return data

    def counts(self) -> dict[str, Any]:
        """The figures an audit event keeps (no long lists)."""
        keys = (
            "format",
            "acquisitions",
            "channels",
            "internal_standards",
            "matched_samples",
            "sample_acquisitions",
            "qc_items",
            "values",
            "solid_values",
            "solution_values",
            "censored",
            "below_loq",
            "no_lod",
            "not_in_method",
            "internal_standard_readings",
        )
        data = {key: getattr(self, key) for key in keys}
        data["unmatched_acquisitions"] = self.unmatched_acquisitions
        data["unmatched_labels"] = len(self.unmatched_labels)
        data["warnings"] = len(self.warnings)
        return data


# --- Planning: everything but the writes --------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _ChannelPlan:
    index: int
    channel: ParsedChannel
    code: str  # "" for a channel that cannot be stored (its problem is reported)
    in_method: bool
    # The channel's limits in µg/L of the measured solution: the method's, or estimated from blanks.
    lod: float | None = None
    loq: float | None = None
    estimated: bool = False
    flags: tuple[str, ...] = ()  # added to every value of the channel

    @property
    def is_internal_standard(self) -> bool:
        return self.channel.is_internal_standard


# (channel code, value, qualifier, unit, basis, lod, loq, raw value, raw unit, rsd, flags, reported U, its k)
_MeasurementRow = tuple[
    str, float, str, str, str, float | None, float | None, float, str, float | None, tuple[str, ...], float | None, float | None
]


@dataclasses.dataclass(slots=True)
class _AcquisitionPlan:
    parsed: ParsedAcquisition
    match: Match
    sample: Sample | None  # the sample itself, or a duplicate's or spike's parent
    reference_material_id: int | None
    dilution_factor: float | None
    preparation: Preparation | None  # set when values go to the solid
    acquired_at: dt.datetime | None
    measurements: list[_MeasurementRow] = dataclasses.field(default_factory=list)
    istd: list[tuple[str, float | None, float | None]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class _ValuePlanning:
    """What converting and censoring an acquisition's values reads and shares across the run."""

    channels: list[_ChannelPlan]
    file_name: str
    units: dict[tuple[str, ValueBasis], Unit] = dataclasses.field(default_factory=dict)
    unit_problems: set[tuple[int, str]] = dataclasses.field(default_factory=set)
    # Per channel: the flags censoring gave -> the flags stored.
    flag_sets: list[dict[tuple[str, ...], tuple[str, ...]]] = dataclasses.field(default_factory=list)
    done: bool = False


@dataclasses.dataclass(slots=True)
class _Plan:
    summary: ImportSummary
    parsed: ParsedRun | None = None
    acquisitions: list[_AcquisitionPlan] = dataclasses.field(default_factory=list)
    # None until the acquisitions are planned; their values are planned after them (_plan_all_values),
    # or, on PostgreSQL, while they stream to the database (_copy_measurements).
    values: _ValuePlanning | None = None
    analytes_needed: dict[str, ParsedChannel] = dataclasses.field(default_factory=dict)
    problems: list[ImportFormatError] = dataclasses.field(default_factory=list)
    repeated: defaultdict[str, list[str]] = dataclasses.field(default_factory=lambda: defaultdict(list))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_permission(*, actor: User | AnonymousUser, instrument: Instrument) -> None:
    if not can(actor, Capability.IMPORT_RUNS):
        raise PermissionDeniedError("you may not import instrument runs")
    if isinstance(actor, AnonymousUser) or not visible_sites(actor=actor).filter(pk=instrument.site_id).exists():
        raise PermissionDeniedError(f"instrument {instrument.code} is at a site you do not work at")
    if not instrument.is_active:
        raise DomainError(f"instrument {instrument.code} is not in service")


def run_import(
    *,
    actor: User,
    data: bytes,
    file_name: str,
    instrument: Instrument,
    method: Method,
    format: str | None = None,
    dry_run: bool = False,
    batch_log: bytes | None = None,
    batch_log_name: str = "BatchLog.csv",
    estimate_limits_from_blanks: bool = False,
) -> ImportSummary:
    """Import one export file as a run of ``instrument`` under ``method``; see the module docstring.

    Refuses (``PermissionDeniedError``) an actor without the import capability or not working at
    the instrument's site. The same bytes twice return the first run (``existing``), writing
    nothing. ``dry_run``: the same summary, nothing written, problems listed in ``errors`` rather
    than raised. A real import with problems raises ``ImportFormatError`` (file, line, column) and
    leaves no row behind. ``batch_log``: an Agilent ``BatchLog.csv`` whose ``Total Dil.`` gives
    each acquisition's dilution factor.
    """
    _check_permission(actor=actor, instrument=instrument)
    digest = _sha256(data)
    summary = ImportSummary(file_name=file_name, sha256=digest, dry_run=dry_run, instrument=instrument.code, method=method.code)
    existing = Run.objects.filter(source_sha256=digest).first()
    if existing is not None:
        return _existing_summary(existing, summary)
    with cyclic_gc_paused():
        return _import_file(
            summary,
            data=data,
            format=format,
            batch_log=batch_log,
            batch_log_name=batch_log_name,
            actor=actor,
            instrument=instrument,
            method=method,
            estimate_from_blanks=estimate_limits_from_blanks,
        )


def _import_file(
    summary: ImportSummary,
    *,
    data: bytes,
    format: str | None,
    batch_log: bytes | None,
    batch_log_name: str,
    actor: User,
    instrument: Instrument,
    method: Method,
    estimate_from_blanks: bool,
) -> ImportSummary:
    # A function of its own so that the parsed file and the plan are freed when it returns, before
    # the garbage collector is back on (``cyclic_gc_paused``).
    plan = _Plan(summary=summary)
    try:
        # Values are read as they stream to the database (see _streams_values), unless previewed.
        parsed = registry.parse(data, file_name=summary.file_name, format=format, defer_values=_streams_values() and not summary.dry_run)
        if batch_log is not None:
            _apply_batch_log(parsed, read_batch_log(batch_log, file_name=batch_log_name), plan=plan)
    except ImportFormatError as error:
        plan.problems.append(error)
    else:
        _plan(plan, parsed, actor=actor, instrument=instrument, method=method, estimate_from_blanks=estimate_from_blanks)
    return _finish(plan, actor=actor, instrument=instrument, method=method)


def run_import_parsed(
    *,
    actor: User,
    parsed: ParsedRun,
    source_sha256: str,
    instrument: Instrument,
    method: Method,
    dry_run: bool = False,
    estimate_limits_from_blanks: bool = False,
) -> ImportSummary:
    """Import results that are already a ``ParsedRun`` (manual entry, a parser run elsewhere).

    Everything ``run_import`` does after parsing, with the same checks; ``source_sha256`` stands
    for the file's digest (for manual entry: of the canonical text of what was typed) and makes
    the import idempotent in the same way.
    """
    _check_permission(actor=actor, instrument=instrument)
    summary = ImportSummary(
        file_name=parsed.file_name, sha256=source_sha256, dry_run=dry_run, instrument=instrument.code, method=method.code
    )
    if len(source_sha256) != 64 or any(char not in "0123456789abcdef" for char in source_sha256):
        raise DomainError("source_sha256 must be a SHA-256 in lower-case hex")
    existing = Run.objects.filter(source_sha256=source_sha256).first()
    if existing is not None:
        return _existing_summary(existing, summary)
    with cyclic_gc_paused():
        return _import_parsed(
            summary, parsed, actor=actor, instrument=instrument, method=method, estimate_from_blanks=estimate_limits_from_blanks
        )


def _import_parsed(
    summary: ImportSummary, parsed: ParsedRun, *, actor: User, instrument: Instrument, method: Method, estimate_from_blanks: bool
) -> ImportSummary:
    # As ``_import_file``: the plan is freed when this returns.
    plan = _Plan(summary=summary)
    _plan(plan, parsed, actor=actor, instrument=instrument, method=method, estimate_from_blanks=estimate_from_blanks)
    return _finish(plan, actor=actor, instrument=instrument, method=method)


def _finish(plan: _Plan, *, actor: User, instrument: Instrument, method: Method) -> ImportSummary:
    summary = plan.summary
    if summary.dry_run or plan.problems or not _streams_values():
        _plan_all_values(plan)
    if plan.problems:
        summary.errors = [str(problem) for problem in plan.problems]
        if summary.dry_run:
            return summary
        raise _refusal(plan)
    if summary.dry_run:
        return summary
    try:
        return _write(plan, actor=actor, data_sha256=summary.sha256, instrument=instrument, method=method)
    except _SameFileImportedError as imported:
        # Someone imported the same file a moment ago: theirs is the run, and nothing of this one was kept.
        return _existing_summary(imported.run, summary)


def _refusal(plan: _Plan) -> ImportFormatError:
    first = plan.problems[0]
    more = len(plan.problems) - 1
    return ImportFormatError(
        first.message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""),
        file_name=first.file_name,
        line=first.line,
        column=first.column,
    )


def _streams_values() -> bool:
    """Whether values are converted and censored while they stream to the database (PostgreSQL's
    COPY), rather than all before the first write. The database's side of the COPY, inserting each
    row into the table and its indexes, is the larger half of an import's time; converting the
    next acquisition while it does that hides the conversion (bench/import_bench.py)."""
    return connection.vendor == "postgresql"


class _SameFileImportedError(Exception):
    def __init__(self, run: Run) -> None:
        super().__init__(run.pk)
        self.run = run


def _existing_summary(run: Run, summary: ImportSummary) -> ImportSummary:
    stored = {key: value for key, value in (run.import_summary or {}).items() if key in ImportSummary.__dataclass_fields__}
    for key in ("file_name", "sha256", "dry_run", "run_id", "existing", "errors"):
        stored.pop(key, None)
    merged = ImportSummary(file_name=summary.file_name, sha256=summary.sha256, dry_run=summary.dry_run, **stored)
    merged.run_id = run.pk
    merged.existing = True
    merged.warnings = [
        f"this file was already imported as run {run.pk} ({run.source_filename}, {run.imported_at:%Y-%m-%d %H:%M}); nothing was written",
        *merged.warnings,
    ]
    return merged


def _plan(plan: _Plan, parsed: ParsedRun, *, actor: User, instrument: Instrument, method: Method, estimate_from_blanks: bool) -> None:
    """Everything but the writes: match, convert, censor, count; problems go to ``plan.problems``."""
    summary = plan.summary
    file_name = parsed.file_name
    _split_replicates(parsed)
    plan.parsed = parsed
    summary.format = parsed.format
    summary.acquisitions = len(parsed.acquisitions)
    summary.channels = len(parsed.analyte_channels)
    summary.internal_standards = len(parsed.internal_standard_channels)
    summary.warnings.extend(parsed.warnings)
    if not parsed.holds_concentrations:
        message = "; ".join(parsed.warnings) or "the file holds no concentrations: nothing to import"
        plan.problems.append(ImportFormatError(message, file_name=file_name))
        return
    if method.technique != instrument.technique:
        summary.warnings.append(
            f"method {method.code} is for {method.get_technique_display()}, "
            f"instrument {instrument.code} is {instrument.get_technique_display()}"
        )

    channels = _channel_plans(parsed, method=method, plan=plan)
    _check_acquisitions(parsed, plan=plan)
    report, samples = _match_with_samples(parsed=parsed, actor=actor, instrument=instrument)
    summary.warnings.extend(report.warnings)
    summary.unmatched_labels = report.unmatched
    summary.sample_acquisitions = report.sample_acquisitions
    summary.matched_samples = report.matched_samples
    summary.qc_items = report.qc_items
    summary.qc_roles = dict(Counter(match.qc_item.value for match in report.matches if match.qc_item is not None))
    materials = _reference_materials(report, summary=summary)

    if estimate_from_blanks:
        channels = _estimate_from_blanks(parsed, report, channels, summary=summary)
    _warn_missing_limits(channels, summary=summary)

    without_preparation: set[str] = set()
    for acquisition, match in zip(parsed.acquisitions, report.matches, strict=True):
        sample = samples.get(match.sample_code) if match.sample_code else None
        try:
            preparation, dilution = _preparation(acquisition, match, sample, instrument=instrument, plan=plan)
        except UnitError as error:
            plan.problems.append(ImportFormatError(str(error), file_name=file_name, line=acquisition.line))
            preparation, dilution = None, None
        if match.is_sample and sample is not None and preparation is None:
            without_preparation.add(sample.code)
        material_id = match.reference_material_id or materials.get(match.reference_material_name.upper())
        planned = _AcquisitionPlan(
            parsed=acquisition,
            match=match,
            sample=sample,
            reference_material_id=material_id if match.qc_item is QcItem.CRM else None,
            dilution_factor=dilution,
            preparation=preparation,
            acquired_at=_aware(acquisition.acquired_at),
        )
        plan.acquisitions.append(planned)
    _flush_repeated(plan)
    for code in sorted(without_preparation):
        summary.warnings.append(f"sample {code} has no sample mass or final volume: its values are stored in µg/L of the solution")
    plan.values = _ValuePlanning(channels=channels, file_name=file_name, flag_sets=[{} for _ in channels])


def _plan_all_values(plan: _Plan) -> None:
    """Every acquisition's values, converted and censored, before anything is written (a preview,
    a file already refused, SQLite). Once: a second call does nothing."""
    if plan.values is None or plan.values.done:
        return
    for planned in plan.acquisitions:
        _plan_values(planned, plan=plan)
    _values_planned(plan)


def _values_planned(plan: _Plan) -> None:
    assert plan.values is not None
    plan.values.done = True
    plan.summary.solution_values = plan.summary.values - plan.summary.solid_values


def _split_replicates(parsed: ParsedRun) -> None:
    """One acquisition per replicate: a file that lists replicates of a sample as separate rows
    (generic-long's ``replicate``) gives each its own acquisition, as an instrument would. Values
    not read yet are not looked at: a format that defers them never gives replicates."""
    if not any(value.replicate for acquisition in parsed.acquisitions for value in acquisition.values):
        return
    result: list[ParsedAcquisition] = []
    for acquisition in parsed.acquisitions:
        groups: dict[str, list[ParsedValue]] = {}
        for value in acquisition.values:
            groups.setdefault(value.replicate, []).append(value)
        if len(groups) <= 1:
            result.append(acquisition)
            continue
        for values in groups.values():
            lines = [value.line for value in values if value.line is not None]
            result.append(
                dataclasses.replace(
                    acquisition,
                    values=values,
                    internal_standards=list(acquisition.internal_standards),
                    line=min(lines) if lines else acquisition.line,
                )
            )
    for sequence, acquisition in enumerate(result, start=1):
        acquisition.sequence = sequence
    parsed.acquisitions = result


def _apply_batch_log(parsed: ParsedRun, dilutions: dict[str, float], *, plan: _Plan) -> None:
    summary = plan.summary
    found = 0
    for acquisition in parsed.acquisitions:
        data_file = acquisition.data_file.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        factor = dilutions.get(data_file) if data_file else None
        if factor is None:
            factor = dilutions.get(acquisition.label.strip())
        if factor is None:
            continue
        found += 1
        if acquisition.dilution_factor is not None and not math.isclose(acquisition.dilution_factor, factor):
            plan.repeated["batch log"].append(
                f"acquisition {acquisition.sequence} ({acquisition.label}): {factor:g} in the batch log, "
                f"{acquisition.dilution_factor:g} in the file"
            )
        acquisition.dilution_factor = factor
    if found < len(parsed.acquisitions):
        summary.warnings.append(f"the batch log gives no dilution for {len(parsed.acquisitions) - found} acquisition(s)")


# Warnings that would repeat per acquisition are gathered into one line each (a batch has thousands).
_REPEATED_WARNINGS = {
    "dilution": "measured at another dilution than registered (the instrument's is used)",
    "batch log": "the batch log's dilution replaces the file's",
}
_SHOWN_PER_WARNING = 5


def _flush_repeated(plan: _Plan) -> None:
    for kind, details in plan.repeated.items():
        shown = "; ".join(details[:_SHOWN_PER_WARNING]) + ("; …" if len(details) > _SHOWN_PER_WARNING else "")
        plan.summary.warnings.append(f"{_REPEATED_WARNINGS[kind]}: {shown} ({len(details)} in all)")
    plan.repeated.clear()


def _channel_plans(parsed: ParsedRun, *, method: Method, plan: _Plan) -> list[_ChannelPlan]:
    file_name = parsed.file_name
    method_channels = {channel.analyte.code: channel for channel in MethodChannel.objects.filter(method=method).select_related("analyte")}
    elements = set(Element.objects.values_list("symbol", flat=True))
    existing_codes: set[str] = set()
    seen: dict[str, str] = {}
    plans: list[_ChannelPlan] = []
    codes = [_channel_code(channel, file_name=file_name, plan=plan) for channel in parsed.channels]
    existing_codes = set(Analyte.objects.filter(code__in=[code for code in codes if code]).values_list("code", flat=True))
    for index, (channel, code) in enumerate(zip(parsed.channels, codes, strict=True)):
        if not code:
            plans.append(_ChannelPlan(index, channel, "", in_method=False))
            continue
        if channel.element is not None and channel.element not in elements:
            plan.problems.append(
                ImportFormatError(f"unknown element {channel.element!r}", file_name=file_name, column=repr(channel.label.strip()))
            )
        kind = "internal standard" if channel.is_internal_standard else "channel"
        key = f"{kind}:{code}"
        if key in seen:
            plan.problems.append(
                ImportFormatError(
                    f"{kind} {code} appears twice ({seen[key]!r} and {channel.label.strip()!r})",
                    file_name=file_name,
                    column=repr(channel.label.strip()),
                )
            )
        seen[key] = channel.label.strip()
        if code not in existing_codes:
            plan.analytes_needed.setdefault(code, channel)
        method_channel = None if channel.is_internal_standard else method_channels.get(code)
        lod = loq = None
        if method_channel is not None:
            try:
                unit = unit_lookup(method_channel.unit, medium=Medium.SOLUTION)
                limits = Limits(method_channel.lod, method_channel.loq).scaled(unit.to_canonical)
            except (UnitError, ValueError) as error:
                plan.problems.append(
                    ImportFormatError(
                        f"method channel {code}: {error}",
                        file_name=file_name,
                        column=repr(channel.label.strip()),
                    )
                )
            else:
                lod, loq = limits.lod, limits.loq
        flags = () if method_channel is not None or channel.is_internal_standard else (NOT_IN_METHOD,)
        plans.append(_ChannelPlan(index, channel, code, in_method=method_channel is not None, lod=lod, loq=loq, flags=flags))
    plan.summary.created_analytes = sorted(plan.analytes_needed)
    return plans


def _channel_code(channel: ParsedChannel, *, file_name: str, plan: _Plan) -> str:
    try:
        code = channel.code
    except ValueError as error:
        plan.problems.append(ImportFormatError(str(error), file_name=file_name, column=repr(channel.label.strip())))
        return ""
    column = repr(channel.label.strip()[:80])
    if len(code) > _MAX_ANALYTE_CODE:
        plan.problems.append(ImportFormatError(f"channel name too long: {code[:80]!r}…", file_name=file_name, column=column))
        return ""
    # What the analyte's columns can hold (a file is not trusted to stay within them).
    masses = [mass for mass in (channel.isotope_mass, channel.q1_mass, channel.q2_mass) if mass is not None]
    if any(not 1 <= mass <= 300 for mass in masses):
        plan.problems.append(ImportFormatError(f"channel {code!r}: an isotope mass out of range", file_name=file_name, column=column))
        return ""
    if channel.wavelength_nm is not None and not 0 < channel.wavelength_nm < 100_000:
        plan.problems.append(ImportFormatError(f"channel {code!r}: a wavelength out of range", file_name=file_name, column=column))
        return ""
    if "\x00" in code:
        plan.problems.append(ImportFormatError("a channel name holds a NUL character", file_name=file_name, column=column))
        return ""
    return code


def _check_acquisitions(parsed: ParsedRun, *, plan: _Plan) -> None:
    seen: dict[int, int | None] = {}
    for acquisition in parsed.acquisitions:
        if acquisition.sequence in seen:
            plan.problems.append(
                ImportFormatError(
                    f"acquisition number {acquisition.sequence} appears twice", file_name=parsed.file_name, line=acquisition.line
                )
            )
        seen[acquisition.sequence] = acquisition.line
        if not 1 <= acquisition.sequence <= _MAX_SEQUENCE:
            plan.problems.append(
                ImportFormatError(
                    f"acquisition number {acquisition.sequence} out of range", file_name=parsed.file_name, line=acquisition.line
                )
            )
        if any("\x00" in text for text in (acquisition.label, acquisition.vendor_type, acquisition.data_file)):
            plan.problems.append(
                ImportFormatError("a NUL character in the sample columns", file_name=parsed.file_name, line=acquisition.line)
            )
        if len(acquisition.label) > _MAX_LABEL:
            plan.problems.append(
                ImportFormatError(f"sample name longer than {_MAX_LABEL} characters", file_name=parsed.file_name, line=acquisition.line)
            )
        if acquisition.calibration_level is not None and not 0 <= acquisition.calibration_level <= 32767:
            plan.problems.append(
                ImportFormatError(
                    f"calibration level {acquisition.calibration_level} out of range", file_name=parsed.file_name, line=acquisition.line
                )
            )


def _lab_patterns(instrument: Instrument) -> list[LabelPattern]:
    patterns: list[LabelPattern] = []
    for row in QcLabelPattern.objects.filter(instrument=instrument).order_by("position", "id"):
        try:
            patterns.append(
                LabelPattern(row.pattern, MatchKind(row.match_kind), QcItem(row.qc_role), row.reference_material_id, source="lab")
            )
        except (PatternError, ValueError) as error:
            raise DomainError(f"instrument {instrument.code}: QC label pattern {row.pattern!r} cannot be used: {error}") from error
    return patterns


def run_match_acquisitions(*, parsed: ParsedRun, actor: User, instrument: Instrument) -> MatchReport:
    """What each acquisition of ``parsed`` matches (a sample the analyst may see at the instrument's
    site, a QC item by the lab's patterns, or nothing), exactly as the import will. Reads only: the
    upload preview shows it row by row before anything is written."""
    report, _ = _match_with_samples(parsed=parsed, actor=actor, instrument=instrument)
    return report


def _match_with_samples(*, parsed: ParsedRun, actor: User, instrument: Instrument) -> tuple[MatchReport, dict[str, Sample]]:
    """``run_match_acquisitions``, and the samples it may match by code, read once."""
    labels = [AcquisitionLabel(acquisition.label, acquisition.vendor_type) for acquisition in parsed.acquisitions]
    patterns = _lab_patterns(instrument)
    # Which labels could be sample ids: each label, and each parent a DUP/SPK pattern names.
    candidates = {normalise_label(label.label) for label in labels} | {
        normalise_label(parent) for parent in parent_labels(labels, patterns=patterns)
    }
    # Only what could be a sample id at all (a NUL, for one, cannot be sent to PostgreSQL).
    candidates = {code for code in candidates if code and len(code) <= _MAX_SAMPLE_CODE and "\x00" not in code}
    rows = _visible_samples(actor=actor, instrument=instrument).filter(code__in=candidates).select_related(None).order_by()
    # Only what matching and conversion read: a large batch names thousands of samples.
    samples = {sample.code: sample for sample in rows.only("pk", "code", "sample_mass_g", "final_volume_ml", "dilution_factor")}
    return match_acquisitions(labels, sample_codes=samples.keys(), patterns=patterns), samples


def _visible_samples(*, actor: User, instrument: Instrument) -> QuerySet[Sample]:
    # Samples held at the instrument's site, among those the analyst may see.
    return sample_list(actor=actor).filter(site_id=instrument.site_id)


def _reference_materials(report: MatchReport, *, summary: ImportSummary) -> dict[str, int]:
    names = {match.reference_material_name for match in report.matches if match.qc_item is QcItem.CRM and match.reference_material_name}
    found: dict[str, int] = {}
    for name in sorted(names):
        # The newest lot of a material of that name, unless the label names the lot too ("OREAS 465 2").
        material = ReferenceMaterial.objects.filter(name__iexact=name).order_by("-expires_on", "-id").first()
        if material is None:
            head, _, lot = name.rpartition(" ")
            material = ReferenceMaterial.objects.filter(name__iexact=head, lot_number__iexact=lot).first() if head else None
        if material is None:
            summary.warnings.append(f"CRM {name!r} is not a registered reference material: its acquisitions are stored without one")
            continue
        found[name.upper()] = material.pk
    return found


def _preparation(
    acquisition: ParsedAcquisition, match: Match, sample: Sample | None, *, instrument: Instrument, plan: _Plan
) -> tuple[Preparation | None, float | None]:
    """The preparation a sample's values are converted with, and the dilution factor recorded."""
    if not match.is_sample or sample is None:
        return None, acquisition.dilution_factor
    dilution = acquisition.dilution_factor if acquisition.dilution_factor is not None else float(sample.dilution_factor)
    if acquisition.dilution_factor is not None and not math.isclose(acquisition.dilution_factor, float(sample.dilution_factor)):
        plan.repeated["dilution"].append(
            f"{sample.code} (acquisition {acquisition.sequence}) at {acquisition.dilution_factor:g}, "
            f"registered at {float(sample.dilution_factor):g}"
        )
    if sample.sample_mass_g is None or sample.final_volume_ml is None:
        return None, dilution
    try:
        preparation = Preparation(
            sample_mass_g=float(sample.sample_mass_g),
            final_volume_ml=float(sample.final_volume_ml),
            dilution_factor=dilution,
            dilution_already_applied=instrument.software_applies_dilution_factor,
        )
    except UnitError as error:
        raise UnitError(f"acquisition {acquisition.sequence} (sample {sample.code}): {error}") from error
    return preparation, dilution


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    if timezone.is_aware(moment):
        return moment
    # The instrument's clock is the lab's local time (TIME_ZONE).
    return timezone.make_aware(moment, timezone.get_default_timezone())


def _estimate_from_blanks(
    parsed: ParsedRun, report: MatchReport, channels: list[_ChannelPlan], *, summary: ImportSummary
) -> list[_ChannelPlan]:
    """3 s / 10 s of the calibration blanks, in µg/L, for the channels whose method gives no LOD."""
    readings: dict[int, list[float]] = defaultdict(list)
    for acquisition, match in zip(parsed.acquisitions, report.matches, strict=True):
        if match.qc_item not in _BLANK_ITEMS or acquisition.rejected_by_instrument:
            continue
        for value in acquisition.load_values():
            if value.value is None or value.qualifier is not Qualifier.EQUAL:
                continue
            try:
                unit = unit_lookup(value.unit, medium=value.basis.value)
            except UnitError:
                continue  # reported with the value itself
            if unit.medium is Medium.SOLUTION:
                readings[value.channel].append(unit.canonical(value.value))
    updated: list[_ChannelPlan] = []
    estimated = 0
    for channel in channels:
        limits = None
        if channel.code and not channel.is_internal_standard and channel.lod is None:
            limits = estimate_limits(readings.get(channel.index, []))
        if limits is None:
            updated.append(channel)
            continue
        estimated += 1
        updated.append(dataclasses.replace(channel, lod=limits.lod, loq=limits.loq, estimated=True))
    if estimated:
        summary.warnings.append(f"LOD/LOQ estimated from the run's blanks (3 s / 10 s) for {estimated} channel(s)")
    return updated


def _warn_missing_limits(channels: list[_ChannelPlan], *, summary: ImportSummary) -> None:
    missing = [c.code for c in channels if c.in_method and c.lod is None]
    if missing:
        shown = ", ".join(missing[:10]) + ("…" if len(missing) > 10 else "")
        summary.warnings.append(f"the method gives no LOD for {len(missing)} channel(s) ({shown}): their values cannot be censored")
    outside = [c.code for c in channels if c.code and not c.in_method and not c.is_internal_standard]
    if outside:
        shown = ", ".join(outside[:10]) + ("…" if len(outside) > 10 else "")
        summary.warnings.append(f"{len(outside)} channel(s) are not in the method, stored as such: {shown}")


def _plan_values(planned: _AcquisitionPlan, *, plan: _Plan) -> None:
    """Every value of one acquisition, converted and censored, into ``planned.measurements``.

    This sees every value of a run, a hundred thousand for a large batch: an acquisition whose
    values are all the common case goes through ``_inline_rows``; any other (values on the solid,
    the file's own limits, a unit problem, a cell given twice) through ``_general_rows``, which
    handles everything and says what is wrong. Both store the same rows for the same values.
    """
    context = plan.values
    assert context is not None
    channels, units = context.channels, context.units
    planned.parsed.load_values()
    rows = _inline_rows(planned, channels, flag_sets=context.flag_sets, units=units)
    if rows is None:
        rows = _general_rows(planned, channels, units=units, unit_problems=context.unit_problems, plan=plan, file_name=context.file_name)
    planned.measurements = rows
    summary = plan.summary
    _count_values(rows, summary=summary, on_solid=planned.preparation is not None)
    count = len(channels)
    for response in planned.parsed.internal_standards:
        if not 0 <= response.channel < count or not channels[response.channel].code:
            continue
        cps, recovery = response.counts_per_second, response.recovery_percent
        cps = cps if cps is not None and math.isfinite(cps) and cps >= 0 else None
        recovery = recovery if recovery is not None and math.isfinite(recovery) and recovery >= 0 else None
        if cps is None and recovery is None:
            continue
        planned.istd.append((channels[response.channel].code, cps, recovery))
        summary.internal_standard_readings += 1


_INFINITY = math.inf


def _inline_rows(
    planned: _AcquisitionPlan,
    channels: list[_ChannelPlan],
    *,
    flag_sets: list[dict[tuple[str, ...], tuple[str, ...]]],
    units: dict[tuple[str, ValueBasis], Unit],
) -> list[_MeasurementRow] | None:
    """The rows of an acquisition whose every value is a finite solution concentration in a known
    unit, censored with its channel's limits, each cell once; None for any other acquisition.

    The inner loop of an import: what a channel and a unit share is looked up once (``flag_sets``:
    per channel, the flags censoring gave -> the flags stored), and nothing is reported from here.
    """
    preparation = planned.preparation
    value_factor = preparation.value_factor if preparation is not None else 1.0
    limit_factor = preparation.limit_factor if preparation is not None else 1.0
    if preparation is not None:
        target_unit, target_basis = SOLID_UNIT, Basis.AS_RECEIVED.value
    else:
        target_unit, target_basis = SOLUTION_UNIT, Basis.SOLUTION.value
    rows: list[_MeasurementRow] = []
    append = rows.append
    count = len(channels)
    # A file's values share one or two units: the previous value's is reused without a lookup.
    last_text: str | None = None
    last_basis: ValueBasis | None = None
    to_canonical = 1.0
    for value in planned.parsed.values:
        raw = value.value
        index = value.channel
        if raw is None or not 0 <= index < count:
            continue
        channel = channels[index]
        code = channel.code
        if not code or channel.channel.is_internal_standard:
            continue
        unit_text = value.unit
        if unit_text != last_text or value.basis is not last_basis:
            unit = units.get((unit_text, value.basis))
            if unit is None:
                try:
                    unit = units[(unit_text, value.basis)] = unit_lookup(unit_text, medium=value.basis.value)
                except UnitError:
                    return None
            if unit.medium is not Medium.SOLUTION:
                return None
            last_text, last_basis, to_canonical = unit_text, value.basis, unit.to_canonical
        if value.lod is not None or value.loq is not None or value.expanded_u is not None:
            return None
        scaled = raw * to_canonical * value_factor
        if not -_INFINITY < scaled < _INFINITY:
            return None
        lod = channel.lod * limit_factor if channel.lod is not None else None
        loq = channel.loq * limit_factor if channel.loq is not None else None
        stored, qualifier, lod, loq, flags = censor_fields(scaled, value.qualifier, lod, loq)
        stored_flags = flag_sets[index].get(flags)
        if stored_flags is None:
            stored_flags = flag_sets[index][flags] = (*((LOD_ESTIMATED,) if channel.estimated else ()), *flags, *channel.flags)
        rsd = value.rsd_percent
        if rsd is not None and not 0 <= rsd < _INFINITY:
            rsd = None
        append((code, stored, qualifier, target_unit, target_basis, lod, loq, raw, unit_text[:16], rsd, stored_flags, None, None))
    if len({row[0] for row in rows}) != len(rows):
        return None  # a cell given twice: the general path says which
    return rows


def _general_rows(
    planned: _AcquisitionPlan,
    channels: list[_ChannelPlan],
    *,
    units: dict[tuple[str, ValueBasis], Unit],
    unit_problems: set[tuple[int, str]],
    plan: _Plan,
    file_name: str,
) -> list[_MeasurementRow]:
    """The rows of any acquisition, with a problem for each value that cannot be stored."""
    acquisition = planned.parsed
    preparation = planned.preparation
    value_factor = preparation.value_factor if preparation is not None else 1.0
    limit_factor = preparation.limit_factor if preparation is not None else 1.0
    if preparation is not None:
        target_unit, target_basis = SOLID_UNIT, Basis.AS_RECEIVED.value
    else:
        target_unit, target_basis = SOLUTION_UNIT, Basis.SOLUTION.value
    rows: list[_MeasurementRow] = []
    count = len(channels)
    seen: set[str] = set()
    for value in acquisition.values:
        raw = value.value
        index = value.channel
        if raw is None or not 0 <= index < count:
            continue
        channel = channels[index]
        code = channel.code
        if not code or channel.channel.is_internal_standard:
            continue
        if code in seen:
            plan.problems.append(
                ImportFormatError(
                    f"a second value for {code} in acquisition {acquisition.sequence} ({acquisition.label})"
                    + (f", replicate {value.replicate!r}" if value.replicate else ""),
                    file_name=file_name,
                    line=value.line or acquisition.line,
                    column=repr(channel.channel.label.strip()),
                )
            )
            continue
        seen.add(code)
        key = (value.unit, value.basis)
        unit = units.get(key)
        try:
            if unit is None:
                unit = units[key] = unit_lookup(value.unit, medium=value.basis.value)
            if unit.medium is Medium.SOLUTION and value.lod is None and value.loq is None:
                scaled = raw * unit.to_canonical * value_factor
                if not math.isfinite(scaled):
                    raise UnitError(f"the converted value is out of range ({raw!r} {value.unit})")
                lod = channel.lod * limit_factor if channel.lod is not None else None
                loq = channel.loq * limit_factor if channel.loq is not None else None
                stored, qualifier, lod, loq, flags = censor_fields(scaled, value.qualifier, lod, loq)
                if channel.estimated:
                    flags = (LOD_ESTIMATED, *flags)
                stored_unit, stored_basis = target_unit, target_basis
            else:
                stored, qualifier, lod, loq, flags, stored_unit, stored_basis = _convert_and_censor(value, unit, channel, preparation)
            expanded_u = value.expanded_u
            if expanded_u is not None:
                # In the stored value's unit: a fraction of the solid stays in its own unit, a
                # solution concentration goes where its value goes.
                expanded_u = _finite(expanded_u if unit.medium is Medium.SOLID else expanded_u * unit.to_canonical * value_factor)
        except UnitError as error:
            if (index, value.unit) not in unit_problems:
                unit_problems.add((index, value.unit))
                plan.problems.append(
                    ImportFormatError(
                        str(error), file_name=file_name, line=value.line or acquisition.line, column=repr(channel.channel.label.strip())
                    )
                )
            continue
        if channel.flags:
            flags = (*flags, *channel.flags)
        rsd = value.rsd_percent
        if rsd is not None and not (rsd >= 0 and math.isfinite(rsd)):
            rsd = None
        rows.append(
            (
                code,
                stored,
                qualifier,
                stored_unit,
                stored_basis,
                lod,
                loq,
                raw,
                value.unit[:16],
                rsd,
                flags,
                expanded_u,
                value.coverage_factor,
            )
        )
    return rows


def _count_values(rows: list[_MeasurementRow], *, summary: ImportSummary, on_solid: bool) -> None:
    # Counted per acquisition at C speed (Counter over itemgetter), not value by value.
    summary.values += len(rows)
    if on_solid:
        summary.solid_values += len(rows)
    else:
        summary.solid_values += len(rows) - Counter(map(_BASIS, rows))[_SOLUTION_BASIS]
    summary.censored += Counter(map(_QUALIFIER, rows))["<"]
    for flags, times in Counter(map(_FLAGS, rows)).items():
        if flags:
            summary.below_loq += times * (BELOW_LOQ in flags)
            summary.no_lod += times * (NO_LOD in flags)
            summary.not_in_method += times * (NOT_IN_METHOD in flags)


_SOLUTION_BASIS = Basis.SOLUTION.value
_QUALIFIER = operator.itemgetter(2)
_BASIS = operator.itemgetter(4)
_FLAGS = operator.itemgetter(10)


def _convert_and_censor(
    value: ParsedValue, unit: Unit, channel: _ChannelPlan, preparation: Preparation | None
) -> tuple[float, str, float | None, float | None, tuple[str, ...], str, str]:
    """The stored form of a value on the solid, or with the file's own limits:
    (value, qualifier, lod, loq, flags, unit, basis)."""
    raw = value.value
    assert raw is not None
    for name, limit in (("LOD", value.lod), ("LOQ", value.loq)):
        if limit is not None and not (math.isfinite(limit) and limit >= 0):
            raise UnitError(f"the file's {name} must be a number >= 0, not {limit!r}")
    file_limits = value.lod is not None or value.loq is not None
    estimated: tuple[str, ...] = ()
    if unit.medium is Medium.SOLID:
        # Already a fraction of the solid: stored as it is, in its own unit.
        lod, loq = value.lod, value.loq
        if not file_limits and preparation is not None:
            # The method's limits (of the measured solution) through this sample's preparation.
            factor = preparation.limit_factor / unit.to_canonical
            lod = channel.lod * factor if channel.lod is not None else None
            loq = channel.loq * factor if channel.loq is not None else None
            estimated = (LOD_ESTIMATED,) if channel.estimated and lod is not None else ()
        stored, qualifier, lod, loq, flags = censor_fields(raw, value.qualifier, lod, loq)
        return stored, qualifier, lod, loq, (*estimated, *flags), unit.symbol, Basis.AS_RECEIVED.value
    # A solution concentration with the file's own limits, on the same scale as its values.
    scale = unit.to_canonical * (preparation.value_factor if preparation is not None else 1.0)
    scaled = _finite(raw * scale)
    lod = _finite(value.lod * scale) if value.lod is not None else None
    loq = _finite(value.loq * scale) if value.loq is not None else None
    stored, qualifier, lod, loq, flags = censor_fields(scaled, value.qualifier, lod, loq)
    if preparation is not None:
        return stored, qualifier, lod, loq, flags, SOLID_UNIT, Basis.AS_RECEIVED.value
    return stored, qualifier, lod, loq, flags, SOLUTION_UNIT, Basis.SOLUTION.value


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise UnitError(f"the converted value is out of range ({number!r})")
    return number


# --- Writing --------------------------------------------------------------------------------------


def _technique(channel: ParsedChannel, instrument: Instrument) -> str:
    if channel.wavelength_nm is not None:
        return Technique.ICP_OES
    if channel.isotope_mass is not None:
        return Technique.ICP_MS
    return instrument.technique


def _ensure_analytes(needed: dict[str, ParsedChannel], *, instrument: Instrument) -> None:
    """Reference rows for channels seen for the first time (an element is a fact; its channel is not news)."""
    if not needed:
        return
    elements = dict(Element.objects.values_list("symbol", "pk"))
    rows = []
    for code, channel in needed.items():
        view = channel.view.lower() if channel.view.lower() in {"axial", "radial"} else ""
        wavelength = Decimal(str(channel.wavelength_nm)).quantize(Decimal("0.001")) if channel.wavelength_nm is not None else None
        rows.append(
            Analyte(
                code=code,
                element_id=elements.get(channel.element) if channel.element else None,
                technique=_technique(channel, instrument),
                isotope_mass=channel.isotope_mass,
                cell_mode=" ".join(channel.cell_mode.split())[:32],
                q1_mass=channel.q1_mass,
                q2_mass=channel.q2_mass,
                wavelength_nm=wavelength,
                view=view,
                name=" ".join(channel.name.split())[:64],
            )
        )
    # Another import may be creating the same channel right now: the code is unique, so that is fine.
    Analyte.objects.bulk_create(rows, ignore_conflicts=True)


_MEASUREMENT_COLUMNS = (
    "acquisition_id",
    "analyte_id",
    "value",
    "qualifier",
    "unit",
    "basis",
    "lod",
    "loq",
    "raw_value",
    "raw_unit",
    "rsd_percent",
    "flags",
    "expanded_u",
    "coverage_factor",
)


def _measurement_rows(plan: _Plan, acquisition_ids: list[int], analyte_ids: dict[str, int]) -> Iterable[tuple[Any, ...]]:
    for planned, acquisition_id in zip(plan.acquisitions, acquisition_ids, strict=True):
        for code, value, qualifier, unit, basis, lod, loq, raw, raw_unit, rsd, flags, expanded_u, k in planned.measurements:
            yield (acquisition_id, analyte_ids[code], value, qualifier, unit, basis, lod, loq, raw, raw_unit, rsd, flags, expanded_u, k)


# Binary COPY: a float travels as its eight bytes (no text to format here, none to parse there).
# Each value is sent in the binary form of its column's type: varchar as text, and jsonb (the
# flags) as its documented binary input, a version byte (1) then the JSON text, sent as raw bytes.
_MEASUREMENT_COPY_TYPES = (
    *("int8", "int8", "float8", "text", "text", "text", "float8", "float8", "float8", "text", "float8", "bytea"),
    *("float8", "float8"),
)
_JSONB_VERSION = b"\x01"


def _copy_measurements(plan: _Plan, acquisition_ids: list[int], analyte_ids: dict[str, int]) -> None:
    """COPY on PostgreSQL, with psycopg's ``write_row`` on the raw connection Django holds, inside
    Django's transaction (so a later failure rolls the rows back with everything else).

    Values not planned yet are read, converted and censored here, an acquisition at a time, while
    the database inserts the rows already sent (the socket's buffers keep it fed; psycopg's queued
    writer, a sending thread, measured no faster). A value that cannot be stored is a problem of the
    plan, as before a write; the rows stop going out, the rest is still planned so that every
    problem is reported, and the caller refuses the file (the transaction rolls back).
    """
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)").format(
        table=sql.Identifier(Measurement._meta.db_table), columns=sql.SQL(", ").join(map(sql.Identifier, _MEASUREMENT_COLUMNS))
    )
    # Only ever called with the values still to plan (_finish plans them first elsewhere).
    assert plan.values is not None
    assert not plan.values.done
    # A few distinct flag sets per run: each encoded once.
    flags_jsonb: dict[tuple[str, ...], bytes] = {}
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        copy.set_types(list(_MEASUREMENT_COPY_TYPES))
        write_row = copy.write_row
        for planned, acquisition_id in zip(plan.acquisitions, acquisition_ids, strict=True):
            _plan_values(planned, plan=plan)
            if plan.problems:
                continue
            for code, value, qualifier, unit, basis, lod, loq, raw, raw_unit, rsd, flags, expanded_u, k in planned.measurements:
                encoded = flags_jsonb.get(flags)
                if encoded is None:
                    encoded = flags_jsonb[flags] = _JSONB_VERSION + json.dumps(list(flags)).encode()
                write_row(
                    (acquisition_id, analyte_ids[code], value, qualifier, unit, basis, lod, loq, raw, raw_unit, rsd, encoded, expanded_u, k)
                )
    _values_planned(plan)


def _bulk_create_measurements(rows: Iterable[tuple[Any, ...]]) -> None:
    objects = [
        Measurement(
            acquisition_id=acquisition_id,
            analyte_id=analyte_id,
            value=value,
            qualifier=qualifier,
            unit=unit,
            basis=basis,
            lod=lod,
            loq=loq,
            raw_value=raw,
            raw_unit=raw_unit,
            rsd_percent=rsd,
            flags=list(flags),
            expanded_u=expanded_u,
            coverage_factor=k,
        )
        for acquisition_id, analyte_id, value, qualifier, unit, basis, lod, loq, raw, raw_unit, rsd, flags, expanded_u, k in rows
    ]
    Measurement.objects.bulk_create(objects, batch_size=2000)


def _write(plan: _Plan, *, actor: User, data_sha256: str, instrument: Instrument, method: Method) -> ImportSummary:
    """Run, acquisitions, measurements, internal-standard readings and the audit event, in one
    transaction; ``_SameFileImportedError`` (nothing kept) when the same file won a race to be stored."""
    summary = plan.summary
    parsed = plan.parsed
    assert parsed is not None
    started = [planned.acquired_at for planned in plan.acquisitions if planned.acquired_at is not None]
    reason = f"import of {summary.file_name}"
    streaming = _streams_values()
    with transaction.atomic(), audited_context(actor=actor, reason=reason):
        _ensure_analytes(plan.analytes_needed, instrument=instrument)
        run = Run(
            site_id=instrument.site_id,
            instrument=instrument,
            method=method,
            analyst=actor,
            source_filename=summary.file_name[:255],
            source_sha256=data_sha256,
            source_format=parsed.format[:40],
            status=RunStatus.PENDING_QC,
            started_at=min(started) if started else None,
        )
        if streaming:
            # The run's row goes in last, with its summary, which is complete only once every value
            # has streamed; its acquisitions name it already (a foreign key checked at commit).
            run.pk = draw_ids(Run, 1)[0]
        else:
            _insert_run(run, summary=summary)
        acquisition_ids = _insert_rows(
            Acquisition,
            [
                {
                    "run_id": run.pk,
                    "sequence": planned.parsed.sequence,
                    "vendor_type": planned.parsed.vendor_type.strip()[:40],
                    "label": planned.parsed.label.strip(),
                    "calibration_level": planned.parsed.calibration_level,
                    "acquired_at": planned.acquired_at,
                    "rejected_by_instrument": planned.parsed.rejected_by_instrument,
                    "sample_id": planned.sample.pk if planned.sample is not None else None,
                    "qc_role": planned.match.qc_item.value if planned.match.qc_item is not None else "",
                    "data_file": planned.parsed.data_file.strip()[:255],
                    "replicate": _replicate(planned.parsed),
                    "reference_material_id": planned.reference_material_id,
                    "dilution_factor": planned.dilution_factor,
                    "conversion_factor": planned.preparation.value_factor if planned.preparation is not None else None,
                }
                for planned in plan.acquisitions
            ],
        )
        analyte_ids = _analyte_ids(plan)
        if streaming:
            _copy_measurements(plan, acquisition_ids, analyte_ids)
            if plan.problems:
                raise _refusal(plan)  # the transaction rolls back
            _insert_run(run, summary=summary)
        else:
            _bulk_create_measurements(_measurement_rows(plan, acquisition_ids, analyte_ids))
        _insert_rows(
            InternalStandardReading,
            [
                {"acquisition_id": acquisition_id, "analyte_id": analyte_ids[code], "counts_per_second": cps, "recovery_percent": recovery}
                for planned, acquisition_id in zip(plan.acquisitions, acquisition_ids, strict=True)
                for code, cps, recovery in planned.istd
            ],
        )
        summary.run_id = run.pk
        audit_record(
            actor=actor,
            action=AuditAction.IMPORT,
            instance=run,
            reason=reason,
            after=snapshot(
                run, fields=["site", "instrument", "method", "analyst", "source_filename", "source_sha256", "source_format", "status"]
            ),
            context={**summary.counts(), "created_analytes": summary.created_analytes},
        )
        transaction.on_commit(functools.partial(_enqueue_evaluation, run.pk), robust=True)
    return summary


def _insert_run(run: Run, *, summary: ImportSummary) -> None:
    run.import_summary = {key: value for key, value in summary.as_dict().items() if key not in {"run_id", "existing", "dry_run"}}
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:
        # The same file, imported by someone else a moment ago (the file's digest is unique).
        existing = Run.objects.filter(source_sha256=run.source_sha256).first()
        if existing is None:
            raise
        raise _SameFileImportedError(existing) from None


def _analyte_ids(plan: _Plan) -> dict[str, int]:
    """The ids of every channel the run stores, by code (all exist: ``_ensure_analytes``)."""
    assert plan.values is not None
    codes = {channel.code for channel in plan.values.channels if channel.code}
    return dict(Analyte.objects.filter(code__in=codes).values_list("code", "pk"))


def _replicate(acquisition: ParsedAcquisition) -> str:
    # Values not read yet have no replicate (see _split_replicates).
    replicates = {value.replicate for value in acquisition.values}
    return replicates.pop()[:40] if len(replicates) == 1 else ""


def _insert_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (each the values of the model's fields, by ``attname``) into ``model``'s
    table; their new ids, in order.

    PostgreSQL, when the rows give every field: the ids are drawn from the table's sequence in one
    query and the rows sent with COPY, since a batch has thousands of acquisitions (and
    internal-standard readings), for which Django's per-object insert costs more than COPY of its
    hundred thousand measurements. Otherwise ``bulk_create``, which fills in what is left out
    (defaults, ``auto_now_add``) as for any model.
    """
    if not rows:
        return []
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    names = [field.attname for field in fields]
    if connection.vendor != "postgresql" or rows[0].keys() != set(names):
        instances = model._default_manager.bulk_create([model(**row) for row in rows], batch_size=1000)
        return [_pk(instance) for instance in instances]
    columns = sql.SQL(", ").join(map(sql.Identifier, [meta.pk.column, *(field.column for field in fields)]))
    ids = draw_ids(model, len(rows))
    with connection.cursor() as cursor:
        statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(table=sql.Identifier(meta.db_table), columns=columns)
        with cursor.cursor.copy(statement) as copy:
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row([pk, *map(row.__getitem__, names)])
    return ids


def _pk(instance: models.Model) -> int:
    if instance.pk is None:  # pragma: no cover - every supported backend returns ids from a bulk insert
        raise RuntimeError(f"the database did not return the new {instance._meta.verbose_name_plural}' ids")
    return int(instance.pk)


def _enqueue_evaluation(run_id: int) -> None:
    # Imported here: the task module imports services, and a broker round trip belongs after commit.
    from assays.tasks import evaluate_run

    evaluate_run.delay(run_id)
