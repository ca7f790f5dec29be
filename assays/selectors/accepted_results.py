"""The lots' accepted results as the assessment reads them: a ``ResultTable`` of columns, one query
for the rows, never a Python object per result (a reassessment reads a product's every result:
240,000 for 2,000 lots).

Read in two steps, so that a caller can keep the database busy while it works:

* ``result_lookups``: what turns rows into a table (the lots' samples, the methods, channels and
  runs that measured them, the analytes), read first, by lot;
* ``read_accepted``: the rows themselves, one query. On PostgreSQL the query is sent and its
  answer collected later (``PendingRows.collect``), so that the database runs it while the caller
  judges the lots read before; elsewhere it runs at once.

``lots_result_table`` does both, and the notes, in one call.
"""

from __future__ import annotations

import functools
import math
import select
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import DatabaseError, connection
from django.db.models import BigIntegerField, BooleanField, Case, F, FloatField, Func, Q, Value, When
from django.db.models.functions import Cast, Coalesce
from psycopg import pq

from assays.chemistry.purity import Result, model_uncertainty
from assays.chemistry.result_table import Kind, ResultTable
from assays.importers.analytes import LOI, NAMED_ANALYTES
from assays.models import Analyte, Basis, ChannelRole, Measurement, Method, MethodChannel, Qualifier, ResultAcceptance, Run, Sample

MG_KG_PER = {"mg/kg": 1.0, "µg/g": 1.0, "%": 10_000.0, "g/kg": 1_000.0, "µg/kg": 0.001}


@dataclass(frozen=True, slots=True)
class ResultLookups:
    """What turns the lots' rows into a table, read before the rows."""

    samples: Mapping[int, tuple[str, int]]  # sample id -> (code, lot id)
    manual: Mapping[int, bool]  # method id -> typed in (an outside laboratory's report)?
    key_of_analyte: Mapping[int, tuple[str, bool]]  # analyte id -> (element symbol or name, is an element)
    channels: Mapping[tuple[int, int], tuple[str, float, float]]  # (method, analyte) -> (role, a, b)
    imported_at: Mapping[int, datetime]  # run id -> when it was imported


def result_lookups(*, lot_ids: Collection[int]) -> ResultLookups:
    """The samples of ``lot_ids``, and the runs, methods and channels that measured them."""
    wanted = list(dict.fromkeys(lot_ids))
    samples = {pk: (code, lot_id) for pk, code, lot_id in Sample.objects.filter(lot_id__in=wanted).values_list("pk", "code", "lot_id")}
    runs = Run.objects.filter(acquisitions__sample__lot_id__in=wanted).distinct()
    imported_at: dict[int, datetime] = {}
    method_ids: set[int] = set()
    for run_id, method_id, at in runs.values_list("pk", "method_id", "imported_at"):
        imported_at[run_id] = at
        method_ids.add(method_id)
    channels = {
        (method_id, analyte_id): (role, a, b)
        for method_id, analyte_id, role, a, b in MethodChannel.objects.filter(method_id__in=method_ids).values_list(
            "method_id", "analyte_id", "role", "uncertainty_a", "uncertainty_b"
        )
    }
    return ResultLookups(
        samples=samples,
        manual=dict(Method.objects.filter(pk__in=method_ids).values_list("pk", "is_manual")),
        # An analyte's key: its element's symbol, or its name (LOI, an anion). The analytes are
        # reference data, a few dozen: all of them, since which a run measured is in the rows.
        key_of_analyte={
            pk: (symbol or name, bool(symbol)) for pk, symbol, name in Analyte.objects.values_list("pk", "element__symbol", "name")
        },
        channels=channels,
        imported_at=imported_at,
    )


# A result's unit -> how many of it make a mg/kg (the code 0: a unit not known here).
_UNITS = list(MG_KG_PER)
_UNIT_SCALES = np.array([math.nan, *(MG_KG_PER[unit] for unit in _UNITS)])
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


@functools.cache
def _accepted_statement() -> bytes:
    """The PostgreSQL statement for the lots' accepted results, as one row of one array per column:
    the same for every read but for its one parameter, $1, the lots' ids as an array. Made (by the
    ORM, and its constants bound by psycopg, as for every query Django sends) once per process: making
    it cost a tenth of a chunk's reading."""
    lots = Func(F("measurement__acquisition__sample__lot_id"), template="%(expressions)s = ANY($1::bigint[])", output_field=BooleanField())
    sql, params = _accepted_query(lots)
    # One row of one array per column: all aggregates of a query read the same rows in the same
    # order, so the arrays line up (a reassessment reads 240,000 rows, which as Python tuples, or as
    # a COPY's message per row, cost as much again as the query).
    arrays = ", ".join(f"array_send(array_agg(row.{connection.ops.quote_name(name)}))" for name in _COLUMNS)
    with connection.cursor() as cursor:
        # Every name in this SQL is one of the constants above; the values are parameters.
        statement: str = cursor.cursor.mogrify(f"SELECT {arrays} FROM ({sql}) AS row", params)  # noqa: S608
    return statement.encode()


def _accepted_query(lots: Q | Func) -> tuple[str, Any]:
    """The ORM's SQL for the accepted results of the lots ``lots`` selects, each row the fields of
    ``_ROW_FIELDS`` (as rows: elsewhere than on PostgreSQL, and inside ``_accepted_statement``)."""

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
    columns = dict(zip(_COLUMNS, fields.values(), strict=True))
    accepted = (
        ResultAcceptance.objects.filter(lots, state="accepted", evaluation__is_current=True, measurement__acquisition__qc_role="")
        .annotate(**columns)
        .order_by()
        .values_list(*columns)
    )
    return accepted.query.sql_with_params()


_COLUMNS = [f"row_{name}" for name, _ in _ROW_FIELDS]  # the query's names for them: not a field's name


class PendingRows:
    """The rows of one ``read_accepted``, collected with ``collect``. On PostgreSQL the query runs
    meanwhile: nothing else may use the connection until they are collected."""

    def __init__(self, wanted: list[int], lookups: ResultLookups) -> None:
        self._lookups = lookups
        self._raw: dict[str, np.ndarray] | None = None
        self._pgconn: pq.abc.PGconn | None = None
        if not wanted:  # no lots: no SQL to run (Django compiles an empty IN to "nothing")
            self._raw = {name: np.zeros(0, dtype=kind) for name, kind in _ROW_FIELDS}
            return
        if connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(*_accepted_query(Q(measurement__acquisition__sample__lot_id__in=wanted)))
                fetched = cursor.fetchall()
            values = list(zip(*fetched, strict=True)) if fetched else [()] * len(_ROW_FIELDS)
            self._raw = {name: np.array(column, dtype=kind) for (name, kind), column in zip(_ROW_FIELDS, values, strict=True)}
            return
        statement = _accepted_statement()
        connection.ensure_connection()
        # Sent through libpq's asynchronous call, the lots' ids as the statement's one parameter
        # (an array's text), the results in binary.
        lots = ("{" + ",".join(str(int(lot_id)) for lot_id in wanted) + "}").encode()
        pgconn = connection.connection.pgconn
        pgconn.send_query_params(statement, [lots], result_format=pq.Format.BINARY)
        while pgconn.flush() != 0:  # a non-blocking connection sends what the socket takes
            select.select([], [pgconn.socket], [])
        self._pgconn = pgconn

    def collect(self) -> dict[str, np.ndarray]:
        """The rows, in the order they were imported (``_in_import_order``); once."""
        raw = self._raw if self._raw is not None else self._received()
        self._raw = None
        return _in_import_order(raw, self._lookups)

    def _received(self) -> dict[str, np.ndarray]:
        pgconn = self._pgconn
        assert pgconn is not None, "the rows are collected once"
        self._pgconn = None
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        if len(results) != 1 or results[0].status != pq.ExecStatus.TUPLES_OK:
            message = "; ".join((result.error_message or b"").decode(errors="replace") for result in results)
            raise DatabaseError(f"reading the accepted results failed: {message or 'no result'}")
        (result,) = results
        return {name: _array_column(result.get_value(0, index), kind) for index, (name, kind) in enumerate(_ROW_FIELDS)}


def read_accepted(*, lot_ids: Sequence[int], lookups: ResultLookups) -> PendingRows:
    """The accepted results of ``lot_ids`` (whose ``lookups`` were read), to be collected."""
    return PendingRows(list(dict.fromkeys(lot_ids)), lookups)


def _in_import_order(rows: dict[str, np.ndarray], lookups: ResultLookups) -> dict[str, np.ndarray]:
    """The rows oldest first: by their run's import time, then run, then position in the run (as an
    import supersedes), then measurement (one order, whatever order the rows came in: sorting
    24,000 wide rows in the query cost a third of its time)."""
    runs = np.unique(rows["run"])
    by_time = sorted(runs.tolist(), key=lambda run: (lookups.imported_at[run], run))
    rank = np.empty(len(runs), dtype=np.intp)
    rank[np.searchsorted(runs, by_time)] = np.arange(len(runs))
    run_rank = rank[np.searchsorted(runs, rows["run"])]
    order = np.lexsort((rows["measurement"], rows["sequence"], run_rank))
    return {name: column[order] for name, column in rows.items()}


@dataclass(frozen=True, slots=True)
class Unusable:
    """An accepted result that cannot enter its lot (a solution unit, for a sample without mass or
    volume): it becomes a note, whose words (``notes_of``) need the measurement's own fields."""

    lot_id: int
    sample_code: str
    key: str
    measurement_id: int


def table_of(*, lot_ids: Sequence[int], rows: Mapping[str, np.ndarray], lookups: ResultLookups) -> tuple[ResultTable, list[Unusable]]:
    """The lots' table from their rows (``PendingRows.collect``), without notes, and the results it
    left out. No query: each step is one numpy operation over all rows, or a Python loop over the
    few distinct methods and analytes."""
    wanted = list(dict.fromkeys(lot_ids))
    sample_column, method_column, analyte_column = rows["sample"], rows["method"], rows["analyte"]
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
        plan = _plan(lookups.key_of_analyte[analyte_id], lookups.channels.get((method_id, analyte_id)), manual=lookups.manual[method_id])
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
    unusable = [
        Unusable(
            lot_id=lookups.samples[int(sample_column[row])][1],
            sample_code=lookups.samples[int(sample_column[row])][0],
            key=keys[row_key[row]],
            measurement_id=int(rows["measurement"][row]),
        )
        for row in np.flatnonzero(counted & ~usable).tolist()  # rare: solution units, no mass or volume
    ]
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
    table = _result_table(
        wanted,
        samples=lookups.samples,
        sample_ids=sample_column[used],
        keys=keys,
        entry_key=row_key[used],
        columns=(amount, censored, lod, u),
    )
    return table, unusable


def notes_of(unusable: Sequence[Unusable]) -> dict[int, list[str]]:
    """Lot id -> a note for each of its results that cannot be used (one query, when there are any)."""
    notes: dict[int, list[str]] = defaultdict(list)
    named = Measurement.objects.in_bulk([item.measurement_id for item in unusable]) if unusable else {}
    for item in unusable:
        measurement = named[item.measurement_id]
        where = f"{measurement.unit} ({measurement.basis})"
        notes[item.lot_id].append(f"sample {item.sample_code}: a {item.key} result in {where} cannot be used (no mass or volume)")
    return dict(notes)


def lots_result_table(*, lot_ids: Collection[int]) -> ResultTable:
    """The lots' results (each sample's latest accepted result of each analyte, as the pure
    assessment takes them) as a table of columns, with their notes. Lots in the order given, each
    once."""
    wanted = list(dict.fromkeys(lot_ids))
    lookups = result_lookups(lot_ids=wanted)
    table, unusable = table_of(lot_ids=wanted, rows=read_accepted(lot_ids=wanted, lookups=lookups).collect(), lookups=lookups)
    notes = notes_of(unusable)
    return table.with_notes([notes.get(lot_id, []) for lot_id in table.lot_ids])


def tables_in_parts(*, parts: Sequence[Sequence[int]], lookups: ResultLookups) -> Iterator[tuple[ResultTable, list[Unusable]]]:
    """``table_of`` each part of the lots, in turn, without notes. The next part's rows are being
    read by the database while the caller works on the one given: the caller must not use the
    connection until it asks for the next (the last one leaves it free)."""
    pending = read_accepted(lot_ids=parts[0], lookups=lookups) if parts else None
    for index, part in enumerate(parts):
        assert pending is not None
        rows = pending.collect()
        pending = read_accepted(lot_ids=parts[index + 1], lookups=lookups) if index + 1 < len(parts) else None
        yield table_of(lot_ids=part, rows=rows, lookups=lookups)


def _result_table(
    wanted: list[int],
    *,
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
        notes=[[] for _ in wanted],
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
    per = MG_KG_PER["%"] if key == LOI else 1.0
    if channel is None:
        return key, per, None, None
    model_uncertainty(value=0.0, a=channel[1], b=channel[2])  # a model that cannot be used fails here, once, not per result
    return key, per, channel[1] / per, channel[2]
