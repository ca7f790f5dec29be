"""The audit tables become append-only in the database itself (see assays.audit_guard, docs/audit.md).

The table list is frozen here, as it stood at this migration: a model tracked later gets its
event table guarded by the migration that creates it.
"""

from django.db import migrations

TABLES = (
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
)


def install_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.install(schema_editor.connection, tables=TABLES)


def uninstall_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.uninstall(schema_editor.connection, tables=TABLES)


class Migration(migrations.Migration):
    dependencies = [("assays", "0002_reference_data")]

    operations = [migrations.RunPython(install_guard, uninstall_guard, elidable=False)]
