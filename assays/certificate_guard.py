"""The database refuses to change what a certificate certifies, once its PDF is stored.

From the moment a certificate has a stored, signed PDF (``pdf_sha256`` set) no code path, raw SQL
or admin action can change its number, revision, lot, assessment, signature, payload or file, or
delete it; only its status may move on (issued → superseded or revoked, with the revocation's
who, when and why written once). Services refuse the same earlier with a clear message; this is
the last line. The SQL lives here only; migration 0010 installs it (see docs/certificates.md).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "assays_certificate"
# Everything certified or signed. Status and the revocation fields are not here: they change once.
FROZEN_COLUMNS: tuple[str, ...] = (
    "kind",
    "number",
    "revision",
    "lot_id",
    "issuing_site_id",
    "customer_id",
    "assessment_id",
    "issued_at",
    "issued_by_id",
    "signer_name",
    "signer_role",
    "signature_meaning",
    "concession_reason",
    "supersedes_id",
    "change_summary",
    "revision_reason",
    "verification_token",
    "payload",
    "pdf",
    "pdf_sha256",
    "pdf_size",
    "rendered_at",
)
# Once set, never changed again.
WRITE_ONCE_COLUMNS: tuple[str, ...] = ("revoked_at", "revoked_by_id", "revocation_reason")
# Where a stored certificate's status may go.
STATUS_MOVES = (("issued", "superseded"), ("issued", "revoked"), ("rendering", "revoked"))

_PG_FUNCTION = "assays_certificate_refuse_change"
_MESSAGE = "an issued certificate never changes: amend it with a new revision, or revoke it"


def _pg_changed(column: str) -> str:
    # payload is jsonb: IS DISTINCT FROM compares values, not text.
    return f"NEW.{column} IS DISTINCT FROM OLD.{column}"


def _status_ok(old: str, new: str) -> str:
    moves = " OR ".join(f"({old} = '{a}' AND {new} = '{b}')" for a, b in STATUS_MOVES)
    return f"({old} = {new} OR {moves})"


def install_sql(vendor: str) -> list[str]:
    frozen_pg = " OR ".join(_pg_changed(column) for column in FROZEN_COLUMNS)
    once_pg = " OR ".join(
        f"(OLD.{column} IS NOT NULL AND OLD.{column}::text <> '' AND {_pg_changed(column)})" for column in WRITE_ONCE_COLUMNS
    )
    if vendor == "postgresql":
        return [
            f"""
CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $guard$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.pdf_sha256 <> '' THEN
            RAISE EXCEPTION 'certificate % rev % refused: %', OLD.number, OLD.revision, '{_MESSAGE}'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.pdf_sha256 <> '' AND ({frozen_pg} OR {once_pg} OR NOT {_status_ok("OLD.status", "NEW.status")}) THEN
        RAISE EXCEPTION 'certificate % rev % refused: %', OLD.number, OLD.revision, '{_MESSAGE}'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$guard$
""",
            f'DROP TRIGGER IF EXISTS "{TABLE}_frozen" ON "{TABLE}"',
            f'CREATE TRIGGER "{TABLE}_frozen" BEFORE UPDATE OR DELETE ON "{TABLE}" FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()',
            f'ALTER TABLE "{TABLE}" ENABLE ALWAYS TRIGGER "{TABLE}_frozen"',
        ]
    if vendor == "sqlite":
        frozen = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in FROZEN_COLUMNS)
        once = " OR ".join(
            f"(OLD.{column} IS NOT NULL AND OLD.{column} <> '' AND NEW.{column} IS NOT OLD.{column})" for column in WRITE_ONCE_COLUMNS
        )
        return [
            f'DROP TRIGGER IF EXISTS "{TABLE}_frozen_update"',
            f'CREATE TRIGGER "{TABLE}_frozen_update" BEFORE UPDATE ON "{TABLE}" '
            f"WHEN OLD.pdf_sha256 <> '' AND ({frozen} OR {once} OR NOT {_status_ok('OLD.status', 'NEW.status')}) "
            f"BEGIN SELECT RAISE(ABORT, 'certificate refused: {_MESSAGE}'); END",
            f'DROP TRIGGER IF EXISTS "{TABLE}_frozen_delete"',
            f'CREATE TRIGGER "{TABLE}_frozen_delete" BEFORE DELETE ON "{TABLE}" '
            f"WHEN OLD.pdf_sha256 <> '' BEGIN SELECT RAISE(ABORT, 'certificate refused: {_MESSAGE}'); END",
        ]
    raise NotImplementedError(f"no certificate guard for the {vendor!r} database")


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS "{TABLE}_frozen" ON "{TABLE}"', f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()"]
    if vendor == "sqlite":
        return [f'DROP TRIGGER IF EXISTS "{TABLE}_frozen_update"', f'DROP TRIGGER IF EXISTS "{TABLE}_frozen_delete"']
    raise NotImplementedError(f"no certificate guard for the {vendor!r} database")


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in install_sql(connection.vendor):
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in uninstall_sql(connection.vendor):
            cursor.execute(statement)
