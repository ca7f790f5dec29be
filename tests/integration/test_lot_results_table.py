"""The lots' results as the assessment reads them (``lots_result_table``: typed columns, packed by
PostgreSQL, through a cursor elsewhere) are what reading them row by row through the ORM gives:
the latest accepted result of each sample and analyte, in the order each first came, in mg/kg (LOI
in %), with the report's own U / k, the method's model, or none, and a note for a result that
cannot be used. The reference below is the plain reading, written for clarity, not speed."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import F
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from psycopg import pq

from assays.chemistry.assessment import SampleInput, assess_lot
from assays.chemistry.purity import Result, model_uncertainty
from assays.importers.analytes import LOI, NAMED_ANALYTES
from assays.models import Flag, Lot, Measurement, MethodChannel, ResultAcceptance, Specification
from assays.selectors.accepted_results import result_lookups, tables_in_parts
from assays.services.assessment import _READ_IN_PARTS_FROM, _outcome_json, _parts, _spec_input, lots_assess, lots_result_table, lots_results
from assays.services.runs import run_import
from tests.assessment_setup import SPEC as FLAGGING_SPEC
from tests.assessment_setup import make_assessment_lab, make_lot, results_csv
from tests.conftest import World

pytestmark = pytest.mark.django_db

SPEC = {
    "product": "ND2O3-RT",
    "name": "Neodymium oxide for the reading test",
    "source": "plant default",
    "main": ["Nd"],
    "basis": "as_received",
    "lines": [{"quantity": "relative_purity", "min": "99.9", "unit": "%"}],
}
MG_KG_PER = {"mg/kg": 1.0, "µg/g": 1.0, "%": 10_000.0, "g/kg": 1_000.0, "µg/kg": 0.001}


def _reference(lot_ids: list[int]) -> dict[int, tuple[list[tuple[Any, ...]], list[str]]]:
    """Per lot: its samples (code, elements, anions, LOI, each mapping's items in order) and notes."""
    accepted = (
        ResultAcceptance.objects.filter(
            state="accepted",
            evaluation__is_current=True,
            measurement__acquisition__sample__lot_id__in=lot_ids,
            measurement__acquisition__qc_role="",
        )
        .order_by(
            "measurement__acquisition__run__imported_at",
            "measurement__acquisition__run_id",
            "measurement__acquisition__sequence",
            "measurement_id",
        )
        .select_related("measurement__analyte__element", "measurement__acquisition__sample", "measurement__acquisition__run__method")
    )
    latest: dict[int, dict[str, dict[str, Result]]] = defaultdict(dict)
    notes: dict[int, list[str]] = defaultdict(list)
    for acceptance in accepted:
        measurement = acceptance.measurement
        sample, method = measurement.acquisition.sample, measurement.acquisition.run.method
        element = measurement.analyte.element
        key = element.symbol if element else measurement.analyte.name
        channel = MethodChannel.objects.filter(method=method, analyte=measurement.analyte).first()
        if element and not method.is_manual and (channel is None or channel.role != "reporting"):
            continue
        per = 10_000.0 if key == LOI else 1.0
        if measurement.unit not in MG_KG_PER or measurement.basis == "solution":
            notes[sample.lot_id].append(
                f"sample {sample.code}: a {key} result in {measurement.unit} ({measurement.basis}) cannot be used (no mass or volume)"
            )
            continue
        scale = MG_KG_PER[measurement.unit] / per
        amount = measurement.value * scale
        censored = measurement.qualifier == "<"
        if censored:
            u = None
        elif measurement.expanded_u is not None and measurement.coverage_factor is not None:
            u = measurement.expanded_u / measurement.coverage_factor * scale
        elif channel is not None:
            u = model_uncertainty(value=amount, a=channel.uncertainty_a / per, b=channel.uncertainty_b)
        else:
            u = None
        lod = None if measurement.lod is None else measurement.lod * scale
        latest[sample.lot_id].setdefault(sample.code, {})[key] = Result(amount, censored, lod, u)
    made: dict[int, tuple[list[tuple[Any, ...]], list[str]]] = {}
    for lot_id in lot_ids:
        samples = []
        for code, entries in sorted(latest[lot_id].items()):
            elements = [(key, result) for key, result in entries.items() if key not in NAMED_ANALYTES]
            anions = [(key, result) for key, result in entries.items() if key in NAMED_ANALYTES and key != LOI]
            samples.append((code, elements, anions, entries.get(LOI)))
        made[lot_id] = (samples, notes[lot_id])
    return made


def _ordered(samples: list[SampleInput]) -> list[tuple[Any, ...]]:
    return [(s.code, list(s.elements.items()), list(s.anions.items()), s.loi_percent) for s in samples]


def _import(technician: User, lab: Any, data: bytes) -> None:
    name = hashlib.sha256(data).hexdigest()[:12] + ".csv"
    with TestCase.captureOnCommitCallbacks(execute=True):
        run_import(actor=technician, data=data, file_name=name, instrument=lab.instrument, method=lab.method)


def test_the_table_reads_what_the_row_by_row_reading_gives(world: World, technician: User, qa_manager: User) -> None:
    lab = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site, spec=SPEC, method_code="RT-M", instrument_code="UK1-RT")
    first, second, empty = make_lot(lab, "RT-A", samples=3), make_lot(lab, "RT-B", samples=2), make_lot(lab, "RT-C", samples=1)
    _import(technician, lab, results_csv(first) + results_csv(second).split(b"\n", 1)[1])
    # A re-run of the first lot: its newer results supersede, each keeping its first place.
    _import(technician, lab, results_csv(first, fe=25.0, loi=None))
    # Results of every kind the reading treats apart, written onto the stored rows.
    rows = Measurement.objects.filter(acquisition__sample__lot=first, acquisition__run__imported_at__isnull=False).order_by("pk")
    by_analyte: dict[str, list[Measurement]] = defaultdict(list)
    for measurement in rows.select_related("analyte"):
        by_analyte[measurement.analyte.code].append(measurement)
    Measurement.objects.filter(pk=by_analyte["La"][-1].pk).update(expanded_u=0.8, coverage_factor=2.0)  # the report's own U
    Measurement.objects.filter(pk=by_analyte["Pr"][-1].pk).update(unit="µg/L", basis="solution")  # cannot be used: a note
    Measurement.objects.filter(pk=by_analyte["Fe"][-1].pk).update(unit="%", value=0.0012, lod=0.0001)  # into mg/kg
    Measurement.objects.filter(pk=by_analyte["La"][0].pk).update(qualifier="<", value=0.3, lod=0.3)  # censored, then superseded
    lot_ids = [second.pk, first.pk, empty.pk, first.pk]  # in the order asked, each once

    table = lots_result_table(lot_ids=lot_ids)

    assert table.lot_ids == [second.pk, first.pk, empty.pk]
    expected = _reference([second.pk, first.pk, empty.pk])
    for position, lot_id in enumerate(table.lot_ids):
        assert _ordered(table.samples(position)) == expected[lot_id][0]
        assert table.notes[position] == expected[lot_id][1]
    # The cases above are all there: the comparison is not of empty lots.
    samples, notes = expected[first.pk]
    assert len(samples) == 3
    assert len(notes) == 1
    assert "µg/L (solution) cannot be used" in notes[0]
    assert expected[empty.pk] == ([], [])
    (code, elements, _, loi) = samples[-1]
    assert code == "RT-A-S3"
    assert [key for key, _ in elements] == ["La", "Ce", "Pr", "Fe"]  # the first import's order
    assert loi is not None  # from the first import: the re-run had none
    stated = [result for key, result in elements if key == "La"]
    assert stated == [Result(4.0 + 2, False, None, 0.4)]
    fe = next(result for key, result in elements if key == "Fe")
    assert fe.value == pytest.approx(12.0)
    assert fe.lod == pytest.approx(1.0)
    # lots_results is the same reading, as SampleInputs.
    assert {lot_id: _ordered(found.samples) for lot_id, found in lots_results(lot_ids=lot_ids).items()} == {
        lot_id: samples for lot_id, (samples, _) in expected.items()
    }
    assert Lot.objects.filter(pk__in=lot_ids).count() == 3


def test_no_lots_read_nothing() -> None:
    table = lots_result_table(lot_ids=[])
    assert (table.lot_ids, table.sample_codes, len(table.key)) == ([], [], 0)


def _many_lots(technician: User, qa_manager: User, world: World, count: int) -> list[Lot]:
    lab = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site, spec=SPEC, method_code="RT-P", instrument_code="UK1-RTP")
    lots = [make_lot(lab, f"RT-P{index:02d}", samples=2) for index in range(count)]
    sheet = b"sample_id,analyte,value,unit\n" + b"".join(
        results_csv(lot, fe=10.0 + index).split(b"\n", 1)[1] for index, lot in enumerate(lots)
    )
    _import(technician, lab, sheet)
    return lots


def test_a_chunk_read_in_parts_is_assessed_as_each_lot_alone(world: World, technician: User, qa_manager: User) -> None:
    # A chunk of at least _READ_IN_PARTS_FROM lots is read in parts, each read while the one before
    # is judged; each lot's assessment must be what its own results alone give.
    lots = _many_lots(technician, qa_manager, world, _READ_IN_PARTS_FROM + 4)
    assert [len(part) for part in _parts(lots)] == [3, 9, 12]  # an eighth, three eighths, the rest
    # Every lot's inputs change (so that every lot is assessed again, in the chunk), and one lot in
    # the first part and one in the last get a result that cannot be used, whose note must reach
    # that lot and no other.
    Measurement.objects.filter(acquisition__sample__lot__in=lots, analyte__code="Fe").update(value=F("value") + 1.5)
    for lot in (lots[1], lots[-2]):
        unusable = Measurement.objects.filter(acquisition__sample__lot=lot, analyte__code="Pr").order_by("pk").first()
        assert unusable is not None
        Measurement.objects.filter(pk=unusable.pk).update(unit="µg/L", basis="solution")

    done = lots_assess(lot_ids=[lot.pk for lot in lots])

    assert sorted(done.changed) == sorted(lot.pk for lot in lots)
    spec = _spec_input(Specification.objects.get(product=lots[0].product, status="active"))
    for lot in lots:
        alone = lots_results(lot_ids=[lot.pk])[lot.pk]
        expected = assess_lot(samples=alone.samples, spec=spec)
        stored = done.created[lot.pk]
        assert stored.status == expected.status.value
        assert stored.outcome == json.loads(json.dumps(_outcome_json(expected)))
        assert stored.reasons == [*expected.reasons, *alone.notes]
        assert len(alone.notes) == (1 if lot in (lots[1], lots[-2]) else 0)


@pytest.mark.postgres
def test_the_next_part_is_read_while_the_caller_works_on_this_one(world: World, technician: User, qa_manager: User) -> None:
    lots = _many_lots(technician, qa_manager, world, 5)
    ids = [lot.pk for lot in lots]
    parts = [ids[:2], ids[2:]]
    tables = tables_in_parts(parts=parts, lookups=result_lookups(lot_ids=ids))

    first, _ = next(tables)
    # A query in flight on the connection: the second part's, sent before the first was handed over.
    assert connection.connection.pgconn.transaction_status == pq.TransactionStatus.ACTIVE
    second, _ = next(tables)
    assert connection.connection.pgconn.transaction_status != pq.TransactionStatus.ACTIVE
    assert next(tables, None) is None
    for table, part in ((first, parts[0]), (second, parts[1])):
        alone = lots_result_table(lot_ids=part)
        assert table.lot_ids == part
        assert [_ordered(table.samples(position)) for position in range(len(part))] == [
            _ordered(alone.samples(position)) for position in range(len(part))
        ]
    assert first.sample_count(0) == 2


def test_bringing_open_flags_up_to_date_costs_no_query_per_flag(world: World, technician: User, qa_manager: User) -> None:
    # Off-spec lots (Fe over its maximum) assessed again keep their open flags, brought up to date,
    # each with an audit event naming the flag by its lot: the lots come with the flags, not a query each.
    lab = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site, spec=FLAGGING_SPEC, method_code="RT-F", instrument_code="UK1-RTF")
    lots = [make_lot(lab, f"RT-F{index:02d}", samples=2) for index in range(6)]
    rows = [results_csv(lot, fe=60.0 + index).split(b"\n", 1)[1] for index, lot in enumerate(lots)]
    sheet = b"sample_id,analyte,value,unit\n" + b"".join(rows)
    _import(technician, lab, sheet)
    assert Flag.objects.filter(lot__in=lots, status="open").count() == len(lots)

    def queries_to_assess_again(group: list[Lot]) -> int:
        Measurement.objects.filter(acquisition__sample__lot__in=group, analyte__code="Fe").update(value=F("value") + 1.0)
        with CaptureQueriesContext(connection) as captured:
            done = lots_assess(lot_ids=[lot.pk for lot in group])
        assert sorted(done.changed) == sorted(lot.pk for lot in group)
        return len(captured)

    assert queries_to_assess_again(lots[:2]) == queries_to_assess_again(lots[2:])
    assert Flag.objects.filter(lot__in=lots, status="open").count() == len(lots)  # brought up to date, not raised again
