"""Certificates issue: numbering, signature, revisions, revocation, stored PDF, lab profile, TOTP,
sampling fields on samples; and the database guard that freezes a certificate once its PDF is
stored (assays.certificate_guard).

On SQLite, adding columns to the sample's and the certificate's event tables rebuilds them and drops
their append-only triggers with the old tables (docs/audit.md): the guard is reinstalled on them
afterwards, and on the way back too."""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models

import assays.models.certificates

REBUILT_GUARDED_TABLES = ("assays_sampleevent", "assays_certificateevent")


def reinstall_rebuilt_guard(apps: object, schema_editor: object) -> None:
    from assays import audit_guard

    audit_guard.install(schema_editor.connection, tables=REBUILT_GUARDED_TABLES)  # type: ignore[attr-defined]


def install_certificate_guard(apps: object, schema_editor: object) -> None:
    from assays import certificate_guard

    certificate_guard.install(schema_editor.connection)  # type: ignore[attr-defined]


def uninstall_certificate_guard(apps: object, schema_editor: object) -> None:
    from assays import certificate_guard

    certificate_guard.uninstall(schema_editor.connection)  # type: ignore[attr-defined]


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0009_lot_assessment_figures"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Reversed last: the reverse's table rebuilds come first.
        migrations.RunPython(migrations.RunPython.noop, reinstall_rebuilt_guard, elidable=False),
        migrations.CreateModel(
            name="CertificateBatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("requested_at", models.DateTimeField()),
                ("total", models.PositiveIntegerField(default=0)),
                ("rendered", models.PositiveIntegerField(default=0)),
                ("failed", models.PositiveIntegerField(default=0)),
                ("skipped", models.JSONField(blank=True, default=list, help_text="Lots asked for but not issued, with why.")),
            ],
            options={
                "ordering": ["-requested_at"],
            },
        ),
        migrations.CreateModel(
            name="CertificateCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("prefix", models.CharField(max_length=8)),
                ("year", models.PositiveSmallIntegerField()),
                ("last_value", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="LabProfile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200)),
                ("address", models.TextField(blank=True)),
                (
                    "accreditation",
                    models.CharField(blank=True, help_text='e.g. "ISO/IEC 17025:2017, DAkkS D-PL-00000-01-00".', max_length=200),
                ),
                ("accredited_scope", models.JSONField(blank=True, default=list)),
                (
                    "seller_declaration",
                    models.TextField(blank=True, help_text="The seller's declaration printed in the provenance section."),
                ),
                ("require_totp", models.BooleanField(default=False, help_text="Signing asks for a TOTP code as well as the password.")),
                ("singleton", models.BooleanField(default=True, editable=False, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="TotpDevice",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("secret", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("last_used_step", models.BigIntegerField(default=0, help_text="The last accepted time step: a code is good once.")),
            ],
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="certificate",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="certificate",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="certificate",
            name="delete_delete",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="sample",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="sample",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="sample",
            name="delete_delete",
        ),
        migrations.RemoveConstraint(
            model_name="certificate",
            name="certificate_status_valid",
        ),
        migrations.AddField(
            model_name="certificate",
            name="change_summary",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="concession_reason",
            field=models.TextField(blank=True, help_text="Set when a QA manager issues for a lot that does not conform."),
        ),
        migrations.AddField(
            model_name="certificate",
            name="issued_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="certificate",
            name="kind",
            field=models.CharField(
                choices=[("certificate", "Certificate of analysis"), ("report", "Report of analysis")], default="certificate", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="certificate",
            name="payload",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="certificate",
            name="pdf",
            field=models.FileField(blank=True, max_length=255, upload_to=assays.models.certificates.certificate_upload_to),
        ),
        migrations.AddField(
            model_name="certificate",
            name="pdf_size",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="render_error",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="rendered_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="revision_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="revocation_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="revoked_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="certificate",
            name="signature_meaning",
            field=models.CharField(
                blank=True,
                choices=[
                    ("approved_for_release", "Approved for release"),
                    ("approved_under_concession", "Approved for release under concession"),
                    ("reported", "Reviewed and reported"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddField(
            model_name="certificate",
            name="signer_name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="certificate",
            name="signer_role",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="certificate",
            name="supersedes",
            field=models.OneToOneField(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="superseded_by", to="assays.certificate"
            ),
        ),
        migrations.AddField(
            model_name="certificate",
            name="verification_token",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="change_summary",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="concession_reason",
            field=models.TextField(blank=True, help_text="Set when a QA manager issues for a lot that does not conform."),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="issued_by",
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
            model_name="certificateevent",
            name="kind",
            field=models.CharField(
                choices=[("certificate", "Certificate of analysis"), ("report", "Report of analysis")], default="certificate", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="payload",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="pdf",
            field=models.FileField(blank=True, max_length=255, upload_to=assays.models.certificates.certificate_upload_to),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="pdf_size",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="render_error",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="rendered_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="revision_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="revocation_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="revoked_by",
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
            model_name="certificateevent",
            name="signature_meaning",
            field=models.CharField(
                blank=True,
                choices=[
                    ("approved_for_release", "Approved for release"),
                    ("approved_under_concession", "Approved for release under concession"),
                    ("reported", "Reviewed and reported"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="signer_name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="signer_role",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="supersedes",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to="assays.certificate",
            ),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="verification_token",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="sample",
            name="sampled_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sample",
            name="sampled_by",
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.AddField(
            model_name="sample",
            name="sampling_method",
            field=models.CharField(blank=True, help_text="The sampling plan or standard, e.g. ISO 3082 increments.", max_length=200),
        ),
        migrations.AddField(
            model_name="sampleevent",
            name="sampled_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sampleevent",
            name="sampled_by",
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.AddField(
            model_name="sampleevent",
            name="sampling_method",
            field=models.CharField(blank=True, help_text="The sampling plan or standard, e.g. ISO 3082 increments.", max_length=200),
        ),
        migrations.AlterField(
            model_name="certificate",
            name="status",
            field=models.CharField(
                choices=[("rendering", "Being rendered"), ("issued", "Issued"), ("superseded", "Superseded"), ("revoked", "Revoked")],
                default="rendering",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="certificateevent",
            name="status",
            field=models.CharField(
                choices=[("rendering", "Being rendered"), ("issued", "Issued"), ("superseded", "Superseded"), ("revoked", "Revoked")],
                default="rendering",
                max_length=16,
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="certificate",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_certificateevent" ("assessment_id", "batch_id", "change_summary", "concession_reason", "customer_id", "id", "issued_at", "issued_by_id", "issuing_site_id", "kind", "lot_id", "number", "payload", "pdf", "pdf_sha256", "pdf_size", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "render_error", "rendered_at", "revision", "revision_reason", "revocation_reason", "revoked_at", "revoked_by_id", "signature_meaning", "signer_name", "signer_role", "status", "supersedes_id", "verification_token") VALUES (NEW."assessment_id", NEW."batch_id", NEW."change_summary", NEW."concession_reason", NEW."customer_id", NEW."id", NEW."issued_at", NEW."issued_by_id", NEW."issuing_site_id", NEW."kind", NEW."lot_id", NEW."number", NEW."payload", NEW."pdf", NEW."pdf_sha256", NEW."pdf_size", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."render_error", NEW."rendered_at", NEW."revision", NEW."revision_reason", NEW."revocation_reason", NEW."revoked_at", NEW."revoked_by_id", NEW."signature_meaning", NEW."signer_name", NEW."signer_role", NEW."status", NEW."supersedes_id", NEW."verification_token"); RETURN NULL;',
                    hash="1600fd1a794c88a98dd88c0cfff4852ac71b9b67",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_5451b",
                    table="assays_certificate",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="certificate",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_certificateevent" ("assessment_id", "batch_id", "change_summary", "concession_reason", "customer_id", "id", "issued_at", "issued_by_id", "issuing_site_id", "kind", "lot_id", "number", "payload", "pdf", "pdf_sha256", "pdf_size", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "render_error", "rendered_at", "revision", "revision_reason", "revocation_reason", "revoked_at", "revoked_by_id", "signature_meaning", "signer_name", "signer_role", "status", "supersedes_id", "verification_token") VALUES (NEW."assessment_id", NEW."batch_id", NEW."change_summary", NEW."concession_reason", NEW."customer_id", NEW."id", NEW."issued_at", NEW."issued_by_id", NEW."issuing_site_id", NEW."kind", NEW."lot_id", NEW."number", NEW."payload", NEW."pdf", NEW."pdf_sha256", NEW."pdf_size", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."render_error", NEW."rendered_at", NEW."revision", NEW."revision_reason", NEW."revocation_reason", NEW."revoked_at", NEW."revoked_by_id", NEW."signature_meaning", NEW."signer_name", NEW."signer_role", NEW."status", NEW."supersedes_id", NEW."verification_token"); RETURN NULL;',
                    hash="41b5371739c1948cbc4add142d5e5c96f31e8503",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_ef55f",
                    table="assays_certificate",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="certificate",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_certificateevent" ("assessment_id", "batch_id", "change_summary", "concession_reason", "customer_id", "id", "issued_at", "issued_by_id", "issuing_site_id", "kind", "lot_id", "number", "payload", "pdf", "pdf_sha256", "pdf_size", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "render_error", "rendered_at", "revision", "revision_reason", "revocation_reason", "revoked_at", "revoked_by_id", "signature_meaning", "signer_name", "signer_role", "status", "supersedes_id", "verification_token") VALUES (OLD."assessment_id", OLD."batch_id", OLD."change_summary", OLD."concession_reason", OLD."customer_id", OLD."id", OLD."issued_at", OLD."issued_by_id", OLD."issuing_site_id", OLD."kind", OLD."lot_id", OLD."number", OLD."payload", OLD."pdf", OLD."pdf_sha256", OLD."pdf_size", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."render_error", OLD."rendered_at", OLD."revision", OLD."revision_reason", OLD."revocation_reason", OLD."revoked_at", OLD."revoked_by_id", OLD."signature_meaning", OLD."signer_name", OLD."signer_role", OLD."status", OLD."supersedes_id", OLD."verification_token"); RETURN NULL;',
                    hash="cc6eae0d28b350d91a5e06405bedda3e70911080",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_4082c",
                    table="assays_certificate",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="sample",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_sampleevent" ("code", "dilution_factor", "final_volume_ml", "id", "lot_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "registered_at", "registered_by_id", "sample_mass_g", "sample_type", "sampled_at", "sampled_by", "sampling_method", "site_id", "status") VALUES (NEW."code", NEW."dilution_factor", NEW."final_volume_ml", NEW."id", NEW."lot_id", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."registered_at", NEW."registered_by_id", NEW."sample_mass_g", NEW."sample_type", NEW."sampled_at", NEW."sampled_by", NEW."sampling_method", NEW."site_id", NEW."status"); RETURN NULL;',
                    hash="2594febd72237e3b32d874449542b5885f8ececb",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_52cd5",
                    table="assays_sample",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="sample",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "assays_sampleevent" ("code", "dilution_factor", "final_volume_ml", "id", "lot_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "registered_at", "registered_by_id", "sample_mass_g", "sample_type", "sampled_at", "sampled_by", "sampling_method", "site_id", "status") VALUES (NEW."code", NEW."dilution_factor", NEW."final_volume_ml", NEW."id", NEW."lot_id", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."registered_at", NEW."registered_by_id", NEW."sample_mass_g", NEW."sample_type", NEW."sampled_at", NEW."sampled_by", NEW."sampling_method", NEW."site_id", NEW."status"); RETURN NULL;',
                    hash="14066170e1c897d5c31edb36a6a3aae4f00cecbd",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_4aaea",
                    table="assays_sample",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="sample",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "assays_sampleevent" ("code", "dilution_factor", "final_volume_ml", "id", "lot_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "registered_at", "registered_by_id", "sample_mass_g", "sample_type", "sampled_at", "sampled_by", "sampling_method", "site_id", "status") VALUES (OLD."code", OLD."dilution_factor", OLD."final_volume_ml", OLD."id", OLD."lot_id", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."registered_at", OLD."registered_by_id", OLD."sample_mass_g", OLD."sample_type", OLD."sampled_at", OLD."sampled_by", OLD."sampling_method", OLD."site_id", OLD."status"); RETURN NULL;',
                    hash="5da50bb28f66183644380554f6859d9c827ee3e8",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_85c96",
                    table="assays_sample",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddField(
            model_name="certificatebatch",
            name="requested_by",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="certificate",
            name="batch",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="certificates",
                to="assays.certificatebatch",
            ),
        ),
        migrations.AddField(
            model_name="certificateevent",
            name="batch",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                related_query_name="+",
                to="assays.certificatebatch",
            ),
        ),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["rendering", "issued", "superseded", "revoked"])), name="certificate_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.CheckConstraint(condition=models.Q(("kind__in", ["certificate", "report"])), name="certificate_kind_valid"),
        ),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "issued"), _negated=True), models.Q(("pdf_sha256", ""), _negated=True), _connector="OR"
                ),
                name="certificate_issued_has_pdf",
            ),
        ),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("revoked_at__isnull", True),
                    models.Q(("revoked_by__isnull", False), models.Q(("revocation_reason", ""), _negated=True)),
                    _connector="OR",
                ),
                name="certificate_revocation_has_who_and_why",
            ),
        ),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("status", "revoked"), _negated=True), ("revoked_at__isnull", False), _connector="OR"),
                name="certificate_revoked_has_time",
            ),
        ),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("revision", 0), ("supersedes__isnull", True)),
                    models.Q(("revision__gt", 0), ("supersedes__isnull", False), models.Q(("revision_reason", ""), _negated=True)),
                    _connector="OR",
                ),
                name="certificate_revision_supersedes_with_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("signature_meaning", "approved_under_concession"), _negated=True),
                    models.Q(("concession_reason", ""), _negated=True),
                    _connector="OR",
                ),
                name="certificate_concession_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.CheckConstraint(
                condition=models.Q(("supersedes", models.F("pk")), _negated=True), name="certificate_not_superseding_itself"
            ),
        ),
        migrations.AddConstraint(
            model_name="certificatecounter",
            constraint=models.UniqueConstraint(fields=("prefix", "year"), name="certificate_counter_unique_prefix_year"),
        ),
        migrations.AddConstraint(
            model_name="labprofile",
            constraint=models.CheckConstraint(condition=models.Q(("singleton", True)), name="lab_profile_single_row"),
        ),
        migrations.AddField(
            model_name="totpdevice",
            name="user",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE, related_name="totp_device", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.RunPython(install_certificate_guard, uninstall_certificate_guard, elidable=False),
        migrations.RunPython(reinstall_rebuilt_guard, migrations.RunPython.noop, elidable=False),
    ]
