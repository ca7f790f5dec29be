"""Importing runs: QC label patterns per instrument, internal-standard readings, and what an import
records on its run and acquisitions (summary, QC note, data file, replicate, CRM, dilution and
conversion factors). A measurement's acquisition needs no index of its own: the unique
(acquisition, analyte) index serves it.

On SQLite, adding columns to the run's pghistory event table rebuilds it and drops its append-only
triggers with the old table (docs/audit.md): the guard is reinstalled on that table afterwards,
and on the way back too.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

REBUILT_GUARDED_TABLES = ("assays_runevent",)


def reinstall_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.install(schema_editor.connection, tables=REBUILT_GUARDED_TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0004_provenance_and_digest_checks"),
    ]

    operations = [
        # Reversed last: the reverse's table rebuilds come first.
        migrations.RunPython(migrations.RunPython.noop, reinstall_guard, elidable=False),
        migrations.CreateModel(
            name="InternalStandardReading",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("counts_per_second", models.FloatField(blank=True, null=True)),
                ("recovery_percent", models.FloatField(blank=True, null=True)),
            ],
            options={
                "ordering": ["acquisition", "analyte__code"],
            },
        ),
        migrations.CreateModel(
            name="QcLabelPattern",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("pattern", models.CharField(max_length=200)),
                (
                    "match_kind",
                    models.CharField(
                        choices=[("exact", "Exact label"), ("prefix", "Label starts with"), ("regex", "Regular expression")],
                        default="exact",
                        max_length=8,
                    ),
                ),
                (
                    "qc_role",
                    models.CharField(
                        choices=[
                            ("calibration_blank", "Calibration blank"),
                            ("calibration_standard", "Calibration standard"),
                            ("icv", "ICV"),
                            ("ccv", "CCV"),
                            ("ccb", "CCB"),
                            ("method_blank", "Method blank"),
                            ("lcs", "LCS"),
                            ("crm", "CRM"),
                            ("duplicate", "Duplicate"),
                            ("spike", "Matrix spike"),
                        ],
                        max_length=24,
                    ),
                ),
                ("position", models.PositiveSmallIntegerField(default=0, help_text="Lower first.")),
                ("note", models.CharField(blank=True, max_length=200)),
            ],
            options={
                "ordering": ["instrument__code", "position", "id"],
            },
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="run",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="run",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="run",
            name="delete_delete",
        ),
        migrations.AddField(
            model_name="acquisition",
            name="conversion_factor",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="acquisition",
            name="data_file",
            field=models.CharField(blank=True, help_text="The instrument's own name for the acquisition (001SMPL.d).", max_length=255),
        ),
        migrations.AddField(
            model_name="acquisition",
            name="dilution_factor",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="acquisition",
            name="reference_material",
            field=models.ForeignKey(
                blank=True,
                help_text="For a CRM.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="acquisitions",
                to="assays.referencematerial",
            ),
        ),
        migrations.AddField(
            model_name="acquisition",
            name="replicate",
            field=models.CharField(blank=True, help_text="A replicate's name, when the file lists replicates as rows.", max_length=40),
        ),
        migrations.AddField(
            model_name="run",
            name="import_summary",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="run",
            name="qc_evaluated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="run",
            name="qc_note",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="runevent",
            name="import_summary",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="runevent",
            name="qc_evaluated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="runevent",
            name="qc_note",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="measurement",
            name="acquisition",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="measurements", to="assays.acquisition"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="run",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_runevent" ("analyst_id", "id", "import_summary", "imported_at", "instrument_id", "method_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "qc_evaluated_at", "qc_note", "site_id", "source_filename", "source_format", "source_sha256", "started_at", "status") VALUES (NEW."analyst_id", NEW."id", NEW."import_summary", NEW."imported_at", NEW."instrument_id", NEW."method_id", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."qc_evaluated_at", NEW."qc_note", NEW."site_id", NEW."source_filename", NEW."source_format", NEW."source_sha256", NEW."started_at", NEW."status"); RETURN NULL;',
                    hash="e9b5454f469cfe6d979c48018be404450db7a46f",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_a3742",
                    table="assays_run",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="run",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_runevent" ("analyst_id", "id", "import_summary", "imported_at", "instrument_id", "method_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "qc_evaluated_at", "qc_note", "site_id", "source_filename", "source_format", "source_sha256", "started_at", "status") VALUES (NEW."analyst_id", NEW."id", NEW."import_summary", NEW."imported_at", NEW."instrument_id", NEW."method_id", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."qc_evaluated_at", NEW."qc_note", NEW."site_id", NEW."source_filename", NEW."source_format", NEW."source_sha256", NEW."started_at", NEW."status"); RETURN NULL;',
                    hash="22b91fae8e8deabcc195972c741de765669e6c56",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_7c96d",
                    table="assays_run",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="run",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_runevent" ("analyst_id", "id", "import_summary", "imported_at", "instrument_id", "method_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "qc_evaluated_at", "qc_note", "site_id", "source_filename", "source_format", "source_sha256", "started_at", "status") VALUES (OLD."analyst_id", OLD."id", OLD."import_summary", OLD."imported_at", OLD."instrument_id", OLD."method_id", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."qc_evaluated_at", OLD."qc_note", OLD."site_id", OLD."source_filename", OLD."source_format", OLD."source_sha256", OLD."started_at", OLD."status"); RETURN NULL;',
                    hash="7fc84ffeb26f9bd4f3bfc38ee576a61d5f88a928",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_1c4a1",
                    table="assays_run",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="acquisition",
            constraint=models.CheckConstraint(
                condition=models.Q(("dilution_factor__isnull", True), ("dilution_factor__gt", 0), _connector="OR"),
                name="acquisition_dilution_factor_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="acquisition",
            constraint=models.CheckConstraint(
                condition=models.Q(("conversion_factor__isnull", True), ("conversion_factor__gt", 0), _connector="OR"),
                name="acquisition_conversion_factor_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="acquisition",
            constraint=models.CheckConstraint(
                condition=models.Q(("reference_material__isnull", True), ("qc_role", "crm"), _connector="OR"),
                name="acquisition_reference_material_only_for_crm",
            ),
        ),
        migrations.AddField(
            model_name="internalstandardreading",
            name="acquisition",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="internal_standards", to="assays.acquisition"
            ),
        ),
        migrations.AddField(
            model_name="internalstandardreading",
            name="analyte",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="internal_standard_readings", to="assays.analyte"
            ),
        ),
        migrations.AddField(
            model_name="qclabelpattern",
            name="instrument",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="qc_label_patterns", to="assays.instrument"),
        ),
        migrations.AddField(
            model_name="qclabelpattern",
            name="reference_material",
            field=models.ForeignKey(
                blank=True,
                help_text="Only for a CRM pattern.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="assays.referencematerial",
            ),
        ),
        migrations.AddConstraint(
            model_name="internalstandardreading",
            constraint=models.UniqueConstraint(fields=("acquisition", "analyte"), name="istd_reading_unique_cell"),
        ),
        migrations.AddConstraint(
            model_name="internalstandardreading",
            constraint=models.CheckConstraint(
                condition=models.Q(("counts_per_second__isnull", True), ("counts_per_second__gte", 0), _connector="OR"),
                name="istd_reading_cps_non_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="internalstandardreading",
            constraint=models.CheckConstraint(
                condition=models.Q(("recovery_percent__isnull", True), ("recovery_percent__gte", 0), _connector="OR"),
                name="istd_reading_recovery_non_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="internalstandardreading",
            constraint=models.CheckConstraint(
                condition=models.Q(("counts_per_second__isnull", False), ("recovery_percent__isnull", False), _connector="OR"),
                name="istd_reading_has_a_value",
            ),
        ),
        migrations.AddConstraint(
            model_name="qclabelpattern",
            constraint=models.UniqueConstraint(fields=("instrument", "match_kind", "pattern"), name="qc_label_pattern_unique"),
        ),
        migrations.AddConstraint(
            model_name="qclabelpattern",
            constraint=models.CheckConstraint(
                condition=models.Q(("match_kind__in", ["exact", "prefix", "regex"])), name="qc_label_pattern_kind_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="qclabelpattern",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "qc_role__in",
                        [
                            "calibration_blank",
                            "calibration_standard",
                            "icv",
                            "ccv",
                            "ccb",
                            "method_blank",
                            "lcs",
                            "crm",
                            "duplicate",
                            "spike",
                        ],
                    )
                ),
                name="qc_label_pattern_role_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="qclabelpattern",
            constraint=models.CheckConstraint(condition=models.Q(("pattern", ""), _negated=True), name="qc_label_pattern_not_empty"),
        ),
        migrations.AddConstraint(
            model_name="qclabelpattern",
            constraint=models.CheckConstraint(
                condition=models.Q(("reference_material__isnull", True), ("qc_role", "crm"), _connector="OR"),
                name="qc_label_pattern_material_only_for_crm",
            ),
        ),
        migrations.RunPython(reinstall_guard, migrations.RunPython.noop, elidable=False),
    ]
