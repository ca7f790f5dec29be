"""On PostgreSQL, a measurement's (and an internal-standard reading's) references to its acquisition
and analyte are checked once per statement instead of once per row (docs/architecture.md, "Bulk
integrity").

A foreign key checks every inserted row on its own: for a 120,000-value import that is 240,000
index probes queued as deferred triggers and run at commit, the largest single cost of an import.
Here the four references are statement-level triggers with transition tables:

* on the child (INSERT, UPDATE): one pass over the statement's new rows collects the keys they
  name; the referenced parent rows are locked ``FOR KEY SHARE`` (what a foreign key does: a
  concurrent delete of one of them waits for this transaction, or has committed and the lookup
  sees it gone), and the statement is refused if a key has no parent. An UPDATE checks only the
  rows whose reference changed, as a foreign key does;
* on the parent (DELETE, UPDATE, TRUNCATE): the statement is refused if a child row still names a
  key that is gone (NO ACTION, as Django creates its foreign keys: the ORM's ``on_delete``
  CASCADE deletes the children first, so ORM deletes work as before).

The errors are ``foreign_key_violation`` (an ``IntegrityError``) naming the reference as a
foreign key would, e.g. ``measurement_acquisition_fk``. They are raised at the end of the
statement, not deferred to commit: a parent is written before its children, as the import and
the ORM do. Like a foreign key's, the triggers are skipped under
``session_replication_role = replica``.

The models keep their ``ForeignKey`` with a database constraint, so on SQLite (the embedded mode)
the real foreign keys stay: Django keeps those through its table rebuilds, whereas a trigger that
names another table breaks SQLite's table rename in any later rebuild of either table. Only on
PostgreSQL are Django's foreign key constraints dropped (found by introspection: Django named
them), and the reverse puts them back.
"""

# The SQL below is built from this migration's own table and column names, never from input.
# ruff: noqa: S608

from django.db import migrations

# (name, child table, child column, parent table); a parent's key is its "id" (bigint).
REFERENCES = (
    ("measurement_acquisition_fk", "assays_measurement", "acquisition_id", "assays_acquisition"),
    ("measurement_analyte_fk", "assays_measurement", "analyte_id", "assays_analyte"),
    ("istd_reading_acquisition_fk", "assays_internalstandardreading", "acquisition_id", "assays_acquisition"),
    ("istd_reading_analyte_fk", "assays_internalstandardreading", "analyte_id", "assays_analyte"),
)

# The model fields whose foreign key constraints the triggers replace, in the order above.
FIELDS = (
    ("measurement", "acquisition"),
    ("measurement", "analyte"),
    ("internalstandardreading", "acquisition"),
    ("internalstandardreading", "analyte"),
)


def _tables(position: int) -> list[str]:
    return list(dict.fromkeys(reference[position] for reference in REFERENCES))


def child_sql(child: str) -> list[str]:
    """The check on one child table's inserts and updates, for every reference it holds."""
    references = [(name, column, parent) for name, table, column, parent in REFERENCES if table == child]
    declarations = "".join(f"    keys_{column} bigint[];\n" for _, column, _ in references)
    on_insert = ", ".join(f"array_agg(DISTINCT new_rows.{column})" for _, column, _ in references)
    on_update = ", ".join(
        f"array_agg(DISTINCT new_rows.{column}) FILTER (WHERE old_rows.{column} IS DISTINCT FROM new_rows.{column})"
        for _, column, _ in references
    )
    into = ", ".join(f"keys_{column}" for _, column, _ in references)
    checks = "".join(
        f"""
    PERFORM 1 FROM {parent} AS parent WHERE parent.id = ANY (keys_{column}) FOR KEY SHARE OF parent;
    SELECT key INTO missing FROM unnest(keys_{column}) AS key
        WHERE key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} AS parent WHERE parent.id = key)
        LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "{child}" violates foreign key constraint "{name}"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key ({column})=(%s) is not present in table "{parent}".', missing),
                  SCHEMA = current_schema(), TABLE = '{child}', COLUMN = '{column}', CONSTRAINT = '{name}';
    END IF;
"""
        for name, column, parent in references
    )
    function = f"""
CREATE OR REPLACE FUNCTION {child}_references_check() RETURNS trigger LANGUAGE plpgsql AS $check$
DECLARE
{declarations}    missing bigint;
BEGIN
    -- One pass over the statement's rows for the keys they name (on UPDATE: the changed ones).
    IF TG_OP = 'INSERT' THEN
        SELECT {on_insert} INTO {into} FROM new_rows;
    ELSE
        SELECT {on_update} INTO {into}
            FROM new_rows LEFT JOIN old_rows ON old_rows.id = new_rows.id;
    END IF;
    -- Lock the parents first, then look: a parent deleted concurrently is either waited for here
    -- or already gone from what the lookup sees.
{checks}    RETURN NULL;
END
$check$
"""
    return [
        function,
        f"DROP TRIGGER IF EXISTS {child}_references_insert ON {child}",
        f"DROP TRIGGER IF EXISTS {child}_references_update ON {child}",
        f"CREATE TRIGGER {child}_references_insert AFTER INSERT ON {child}"
        f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {child}_references_check()",
        f"CREATE TRIGGER {child}_references_update AFTER UPDATE ON {child}"
        f" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {child}_references_check()",
    ]


def parent_sql(parent: str) -> list[str]:
    """The refusal to remove one parent table's keys while a child row still names them."""
    references = [(name, child, column) for name, child, column, table in REFERENCES if table == parent]
    checks = "".join(
        f"""
    IF TG_OP = 'TRUNCATE' THEN
        -- The parent is empty now; children truncated in the same statement are empty too.
        SELECT child.{column} INTO still FROM {child} AS child LIMIT 1;
    ELSE
        -- Keys of the old rows that no longer exist (an UPDATE that keeps the key is fine).
        SELECT child.{column} INTO still FROM {child} AS child
            WHERE child.{column} IN (
                SELECT old_rows.id FROM old_rows WHERE NOT EXISTS (SELECT 1 FROM {parent} AS parent WHERE parent.id = old_rows.id)
            )
            LIMIT 1;
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
    function = f"""
CREATE OR REPLACE FUNCTION {parent}_referenced_restrict() RETURNS trigger LANGUAGE plpgsql AS $restrict$
DECLARE
    still bigint;
BEGIN
{checks}    RETURN NULL;
END
$restrict$
"""
    return [
        function,
        *(f"DROP TRIGGER IF EXISTS {parent}_referenced_{event} ON {parent}" for event in ("delete", "update", "truncate")),
        f"CREATE TRIGGER {parent}_referenced_delete AFTER DELETE ON {parent}"
        f" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {parent}_referenced_restrict()",
        f"CREATE TRIGGER {parent}_referenced_update AFTER UPDATE ON {parent}"
        f" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {parent}_referenced_restrict()",
        f"CREATE TRIGGER {parent}_referenced_truncate AFTER TRUNCATE ON {parent}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {parent}_referenced_restrict()",
    ]


def replace_foreign_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for (model_name, field_name), (_name, child, column, _parent) in zip(FIELDS, REFERENCES, strict=True):
        model = apps.get_model("assays", model_name)
        assert model._meta.db_table == child
        assert model._meta.get_field(field_name).column == column
        for constraint in schema_editor._constraint_names(model, [column], foreign_key=True):
            schema_editor.execute(schema_editor._delete_fk_sql(model, constraint))
    for statement in [*(s for child in _tables(1) for s in child_sql(child)), *(s for parent in _tables(3) for s in parent_sql(parent))]:
        # No parameters: the functions' format() strings hold a literal "%s".
        schema_editor.execute(statement, params=None)


def restore_foreign_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for child in _tables(1):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {child}_references_insert ON {child}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {child}_references_update ON {child}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {child}_references_check()")
    for parent in _tables(3):
        for event in ("delete", "update", "truncate"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {parent}_referenced_{event} ON {parent}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {parent}_referenced_restrict()")
    for model_name, field_name in FIELDS:
        model = apps.get_model("assays", model_name)
        schema_editor.execute(schema_editor._create_fk_sql(model, model._meta.get_field(field_name), "_fk_%(to_table)s_%(to_column)s"))


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0005_run_import"),
    ]

    operations = [
        migrations.RunPython(replace_foreign_keys, restore_foreign_keys, elidable=False),
    ]
