"""Run quality control: rule pack versions (the shipped packs loaded as version 1), QC standards
and calibration nominals per method, evaluations with their checks, waivers and result
acceptances, control-chart baselines; the low-level check role; a lot's "assessment stale" mark;
a CRM's standard digest.

The new pghistory event tables (evaluations, waivers) are append-only like the others. On SQLite,
adding a column to the lot's event table rebuilds it and drops its append-only triggers with the
old table (docs/audit.md): the guard is reinstalled on it afterwards, and on the way back too.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models

NEW_GUARDED_TABLES = ("assays_qcevaluationevent", "assays_qcwaiverevent")
REBUILT_GUARDED_TABLES = ("assays_lotevent",)


def guard_tables(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.install(schema_editor.connection, tables=(*NEW_GUARDED_TABLES, *REBUILT_GUARDED_TABLES))


def reinstall_rebuilt_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.install(schema_editor.connection, tables=REBUILT_GUARDED_TABLES)


def unguard_new_tables(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.uninstall(schema_editor.connection, tables=NEW_GUARDED_TABLES)


def load_shipped_rule_packs(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Version 1 of every pack shipped in assays/qc/rule_packs; manual methods judge nothing."""
    from assays.reference_data import install_shipped_rule_packs

    install_shipped_rule_packs(rule_pack_model=apps.get_model("assays", "RulePack"))
    apps.get_model("assays", "Method").objects.filter(is_manual=True).update(rule_pack_code="none")


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0006_measurement_setbased_references"),
        ("pghistory", "0007_auto_20250421_0444"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Reversed last: the reverse's table rebuilds come first.
        migrations.RunPython(migrations.RunPython.noop, reinstall_rebuilt_guard, elidable=False),
        migrations.CreateModel(
            name="CalibrationNominal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("level", models.PositiveSmallIntegerField()),
                ("value", models.FloatField()),
                ("unit", models.CharField(default="µg/L", max_length=16)),
            ],
            options={
                "ordering": ["method__code", "analyte__code", "level"],
            },
        ),
        migrations.CreateModel(
            name="ControlBaseline",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("series", models.CharField(choices=[("ccv", "CCV recovery"), ("crm", "CRM recovery")], max_length=8)),
                ("starts_at", models.DateTimeField()),
                ("ends_at", models.DateTimeField()),
                ("set_at", models.DateTimeField()),
                ("reason", models.TextField()),
            ],
            options={
                "ordering": ["method__code", "analyte__code", "series", "-set_at"],
            },
        ),
        migrations.CreateModel(
            name="QcCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=120)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("calibration_correlation", "Calibration correlation"),
                            ("calibration_standard", "Calibration standard recovery"),
                            ("icv", "ICV recovery"),
                            ("low_level_check", "Low-level check recovery"),
                            ("ccv", "CCV recovery"),
                            ("ccv_frequency", "CCV frequency"),
                            ("ccb", "Calibration blank (CCB)"),
                            ("method_blank", "Method blank"),
                            ("lcs", "LCS recovery"),
                            ("matrix_spike", "Matrix spike recovery"),
                            ("duplicate", "Duplicate RPD"),
                            ("internal_standard", "Internal standard recovery"),
                            ("crm", "CRM recovery"),
                            ("over_range", "Over range"),
                        ],
                        max_length=32,
                    ),
                ),
                (
                    "label",
                    models.CharField(
                        blank=True, help_text="The item's label as the run gave it, or what the check is about.", max_length=200
                    ),
                ),
                ("measured", models.FloatField(blank=True, null=True)),
                ("expected", models.FloatField(blank=True, null=True)),
                ("low", models.FloatField(blank=True, null=True)),
                ("high", models.FloatField(blank=True, null=True)),
                ("unit", models.CharField(blank=True, max_length=16)),
                ("passed", models.BooleanField()),
                ("message", models.TextField()),
                (
                    "effect",
                    models.CharField(
                        choices=[("run", "run"), ("bracket", "bracket"), ("acquisition", "acquisition"), ("results", "results")],
                        max_length=16,
                    ),
                ),
                (
                    "affects",
                    models.JSONField(blank=True, default=list, help_text="Acquisition sequences a failure rejects, where it names them."),
                ),
            ],
            options={
                "ordering": ["evaluation", "id"],
            },
        ),
        migrations.CreateModel(
            name="QcEvaluation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("evaluated_at", models.DateTimeField()),
                ("reason", models.TextField(blank=True)),
                ("is_current", models.BooleanField(default=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending_qc", "Pending QC"),
                            ("accepted", "Accepted"),
                            ("partially_accepted", "Partially accepted"),
                            ("rejected", "Rejected"),
                        ],
                        max_length=24,
                    ),
                ),
                ("note", models.TextField(blank=True)),
                ("counts", models.JSONField(blank=True, default=dict)),
                ("run_rejected_at", models.DateTimeField(blank=True, null=True)),
                ("run_rejection_reason", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["run", "-evaluated_at"],
            },
        ),
        migrations.CreateModel(
            name="QcEvaluationEvent",
            fields=[
                ("pgh_id", models.AutoField(primary_key=True, serialize=False)),
                ("pgh_created_at", models.DateTimeField(auto_now_add=True)),
                ("pgh_label", models.TextField(help_text="The event label.")),
                ("id", models.BigIntegerField()),
                ("evaluated_at", models.DateTimeField()),
                ("reason", models.TextField(blank=True)),
                ("is_current", models.BooleanField(default=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending_qc", "Pending QC"),
                            ("accepted", "Accepted"),
                            ("partially_accepted", "Partially accepted"),
                            ("rejected", "Rejected"),
                        ],
                        max_length=24,
                    ),
                ),
                ("note", models.TextField(blank=True)),
                ("counts", models.JSONField(blank=True, default=dict)),
                ("run_rejected_at", models.DateTimeField(blank=True, null=True)),
                ("run_rejection_reason", models.TextField(blank=True)),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="QcStandard",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("icv", "ICV (second source)"),
                            ("ccv", "CCV"),
                            ("lcs", "LCS"),
                            ("low_level_check", "Low-level check"),
                            ("spike", "Matrix spike (amount added)"),
                        ],
                        max_length=24,
                    ),
                ),
                ("name", models.CharField(blank=True, help_text="e.g. the solution's name or lot", max_length=120)),
                ("unit", models.CharField(default="µg/L", max_length=16)),
            ],
            options={
                "ordering": ["method__code", "kind"],
            },
        ),
        migrations.CreateModel(
            name="QcStandardValue",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("nominal", models.FloatField(blank=True, null=True)),
                ("calibration_level", models.PositiveSmallIntegerField(blank=True, null=True)),
            ],
            options={
                "ordering": ["standard", "analyte__code"],
            },
        ),
        migrations.CreateModel(
            name="QcWaiver",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("decided_at", models.DateTimeField()),
                ("reason", models.TextField()),
            ],
            options={
                "ordering": ["-decided_at"],
            },
        ),
        migrations.CreateModel(
            name="QcWaiverEvent",
            fields=[
                ("pgh_id", models.AutoField(primary_key=True, serialize=False)),
                ("pgh_created_at", models.DateTimeField(auto_now_add=True)),
                ("pgh_label", models.TextField(help_text="The event label.")),
                ("id", models.BigIntegerField()),
                ("decided_at", models.DateTimeField()),
                ("reason", models.TextField()),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="ResultAcceptance",
            fields=[
                (
                    "measurement",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="acceptance",
                        serialize=False,
                        to="assays.measurement",
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[("accepted", "accepted"), ("rejected", "rejected"), ("redilute", "redilute"), ("excluded", "excluded")],
                        max_length=16,
                    ),
                ),
                ("reasons", models.JSONField(blank=True, default=list)),
            ],
        ),
        migrations.CreateModel(
            name="RulePack",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=40)),
                ("version", models.PositiveIntegerField()),
                ("title", models.CharField(max_length=200)),
                ("source_text", models.TextField(help_text="The pack as TOML, exactly as written.")),
                ("definition", models.JSONField(help_text="The parsed pack, for display.")),
                ("created_at", models.DateTimeField()),
                ("note", models.CharField(blank=True, help_text="What changed and why.", max_length=300)),
            ],
            options={
                "ordering": ["code", "-version"],
            },
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="lot",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="lot",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="lot",
            name="delete_delete",
        ),
        migrations.RemoveConstraint(
            model_name="acquisition",
            name="acquisition_qc_role_valid",
        ),
        migrations.RemoveConstraint(
            model_name="qclabelpattern",
            name="qc_label_pattern_role_valid",
        ),
        migrations.AddField(
            model_name="lot",
            name="assessment_stale_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="lotevent",
            name="assessment_stale_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="method",
            name="rule_pack_code",
            field=models.CharField(default="plant-default", max_length=40),
        ),
        migrations.AddField(
            model_name="referencematerial",
            name="digest_dilution_factor",
            field=models.FloatField(default=1.0),
        ),
        migrations.AddField(
            model_name="referencematerial",
            name="digest_mass_g",
            field=models.FloatField(blank=True, help_text="Mass of CRM digested, g", null=True),
        ),
        migrations.AddField(
            model_name="referencematerial",
            name="digest_volume_ml",
            field=models.FloatField(blank=True, help_text="Final volume of the digest, mL", null=True),
        ),
        migrations.AlterField(
            model_name="acquisition",
            name="qc_role",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "—"),
                    ("calibration_blank", "Calibration blank"),
                    ("calibration_standard", "Calibration standard"),
                    ("icv", "ICV"),
                    ("low_level_check", "Low-level check"),
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
        migrations.AlterField(
            model_name="qclabelpattern",
            name="qc_role",
            field=models.CharField(
                choices=[
                    ("calibration_blank", "Calibration blank"),
                    ("calibration_standard", "Calibration standard"),
                    ("icv", "ICV"),
                    ("low_level_check", "Low-level check"),
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
        pgtrigger.migrations.AddTrigger(
            model_name="lot",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_lotevent" ("assessment_stale_since", "code", "country_of_collection", "country_of_oxide_production", "country_of_separation", "created_at", "created_by_id", "feedstock_type", "id", "is_recycled", "kind", "magnet_chemistry", "mass_kg", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "produced_on", "product_id", "received_on", "site_id", "status", "supplier_id") VALUES (NEW."assessment_stale_since", NEW."code", NEW."country_of_collection", NEW."country_of_oxide_production", NEW."country_of_separation", NEW."created_at", NEW."created_by_id", NEW."feedstock_type", NEW."id", NEW."is_recycled", NEW."kind", NEW."magnet_chemistry", NEW."mass_kg", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."produced_on", NEW."product_id", NEW."received_on", NEW."site_id", NEW."status", NEW."supplier_id"); RETURN NULL;',
                    hash="d71fcd98d81d4c801a6b9b636543e70124979f1b",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_30d74",
                    table="assays_lot",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="lot",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_lotevent" ("assessment_stale_since", "code", "country_of_collection", "country_of_oxide_production", "country_of_separation", "created_at", "created_by_id", "feedstock_type", "id", "is_recycled", "kind", "magnet_chemistry", "mass_kg", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "produced_on", "product_id", "received_on", "site_id", "status", "supplier_id") VALUES (NEW."assessment_stale_since", NEW."code", NEW."country_of_collection", NEW."country_of_oxide_production", NEW."country_of_separation", NEW."created_at", NEW."created_by_id", NEW."feedstock_type", NEW."id", NEW."is_recycled", NEW."kind", NEW."magnet_chemistry", NEW."mass_kg", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."produced_on", NEW."product_id", NEW."received_on", NEW."site_id", NEW."status", NEW."supplier_id"); RETURN NULL;',
                    hash="14321c1e29315d5516b199a1f7d44514e94ed152",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_112ca",
                    table="assays_lot",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="lot",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_lotevent" ("assessment_stale_since", "code", "country_of_collection", "country_of_oxide_production", "country_of_separation", "created_at", "created_by_id", "feedstock_type", "id", "is_recycled", "kind", "magnet_chemistry", "mass_kg", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "produced_on", "product_id", "received_on", "site_id", "status", "supplier_id") VALUES (OLD."assessment_stale_since", OLD."code", OLD."country_of_collection", OLD."country_of_oxide_production", OLD."country_of_separation", OLD."created_at", OLD."created_by_id", OLD."feedstock_type", OLD."id", OLD."is_recycled", OLD."kind", OLD."magnet_chemistry", OLD."mass_kg", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."produced_on", OLD."product_id", OLD."received_on", OLD."site_id", OLD."status", OLD."supplier_id"); RETURN NULL;',
                    hash="e5d1e6ed147ee2b361a363a7129c16d1c9a5c5da",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_13d9a",
                    table="assays_lot",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="acquisition",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "qc_role__in",
                        [
                            "",
                            "calibration_blank",
                            "calibration_standard",
                            "icv",
                            "low_level_check",
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
                name="acquisition_qc_role_valid",
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
                            "low_level_check",
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
            model_name="referencematerial",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("digest_mass_g__isnull", True), ("digest_mass_g__gt", 0), _connector="OR"),
                    models.Q(("digest_volume_ml__isnull", True), ("digest_volume_ml__gt", 0), _connector="OR"),
                    ("digest_dilution_factor__gt", 0),
                ),
                name="reference_material_digest_positive",
            ),
        ),
        migrations.AddField(
            model_name="calibrationnominal",
            name="analyte",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="assays.analyte"),
        ),
        migrations.AddField(
            model_name="calibrationnominal",
            name="method",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="calibration_nominals", to="assays.method"),
        ),
        migrations.AddField(
            model_name="controlbaseline",
            name="analyte",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="assays.analyte"),
        ),
        migrations.AddField(
            model_name="controlbaseline",
            name="method",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="control_baselines", to="assays.method"),
        ),
        migrations.AddField(
            model_name="controlbaseline",
            name="reference_material",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="assays.referencematerial"
            ),
        ),
        migrations.AddField(
            model_name="controlbaseline",
            name="set_by",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="qccheck",
            name="acquisition",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="qc_checks", to="assays.acquisition"
            ),
        ),
        migrations.AddField(
            model_name="qccheck",
            name="analyte",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="assays.analyte"
            ),
        ),
        migrations.AddField(
            model_name="qcevaluation",
            name="requested_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty: on import.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="qcevaluation",
            name="run",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="qc_evaluations", to="assays.run"),
        ),
        migrations.AddField(
            model_name="qcevaluation",
            name="run_rejected_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="qccheck",
            name="evaluation",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="checks", to="assays.qcevaluation"),
        ),
        migrations.AddField(
            model_name="qcevaluationevent",
            name="pgh_context",
            field=models.ForeignKey(
                db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="pghistory.context"
            ),
        ),
        migrations.AddField(
            model_name="qcevaluationevent",
            name="pgh_obj",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="events", to="assays.qcevaluation"
            ),
        ),
        migrations.AddField(
            model_name="qcevaluationevent",
            name="requested_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="Empty: on import.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="qcevaluationevent",
            name="run",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to="assays.run",
            ),
        ),
        migrations.AddField(
            model_name="qcevaluationevent",
            name="run_rejected_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="qcstandard",
            name="method",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="qc_standards", to="assays.method"),
        ),
        migrations.AddField(
            model_name="qcstandardvalue",
            name="analyte",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="assays.analyte"),
        ),
        migrations.AddField(
            model_name="qcstandardvalue",
            name="standard",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="values", to="assays.qcstandard"),
        ),
        migrations.AddField(
            model_name="qcwaiver",
            name="check_result",
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="waiver", to="assays.qccheck"),
        ),
        migrations.AddField(
            model_name="qcwaiver",
            name="decided_by",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="qcwaiverevent",
            name="check_result",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to="assays.qccheck",
            ),
        ),
        migrations.AddField(
            model_name="qcwaiverevent",
            name="decided_by",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="qcwaiverevent",
            name="pgh_context",
            field=models.ForeignKey(
                db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="pghistory.context"
            ),
        ),
        migrations.AddField(
            model_name="qcwaiverevent",
            name="pgh_obj",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="events", to="assays.qcwaiver"
            ),
        ),
        migrations.AddField(
            model_name="resultacceptance",
            name="evaluation",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="acceptances", to="assays.qcevaluation"
            ),
        ),
        migrations.AddField(
            model_name="rulepack",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty: shipped with the code.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="qcevaluationevent",
            name="rule_pack",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to="assays.rulepack",
            ),
        ),
        migrations.AddField(
            model_name="qcevaluation",
            name="rule_pack",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="evaluations", to="assays.rulepack"),
        ),
        migrations.AddConstraint(
            model_name="calibrationnominal",
            constraint=models.UniqueConstraint(fields=("method", "analyte", "level"), name="calibration_nominal_unique"),
        ),
        migrations.AddConstraint(
            model_name="calibrationnominal",
            constraint=models.CheckConstraint(condition=models.Q(("level__gte", 1)), name="calibration_nominal_level_positive"),
        ),
        migrations.AddConstraint(
            model_name="calibrationnominal",
            constraint=models.CheckConstraint(condition=models.Q(("value__gte", 0)), name="calibration_nominal_non_negative"),
        ),
        migrations.AddConstraint(
            model_name="controlbaseline",
            constraint=models.CheckConstraint(condition=models.Q(("series__in", ["ccv", "crm"])), name="control_baseline_series_valid"),
        ),
        migrations.AddConstraint(
            model_name="controlbaseline",
            constraint=models.CheckConstraint(
                condition=models.Q(("ends_at__gt", models.F("starts_at"))), name="control_baseline_period_ordered"
            ),
        ),
        migrations.AddConstraint(
            model_name="controlbaseline",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("reference_material__isnull", False), ("series", "crm")),
                    models.Q(models.Q(("series", "crm"), _negated=True), ("reference_material__isnull", True)),
                    _connector="OR",
                ),
                name="control_baseline_material_for_crm_only",
            ),
        ),
        migrations.AddConstraint(
            model_name="controlbaseline",
            constraint=models.CheckConstraint(condition=models.Q(("reason", ""), _negated=True), name="control_baseline_has_reason"),
        ),
        migrations.AddConstraint(
            model_name="qccheck",
            constraint=models.UniqueConstraint(fields=("evaluation", "key"), name="qc_check_unique_key"),
        ),
        migrations.AddConstraint(
            model_name="qccheck",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        [
                            "calibration_correlation",
                            "calibration_standard",
                            "icv",
                            "low_level_check",
                            "ccv",
                            "ccv_frequency",
                            "ccb",
                            "method_blank",
                            "lcs",
                            "matrix_spike",
                            "duplicate",
                            "internal_standard",
                            "crm",
                            "over_range",
                        ],
                    )
                ),
                name="qc_check_kind_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="qccheck",
            constraint=models.CheckConstraint(
                condition=models.Q(("effect__in", ["run", "bracket", "acquisition", "results"])), name="qc_check_effect_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="qcstandard",
            constraint=models.UniqueConstraint(fields=("method", "kind"), name="qc_standard_one_per_kind"),
        ),
        migrations.AddConstraint(
            model_name="qcstandard",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", ["icv", "ccv", "lcs", "low_level_check", "spike"])), name="qc_standard_kind_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="qcstandardvalue",
            constraint=models.UniqueConstraint(fields=("standard", "analyte"), name="qc_standard_value_unique"),
        ),
        migrations.AddConstraint(
            model_name="qcstandardvalue",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("calibration_level__isnull", True), ("nominal__isnull", False)),
                    models.Q(("calibration_level__isnull", False), ("nominal__isnull", True)),
                    _connector="OR",
                ),
                name="qc_standard_value_nominal_or_level",
            ),
        ),
        migrations.AddConstraint(
            model_name="qcstandardvalue",
            constraint=models.CheckConstraint(
                condition=models.Q(("nominal__isnull", True), ("nominal__gt", 0), _connector="OR"),
                name="qc_standard_value_nominal_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="qcstandardvalue",
            constraint=models.CheckConstraint(
                condition=models.Q(("calibration_level__isnull", True), ("calibration_level__gte", 1), _connector="OR"),
                name="qc_standard_value_level_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="qcwaiver",
            constraint=models.CheckConstraint(condition=models.Q(("reason", ""), _negated=True), name="qc_waiver_has_reason"),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="qcwaiver",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_qcwaiverevent" ("check_result_id", "decided_at", "decided_by_id", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reason") VALUES (NEW."check_result_id", NEW."decided_at", NEW."decided_by_id", NEW."id", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."reason"); RETURN NULL;',
                    hash="dae2a6577e62244bef9fb3a0b8ca6fc2c7ce167f",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_41cce",
                    table="assays_qcwaiver",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="qcwaiver",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_qcwaiverevent" ("check_result_id", "decided_at", "decided_by_id", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reason") VALUES (NEW."check_result_id", NEW."decided_at", NEW."decided_by_id", NEW."id", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."reason"); RETURN NULL;',
                    hash="c34b08550ed03459d1cacc03061dddbbf8a601bf",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_7e8e7",
                    table="assays_qcwaiver",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="qcwaiver",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_qcwaiverevent" ("check_result_id", "decided_at", "decided_by_id", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reason") VALUES (OLD."check_result_id", OLD."decided_at", OLD."decided_by_id", OLD."id", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."reason"); RETURN NULL;',
                    hash="a9c4f4fec5e8f99192548428241115ddd59e658a",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_82f0b",
                    table="assays_qcwaiver",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddIndex(
            model_name="resultacceptance",
            index=models.Index(fields=["evaluation", "state"], name="acceptance_evaluation_state"),
        ),
        migrations.AddConstraint(
            model_name="resultacceptance",
            constraint=models.CheckConstraint(
                condition=models.Q(("state__in", ["accepted", "rejected", "redilute", "excluded"])), name="result_acceptance_state_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="rulepack",
            constraint=models.UniqueConstraint(fields=("code", "version"), name="rule_pack_unique_version"),
        ),
        migrations.AddConstraint(
            model_name="rulepack",
            constraint=models.CheckConstraint(condition=models.Q(("version__gte", 1)), name="rule_pack_version_positive"),
        ),
        migrations.AddConstraint(
            model_name="rulepack",
            constraint=models.CheckConstraint(condition=models.Q(("code", ""), _negated=True), name="rule_pack_code_not_empty"),
        ),
        migrations.AddConstraint(
            model_name="qcevaluation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_current", True)), fields=("run",), name="qc_evaluation_one_current_per_run"
            ),
        ),
        migrations.AddConstraint(
            model_name="qcevaluation",
            constraint=models.CheckConstraint(
                condition=models.Q(("status", "pending_qc"), _negated=True), name="qc_evaluation_status_decided"
            ),
        ),
        migrations.AddConstraint(
            model_name="qcevaluation",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["pending_qc", "accepted", "partially_accepted", "rejected"])),
                name="qc_evaluation_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="qcevaluation",
            constraint=models.CheckConstraint(
                condition=models.Q(("requested_by__isnull", True), models.Q(("reason", ""), _negated=True), _connector="OR"),
                name="qc_evaluation_request_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="qcevaluation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("run_rejected_at__isnull", True),
                    models.Q(("run_rejected_by__isnull", False), models.Q(("run_rejection_reason", ""), _negated=True)),
                    _connector="OR",
                ),
                name="qc_evaluation_rejection_has_who_and_why",
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="qcevaluation",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_qcevaluationevent" ("counts", "evaluated_at", "id", "is_current", "note", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reason", "requested_by_id", "rule_pack_id", "run_id", "run_rejected_at", "run_rejected_by_id", "run_rejection_reason", "status") VALUES (NEW."counts", NEW."evaluated_at", NEW."id", NEW."is_current", NEW."note", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."reason", NEW."requested_by_id", NEW."rule_pack_id", NEW."run_id", NEW."run_rejected_at", NEW."run_rejected_by_id", NEW."run_rejection_reason", NEW."status"); RETURN NULL;',
                    hash="60646c4bfe4c6380116ef74ad90ed08ae12c5171",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_262bf",
                    table="assays_qcevaluation",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="qcevaluation",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_qcevaluationevent" ("counts", "evaluated_at", "id", "is_current", "note", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reason", "requested_by_id", "rule_pack_id", "run_id", "run_rejected_at", "run_rejected_by_id", "run_rejection_reason", "status") VALUES (NEW."counts", NEW."evaluated_at", NEW."id", NEW."is_current", NEW."note", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."reason", NEW."requested_by_id", NEW."rule_pack_id", NEW."run_id", NEW."run_rejected_at", NEW."run_rejected_by_id", NEW."run_rejection_reason", NEW."status"); RETURN NULL;',
                    hash="89826f41cd5ea2cfd17dc05d6ecb5ed693329f01",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_74f41",
                    table="assays_qcevaluation",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="qcevaluation",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_qcevaluationevent" ("counts", "evaluated_at", "id", "is_current", "note", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reason", "requested_by_id", "rule_pack_id", "run_id", "run_rejected_at", "run_rejected_by_id", "run_rejection_reason", "status") VALUES (OLD."counts", OLD."evaluated_at", OLD."id", OLD."is_current", OLD."note", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."reason", OLD."requested_by_id", OLD."rule_pack_id", OLD."run_id", OLD."run_rejected_at", OLD."run_rejected_by_id", OLD."run_rejection_reason", OLD."status"); RETURN NULL;',
                    hash="8f5c9f56fb35474718935f81e46f980b86ba74b1",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_bc3c0",
                    table="assays_qcevaluation",
                    when="AFTER",
                ),
            ),
        ),
        migrations.RunPython(guard_tables, unguard_new_tables, elidable=False),
        migrations.RunPython(load_shipped_rule_packs, migrations.RunPython.noop, elidable=False),
    ]
