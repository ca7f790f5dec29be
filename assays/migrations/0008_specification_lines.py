"""Specifications as data: a specification's lines (quantity, element or oxide, limits as written,
unit, comparison method, decision rule, source), its main component set, basis, what counts
towards TREO, its required analytes and the digest that recognises a reload.

The lines keep row history; their event table is append-only like the others. On SQLite, adding
columns to the specification's event table rebuilds it and drops its append-only triggers with the
old table (docs/audit.md): the guard is reinstalled on it afterwards, and on the way back too.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

NEW_GUARDED_TABLES = ("assays_specificationlineevent",)
REBUILT_GUARDED_TABLES = ("assays_specificationevent",)


def guard_tables(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.install(schema_editor.connection, tables=(*NEW_GUARDED_TABLES, *REBUILT_GUARDED_TABLES))


def reinstall_rebuilt_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.install(schema_editor.connection, tables=REBUILT_GUARDED_TABLES)


def unguard_new_tables(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays import audit_guard

    audit_guard.uninstall(schema_editor.connection, tables=NEW_GUARDED_TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0007_run_qc"),
        ("pghistory", "0007_auto_20250421_0444"),
    ]

    operations = [
        # Reversed last: the reverse's table rebuilds come first.
        migrations.RunPython(migrations.RunPython.noop, reinstall_rebuilt_guard, elidable=False),
        migrations.CreateModel(
            name="SpecificationLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField()),
                (
                    "quantity",
                    models.CharField(
                        choices=[
                            ("oxide", "Oxide of an element"),
                            ("element", "Element"),
                            ("sum_re_impurities", "Sum of rare-earth impurity oxides"),
                            ("sum_non_re", "Sum of non-rare-earth impurity oxides"),
                            ("treo", "TREO"),
                            ("relative_purity", "Relative purity (main oxide / TREO)"),
                            ("main_oxide", "Main oxide (absolute content)"),
                            ("ratio", "Ratio of oxides to TREO"),
                            ("loi", "Loss on ignition"),
                            ("anion", "Anion"),
                        ],
                        max_length=24,
                    ),
                ),
                ("anion", models.CharField(blank=True, help_text='"Cl-" or "SO4 2-"', max_length=16)),
                ("ratio_oxides", models.JSONField(blank=True, default=list)),
                ("minimum", models.CharField(blank=True, max_length=32)),
                ("maximum", models.CharField(blank=True, max_length=32)),
                ("unit", models.CharField(choices=[("%", "%"), ("mg/kg", "mg/kg")], max_length=8)),
                (
                    "comparison",
                    models.CharField(
                        choices=[("absolute", "Absolute (unrounded value)"), ("rounding", "Rounding (to the limit's last digit)")],
                        default="rounding",
                        max_length=16,
                    ),
                ),
                (
                    "rule",
                    models.CharField(
                        choices=[("simple", "Simple acceptance"), ("guard_band", "Guard band with U (ILAC G8)")],
                        default="simple",
                        max_length=16,
                    ),
                ),
                ("source", models.CharField(blank=True, help_text="The public source of the limit, or 'plant default'.", max_length=200)),
            ],
            options={
                "ordering": ["specification", "position"],
            },
        ),
        migrations.CreateModel(
            name="SpecificationLineEvent",
            fields=[
                ("pgh_id", models.AutoField(primary_key=True, serialize=False)),
                ("pgh_created_at", models.DateTimeField(auto_now_add=True)),
                ("pgh_label", models.TextField(help_text="The event label.")),
                ("id", models.BigIntegerField()),
                ("position", models.PositiveSmallIntegerField()),
                (
                    "quantity",
                    models.CharField(
                        choices=[
                            ("oxide", "Oxide of an element"),
                            ("element", "Element"),
                            ("sum_re_impurities", "Sum of rare-earth impurity oxides"),
                            ("sum_non_re", "Sum of non-rare-earth impurity oxides"),
                            ("treo", "TREO"),
                            ("relative_purity", "Relative purity (main oxide / TREO)"),
                            ("main_oxide", "Main oxide (absolute content)"),
                            ("ratio", "Ratio of oxides to TREO"),
                            ("loi", "Loss on ignition"),
                            ("anion", "Anion"),
                        ],
                        max_length=24,
                    ),
                ),
                ("anion", models.CharField(blank=True, help_text='"Cl-" or "SO4 2-"', max_length=16)),
                ("ratio_oxides", models.JSONField(blank=True, default=list)),
                ("minimum", models.CharField(blank=True, max_length=32)),
                ("maximum", models.CharField(blank=True, max_length=32)),
                ("unit", models.CharField(choices=[("%", "%"), ("mg/kg", "mg/kg")], max_length=8)),
                (
                    "comparison",
                    models.CharField(
                        choices=[("absolute", "Absolute (unrounded value)"), ("rounding", "Rounding (to the limit's last digit)")],
                        default="rounding",
                        max_length=16,
                    ),
                ),
                (
                    "rule",
                    models.CharField(
                        choices=[("simple", "Simple acceptance"), ("guard_band", "Guard band with U (ILAC G8)")],
                        default="simple",
                        max_length=16,
                    ),
                ),
                ("source", models.CharField(blank=True, help_text="The public source of the limit, or 'plant default'.", max_length=200)),
            ],
            options={
                "abstract": False,
            },
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="specification",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="specification",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="specification",
            name="delete_delete",
        ),
        migrations.AddField(
            model_name="specification",
            name="basis",
            field=models.CharField(
                choices=[("as_received", "As received"), ("ignited", "Ignited (impurities divided by 1 - LOI)")],
                default="as_received",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="specification",
            name="content_sha256",
            field=models.CharField(blank=True, help_text="Of the canonical specification, to recognise a reload.", max_length=64),
        ),
        migrations.AddField(
            model_name="specification",
            name="main_elements",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="specification",
            name="name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="specification",
            name="required_analytes",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="specification",
            name="treo_also_counts",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="specificationevent",
            name="basis",
            field=models.CharField(
                choices=[("as_received", "As received"), ("ignited", "Ignited (impurities divided by 1 - LOI)")],
                default="as_received",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="specificationevent",
            name="content_sha256",
            field=models.CharField(blank=True, help_text="Of the canonical specification, to recognise a reload.", max_length=64),
        ),
        migrations.AddField(
            model_name="specificationevent",
            name="main_elements",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="specificationevent",
            name="name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="specificationevent",
            name="required_analytes",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="specificationevent",
            name="treo_also_counts",
            field=models.JSONField(blank=True, default=list),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="specification",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_specificationevent" ("basis", "content_sha256", "created_at", "effective_from", "grade", "id", "main_elements", "name", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "product_id", "required_analytes", "source", "status", "treo_also_counts", "version") VALUES (NEW."basis", NEW."content_sha256", NEW."created_at", NEW."effective_from", NEW."grade", NEW."id", NEW."main_elements", NEW."name", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."product_id", NEW."required_analytes", NEW."source", NEW."status", NEW."treo_also_counts", NEW."version"); RETURN NULL;',
                    hash="bd38b2814508e65df244bf76a50a2a20259d5f6a",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_a0948",
                    table="assays_specification",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="specification",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_specificationevent" ("basis", "content_sha256", "created_at", "effective_from", "grade", "id", "main_elements", "name", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "product_id", "required_analytes", "source", "status", "treo_also_counts", "version") VALUES (NEW."basis", NEW."content_sha256", NEW."created_at", NEW."effective_from", NEW."grade", NEW."id", NEW."main_elements", NEW."name", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."product_id", NEW."required_analytes", NEW."source", NEW."status", NEW."treo_also_counts", NEW."version"); RETURN NULL;',
                    hash="875c0e95c9da9b5f4aa5ebc6149e134391633f7e",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_1153b",
                    table="assays_specification",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="specification",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_specificationevent" ("basis", "content_sha256", "created_at", "effective_from", "grade", "id", "main_elements", "name", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "product_id", "required_analytes", "source", "status", "treo_also_counts", "version") VALUES (OLD."basis", OLD."content_sha256", OLD."created_at", OLD."effective_from", OLD."grade", OLD."id", OLD."main_elements", OLD."name", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."product_id", OLD."required_analytes", OLD."source", OLD."status", OLD."treo_also_counts", OLD."version"); RETURN NULL;',
                    hash="88e1b8979d56d8ea04745b966eeaeab90db600da",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_19290",
                    table="assays_specification",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddField(
            model_name="specificationline",
            name="element",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="assays.element"
            ),
        ),
        migrations.AddField(
            model_name="specificationline",
            name="oxide",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="assays.oxide"
            ),
        ),
        migrations.AddField(
            model_name="specificationline",
            name="specification",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="lines", to="assays.specification"),
        ),
        migrations.AddField(
            model_name="specificationlineevent",
            name="element",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to="assays.element",
            ),
        ),
        migrations.AddField(
            model_name="specificationlineevent",
            name="oxide",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to="assays.oxide",
            ),
        ),
        migrations.AddField(
            model_name="specificationlineevent",
            name="pgh_context",
            field=models.ForeignKey(
                db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="pghistory.context"
            ),
        ),
        migrations.AddField(
            model_name="specificationlineevent",
            name="pgh_obj",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="events", to="assays.specificationline"
            ),
        ),
        migrations.AddField(
            model_name="specificationlineevent",
            name="specification",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to="assays.specification",
            ),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.UniqueConstraint(fields=("specification", "position"), name="specification_line_unique_position"),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "quantity__in",
                        [
                            "oxide",
                            "element",
                            "sum_re_impurities",
                            "sum_non_re",
                            "treo",
                            "relative_purity",
                            "main_oxide",
                            "ratio",
                            "loi",
                            "anion",
                        ],
                    )
                ),
                name="specification_line_quantity_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.CheckConstraint(condition=models.Q(("unit__in", ["%", "mg/kg"])), name="specification_line_unit_valid"),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.CheckConstraint(
                condition=models.Q(("comparison__in", ["absolute", "rounding"])), name="specification_line_comparison_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.CheckConstraint(
                condition=models.Q(("rule__in", ["simple", "guard_band"])), name="specification_line_rule_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("rule", "guard_band"), _negated=True), ("comparison", "absolute"), _connector="OR"),
                name="specification_line_guard_band_absolute",
            ),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("quantity__in", ["oxide", "element"]), _negated=True), ("element__isnull", False), _connector="OR"
                ),
                name="specification_line_names_its_element",
            ),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("quantity", "oxide"), _negated=True), ("oxide__isnull", False), _connector="OR"),
                name="specification_line_oxide_named",
            ),
        ),
        migrations.AddConstraint(
            model_name="specificationline",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("quantity", "anion"), _negated=True), models.Q(("anion", ""), _negated=True), _connector="OR"),
                name="specification_line_anion_named",
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="specificationline",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_specificationlineevent" ("anion", "comparison", "element_id", "id", "maximum", "minimum", "oxide_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "position", "quantity", "ratio_oxides", "rule", "source", "specification_id", "unit") VALUES (NEW."anion", NEW."comparison", NEW."element_id", NEW."id", NEW."maximum", NEW."minimum", NEW."oxide_id", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."position", NEW."quantity", NEW."ratio_oxides", NEW."rule", NEW."source", NEW."specification_id", NEW."unit"); RETURN NULL;',
                    hash="baaf5cdefc0cc66c4aeda54d57cd0cf6891805fd",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_30512",
                    table="assays_specificationline",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="specificationline",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_specificationlineevent" ("anion", "comparison", "element_id", "id", "maximum", "minimum", "oxide_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "position", "quantity", "ratio_oxides", "rule", "source", "specification_id", "unit") VALUES (NEW."anion", NEW."comparison", NEW."element_id", NEW."id", NEW."maximum", NEW."minimum", NEW."oxide_id", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."position", NEW."quantity", NEW."ratio_oxides", NEW."rule", NEW."source", NEW."specification_id", NEW."unit"); RETURN NULL;',
                    hash="7a9cc4a5e55bd2e70bfb17e6da27eaf16d4cf6e7",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_ff289",
                    table="assays_specificationline",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="specificationline",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_specificationlineevent" ("anion", "comparison", "element_id", "id", "maximum", "minimum", "oxide_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "position", "quantity", "ratio_oxides", "rule", "source", "specification_id", "unit") VALUES (OLD."anion", OLD."comparison", OLD."element_id", OLD."id", OLD."maximum", OLD."minimum", OLD."oxide_id", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."position", OLD."quantity", OLD."ratio_oxides", OLD."rule", OLD."source", OLD."specification_id", OLD."unit"); RETURN NULL;',
                    hash="5999d47795b4a3c911a9d8ffb259da85e24fc02f",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_7dcd2",
                    table="assays_specificationline",
                    when="AFTER",
                ),
            ),
        ),
        migrations.RunPython(guard_tables, unguard_new_tables, elidable=False),
    ]
