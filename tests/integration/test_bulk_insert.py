"""``bulk_insert.insert_all`` stores exactly what ``bulk_create`` stores (COPY on PostgreSQL):
the same columns, JSON as JSON, a JSONField's None as SQL NULL, and the rows' ids on the
instances; and the append-only guard still refuses a change to what it wrote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.utils import timezone

from assays.bulk_insert import insert_all
from assays.models import AssessmentStatus, AuditAction, AuditEvent, LotAssessment
from tests.factories import LotFactory, UserFactory

pytestmark = pytest.mark.django_db

COLUMNS = ("at", "actor_id", "actor_label", "action", "entity", "object_id", "object_repr", "reason", "before", "after", "context")


def _events(tag: str, *, actor: Any) -> list[AuditEvent]:
    at = timezone.now()
    return [
        AuditEvent(
            at=at,
            actor=actor,
            actor_label="qa-1",
            action=AuditAction.CREATE,
            entity="assays.lotassessment",
            object_id=str(index),
            object_repr=f'{tag} {index} ünïcode \\ "quoted" \t tab',
            reason="a reason, with a comma; and a\nnew line",
            before=None if index % 2 else {"status": "open", "nested": [1, 2.5, None, "x"]},
            after={"status": "assessed", "summary": {"relative_purity_pct": 99.95123456789012, "oxides_mg_kg": {"Fe2O3": 1e-05}}},
            # Keys that are not text, and a tuple: json.dumps writes them as "7" and a list.
            context={} if index % 3 else {"lots": index, "tag": tag, 7: ("a", 1), "ε": [True, False]},
        )
        for index in range(7)
    ]


def _stored(ids: list[int]) -> list[tuple[Any, ...]]:
    return list(AuditEvent.objects.filter(pk__in=ids).order_by("object_id").values_list(*COLUMNS))


@pytest.mark.postgres
def test_copy_stores_what_bulk_create_stores() -> None:
    actor = UserFactory()
    with transaction.atomic():
        copied = list(insert_all(_events("same", actor=actor)))
        created = AuditEvent.objects.bulk_create(_events("same", actor=actor))
    assert all(event.pk is not None and not event._state.adding for event in copied)
    assert len({event.pk for event in copied}) == len(copied)
    # Each instance holds the id of the row that has its content.
    assert all(AuditEvent.objects.get(pk=event.pk).object_id == event.object_id for event in copied)
    by_copy = _stored([event.pk for event in copied])
    by_orm = _stored([event.pk for event in created])
    # The times differ (each batch took its own now()); everything else is the same.
    assert [row[1:] for row in by_copy] == [row[1:] for row in by_orm]
    # None in a JSONField is SQL NULL, not JSON null, as bulk_create stores it.
    assert AuditEvent.objects.filter(pk__in=[event.pk for event in copied], before__isnull=True).count() == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM assays_auditevent WHERE id = ANY(%s) AND before IS NULL", [[event.pk for event in copied]])
        assert cursor.fetchone() == (3,)


@pytest.mark.postgres
def test_a_value_json_cannot_hold_is_refused_and_nothing_is_written() -> None:
    events = _events("refused", actor=None)
    events[3].after = {"when": object()}
    with pytest.raises(TypeError), transaction.atomic():
        insert_all(events)
    assert not AuditEvent.objects.filter(object_repr__startswith="refused").exists()


@pytest.mark.postgres
def test_rows_written_by_copy_are_guarded_like_any_other() -> None:
    with transaction.atomic():
        (event,) = insert_all(_events("guarded", actor=None)[:1])
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    assert AuditEvent.objects.get(pk=event.pk).reason.startswith("a reason")


def test_elsewhere_it_is_bulk_create() -> None:
    with transaction.atomic():
        events = list(insert_all(_events("elsewhere", actor=None)))
    stored = _stored([event.pk for event in events])
    assert len(stored) == 7
    assert stored[0][9]["summary"]["relative_purity_pct"] == pytest.approx(99.95123456789012, abs=0)
    assert Decimal(str(stored[0][9]["summary"]["oxides_mg_kg"]["Fe2O3"])) == Decimal("0.00001")


def test_nothing_to_insert_is_nothing_done() -> None:
    assert insert_all([]) == []


@pytest.mark.postgres
def test_large_json_columns_are_compressed_with_lz4_where_the_server_has_it() -> None:
    # Migration 0016: an assessment's outcome (about 8 kB, stored again in its row history) and a
    # certificate's payload; pglz cost a reassessment a fifth of its write time.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        (has_lz4,) = cursor.fetchone()
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute"
            " WHERE (attrelid::regclass::text, attname) IN (('assays_lotassessment', 'outcome'), ('assays_lotassessmentevent', 'outcome'),"
            " ('assays_certificate', 'payload'), ('assays_certificateevent', 'payload'))"
        )
        compression = {(table, column): method for table, column, method in cursor.fetchall()}
    assert len(compression) == 4
    assert set(compression.values()) == ({"l"} if has_lz4 else {""}), compression


def test_rows_made_as_they_are_written_are_stored_as_a_list_would_be() -> None:
    made: list[str] = []

    def one_by_one() -> Iterator[AuditEvent]:
        for event in _events("streamed", actor=None):
            made.append(event.object_id)
            yield event

    with transaction.atomic():
        streamed = insert_all(one_by_one(), count=7)
        listed = insert_all(_events("streamed", actor=None))
    assert made == [str(index) for index in range(7)]
    assert all(event.pk is not None and not event._state.adding for event in streamed)
    assert [row[1:] for row in _stored([event.pk for event in streamed])] == [row[1:] for row in _stored([event.pk for event in listed])]
    assert all(AuditEvent.objects.get(pk=event.pk).object_id == event.object_id for event in streamed)


@pytest.mark.parametrize(("given", "told"), [(6, 7), (7, 6), (1, 0)])
def test_rows_made_other_than_told_are_refused_and_nothing_is_written(given: int, told: int) -> None:
    with pytest.raises(ValueError, match=f"told of {'no' if told == 0 else told} rows"), transaction.atomic():
        insert_all(iter(_events("miscounted", actor=None)[:given]), count=told)
    assert not AuditEvent.objects.filter(object_repr__startswith="miscounted").exists()


@pytest.mark.postgres
def test_the_database_takes_the_first_rows_while_the_last_are_being_made() -> None:
    # The point of making rows as they are written: the database parses and stores the earlier
    # ones meanwhile. Each event here is past psycopg's copy buffer (32 kB), so it is sent when
    # made; the COPY's progress is read from a second connection (pg_stat_progress_copy).
    events = _events("progress", actor=None)
    for event in events:
        event.after = {"padding": "x" * 40_000}
    with transaction.atomic():
        pid = connection.connection.info.backend_pid
        taken_before_the_last: list[int] = []
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as watcher:

            def made() -> Iterator[AuditEvent]:
                yield from events[:-1]
                # Before the last row is made: wait (at most 10 s) for the database to have
                # stored the first, as it does while the rest are made.
                deadline = time.monotonic() + 10
                taken = 0
                while taken < 1 and time.monotonic() < deadline:
                    row = watcher.execute("SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = %s", [pid]).fetchone()
                    taken = int(row[0]) if row else 0
                    time.sleep(0.01)
                taken_before_the_last.append(taken)
                yield events[-1]

            stored = insert_all(made(), count=len(events))
    assert len(stored) == len(events)
    assert taken_before_the_last[0] >= 1, "the database had taken no row before the last was made"


ASSESSMENT_COLUMNS = (
    *("lot_id", "specification_id", "status", "inputs_fingerprint", "assessed_at", "is_frozen", "n_samples"),
    *("outcome", "summary", "reasons", "differs_from_certified", "assessed_by_id"),
)


def _assessments(lot: Any, *, user: Any, at: Any) -> list[LotAssessment]:
    # Every kind of column an assessment has: booleans both ways, an int, keys set and None, JSON
    # with None (SQL NULL is refused there: NOT NULL) and empty, and text of a str subclass (a choice).
    return [
        LotAssessment(
            lot=lot,
            specification=None,
            status=AssessmentStatus.CONFORMING if index % 2 else "off_spec",
            inputs_fingerprint=f"v2:{index:061d}",
            assessed_at=at,
            is_frozen=bool(index % 2),
            n_samples=index,
            outcome={"lines": [{"best": 99.95123456789012, "verdict": None}]} if index else {},
            summary={"relative_purity_pct": 99.9 + index / 100},
            reasons=[f"reason {index}"] if index % 3 else [],
            differs_from_certified=not index % 2,
            assessed_by=user if index % 2 else None,
        )
        for index in range(5)
    ]


@pytest.mark.postgres
def test_every_kind_of_column_is_stored_as_bulk_create_stores_it() -> None:
    # insert_all sends the values of plain fields (text, integers, booleans, keys) as they are,
    # without Django's conversion of each: the rows must be what Django's own insert makes of them.
    lot, user, at = LotFactory(), UserFactory(), timezone.now()
    with transaction.atomic():
        copied = insert_all(_assessments(lot, user=user, at=at))
        created = LotAssessment.objects.bulk_create(_assessments(lot, user=user, at=at))

    def stored(rows: list[LotAssessment]) -> list[tuple[Any, ...]]:
        return list(LotAssessment.objects.filter(pk__in=[row.pk for row in rows]).order_by("n_samples").values_list(*ASSESSMENT_COLUMNS))

    assert stored(copied) == stored(created)
    assert len(stored(copied)) == 5
