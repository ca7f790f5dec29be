"""The audit trail: services record who, when, why and what changed; the database keeps it append-only.

Tests without a marker run on SQLite and PostgreSQL; ``postgres`` tests cover what only exists
there (TRUNCATE, pghistory's row history).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pghistory.models
import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from assays import audit_guard
from assays.errors import DomainError
from assays.lifecycle import IllegalTransitionError
from assays.models import AuditAction, AuditEvent, CustodyEvent, Lot, LotKind, LotStatus, Measurement, Qualifier
from assays.services import lots as lot_services
from assays.services.audit import audit_record, audited_context
from assays.services.lots import lot_create, lot_transition
from assays.services.measurements import measurement_delete, measurement_update
from assays.services.samples import sample_register
from tests.factories import MeasurementFactory, RunFactory

pytestmark = pytest.mark.django_db

EVENT_TABLES = [table for table in audit_guard.GUARDED_TABLES if table != "assays_auditevent"]


def _event_model(name: str) -> Any:
    return apps.get_model("assays", name)


def _values(payload: dict[str, Any] | None) -> dict[str, Any]:
    assert payload is not None
    return payload


def _refused(action: Callable[[], object]) -> None:
    # The savepoint rolls back the refused statement; the test's own transaction carries on.
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        action()


def _raw(sql: str, params: list[Any] | None = None) -> Callable[[], None]:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    return run


def _save_with_reason(event: AuditEvent, reason: str) -> None:
    event.reason = reason
    event.save()


@pytest.fixture
def lot(world, technician) -> Lot:
    return lot_create(actor=technician, code="FS-2024-0001", site=world.uk_site, kind=LotKind.FEEDSTOCK, reason="swarf delivery 12")


@pytest.fixture
def audit_event(lot) -> AuditEvent:
    return AuditEvent.objects.get(entity="assays.lot", object_id=str(lot.pk))


# --- The guard ---------------------------------------------------------------------------------


def test_the_guarded_tables_are_the_audit_table_and_every_pghistory_event_table_of_the_app():
    event_tables = {
        model._meta.db_table for model in apps.get_app_config("assays").get_models() if issubclass(model, pghistory.models.Event)
    }
    assert set(audit_guard.GUARDED_TABLES) == {AuditEvent._meta.db_table} | event_tables
    # pghistory upserts its context rows while recording; guarding them would break the recording.
    assert pghistory.models.Context._meta.db_table not in audit_guard.GUARDED_TABLES


def test_the_migrations_leave_every_guarded_table_guarded():
    assert audit_guard.guarded_tables(connection) == list(audit_guard.GUARDED_TABLES)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda event: _raw("UPDATE assays_auditevent SET reason = %s WHERE id = %s", ["rewritten", event.pk])(), id="raw-update"
        ),
        pytest.param(lambda event: _raw("UPDATE assays_auditevent SET actor_label = 'someone else'")(), id="raw-update-all"),
        pytest.param(lambda event: AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten"), id="orm-queryset-update"),
        pytest.param(lambda event: _save_with_reason(event, "rewritten"), id="orm-instance-save"),
    ],
)
def test_the_database_refuses_to_update_an_audit_event(audit_event, change):
    _refused(lambda: change(audit_event))

    assert AuditEvent.objects.get(pk=audit_event.pk).reason == "swarf delivery 12"


@pytest.mark.parametrize(
    "delete",
    [
        pytest.param(lambda event: _raw("DELETE FROM assays_auditevent WHERE id = %s", [event.pk])(), id="raw-delete"),
        pytest.param(lambda event: _raw("DELETE FROM assays_auditevent")(), id="raw-delete-all"),
        pytest.param(lambda event: AuditEvent.objects.filter(pk=event.pk).delete(), id="orm-queryset-delete"),
        pytest.param(lambda event: AuditEvent.objects.all().delete(), id="orm-delete-all"),
        pytest.param(lambda event: event.delete(), id="orm-instance-delete"),
    ],
)
def test_the_database_refuses_to_delete_an_audit_event(audit_event, delete):
    _refused(lambda: delete(audit_event))

    assert AuditEvent.objects.filter(pk=audit_event.pk).exists()


def test_the_audit_table_still_accepts_new_events(audit_event, technician, lot):
    with transaction.atomic():
        audit_record(actor=technician, action=AuditAction.UPDATE, instance=lot, reason="correction", before={"a": 1}, after={"a": 2})

    assert AuditEvent.objects.filter(entity="assays.lot", object_id=str(lot.pk)).count() == 2


@pytest.mark.postgres
@pytest.mark.parametrize("table", audit_guard.GUARDED_TABLES)
def test_postgresql_refuses_to_truncate_a_guarded_table(audit_event, table):
    # PostgreSQL refuses TRUNCATE while deferred foreign-key checks are pending, before any
    # trigger runs; settle them so the refusal tested is the guard's.
    _raw("SET CONSTRAINTS ALL IMMEDIATE")()
    _refused(_raw(f'TRUNCATE "{table}"'))
    _refused(_raw(f'TRUNCATE "{table}" CASCADE'))

    assert AuditEvent.objects.filter(pk=audit_event.pk).exists()


@pytest.mark.postgres
def test_the_guard_fires_even_with_session_replication_role_replica(audit_event):
    """The one session setting that silences ordinary triggers does not silence this one."""

    def delete_as_replica() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("DELETE FROM assays_auditevent")

    _refused(delete_as_replica)
    assert AuditEvent.objects.filter(pk=audit_event.pk).exists()


@pytest.mark.postgres
def test_pghistory_event_tables_refuse_update_and_delete(lot, world, technician):
    sample = sample_register(actor=technician, code="S-1", lot=lot, reason="routine")
    measurement = MeasurementFactory()
    measurement_update(
        actor=technician, measurements=Measurement.objects.filter(pk=measurement.pk), changes={"value": 13.0}, reason="transcription error"
    )
    rows = {
        "LotEvent": _event_model("LotEvent").objects.filter(pgh_obj_id=lot.pk),
        "SampleEvent": _event_model("SampleEvent").objects.filter(pgh_obj_id=sample.pk),
        "CustodyEventEvent": _event_model("CustodyEventEvent").objects.filter(sample_id=sample.pk),
        "MeasurementEvent": _event_model("MeasurementEvent").objects.filter(pgh_obj_id=measurement.pk),
    }
    for name, events in rows.items():
        assert events.exists(), name
        table = events.model._meta.db_table
        _refused(lambda events=events: events.update(pgh_label="rewritten"))
        _refused(lambda events=events: events.delete())
        # The table names come from the models, not from input.
        _refused(_raw(f'UPDATE "{table}" SET pgh_label = %s', ["rewritten"]))  # noqa: S608
        _refused(_raw(f'DELETE FROM "{table}"'))  # noqa: S608
        assert not events.filter(pgh_label="rewritten").exists(), name


# --- Services write their events ---------------------------------------------------------------


def test_lot_create_records_who_why_and_the_new_values(lot, technician):
    event = AuditEvent.objects.get(entity="assays.lot", object_id=str(lot.pk))

    assert event.action == AuditAction.CREATE
    assert event.actor == technician
    assert event.actor_label == "tech"
    assert event.reason == "swarf delivery 12"
    assert event.before is None
    assert _values(event.after)["code"] == "FS-2024-0001"
    assert _values(event.after)["status"] == LotStatus.OPEN
    assert _values(event.after)["site_id"] == lot.site_id
    assert event.object_repr == str(lot)
    assert event.at is not None


def test_lot_transition_records_the_state_before_and_after(lot, qa):
    lot_transition(actor=qa, lot=lot, to=LotStatus.ON_HOLD, reason="Fe above limit")

    event = AuditEvent.objects.get(entity="assays.lot", object_id=str(lot.pk), action=AuditAction.TRANSITION)
    assert event.actor == qa
    assert event.reason == "Fe above limit"
    assert event.before == {"status": "open"}
    assert event.after == {"status": "on_hold"}


def test_a_refused_transition_records_nothing(lot, qa):
    with pytest.raises(IllegalTransitionError):
        lot_transition(actor=qa, lot=lot, to=LotStatus.RELEASED, reason="skip the assessment")

    assert not AuditEvent.objects.filter(action=AuditAction.TRANSITION).exists()


def test_sample_register_records_the_sample_and_its_first_custody_event(lot, technician):
    sample = sample_register(actor=technician, code="s-0001", lot=lot, sample_mass_g=Decimal("0.1002"), reason="routine")

    sample_event = AuditEvent.objects.get(entity="assays.sample", object_id=str(sample.pk))
    assert sample_event.action == AuditAction.CREATE
    assert sample_event.actor == technician
    assert sample_event.reason == "routine"
    assert sample_event.before is None
    assert _values(sample_event.after)["code"] == "S-0001"
    # Decimals as text, never a binary float: the weighed mass comes back exactly.
    assert Decimal(_values(sample_event.after)["sample_mass_g"]) == Decimal("0.1002")
    custody = CustodyEvent.objects.get(sample=sample)
    custody_event = AuditEvent.objects.get(entity="assays.custodyevent", object_id=str(custody.pk))
    assert _values(custody_event.after)["kind"] == custody.kind
    assert custody_event.actor == technician


def test_an_import_is_one_event_for_the_run_carrying_its_counts(technician):
    run = RunFactory()
    counts = {"acquisitions": 42, "measurements": 1260, "unmatched_samples": 2, "warnings": ["Tb 159 drift"]}

    with transaction.atomic():
        audit_record(actor=technician, action=AuditAction.IMPORT, instance=run, reason="", context=counts)

    event = AuditEvent.objects.get(entity="assays.run", object_id=str(run.pk))
    assert event.action == AuditAction.IMPORT
    assert event.context == counts


# --- Measurements, row by row ------------------------------------------------------------------


@pytest.fixture
def measurements() -> list[Measurement]:
    run = RunFactory()
    return [MeasurementFactory(acquisition__run=run, value=value, lod=0.05) for value in (1.0, 2.0, 3.0)]


def test_measurement_update_records_one_event_per_row_with_only_the_changed_values(measurements, technician):
    changed = measurement_update(
        actor=technician, measurements=measurements, changes={"unit": "mg/L", "value": 2.0}, reason="wrong unit in the export template"
    )

    assert {row.pk for row in changed} == {row.pk for row in measurements}
    events = {event.object_id: event for event in AuditEvent.objects.filter(entity="assays.measurement")}
    assert set(events) == {str(row.pk) for row in measurements}
    first, second, third = (events[str(row.pk)] for row in measurements)
    assert first.before == {"unit": "µg/L", "value": 1.0}
    assert first.after == {"unit": "mg/L", "value": 2.0}
    # The second row already held 2.0: only its unit changed, and only its unit is recorded.
    assert second.before == {"unit": "µg/L"}
    assert second.after == {"unit": "mg/L"}
    assert third.before == {"unit": "µg/L", "value": 3.0}
    for event in events.values():
        assert event.action == AuditAction.UPDATE
        assert event.actor == technician
        assert event.reason == "wrong unit in the export template"
        assert event.context == {"batch_size": 3}
    assert sorted(Measurement.objects.values_list("unit", "value")) == [("mg/L", 2.0)] * 3


def test_measurement_update_skips_rows_that_already_hold_the_new_values(measurements, technician):
    changed = measurement_update(actor=technician, measurements=measurements, changes={"value": 2.0}, reason="re-read from the printout")

    assert [row.pk for row in changed] == [measurements[0].pk, measurements[2].pk]
    assert AuditEvent.objects.filter(entity="assays.measurement").count() == 2


@pytest.mark.parametrize("reason", ["", "   "])
def test_measurement_update_without_a_reason_changes_and_records_nothing(measurements, technician, reason):
    with pytest.raises(DomainError, match="reason"):
        measurement_update(actor=technician, measurements=measurements, changes={"value": 9.0}, reason=reason)

    assert not AuditEvent.objects.filter(entity="assays.measurement").exists()
    assert sorted(Measurement.objects.values_list("value", flat=True)) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("reason", ["", "\n"])
def test_measurement_delete_without_a_reason_deletes_and_records_nothing(measurements, technician, reason):
    with pytest.raises(DomainError, match="reason"):
        measurement_delete(actor=technician, measurements=measurements, reason=reason)

    assert Measurement.objects.count() == 3
    assert not AuditEvent.objects.filter(entity="assays.measurement").exists()


def test_a_bulk_update_that_breaks_a_rule_on_one_row_changes_no_row(measurements, technician):
    # Censoring needs the row's LOD; the last row has none, so the whole edit is refused.
    Measurement.objects.filter(pk=measurements[2].pk).update(lod=None)

    with pytest.raises(DomainError, match=f"measurement {measurements[2].pk}"):
        measurement_update(actor=technician, measurements=measurements, changes={"qualifier": Qualifier.LESS_THAN}, reason="below LOD")

    assert set(Measurement.objects.values_list("qualifier", flat=True)) == {Qualifier.EQUAL}
    assert not AuditEvent.objects.filter(entity="assays.measurement").exists()


@pytest.mark.parametrize("changes", [{"analyte_id": 1}, {"acquisition": None}, {"id": 99}, {}])
def test_measurement_update_refuses_to_move_a_value_or_to_do_nothing(measurements, technician, changes):
    with pytest.raises(DomainError):
        measurement_update(actor=technician, measurements=measurements, changes=changes, reason="x")

    assert not AuditEvent.objects.exists()


def test_measurement_update_refuses_a_value_that_is_not_a_number(measurements, technician):
    with pytest.raises(DomainError, match="value"):
        measurement_update(actor=technician, measurements=measurements, changes={"value": "twelve"}, reason="typo")

    assert not AuditEvent.objects.exists()


def test_measurement_delete_records_one_event_per_row_with_every_value(measurements, technician):
    doomed = measurements[:2]

    deleted = measurement_delete(actor=technician, measurements=doomed, reason="acquired on the wrong sample")

    assert deleted == 2
    assert list(Measurement.objects.values_list("pk", flat=True)) == [measurements[2].pk]
    events = AuditEvent.objects.filter(entity="assays.measurement").order_by("object_id")
    assert [event.object_id for event in events] == sorted(str(row.pk) for row in doomed)
    for event, row in zip(events, sorted(doomed, key=lambda row: str(row.pk)), strict=True):
        assert event.action == AuditAction.DELETE
        assert event.actor == technician
        assert event.reason == "acquired on the wrong sample"
        assert event.after is None
        assert _values(event.before)["value"] == row.value
        assert _values(event.before)["acquisition_id"] == row.acquisition_id
        assert _values(event.before)["analyte_id"] == row.analyte_id
        assert _values(event.before)["unit"] == "µg/L"
        assert event.context == {"batch_size": 2}


# --- One transaction -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_service_that_fails_after_writing_its_audit_event_leaves_neither_change_nor_event(world, technician, monkeypatch):
    """Real commits here (transactional test): the service's own transaction is the outermost one."""
    real_audit_record = lot_services.audit_record

    def audit_then_fail(**kwargs: Any) -> AuditEvent:
        event = real_audit_record(**kwargs)
        assert AuditEvent.objects.filter(pk=event.pk).exists()
        raise RuntimeError("disk full after the audit row")

    monkeypatch.setattr(lot_services, "audit_record", audit_then_fail)

    with pytest.raises(RuntimeError, match="disk full"):
        lot_create(actor=technician, code="FS-FAIL", site=world.uk_site, kind=LotKind.FEEDSTOCK, reason="test")

    assert not Lot.objects.filter(code="FS-FAIL").exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_write_outside_a_transaction(world, technician):
    site = world.uk_site

    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=technician, action=AuditAction.UPDATE, instance=site, reason="x")

    assert not AuditEvent.objects.exists()


# --- PostgreSQL row history ----------------------------------------------------------------------


@pytest.mark.postgres
def test_a_bulk_update_outside_any_service_is_still_captured_row_by_row(world, technician, qa):
    lots = [lot_create(actor=technician, code=f"FS-{n}", site=world.uk_site, kind=LotKind.FEEDSTOCK) for n in range(3)]
    lot_event = _event_model("LotEvent")
    ids = [lot.pk for lot in lots]

    with audited_context(actor=qa, reason="re-weighed on the new scale"):
        assert Lot.objects.filter(pk__in=ids).update(mass_kg=Decimal("950.5")) == 3

    updates = list(lot_event.objects.filter(pgh_obj_id__in=ids, pgh_label="update").select_related("pgh_context"))
    assert sorted(event.pgh_obj_id for event in updates) == sorted(ids)
    for event in updates:
        assert event.mass_kg == Decimal("950.5")
        assert event.pgh_context is not None
        assert event.pgh_context.metadata["user"] == qa.pk
        assert event.pgh_context.metadata["reason"] == "re-weighed on the new scale"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_raw_sql_outside_any_context_is_captured_without_a_who(world, technician):
    """In autocommit, as a stray script would run. (Inside one transaction pghistory's context
    lasts until the commit, so a test's single transaction would lend it a who.)"""
    lot = lot_create(actor=technician, code="FS-RAW", site=world.uk_site, kind=LotKind.FEEDSTOCK, reason="delivery")

    _raw("UPDATE assays_lot SET mass_kg = 900 WHERE id = %s", [lot.pk])()

    event = _event_model("LotEvent").objects.get(pgh_obj_id=lot.pk, pgh_label="update")
    assert event.mass_kg == Decimal("900")
    # The gap is visible (no context), never silent (the row is there).
    assert event.pgh_context_id is None
    insert = _event_model("LotEvent").objects.get(pgh_obj_id=lot.pk, pgh_label="insert")
    assert insert.pgh_context.metadata["user"] == technician.pk


@pytest.mark.postgres
def test_pghistory_captures_measurement_updates_and_deletes_row_by_row_but_not_inserts(technician, measurements):
    measurement_event = _event_model("MeasurementEvent")
    ids = [row.pk for row in measurements]
    # An import writes rows; it is audited once for the run, not once per value.
    assert not measurement_event.objects.filter(pgh_obj_id__in=ids).exists()

    measurement_update(actor=technician, measurements=measurements, changes={"value": 7.0}, reason="recalculated")
    Measurement.objects.filter(pk=ids[0]).update(rsd_percent=2.5)
    measurement_delete(actor=technician, measurements=measurements[1:], reason="wrong sample")

    events = list(measurement_event.objects.filter(pgh_obj_id__in=ids).select_related("pgh_context").order_by("pgh_id"))
    assert [(event.pgh_label, event.pgh_obj_id) for event in events] == [
        ("update", ids[0]),
        ("update", ids[1]),
        ("update", ids[2]),
        ("update", ids[0]),
        ("delete", ids[1]),
        ("delete", ids[2]),
    ]
    assert [event.value for event in events[:3]] == [7.0, 7.0, 7.0]
    for event in events[:3] + events[4:]:
        assert event.pgh_context.metadata["user"] == technician.pk
    assert events[4].pgh_context.metadata["reason"] == "wrong sample"
    # The bulk ORM update outside any service: captured all the same.
    assert events[3].rsd_percent == 2.5
