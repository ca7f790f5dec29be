"""A measurement's (and an internal-standard reading's) references to its acquisition and analyte.

On PostgreSQL they are checked once per statement by triggers (migration 0006), not by a foreign
key per row; test_constraints.py breaks each one. Here: what must keep working around them (the
ORM's deletes, COPY), that they hold against a concurrent transaction as a foreign key does, and
that the migration can put the foreign keys back and take them away again.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

import psycopg
import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from assays.models import Acquisition, Analyte, InternalStandardReading, Measurement
from tests.concurrency import start_in_thread, wait_for_a_lock_wait
from tests.factories import AcquisitionFactory, AnalyteFactory, MeasurementFactory

MIGRATION = importlib.import_module("assays.migrations.0006_measurement_setbased_references")
KEYS_GONE_FIRST = importlib.import_module("assays.migrations.0013_measurement_without_analyte_index")
TRIGGERS = {
    "assays_measurement": {"assays_measurement_references_insert", "assays_measurement_references_update"},
    "assays_internalstandardreading": {
        "assays_internalstandardreading_references_insert",
        "assays_internalstandardreading_references_update",
    },
    "assays_acquisition": {
        "assays_acquisition_referenced_delete",
        "assays_acquisition_referenced_update",
        "assays_acquisition_referenced_truncate",
    },
    "assays_analyte": {"assays_analyte_referenced_delete", "assays_analyte_referenced_update", "assays_analyte_referenced_truncate"},
}


def _insert_measurement(acquisition_id: int, analyte_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO assays_measurement (acquisition_id, analyte_id, value, qualifier, unit, basis, raw_unit, flags)"
            " VALUES (%s, %s, 1.0, '=', 'µg/L', 'solution', '', '[]')",
            [acquisition_id, analyte_id],
        )


# --- The ORM's deletes and the import's COPY ------------------------------------------------------


@pytest.mark.django_db
def test_deleting_an_acquisition_through_the_orm_takes_its_measurements_and_readings_with_it() -> None:
    measurement = MeasurementFactory()
    acquisition = measurement.acquisition
    InternalStandardReading.objects.create(acquisition=acquisition, analyte=AnalyteFactory(code="115In [He]"), counts_per_second=1e5)
    kept = MeasurementFactory(analyte=measurement.analyte)

    acquisition.delete()

    assert not Measurement.objects.filter(acquisition_id=acquisition.pk).exists()
    assert not InternalStandardReading.objects.filter(acquisition_id=acquisition.pk).exists()
    assert Measurement.objects.filter(pk=kept.pk).exists()
    # The run goes the same way, with all of its acquisitions.
    kept.acquisition.run.delete()
    assert not Measurement.objects.filter(pk=kept.pk).exists()


@pytest.mark.django_db
def test_an_analyte_with_measurements_is_protected_by_the_orm_and_one_without_may_go() -> None:
    measurement = MeasurementFactory()
    with pytest.raises(ProtectedError):
        measurement.analyte.delete()
    unused = AnalyteFactory(code="147Sm [He]")
    unused.delete()
    assert not Analyte.objects.filter(code="147Sm [He]").exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_copy_naming_one_missing_acquisition_is_refused_whole() -> None:
    acquisition = AcquisitionFactory()
    analyte = AnalyteFactory()
    other = AnalyteFactory(code="147Sm [He]")
    missing = acquisition.pk + 1000
    columns = "acquisition_id, analyte_id, value, qualifier, unit, basis, raw_unit, flags"

    def copy(rows: list[tuple[object, ...]]) -> None:
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY assays_measurement ({columns}) FROM STDIN") as stream:
            for row in rows:
                stream.write_row(row)

    good = (acquisition.pk, analyte.pk, 1.0, "=", "µg/L", "solution", "ppb", "[]")
    # COPY runs on psycopg's cursor, under Django's: its error is psycopg's own.
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="measurement_acquisition_fk") as caught, transaction.atomic():
        copy([good, (missing, other.pk, 2.0, "=", "µg/L", "solution", "ppb", "[]")])
    assert f"Key (acquisition_id)=({missing}) is not present" in str(caught.value)
    assert not Measurement.objects.exists()
    copy([good, (acquisition.pk, other.pk, 2.0, "=", "µg/L", "solution", "ppb", "[]")])
    assert Measurement.objects.filter(acquisition=acquisition).count() == 2


# --- Against a concurrent transaction, as a foreign key holds -------------------------------------


def _race(first: Callable[[], None], second: Callable[[], None]) -> str:
    """``first`` in a transaction held open until ``second`` (in its own) waits on it; what
    ``second`` then says."""
    first_done = threading.Event()
    release = threading.Event()
    outcome: list[str] = []

    def hold() -> None:
        with transaction.atomic():
            first()
            first_done.set()
            release.wait(timeout=30)

    def contend() -> None:
        try:
            with transaction.atomic():
                second()
            outcome.append("accepted")
        except IntegrityError as error:
            outcome.append(str(error))

    holder = start_in_thread(hold)
    assert first_done.wait(timeout=30)
    contender = start_in_thread(contend)
    try:
        wait_for_a_lock_wait(waiting_for="the second transaction")
    finally:
        release.set()
        holder.join(timeout=30)
        contender.join(timeout=30)
    assert len(outcome) == 1
    return outcome[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_an_acquisition_waits_for_a_transaction_writing_its_measurements_and_is_then_refused() -> None:
    # Without the lock the insert takes, the delete would not see the uncommitted measurement,
    # both would commit, and the measurement would name nothing.
    acquisition = AcquisitionFactory()
    analyte = AnalyteFactory()

    def delete() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM assays_acquisition WHERE id = %s", [acquisition.pk])

    outcome = _race(lambda: _insert_measurement(acquisition.pk, analyte.pk), delete)

    assert "measurement_acquisition_fk" in outcome
    assert Acquisition.objects.filter(pk=acquisition.pk).exists()
    assert Measurement.objects.filter(acquisition=acquisition).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_writing_a_measurement_waits_for_a_transaction_deleting_its_acquisition_and_is_then_refused() -> None:
    acquisition = AcquisitionFactory()
    analyte = AnalyteFactory()

    def delete() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM assays_acquisition WHERE id = %s", [acquisition.pk])

    outcome = _race(delete, lambda: _insert_measurement(acquisition.pk, analyte.pk))

    assert "measurement_acquisition_fk" in outcome
    assert not Acquisition.objects.filter(pk=acquisition.pk).exists()
    assert not Measurement.objects.exists()


# --- The migration --------------------------------------------------------------------------------


def _triggers() -> dict[str, set[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND c.relname = ANY(%s) AND t.tgname LIKE %s",
            [list(TRIGGERS), "%referenc%"],
        )
        found: dict[str, set[str]] = {table: set() for table in TRIGGERS}
        for table, name in cursor.fetchall():
            found[table].add(name)
    return found


def _foreign_keys() -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    with connection.cursor() as cursor:
        for model in (Measurement, InternalStandardReading):
            for constraint in connection.introspection.get_constraints(cursor, model._meta.db_table).values():
                if constraint["foreign_key"]:
                    keys |= {(model._meta.db_table, column) for column in constraint["columns"]}
    return keys


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_migration_puts_the_foreign_keys_back_and_takes_them_away_again() -> None:
    assert _triggers() == TRIGGERS
    assert _foreign_keys() == set()

    with connection.schema_editor() as editor:
        MIGRATION.restore_foreign_keys(apps, editor)
    assert _triggers() == {table: set() for table in TRIGGERS}
    assert _foreign_keys() == {(table, column) for _, table, column, _ in MIGRATION.REFERENCES}

    with connection.schema_editor() as editor:
        MIGRATION.replace_foreign_keys(apps, editor)
    assert _triggers() == TRIGGERS
    assert _foreign_keys() == set()
    with pytest.raises(IntegrityError, match="measurement_analyte_fk"), transaction.atomic():
        _insert_measurement(AcquisitionFactory().pk, 10**9)


# --- Migration 0013: the analyte is not indexed on measurements; parents look for gone keys first --


def _child_reads() -> int:
    """Scans of the two child tables so far in this transaction (its own statistics)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) FROM pg_stat_xact_user_tables"
            " WHERE relname IN ('assays_measurement', 'assays_internalstandardreading')"
        )
        (reads,) = cursor.fetchone()
    return int(reads)


def _analyte_indexes_on_measurements() -> list[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Measurement._meta.db_table)
    return [name for name, constraint in constraints.items() if constraint["index"] and constraint["columns"] == ["analyte_id"]]


@pytest.mark.django_db
def test_measurements_have_no_index_of_the_analyte_alone() -> None:
    assert _analyte_indexes_on_measurements() == []


def _rename_and_delete_analytes() -> None:
    """An analyte named by a measurement may be renamed, reading no child table, and not deleted."""
    measurement = MeasurementFactory()
    InternalStandardReading.objects.create(
        acquisition=measurement.acquisition, analyte=AnalyteFactory(code="115In [He]"), counts_per_second=1e5
    )
    before = _child_reads()
    Analyte.objects.filter(pk=measurement.analyte_id).update(name="renamed")
    assert _child_reads() == before
    with pytest.raises(IntegrityError, match="measurement_analyte_fk"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM assays_analyte WHERE id = %s", [measurement.analyte_id])
    assert _child_reads() > before


@pytest.mark.postgres
@pytest.mark.django_db
def test_renaming_an_analyte_reads_no_measurement_and_deleting_a_used_one_is_refused() -> None:
    _rename_and_delete_analytes()


@pytest.mark.postgres
@pytest.mark.django_db
def test_migration_0013_goes_back_to_0006s_check_and_forward_again() -> None:
    with connection.schema_editor() as editor:
        KEYS_GONE_FIRST.as_in_0006(apps, editor)
    measurement = MeasurementFactory()
    before = _child_reads()
    Analyte.objects.filter(pk=measurement.analyte_id).update(name="renamed")
    # 0006's check looked for children of a rename too.
    assert _child_reads() > before

    with connection.schema_editor() as editor:
        KEYS_GONE_FIRST.keys_gone_first(apps, editor)
    _rename_and_delete_analytes()
