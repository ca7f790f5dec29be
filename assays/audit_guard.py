"""The append-only guard of the audit trail: the one place its SQL is written.

The database itself refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the audit tables, so
no code path, raw SQL, admin action or shell session can rewrite history. There is deliberately
no switch to turn it off: no setting, no session variable. Only DDL (dropping the triggers, as a
migration's reverse does) removes it, and DDL is what a change review and the database's own
privileges control. On PostgreSQL the triggers are ``ENABLE ALWAYS``, so even
``SET session_replication_role = replica`` (which silences ordinary triggers) does not skip them.

Migrations install the guard with a table list frozen at the migration's point in history (a
later migration may guard tables that did not exist yet); ``GUARDED_TABLES`` is today's list and
a test checks it against the event models pghistory generates, and that every one is guarded.
See docs/audit.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.backends.base.base import BaseDatabaseWrapper

# The explicit audit trail and every row-history table pghistory created for the assays app.
# pghistory's own ``pghistory_context`` is not here: pghistory upserts it while recording.
GUARDED_TABLES: tuple[str, ...] = (
    "assays_auditevent",
    "assays_lotevent",
    "assays_lotinputevent",
    "assays_lotallocationevent",
    "assays_sampleevent",
    "assays_custodyeventevent",
    "assays_runevent",
    "assays_measurementevent",
    "assays_specificationevent",
    "assays_lotassessmentevent",
    "assays_certificateevent",
    "assays_flagevent",
    "assays_qcevaluationevent",
    "assays_qcwaiverevent",
    "assays_specificationlineevent",
)

# Not prefixed "pgtrigger_": django-pgtrigger's prune command drops unknown triggers with that prefix.
PG_FUNCTION = "assays_append_only_refuse"

_PG_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $guard$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation',
              HINT = 'Audit records are never changed or removed; record a correcting event instead.';
END;
$guard$
"""


def _pg_trigger_names(table: str) -> tuple[str, str]:
    return f"{table}_append_only_row", f"{table}_append_only_truncate"


def _check_table(table: str) -> str:
    # Table names are spliced into DDL, so only plain identifiers are accepted.
    if not table.replace("_", "").isalnum() or not table.isascii():
        raise ValueError(f"not a plain table name: {table!r}")
    return table


def install_sql(vendor: str, table: str) -> list[str]:
    """Statements that (re)install the guard on one table; idempotent."""
    table = _check_table(table)
    if vendor == "postgresql":
        row, truncate = _pg_trigger_names(table)
        return [
            _PG_FUNCTION_SQL,
            f'DROP TRIGGER IF EXISTS "{row}" ON "{table}"',
            f'CREATE TRIGGER "{row}" BEFORE UPDATE OR DELETE ON "{table}" FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()',
            f'DROP TRIGGER IF EXISTS "{truncate}" ON "{table}"',
            f'CREATE TRIGGER "{truncate}" BEFORE TRUNCATE ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()',
            f'ALTER TABLE "{table}" ENABLE ALWAYS TRIGGER "{row}"',
            f'ALTER TABLE "{table}" ENABLE ALWAYS TRIGGER "{truncate}"',
        ]
    if vendor == "sqlite":
        statements = []
        for operation in ("UPDATE", "DELETE"):
            name = f"{table}_append_only_{operation.lower()}"
            statements += [
                f'DROP TRIGGER IF EXISTS "{name}"',
                f'CREATE TRIGGER "{name}" BEFORE {operation} ON "{table}" '
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END",
            ]
        return statements
    raise NotImplementedError(f"no append-only guard for the {vendor!r} database; the audit trail needs PostgreSQL or SQLite")


def uninstall_sql(vendor: str, table: str) -> list[str]:
    table = _check_table(table)
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"' for name in _pg_trigger_names(table)]
    if vendor == "sqlite":
        return [f'DROP TRIGGER IF EXISTS "{table}_append_only_{operation}"' for operation in ("update", "delete")]
    raise NotImplementedError(f"no append-only guard for the {vendor!r} database")


def _execute(connection: BaseDatabaseWrapper, statements: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            # No parameters: the PL/pgSQL body's '%' placeholders must reach the server as written.
            cursor.execute(statement)


def install(connection: BaseDatabaseWrapper, *, tables: Iterable[str] = GUARDED_TABLES) -> None:
    for table in tables:
        _execute(connection, install_sql(connection.vendor, table))


def uninstall(connection: BaseDatabaseWrapper, *, tables: Iterable[str] = GUARDED_TABLES) -> None:
    """Drop the guard's triggers on ``tables``, and on PostgreSQL the function once nothing uses it."""
    for table in tables:
        _execute(connection, uninstall_sql(connection.vendor, table))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = %s LIMIT 1",
                [PG_FUNCTION],
            )
            if cursor.fetchone() is None:
                cursor.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")


def guarded_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """The tables of ``GUARDED_TABLES`` whose guard is complete and, on PostgreSQL, always enabled."""
    vendor = connection.vendor
    guarded = []
    with connection.cursor() as cursor:
        for table in GUARDED_TABLES:
            if vendor == "postgresql":
                cursor.execute(
                    "SELECT t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                    "WHERE t.tgrelid = to_regclass(%s) AND p.proname = %s AND t.tgenabled = 'A'",
                    [f'"{_check_table(table)}"', PG_FUNCTION],
                )
                expected = set(_pg_trigger_names(table))
            elif vendor == "sqlite":
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
                expected = {f"{table}_append_only_update", f"{table}_append_only_delete"}
            else:
                raise NotImplementedError(f"no append-only guard for the {vendor!r} database")
            if expected <= {row[0] for row in cursor.fetchall()}:
                guarded.append(table)
    return guarded
