"""A lot assessment's figures: the outcome of every specification line, the headline summary,
the reasons, the number of samples, who asked for it, and whether it differs from the certified one.

On SQLite, adding columns to the assessment's event table rebuilds it and drops its append-only
triggers with the old table (docs/audit.md): the guard is reinstalled on it afterwards, and on the
way back too.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models

REBUILT_GUARDED_TABLES = ("assays_lotassessmentevent",)


def reinstall_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.install(schema_editor.connection, tables=REBUILT_GUARDED_TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0008_specification_lines"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Reversed last: the reverse's table rebuilds come first.
        migrations.RunPython(migrations.RunPython.noop, reinstall_guard, elidable=False),
        pgtrigger.migrations.RemoveTrigger(
            model_name="lotassessment",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="lotassessment",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="lotassessment",
            name="delete_delete",
        ),
        migrations.AddField(
            model_name="lotassessment",
            name="assessed_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty: a worker.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="lotassessment",
            name="differs_from_certified",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="lotassessment",
            name="n_samples",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="lotassessment",
            name="outcome",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="lotassessment",
            name="reasons",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="lotassessment",
            name="summary",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="lotassessmentevent",
            name="assessed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="Empty: a worker.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="lotassessmentevent",
            name="differs_from_certified",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="lotassessmentevent",
            name="n_samples",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="lotassessmentevent",
            name="outcome",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="lotassessmentevent",
            name="reasons",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="lotassessmentevent",
            name="summary",
            field=models.JSONField(blank=True, default=dict),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="lotassessment",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_lotassessmentevent" ("assessed_at", "assessed_by_id", "differs_from_certified", "id", "inputs_fingerprint", "is_frozen", "lot_id", "n_samples", "outcome", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reasons", "specification_id", "status", "summary") VALUES (NEW."assessed_at", NEW."assessed_by_id", NEW."differs_from_certified", NEW."id", NEW."inputs_fingerprint", NEW."is_frozen", NEW."lot_id", NEW."n_samples", NEW."outcome", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."reasons", NEW."specification_id", NEW."status", NEW."summary"); RETURN NULL;',
                    hash="56f4ff940b3cfcfe7adcb17fe159e6c5db3f7e18",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_ba89d",
                    table="assays_lotassessment",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="lotassessment",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_lotassessmentevent" ("assessed_at", "assessed_by_id", "differs_from_certified", "id", "inputs_fingerprint", "is_frozen", "lot_id", "n_samples", "outcome", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reasons", "specification_id", "status", "summary") VALUES (NEW."assessed_at", NEW."assessed_by_id", NEW."differs_from_certified", NEW."id", NEW."inputs_fingerprint", NEW."is_frozen", NEW."lot_id", NEW."n_samples", NEW."outcome", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."reasons", NEW."specification_id", NEW."status", NEW."summary"); RETURN NULL;',
                    hash="0ada48124f8f7f1deccc19669e69b7051d2a02f5",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_475e0",
                    table="assays_lotassessment",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="lotassessment",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_lotassessmentevent" ("assessed_at", "assessed_by_id", "differs_from_certified", "id", "inputs_fingerprint", "is_frozen", "lot_id", "n_samples", "outcome", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reasons", "specification_id", "status", "summary") VALUES (OLD."assessed_at", OLD."assessed_by_id", OLD."differs_from_certified", OLD."id", OLD."inputs_fingerprint", OLD."is_frozen", OLD."lot_id", OLD."n_samples", OLD."outcome", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."reasons", OLD."specification_id", OLD."status", OLD."summary"); RETURN NULL;',
                    hash="313bebae5f5451d4a4d7fb74182c921485d90e16",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_53110",
                    table="assays_lotassessment",
                    when="AFTER",
                ),
            ),
        ),
        migrations.RunPython(reinstall_guard, migrations.RunPython.noop, elidable=False),
    ]
