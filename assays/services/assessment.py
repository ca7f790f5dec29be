"""Lot assessment (DESIGN.md, data flow step 4): a lot's accepted results judged against its
specification, stored as a ``LotAssessment``, with the flags and lot states that follow.

What counts as a lot's results: for each of its samples and each element, the **latest accepted**
result of the element's **reporting channel** in a run's current QC judgement (a re-run or a
re-dilution supersedes), on the solid (mg/kg or %: a value left in solution units, for a sample
without mass or volume, cannot be used). LOI and anions come from any run (manual results). Each
result carries its own reported uncertainty where its report states one (an outside laboratory's
U and k: u = U / k), else its method channel's uncertainty model u(w) = √(a² + (b·w)²).

Idempotent by fingerprint: the same inputs (results, their QC acceptance, the spec version, the
uncertainty models) make no new assessment, so a redelivered task, the stale-lot sweep and a
re-run of the CLI all land here harmlessly.

States: a conforming (or report-only) assessment moves an open lot to "assessed"; an off-spec,
inconclusive or insufficient one raises a flag with the failing lines, puts the lot on hold and
e-mails QA; a lot leaves hold only through QA. A released lot keeps its certified (frozen)
assessment: a new one that differs is stored marked so, with a ``differs_from_certified`` flag,
and the lot's state does not change.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, F, FloatField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from assays.bulk_insert import insert_all
from assays.chemistry import assessment as core
from assays.chemistry import lot_batch
from assays.chemistry.fingerprints import inputs_fingerprint_version_1, may_be_version_1, table_fingerprints
from assays.chemistry.purity import DEFAULT_TREO_ELEMENTS, Result, model_uncertainty
from assays.chemistry.result_table import Kind, ResultTable
from assays.errors import NotFoundError
from assays.importers.analytes import LOI, NAMED_ANALYTES
from assays.importers.text import cyclic_gc_paused
from assays.lifecycle import check_transition
from assays.models import (
    Analyte,
    AssessmentStatus,
    AuditAction,
    Basis,
    CertificateStatus,
    ChannelRole,
    Flag,
    FlagKind,
    FlagStatus,
    Lot,
    LotAssessment,
    LotKind,
    LotStatus,
    Measurement,
    Method,
    MethodChannel,
    Qualifier,
    ResultAcceptance,
    Run,
    Sample,
    Specification,
    SpecificationStatus,
)
from assays.roles import Role
from assays.services.audit import AuditChange, audit_record_many, audited_context, snapshot

_MG_KG_PER = {"mg/kg": 1.0, "µg/g": 1.0, "%": 10_000.0, "g/kg": 1_000.0, "µg/kg": 0.001}
# A feedstock lot is judged by its chemistry's report-only specification (payable content).
FEEDSTOCK_PRODUCTS = {"ndfeb": "FS-NDFEB", "smco": "FS-SMCO"}
_FLAG_OF_STATUS = {
    AssessmentStatus.OFF_SPEC: FlagKind.OFF_SPEC,
    AssessmentStatus.INCONCLUSIVE: FlagKind.INCONCLUSIVE,
    AssessmentStatus.INSUFFICIENT_DATA: FlagKind.INSUFFICIENT_DATA,
}


@dataclass(frozen=True, slots=True)
class LotResults:
    samples: list[core.SampleInput]
    notes: list[str]


@dataclass(frozen=True, slots=True)
class LotsAssessed:
    """What ``lots_assess`` did with the lots it was given."""

    # Lots that exist among those asked for (a lot deleted meanwhile is skipped).
    found: int
    # Lots given a new assessment (their inputs changed), in id order.
    changed: list[int]
    # Lots without a specification to be judged by: nothing to assess.
    unjudged: list[int]
    # Every judged lot's current assessment: the new one, or the unchanged latest.
    current: dict[int, int]
    # The new assessments, by lot.
    created: dict[int, LotAssessment]


def specification_for(lot: Lot) -> Specification | None:
    """The active specification a lot is judged by: its product's, or for a feedstock lot its
    chemistry's report-only one."""
    return specifications_for([lot]).get(lot.pk)


def _feedstock_code(lot: Lot) -> str | None:
    return FEEDSTOCK_PRODUCTS.get(lot.magnet_chemistry) if lot.product_id is None and lot.kind == LotKind.FEEDSTOCK else None


def specifications_for(lots: Sequence[Lot]) -> dict[int, Specification]:
    """``specification_for`` of many lots in one query: lot id -> its active specification (lots
    with none are left out)."""
    product_ids = {lot.product_id for lot in lots if lot.product_id is not None}
    feedstock_codes = {code for lot in lots if (code := _feedstock_code(lot))}
    if not product_ids and not feedstock_codes:
        return {}
    active = Specification.objects.filter(status=SpecificationStatus.ACTIVE).filter(
        Q(product_id__in=product_ids) | Q(product__code__in=feedstock_codes)
    )
    by_product: dict[int, Specification] = {}
    by_code: dict[str, Specification] = {}
    for spec in active.select_related("product"):
        by_product[spec.product_id] = spec
        by_code[spec.product.code] = spec
    found: dict[int, Specification] = {}
    for lot in lots:
        code = _feedstock_code(lot)
        match = by_product.get(lot.product_id) if lot.product_id is not None else (by_code.get(code) if code else None)
        if match is not None:
            found[lot.pk] = match
    return found


def lot_results(*, lot: Lot) -> LotResults:
    """Each sample's latest accepted results, as the pure assessment takes them."""
    return lots_results(lot_ids=[lot.pk])[lot.pk]


def lots_results(*, lot_ids: Collection[int]) -> dict[int, LotResults]:
    """``lot_results`` of many lots. Every lot asked for has an entry (no results: no samples)."""
    table = lots_result_table(lot_ids=lot_ids)
    return {lot_id: LotResults(table.samples(position), table.notes[position]) for position, lot_id in enumerate(table.lot_ids)}


def lots_result_table(*, lot_ids: Collection[int]) -> ResultTable:
    """The lots' results (``lot_results``) as a table of columns: one query for all their accepted
    results, and small ones for the samples, analytes, methods and channels those name. Lots in
    the order given, each once.

    A reassessment reads a product's every result (240,000 for 2,000 lots): each step below is one
    numpy operation over all rows, or a Python loop over the few distinct methods and analytes,
    never a Python object per result."""
    wanted = list(dict.fromkeys(lot_ids))
    rows = _accepted_rows(wanted)
    sample_column, method_column, analyte_column = rows["sample"], rows["method"], rows["analyte"]
    samples = {pk: (code, lot_id) for pk, code, lot_id in Sample.objects.filter(lot_id__in=wanted).values_list("pk", "code", "lot_id")}
    method_ids = set(np.unique(method_column).tolist())
    manual = dict(Method.objects.filter(pk__in=method_ids).values_list("pk", "is_manual"))
    # An analyte's key: its element's symbol, or its name (LOI, an anion).
    key_of_analyte = {
        pk: (symbol or name, bool(symbol))
        for pk, symbol, name in Analyte.objects.filter(pk__in=np.unique(analyte_column).tolist()).values_list(
            "pk", "element__symbol", "name"
        )
    }
    channels: dict[tuple[int, int], tuple[str, float, float]] = {}
    for method_id, analyte_id, role, a, b in MethodChannel.objects.filter(method_id__in=method_ids).values_list(
        "method_id", "analyte_id", "role", "uncertainty_a", "uncertainty_b"
    ):
        model_uncertainty(value=0.0, a=a, b=b)  # a model that cannot be used fails here, once, not per result
        channels[(method_id, analyte_id)] = (role, a, b)

    # What each (method, analyte) pair's results become, worked out once per pair.
    pairs, pair_of_row = np.unique(method_column * (int(analyte_column.max(initial=0)) + 1) + analyte_column, return_inverse=True)
    keys: list[str] = []
    key_position: dict[str, int] = {}
    pair_key, pair_per = np.full(len(pairs), -1, dtype=np.intp), np.ones(len(pairs))
    pair_a, pair_b = np.full(len(pairs), math.nan), np.full(len(pairs), math.nan)
    first_row_of_pair = np.zeros(len(pairs), dtype=np.intp)
    first_row_of_pair[pair_of_row[::-1]] = np.arange(len(sample_column))[::-1]
    for index, row in enumerate(first_row_of_pair.tolist()):
        method_id, analyte_id = int(method_column[row]), int(analyte_column[row])
        plan = _plan(key_of_analyte[analyte_id], channels.get((method_id, analyte_id)), manual=manual[method_id])
        if plan is None:
            continue
        key, per, model_a, model_b = plan
        if key not in key_position:
            key_position[key] = len(keys)
            keys.append(key)
        pair_key[index] = key_position[key]
        pair_per[index] = per
        if model_a is not None and model_b is not None:
            pair_a[index], pair_b[index] = model_a, model_b
    row_key = pair_key[pair_of_row]
    flags = rows["flags"]
    per_mg_kg = _UNIT_SCALES[flags & _UNIT_MASK]
    counted = row_key >= 0
    usable = counted & ~np.isnan(per_mg_kg) & (flags & _SOLUTION == 0)
    notes: dict[int, list[str]] = defaultdict(list)
    unusable = np.flatnonzero(counted & ~usable).tolist()
    if unusable:  # rare: a result left in solution units, for a sample without mass or volume
        named = Measurement.objects.in_bulk([int(rows["measurement"][row]) for row in unusable])
        for row in unusable:
            code, lot_id = samples[int(sample_column[row])]
            measurement = named[int(rows["measurement"][row])]
            where = f"{measurement.unit} ({measurement.basis})"
            notes[lot_id].append(f"sample {code}: a {keys[row_key[row]]} result in {where} cannot be used (no mass or volume)")
    used = np.flatnonzero(usable)
    pair = pair_of_row[used]
    # Into mg/kg of the solid; LOI stays in %, and so does its uncertainty.
    scale = per_mg_kg[used] / pair_per[pair]
    amount = rows["value"][used] * scale
    censored = flags[used] & _CENSORED != 0
    has_lod = flags[used] & _HAS_LOD != 0
    lod = rows["lod"][used] * scale
    # The result's own uncertainty as its report states it (an outside laboratory's U and k, both
    # or neither: a constraint), which says more about this result than our method's model; else
    # the model u(w) = sqrt(a^2 + (b w)^2); none for a censored result (LOD/sqrt(12), by convention).
    stated = ~censored & (flags[used] & _STATED != 0)
    modelled = ~censored & ~stated & ~np.isnan(pair_a[pair])
    u = np.full(len(used), math.nan)
    u[stated] = (rows["stated_u"][used] * scale)[stated]
    hypot = math.hypot  # math.hypot, as model_uncertainty: numpy's may differ in the last bit
    u[modelled] = [
        hypot(a, b * w)
        for a, b, w in zip(pair_a[pair][modelled].tolist(), pair_b[pair][modelled].tolist(), amount[modelled].tolist(), strict=True)
    ]
    has_u = stated | modelled
    # What Result refuses, refused here for the first such result, by Result itself (its message).
    good = (
        np.isfinite(amount)
        & (~censored | (amount >= 0))
        & (~has_lod | (np.isfinite(lod) & (lod >= 0)))
        & (~has_u | (np.isfinite(u) & (u >= 0)))
    )
    if not good.all():
        bad = int(np.flatnonzero(~good)[0])
        Result(float(amount[bad]), bool(censored[bad]), float(lod[bad]) if has_lod[bad] else None, float(u[bad]) if has_u[bad] else None)
        raise AssertionError("Result accepted what the check above refused")  # pragma: no cover
    lod[~has_lod] = math.nan
    u[~has_u] = math.nan
    return _result_table(
        wanted,
        notes=notes,
        samples=samples,
        sample_ids=sample_column[used],
        keys=keys,
        entry_key=row_key[used],
        columns=(amount, censored, lod, u),
    )


# A result's unit -> how many of it make a mg/kg (the code 0: a unit not known here).
_UNITS = list(_MG_KG_PER)
_UNIT_SCALES = np.array([math.nan, *(_MG_KG_PER[unit] for unit in _UNITS)])
# The accepted-result rows as the database sends them: ids, numbers, and the few strings a result
# carries turned into codes and flags by the query itself, so that no field is text.
_ROW_FIELDS: list[tuple[str, str]] = [
    ("sample", "i8"),
    ("method", "i8"),
    ("analyte", "i8"),
    ("measurement", "i8"),
    ("value", "f8"),
    ("lod", "f8"),  # 0 without one
    ("stated_u", "f8"),  # the report's U / k, as Python would divide them; 0 without them
    ("flags", "i8"),  # the unit's code, and the bits below
    ("run", "i8"),  # with the sequence: the rows' order (_in_import_order)
    ("sequence", "i8"),
]
_UNIT_MASK, _CENSORED, _SOLUTION, _HAS_LOD, _STATED = 0b1111, 1 << 4, 1 << 5, 1 << 6, 1 << 7
assert len(_UNITS) <= _UNIT_MASK
# On PostgreSQL each column comes as one array in its binary form (array_send; PostgreSQL's
# documented send format: a 20-byte header for one dimension, then per element a 4-byte length and
# the value in network order). Every field here is 8 bytes and never NULL.
_ARRAY_HEADER = 20


def _array_column(data: bytes | None, kind: str) -> np.ndarray:
    if data is None:  # no rows: array_agg gives NULL
        return np.zeros(0, dtype=kind)
    elements = np.frombuffer(data, dtype=np.dtype([("length", ">i4"), ("value", ">" + kind)]), offset=_ARRAY_HEADER)
    assert (elements["length"] == 8).all(), "every field is 8 bytes, never NULL"
    return elements["value"].astype(kind)


def _accepted_rows(wanted: list[int]) -> dict[str, np.ndarray]:
    """The lots' accepted results as columns, in the order they were imported (a later result of an
    element supersedes). The same SQL everywhere, built by the ORM; PostgreSQL sends the rows as
    one binary COPY (a reassessment reads 240,000 of them, which as Python tuples cost as much
    again as the query), other databases through a cursor. The rows are put in order here, not by
    the database: sorting 24,000 wide rows in the query cost a third of its time."""

    def bit(condition: Q, value: int) -> Case:
        return Case(When(condition, then=Value(value)), default=Value(0))

    unit_code = Case(*(When(measurement__unit=unit, then=Value(code)) for code, unit in enumerate(_UNITS, start=1)), default=Value(0))
    stated = Q(measurement__expanded_u__isnull=False, measurement__coverage_factor__isnull=False)
    fields = {
        "sample": Cast("measurement__acquisition__sample_id", BigIntegerField()),
        "method": Cast("measurement__acquisition__run__method_id", BigIntegerField()),
        "analyte": Cast("measurement__analyte_id", BigIntegerField()),
        "measurement": Cast("measurement_id", BigIntegerField()),
        "value": Cast("measurement__value", FloatField()),
        "lod": Cast(Coalesce("measurement__lod", Value(0.0)), FloatField()),
        "stated_u": Cast(
            Case(When(stated, then=F("measurement__expanded_u") / F("measurement__coverage_factor")), default=Value(0.0)), FloatField()
        ),
        "flags": Cast(
            unit_code
            + bit(Q(measurement__qualifier=Qualifier.LESS_THAN.value), _CENSORED)
            + bit(Q(measurement__basis=Basis.SOLUTION.value), _SOLUTION)
            + bit(Q(measurement__lod__isnull=False), _HAS_LOD)
            + bit(stated, _STATED),
            BigIntegerField(),
        ),
        "run": Cast("measurement__acquisition__run_id", BigIntegerField()),
        "sequence": Cast("measurement__acquisition__sequence", BigIntegerField()),
    }
    assert list(fields) == [name for name, _ in _ROW_FIELDS]
    columns = {f"row_{name}": expression for name, expression in fields.items()}  # not a field's name
    if not wanted:  # no lots: no SQL to run (Django compiles an empty IN to "nothing")
        return {name: np.zeros(0, dtype=kind) for name, kind in _ROW_FIELDS}
    accepted = (
        ResultAcceptance.objects.filter(
            state="accepted",
            evaluation__is_current=True,
            measurement__acquisition__sample__lot_id__in=wanted,
            measurement__acquisition__qc_role="",
        )
        .annotate(**columns)
        .order_by()
        .values_list(*columns)
    )
    sql, params = accepted.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One row of one array per column: all aggregates of a query read the same rows in the
            # same order, so the arrays line up. Binary, so that nothing is turned into text.
            quote = connection.ops.quote_name
            arrays = ", ".join(f"array_send(array_agg(row.{quote(name)}))" for name in columns)
            # Every name in this SQL is one of the constants above; the values are parameters.
            # Django's cursor binds values client-side, which psycopg allows with text results only.
            with psycopg.Cursor(connection.connection) as binary:
                binary.execute(f"SELECT {arrays} FROM ({sql}) AS row", params, binary=True)  # noqa: S608
                fetched_arrays = binary.fetchone()
            assert fetched_arrays is not None, "an aggregate gives one row"
            rows = {name: _array_column(data, kind) for (name, kind), data in zip(_ROW_FIELDS, fetched_arrays, strict=True)}
        else:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
            values = list(zip(*fetched, strict=True)) if fetched else [()] * len(_ROW_FIELDS)
            rows = {name: np.array(column, dtype=kind) for (name, kind), column in zip(_ROW_FIELDS, values, strict=True)}
    return _in_import_order(rows)


def _in_import_order(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rows oldest first: by their run's import time, then run, then position in the run (as an
    import supersedes), then measurement (one order, whatever order the rows came in)."""
    runs = np.unique(rows["run"])
    imported = dict(Run.objects.filter(pk__in=runs.tolist()).values_list("pk", "imported_at"))
    by_time = sorted(runs.tolist(), key=lambda run: (imported[run], run))
    rank = np.empty(len(runs), dtype=np.intp)
    rank[np.searchsorted(runs, by_time)] = np.arange(len(runs))
    run_rank = rank[np.searchsorted(runs, rows["run"])]
    order = np.lexsort((rows["measurement"], rows["sequence"], run_rank))
    return {name: column[order] for name, column in rows.items()}


def _result_table(
    wanted: list[int],
    *,
    notes: Mapping[int, list[str]],
    samples: Mapping[int, tuple[str, int]],
    sample_ids: np.ndarray,
    keys: list[str],
    entry_key: np.ndarray,
    columns: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> ResultTable:
    """The table of the usable results (oldest first): per sample and key the latest one, in the
    order of the sample's first result of that key; samples sorted by code, by lot."""
    distinct_samples, sample_of_row = np.unique(sample_ids, return_inverse=True)
    combined = sample_of_row * max(len(keys), 1) + entry_key
    entries, first_row = np.unique(combined, return_index=True)
    _, last_from_end = np.unique(combined[::-1], return_index=True)
    last_row = len(combined) - 1 - last_from_end
    lot_position = {lot_id: position for position, lot_id in enumerate(wanted)}
    # A sample appears with its first usable result: samples without one have no entry.
    order_of_samples = sorted(
        range(len(distinct_samples)),
        key=lambda index: (lot_position[samples[int(distinct_samples[index])][1]], samples[int(distinct_samples[index])][0]),
    )
    sample_rank = np.empty(len(distinct_samples), dtype=np.intp)
    sample_rank[order_of_samples] = np.arange(len(order_of_samples))
    entry_sample = sample_rank[entries // max(len(keys), 1)]
    order = np.lexsort((first_row, entry_sample))
    chosen = last_row[order]
    sample_lots = [lot_position[samples[int(distinct_samples[index])][1]] for index in order_of_samples]
    amount, censored, lod, u = columns
    return ResultTable(
        lot_ids=wanted,
        notes=[notes.get(lot_id, []) for lot_id in wanted],
        sample_start=np.concatenate(([0], np.cumsum(np.bincount(np.array(sample_lots, dtype=np.intp), minlength=len(wanted))))),
        sample_codes=[samples[int(distinct_samples[index])][0] for index in order_of_samples],
        entry_start=np.concatenate(([0], np.cumsum(np.bincount(entry_sample, minlength=len(order_of_samples))))),
        keys=keys,
        kinds=[Kind.LOI if key == LOI else Kind.ANION if key in NAMED_ANALYTES else Kind.ELEMENT for key in keys],
        key=(entries % max(len(keys), 1))[order],
        value=amount[chosen],
        censored=censored[chosen],
        lod=lod[chosen],
        u=u[chosen],
    )


# (key, unit divisor, a in the result's unit, b): the uncertainty model's parts are None without a channel.
_Plan = tuple[str, float, float | None, float | None]


def _plan(key_of_analyte: tuple[str, bool], channel: tuple[str, float, float] | None, *, manual: bool) -> _Plan | None:
    """How results of one analyte by one method enter a lot, or None when they never do."""
    key, is_element = key_of_analyte
    if not key:
        return None
    if is_element and not manual and (channel is None or channel[0] != ChannelRole.REPORTING):
        # Confirmatory isotopes and channels outside the method never feed a lot value; a result
        # typed in (an outside laboratory's report) has no channel and counts as given.
        return None
    per = _MG_KG_PER["%"] if key == LOI else 1.0
    if channel is None:
        return key, per, None, None
    return key, per, channel[1] / per, channel[2]


def _spec_input(spec: Specification) -> core.Specification:
    lines = tuple(
        core.Line(
            position=line.position,
            quantity=line.quantity,
            unit=line.unit,
            element=line.element.symbol if line.element else None,
            oxide=line.oxide.formula if line.oxide else None,
            anion=line.anion or None,
            ratio_oxides=tuple(line.ratio_oxides),
            minimum=line.minimum or None,
            maximum=line.maximum or None,
            comparison=line.comparison,
            rule=line.rule,
        )
        for line in spec.lines.select_related("element", "oxide").order_by("position")
    )
    treo = DEFAULT_TREO_ELEMENTS | frozenset(spec.treo_also_counts) if spec.treo_also_counts else None
    return core.Specification(
        lines=lines,
        main=frozenset(spec.main_elements),
        ignited=spec.basis == "ignited",
        treo_includes=treo,
        required=tuple(spec.required_analytes),
    )


def _number(value: float | None) -> float | None:
    """A number for the stored JSON: NaN or infinity never leaves the service."""
    return value if value is not None and math.isfinite(value) else None


def _outcome_json(outcome: core.LotOutcome) -> dict[str, Any]:
    lines = []
    for line in outcome.lines:
        stats = line.statistics
        lines.append(
            {
                "position": line.line.position,
                "quantity": line.line.quantity,
                "label": line.line.label,
                "unit": line.line.unit,
                "minimum": line.line.minimum,
                "maximum": line.line.maximum,
                "comparison": line.line.comparison,
                "rule": line.line.rule,
                "best": _number(line.best),
                "lower": _number(line.lower),
                "upper": _number(line.upper),
                "judged_value": _number(line.judged_value),
                "censored": line.censored,
                "lod": _number(line.lod),
                "n": stats.n if stats else 0,
                "sd": _number(stats.sd) if stats else None,
                "rsd_percent": _number(stats.rsd_percent) if stats else None,
                "ci95": [stats.ci95_low, stats.ci95_high] if stats and stats.ci95_low is not None else None,
                "expanded_u": _number(line.expanded_u),
                "verdict": line.verdict.value if line.verdict else None,
                "compared_value": str(line.judgement.compared_value) if line.judgement else None,
                "reason": line.reason,
            }
        )
    return {"lines": lines, "missing": outcome.missing}


def _summary(outcome: core.LotOutcome) -> dict[str, Any]:
    """Headline best estimates, by the quantity names the CLI and the API use."""
    summary: dict[str, Any] = {}
    for line in outcome.lines:
        if line.best is None:
            continue
        if line.line.quantity == "relative_purity":
            summary["relative_purity_pct"] = line.best
        elif line.line.quantity == "treo":
            summary["treo_pct"] = line.best if line.line.unit == "%" else line.best / 10_000
        elif line.line.quantity == "main_oxide":
            summary["main_oxide_pct"] = line.best if line.line.unit == "%" else line.best / 10_000
        elif line.line.quantity == "oxide" and line.line.oxide:
            summary.setdefault("oxides_mg_kg", {})[line.line.oxide] = line.best if line.line.unit == "mg/kg" else line.best * 10_000
    return summary


def lot_assess(*, lot_id: int, actor: User | None = None, reason: str = "") -> LotAssessment | None:
    """Assess lot ``lot_id`` now; the new assessment, the unchanged latest one, or None when the
    lot has no specification to be judged by (nothing to assess) or no longer exists."""
    done = lots_assess(lot_ids=[lot_id], actor=actor, reason=reason)
    created = done.created.get(lot_id)
    if created is not None:
        return created
    current = done.current.get(lot_id)
    return LotAssessment.objects.get(pk=current) if current is not None else None


@transaction.atomic
def lots_assess(*, lot_ids: Collection[int], actor: User | None = None, reason: str = "") -> LotsAssessed:
    """Assess many lots in one transaction, as ``lot_assess`` does each: the same results, the same
    fingerprint, the same assessment, flags and lot states, with bulk reads and writes.

    The lots are locked in id order (as every writer of lots locks them), so a ``lot_assess`` of
    one of them meanwhile waits and then finds its fingerprint unchanged. Idempotent: lots whose
    inputs have not changed get no new assessment.
    """
    ids = sorted(set(lot_ids))
    if not ids:
        return LotsAssessed(found=0, changed=[], unjudged=[], current={}, created={})
    # As for an import: a chunk makes a few hundred thousand objects that live until it ends, which
    # the cyclic collector would traverse again and again for nothing (half the chunk's CPU time).
    with cyclic_gc_paused():
        return _lots_assess(ids, actor=actor, reason=reason)


def _lots_assess(ids: list[int], *, actor: User | None, reason: str) -> LotsAssessed:
    # Locks the lot rows only: a lot's product is a nullable join, which FOR UPDATE may not reach.
    lots = list(Lot.objects.select_for_update(of=("self",)).filter(pk__in=ids).select_related("product").order_by("pk"))
    why = reason or "assessment of the lot's accepted results"
    extra: dict[str, Any] = {"lot": ids[0]} if len(ids) == 1 else {"lots": len(lots)}
    with audited_context(actor=actor, reason=why, **extra):
        specs = specifications_for(lots)
        judged = [lot for lot in lots if lot.pk in specs]
        table = lots_result_table(lot_ids=[lot.pk for lot in judged])
        fingerprints = table_fingerprints(table, spec_ids=[specs[lot.pk].pk for lot in judged])
        # Read after the locks are held: a concurrent assessment of one of these lots has committed.
        latest = _latest_assessments([lot.pk for lot in judged])
        current: dict[int, int] = {}
        todo: list[_ToAssess] = []
        for position, (lot, fingerprint) in enumerate(zip(judged, fingerprints, strict=True)):
            spec = specs[lot.pk]
            newest = latest.get(lot.pk)
            if newest is not None and (
                newest[1] == fingerprint
                # Assessed before fingerprints were version 2: compared in the version it carries.
                or (
                    may_be_version_1(newest[1])
                    and newest[1] == inputs_fingerprint_version_1(spec_id=spec.pk, samples=table.samples(position))
                )
            ):
                current[lot.pk] = newest[0]
            else:
                todo.append(_ToAssess(lot, spec, position, fingerprint))
        certified = _certified([item.lot.pk for item in todo]) if todo else {}
        created = _store_assessments(todo, table=table, certified=certified, actor=actor, why=why)
        current.update({lot_id: assessment.pk for lot_id, assessment in created.items()})
        _follow_many(lots, created=created, certified=certified.keys(), actor=actor)
        # Nothing to judge by, or judged now: either way no longer waiting (a specification loaded
        # later reassesses its product's lots).
        _clear_stale_many(lots, actor=actor)
    return LotsAssessed(
        found=len(lots),
        changed=sorted(created),
        unjudged=[lot.pk for lot in lots if lot.pk not in specs],
        current=current,
        created=created,
    )


def _latest_assessments(lot_ids: list[int]) -> dict[int, tuple[int, str]]:
    """Lot id -> (id, fingerprint) of its newest assessment, in one query."""
    if not lot_ids:
        return {}
    newest = LotAssessment.objects.filter(lot=OuterRef("pk")).order_by("-assessed_at", "-id")
    rows = (
        Lot.objects.filter(pk__in=lot_ids)
        .annotate(newest_id=Subquery(newest.values("pk")[:1]), newest_fingerprint=Subquery(newest.values("inputs_fingerprint")[:1]))
        .filter(newest_id__isnull=False)
        .values_list("pk", "newest_id", "newest_fingerprint")
    )
    return {lot_id: (assessment_id, fingerprint) for lot_id, assessment_id, fingerprint in rows}


@dataclass(frozen=True, slots=True)
class _ToAssess:
    lot: Lot
    spec: Specification
    position: int  # the lot's in the table of results
    fingerprint: str


def _store_assessments(
    todo: list[_ToAssess],
    *,
    table: ResultTable,
    certified: Mapping[int, tuple[str, Any]],
    actor: User | None,
    why: str,
) -> dict[int, LotAssessment]:
    """The new assessments in one write, with their audit events in another; each compared with
    its lot's certified assessment (``certified``), if it has one."""
    if not todo:
        return {}
    # The lots of one specification are judged together (lot_batch: the same outcomes as one by one).
    by_spec: dict[int, list[int]] = defaultdict(list)
    for index, item in enumerate(todo):
        by_spec[item.spec.pk].append(index)
    spec_inputs = {spec_id: _spec_input(todo[indexes[0]].spec) for spec_id, indexes in by_spec.items()}  # read before the COPY
    now = timezone.now()

    def made() -> Iterator[LotAssessment]:
        # Each assessment made as the COPY asks for the next row: the database stores one lot's
        # while the next lot is judged. Nothing here may query the database (the COPY holds it).
        for spec_id, indexes in by_spec.items():
            positions = [todo[index].position for index in indexes]
            outcomes = lot_batch.assessed_in_turn(table=table, positions=positions, spec=spec_inputs[spec_id])
            for index, outcome in zip(indexes, outcomes, strict=True):
                item = todo[index]
                summary = _summary(outcome)
                frozen = certified.get(item.lot.pk)
                yield LotAssessment(
                    lot=item.lot,
                    specification=item.spec,
                    status=outcome.status.value,
                    inputs_fingerprint=item.fingerprint,
                    assessed_at=now,
                    n_samples=outcome.n_samples,
                    outcome=_outcome_json(outcome),
                    summary=summary,
                    reasons=[*outcome.reasons, *table.notes[item.position]],
                    differs_from_certified=frozen is not None and (frozen[0] != outcome.status.value or frozen[1] != summary),
                    assessed_by=actor,
                )

    assessments = insert_all(made(), count=len(todo))
    events: list[AuditChange] = []
    for assessment in assessments:
        events.append(
            AuditChange(
                assessment,
                after={
                    "status": assessment.status,
                    "spec": str(assessment.specification),
                    "n_samples": assessment.n_samples,
                    "summary": assessment.summary,
                },
            )
        )
    audit_record_many(actor=actor, action=AuditAction.CREATE, changes=events, reason=why)
    return {assessment.lot_id: assessment for assessment in assessments}


def _certified(lot_ids: list[int]) -> dict[int, tuple[str, Any]]:
    """Lot id -> (status, summary) of its newest certified assessment: frozen, with a certificate
    still live (a revoked or superseded-only one no longer speaks for the lot)."""
    found: dict[int, tuple[str, Any]] = {}
    frozen = (
        LotAssessment.objects.filter(
            lot_id__in=lot_ids, is_frozen=True, certificates__status__in=(CertificateStatus.RENDERING, CertificateStatus.ISSUED)
        )
        .distinct()
        .order_by("lot_id", "-assessed_at", "-id")
    )
    for lot_id, status, summary in frozen.values_list("lot_id", "status", "summary"):
        found.setdefault(lot_id, (status, summary))
    return found


def _follow_many(lots: list[Lot], *, created: Mapping[int, LotAssessment], certified: Collection[int], actor: User | None) -> None:
    """Flags, lot states and QA's e-mail after new assessments, with the state changes written in
    one UPDATE per target state. A lot with a certified assessment (``certified``: lot ids) keeps
    its state; a differing new assessment only raises a flag."""
    moves: dict[LotStatus, list[tuple[Lot, str]]] = defaultdict(list)
    flags: list[tuple[Lot, FlagKind, LotAssessment]] = []
    for lot in lots:
        assessment = created.get(lot.pk)
        if assessment is None:
            continue
        if lot.pk in certified or lot.status == LotStatus.RELEASED:
            if assessment.differs_from_certified:
                flags.append((lot, FlagKind.DIFFERS_FROM_CERTIFIED, assessment))
            continue
        status = AssessmentStatus(assessment.status)
        why = f"assessment {assessment.pk}: {status.label}"
        if status in (AssessmentStatus.CONFORMING, AssessmentStatus.NO_VERDICT):
            if lot.status == LotStatus.OPEN:
                moves[LotStatus.ASSESSED].append((lot, why))
            continue
        flags.append((lot, _FLAG_OF_STATUS[status], assessment))
        if lot.status in (LotStatus.OPEN, LotStatus.ASSESSED):
            moves[LotStatus.ON_HOLD].append((lot, why))
    for target, moving in moves.items():
        _transition_many(moving, to=target, actor=actor)
    _raise_flags(flags, actor=actor)


def _transition_many(moving: list[tuple[Lot, str]], *, to: LotStatus, actor: User | None) -> None:
    changes = []
    for lot, why in moving:
        check_transition(current=lot.status, requested=to.value)
        changes.append(AuditChange(lot, before={"status": lot.status}, after={"status": to.value}, reason=why))
        lot.status = to
    Lot.objects.filter(pk__in=[lot.pk for lot, _ in moving]).update(status=to)
    audit_record_many(actor=actor, action=AuditAction.TRANSITION, changes=changes)


def _flag_details(assessment: LotAssessment) -> dict[str, Any]:
    failing = [line for line in assessment.outcome.get("lines", []) if line.get("verdict") not in (None, "pass")]
    return {
        "assessment": assessment.pk,
        "status": assessment.status,
        "lines": [{k: line[k] for k in ("label", "judged_value", "minimum", "maximum", "unit", "verdict", "reason")} for line in failing],
        "missing": assessment.outcome.get("missing", {}),
    }


def _raise_flags(wanted: list[tuple[Lot, FlagKind, LotAssessment]], *, actor: User | None) -> None:
    """A flag of each kind on each lot: the open one's details brought up to date, else a new one
    (and QA e-mailed once this commits)."""
    if not wanted:
        return
    candidates = Flag.objects.filter(
        lot_id__in={lot.pk for lot, _, _ in wanted}, kind__in={kind for _, kind, _ in wanted}, status=FlagStatus.OPEN
    ).order_by("raised_at", "id")
    # Oldest first, so that the newest open flag of a kind is the one brought up to date.
    open_flags = {(flag.lot_id, flag.kind): flag for flag in candidates}
    updated: list[Flag] = []
    updates: list[AuditChange] = []
    new: list[Flag] = []
    news: list[tuple[Lot, LotAssessment]] = []
    now = timezone.now()
    for lot, kind, assessment in wanted:
        details = _flag_details(assessment)
        flag = open_flags.get((lot.pk, kind))
        if flag is not None:
            updates.append(AuditChange(flag, before={"details": flag.details}, after=details, reason="assessed again"))
            flag.details = details
            updated.append(flag)
            continue
        new.append(Flag(kind=kind, lot=lot, details=details, raised_at=now, raised_by=actor))
        news.append((lot, assessment))
    if updated:
        Flag.objects.bulk_update(updated, ["details"])
        audit_record_many(actor=actor, action=AuditAction.UPDATE, changes=updates)
    if new:
        Flag.objects.bulk_create(new)
        audit_record_many(
            actor=actor,
            action=AuditAction.CREATE,
            changes=[
                AuditChange(flag, after=flag.details, reason=f"lot {lot.code}: {assessment.status}")
                for flag, (lot, assessment) in zip(new, news, strict=True)
            ],
        )
        pairs = [(lot.pk, flag.pk) for flag, (lot, _) in zip(new, news, strict=True)]
        transaction.on_commit(lambda: _email_qa_many(pairs))


def _clear_stale_many(lots: list[Lot], *, actor: User | None) -> None:
    stale = [lot for lot in lots if lot.assessment_stale_since is not None]
    if not stale:
        return
    changes = [
        AuditChange(lot, before=snapshot(lot, fields=["assessment_stale_since"]), after={"assessment_stale_since": None}) for lot in stale
    ]
    Lot.objects.filter(pk__in=[lot.pk for lot in stale]).update(assessment_stale_since=None)
    for lot in stale:
        lot.assessment_stale_since = None
    audit_record_many(actor=actor, action=AuditAction.UPDATE, changes=changes, reason="assessed")


def _email_qa_many(pairs: list[tuple[int, int]]) -> None:
    """QA hears of new flags: one e-mail per list of recipients for everything one assessment run
    flagged (a reassessment chunk flags up to a few hundred lots; a message each would bury QA),
    the lot's own e-mail when it flagged one lot."""
    flags = Flag.objects.select_related("lot").filter(pk__in=[flag_id for _, flag_id in pairs])
    flagged_lots = sorted(((flag.lot, flag) for flag in flags if flag.lot is not None), key=lambda pair: (pair[0].code, pair[1].kind))
    recipients_of_site = _qa_recipients(site_ids={lot.site_id for lot, _ in flagged_lots})
    by_recipients: dict[tuple[str, ...], list[tuple[Lot, Flag]]] = defaultdict(list)
    for lot, flag in flagged_lots:
        if recipients_of_site[lot.site_id]:
            by_recipients[recipients_of_site[lot.site_id]].append((lot, flag))
    for recipients, flagged in by_recipients.items():
        if len(flagged) == 1:
            ((lot, flag),) = flagged
            subject = f"[LIMS] Lot {lot.code}: {flag.get_kind_display().lower()}"
        else:
            kinds = Counter(flag.get_kind_display().lower() for _, flag in flagged)
            subject = f"[LIMS] {len(flagged)} lots flagged: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        send_mail(
            subject=subject,
            message="\n".join(_flag_text(lot, flag) for lot, flag in flagged),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=list(recipients),
            fail_silently=True,
        )


def _qa_recipients(*, site_ids: set[int]) -> dict[int, tuple[str, ...]]:
    """Per site: its QA and the QA managers (of every site), active and with an address. Two
    queries, whatever the number of sites."""
    active = User.objects.filter(is_active=True).exclude(email="")
    managers = set(active.filter(groups__name=Role.QA_MANAGER.value).values_list("email", flat=True))
    qa: dict[int, set[str]] = defaultdict(set)
    rows = active.filter(groups__name=Role.QA.value, site_memberships__site_id__in=site_ids)
    for site_id, email in rows.values_list("site_memberships__site_id", "email"):
        qa[site_id].add(email)
    return {site_id: tuple(sorted(qa[site_id] | managers)) for site_id in site_ids}


def _flag_text(lot: Lot, flag: Flag) -> str:
    lines = "\n".join(f"- {line['label']}: {line['reason']}" for line in flag.details.get("lines", []))
    missing = "\n".join(f"- sample {code} lacks {', '.join(items)}" for code, items in flag.details.get("missing", {}).items())
    return f"Lot {lot.code} is on hold: {flag.get_kind_display()}.\n\n{lines or missing}\n"


def lots_stale(*, limit: int = 500) -> list[int]:
    """Lots waiting for an assessment (their message lost, or the broker down): oldest first."""
    return list(
        Lot.objects.filter(assessment_stale_since__isnull=False).order_by("assessment_stale_since").values_list("pk", flat=True)[:limit]
    )


def lot_assess_by_code(*, code: str, actor: User | None = None) -> LotAssessment | None:
    lot = Lot.objects.filter(code=code).first()
    if lot is None:
        raise NotFoundError(f"no lot {code!r}")
    return lot_assess(lot_id=lot.pk, actor=actor, reason="assessment asked for")
