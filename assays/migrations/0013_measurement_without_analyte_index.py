"""A measurement's analyte is no longer indexed on its own (see ``Measurement.analyte``), so on
PostgreSQL the parents' restrict triggers of migration 0006 first find which keys a statement
really removed, and read a child table only when there is one.

Before, an UPDATE of an analyte (a name corrected) planned a search of the measurements for keys
that had gone, and without the index that search could be a scan of the whole table even with no
key gone. Now: no key gone (an UPDATE that keeps the id, as every edit does) reads no child at
all; a key gone (a DELETE) looks for children naming it, by the acquisition's unique index, or
for an analyte by a scan, which a delete of reference data can afford.
"""

# The SQL below is built from this migration's own table and column names, never from input.
# ruff: noqa: S608

import importlib

import django.db.models.deletion
from django.db import migrations, models

_setbased = importlib.import_module("assays.migrations.0006_measurement_setbased_references")


def parent_sql(parent: str) -> str:
    """The refusal to remove one parent table's keys while a child row still names them."""
    references = [(name, child, column) for name, child, column, table in _setbased.REFERENCES if table == parent]
    checks = "".join(
        f"""
    IF TG_OP = 'TRUNCATE' THEN
        -- The parent is empty now; children truncated in the same statement are empty too.
        SELECT child.{column} INTO still FROM {child} AS child LIMIT 1;
    ELSE
        SELECT child.{column} INTO still FROM {child} AS child WHERE child.{column} = ANY (gone) LIMIT 1;
    END IF;
    IF still IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "{parent}" violates foreign key constraint "{name}" on table "{child}"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (id)=(%s) is still referenced from table "{child}".', still),
                  SCHEMA = current_schema(), TABLE = '{child}', CONSTRAINT = '{name}';
    END IF;
"""
        for name, child, column in references
    )
    return f"""
CREATE OR REPLACE FUNCTION {parent}_referenced_restrict() RETURNS trigger LANGUAGE plpgsql AS $restrict$
DECLARE
    gone bigint[];
    still bigint;
BEGIN
    IF TG_OP <> 'TRUNCATE' THEN
        -- The keys of the old rows that no longer exist (an UPDATE that keeps the key is fine).
        gone := ARRAY(
            SELECT old_rows.id FROM old_rows WHERE NOT EXISTS (SELECT 1 FROM {parent} AS parent WHERE parent.id = old_rows.id)
        );
        IF cardinality(gone) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;
{checks}    RETURN NULL;
END
$restrict$
"""


def keys_gone_first(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for parent in _setbased._tables(3):
        schema_editor.execute(parent_sql(parent), params=None)


def as_in_0006(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for parent in _setbased._tables(3):
        schema_editor.execute(_setbased.parent_sql(parent)[0], params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0012_partner_access"),
    ]

    operations = [
        migrations.AlterField(
            model_name="measurement",
            name="analyte",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="measurements", to="assays.analyte"
            ),
        ),
        migrations.RunPython(keys_gone_first, as_in_0006, elidable=False),
    ]
