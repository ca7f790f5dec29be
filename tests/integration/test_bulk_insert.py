"""``bulk_insert.insert_all`` stores exactly what ``bulk_create`` stores (COPY on PostgreSQL):
the same columns, JSON as JSON, a JSONField's None as SQL NULL, and the rows' ids on the
instances; and the append-only guard still refuses a change to what it wrote."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.utils import timezone

from assays.bulk_insert import insert_all
from assays.models import AuditAction, AuditEvent
from tests.factories import UserFactory

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
