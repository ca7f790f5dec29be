"""Many new rows of one model in one statement: COPY on PostgreSQL, ``bulk_create`` elsewhere.

Why not always ``bulk_create``: on PostgreSQL Django 5.2 sends a bulk insert as arrays (UNNEST),
which psycopg's client-side binding escapes element by element with a regular expression. For
rows carrying JSON (an assessment's outcome is a few kilobytes, an audit event's before and after)
that escaping costs several times the rest of the write. COPY sends each row once, as text.

JSON columns (a field with Django's default encoder) are written as text by orjson, which encodes an
assessment's outcome sixteen times faster than ``json.dumps`` (that encoding was half the write);
the database parses either text to the same ``jsonb``. Values orjson does not know natively go to
``json.JSONEncoder.default``, which refuses them as the field would; a NaN or an infinity, which
``json.dumps`` would write as a token PostgreSQL refuses, becomes null (the services store none:
``assessment._number`` already maps them to None).

The ids are drawn from the table's sequence first, in one query, and set on the instances, which
are then as ``bulk_create`` leaves them (saved, with their ids). Row triggers (append-only guards,
row history) fire for COPY as for INSERT. The query that draws the ids goes through Django's
cursor, which is not a plain SELECT to pghistory: it carries pghistory's context (who, why) into
the transaction, where the COPY's row-history triggers record it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from django.db import connection, models
from psycopg import sql

M = TypeVar("M", bound=models.Model)


def insert_all(instances: Iterable[M], *, count: int | None = None) -> list[M]:
    """``bulk_create(instances)`` (new rows of one model); they get their ids.

    ``instances`` may be made as they are written: an iterator, with ``count`` the number it makes.
    On PostgreSQL each row then goes to the COPY as soon as it is made, and the database parses and
    stores it while the next ones are made (the maker must not query the database meanwhile: the
    connection is busy with the COPY). Making fewer or more rows than ``count`` is an error, and
    the COPY is abandoned."""
    if count is None:
        instances = list(instances)
        count = len(instances)
    made = iter(instances)
    if count == 0:
        if next(made, None) is not None:
            raise ValueError("insert_all was told of no rows, and was given one")
        return []
    if connection.vendor != "postgresql":
        rows = list(made)
        if len(rows) != count:
            raise ValueError(f"insert_all was told of {count} rows, and was given {len(rows)}")
        return type(rows[0])._default_manager.bulk_create(rows)
    first = next(made)  # the model, before anything is written
    model = type(first)
    meta = model._meta
    # As bulk_create: every concrete column but the key and the ones the database computes.
    fields = [field for field in meta.concrete_fields if not field.primary_key and not getattr(field, "generated", False)]
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(meta.db_table),
        columns=sql.SQL(", ").join(map(sql.Identifier, [meta.pk.column, *(field.column for field in fields)])),
    )
    ids = draw_ids(model, count)
    plan = [_ColumnPlan.of(field) for field in fields]
    written: list[M] = []
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for instance in itertools.chain((first,), made):
            if len(written) == count:
                raise ValueError(f"insert_all was told of {count} rows, and was given more")
            instance.pk = ids[len(written)]
            copy.write_row((instance.pk, *(column.value(instance) for column in plan)))
            written.append(instance)
        if len(written) != count:
            raise ValueError(f"insert_all was told of {count} rows, and was given {len(written)}")
    for instance in written:
        instance._state.adding = False
        instance._state.db = connection.alias
    return written


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS  # {1: x} as {"1": x}, as json.dumps writes it
_JSON_DEFAULT = json.JSONEncoder().default  # what the default encoder does with the rest: refuse it


def _database_value(field: models.Field[Any, Any], instance: models.Model) -> Any:
    """What bulk_create sends for a field: pre_save (auto_now_add...), then the database form
    (None as NULL); a JSON value as its text."""
    value = field.pre_save(instance, True)
    if value is not None and isinstance(field, models.JSONField) and field.encoder is None:
        return orjson.dumps(value, default=_JSON_DEFAULT, option=_JSON_OPTIONS).decode()
    return field.get_db_prep_save(value, connection)


# The Python types a field of exactly these classes stores as they are: for such a value Django's
# get_db_prep_save (to_python, get_prep_value, the backend's adaptation) gives the value back
# unchanged, so it is not asked (a reassessment writes a dozen fields of thousands of rows). Any
# other value, field class or subclass goes through Django, as bulk_create would.
_STORED_AS_GIVEN: dict[type[models.Field[Any, Any]], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.BooleanField: (bool,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.FloatField: (float,),
}


@dataclass(frozen=True, slots=True)
class _ColumnPlan:
    """How one field's value is sent, worked out once per ``insert_all``."""

    field: models.Field[Any, Any]
    attname: str
    as_given: tuple[type, ...]  # value types sent unchanged; none for a field Django must convert

    @classmethod
    def of(cls, field: models.Field[Any, Any]) -> _ColumnPlan:
        if type(field).pre_save is not models.Field.pre_save:  # auto_now and the like: Django's
            as_given: tuple[type, ...] = ()
        elif isinstance(field, models.ForeignKey):
            # A key to an integer id: the id as given, when it is an int (what the key's own field takes).
            integer_key = isinstance(field.target_field, models.AutoField | models.BigAutoField)
            as_given = (int, type(None)) if integer_key else (type(None),)
        elif type(field) is models.JSONField and field.encoder is None:
            as_given = (type(None),)  # None as SQL NULL; a value as its text (_database_value)
        elif type(field) in _STORED_AS_GIVEN:
            as_given = (*_STORED_AS_GIVEN[type(field)], type(None))  # None is NULL, as Django gives it
        else:  # a field of another class: Django decides, None included
            as_given = ()
        return cls(field, field.attname, as_given)

    def value(self, instance: models.Model) -> Any:
        # bool is an int to isinstance: compared by exact type, so True never passes as an int.
        value = getattr(instance, self.attname)
        return value if type(value) in self.as_given else _database_value(self.field, instance)


def draw_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new ids from the PostgreSQL sequence of ``model``'s primary key, in one query
    (for rows written by COPY, which cannot return them)."""
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH ids AS (SELECT nextval(pg_get_serial_sequence(%s, %s)) AS id FROM generate_series(1, %s)) SELECT id FROM ids",
            [meta.db_table, meta.pk.column, count],
        )
        return [int(pk) for (pk,) in cursor.fetchall()]
