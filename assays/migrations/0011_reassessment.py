"""Reassessing a product's lots after a specification change: the request with its progress, and
the chunks of lots the workers take (assays.services.reassessment).

Numbered after 0010_certificates, the leaf it follows."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0010_certificates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Reassessment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reason", models.TextField()),
                ("requested_at", models.DateTimeField()),
                (
                    "status",
                    models.CharField(
                        choices=[("queued", "Queued"), ("running", "Running"), ("done", "Done"), ("failed", "Failed")],
                        default="queued",
                        max_length=16,
                    ),
                ),
                ("total_lots", models.PositiveIntegerField(default=0)),
                ("done_lots", models.PositiveIntegerField(default=0)),
                ("changed_lots", models.PositiveIntegerField(default=0, help_text="Lots given a new assessment.")),
                (
                    "failed_lots",
                    models.PositiveIntegerField(default=0, help_text="Lots that could not be assessed (the worker's log says why)."),
                ),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "product",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="reassessments", to="assays.product"),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty: the system.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "specification",
                    models.ForeignKey(
                        help_text="The active version when it was asked for.",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reassessments",
                        to="assays.specification",
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ReassessmentChunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveIntegerField()),
                ("first_lot_id", models.BigIntegerField()),
                ("lot_ids", models.JSONField()),
                ("lot_count", models.PositiveIntegerField()),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("changed_lots", models.PositiveIntegerField(default=0)),
                ("failed_lots", models.PositiveIntegerField(default=0)),
                (
                    "reassessment",
                    models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="chunks", to="assays.reassessment"),
                ),
            ],
            options={
                "ordering": ["reassessment", "position"],
            },
        ),
        migrations.AddIndex(
            model_name="reassessment",
            index=models.Index(fields=["product", "-requested_at"], name="reassessment_product_recent"),
        ),
        migrations.AddConstraint(
            model_name="reassessment",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["queued", "running", "done", "failed"])), name="reassessment_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="reassessment",
            constraint=models.CheckConstraint(
                condition=models.Q(("done_lots__lte", models.F("total_lots"))), name="reassessment_done_within_total"
            ),
        ),
        migrations.AddConstraint(
            model_name="reassessment",
            constraint=models.CheckConstraint(
                condition=models.Q(("changed_lots__lte", models.F("done_lots")), ("failed_lots__lte", models.F("done_lots"))),
                name="reassessment_counts_within_done",
            ),
        ),
        migrations.AddConstraint(
            model_name="reassessment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        models.Q(("status__in", ["done", "failed"]), _negated=True),
                        models.Q(("finished_at__isnull", False), ("done_lots", models.F("total_lots"))),
                        _connector="OR",
                    ),
                    models.Q(
                        models.Q(("status__in", ["queued", "running"]), _negated=True), ("finished_at__isnull", True), _connector="OR"
                    ),
                ),
                name="reassessment_finished_when_done",
            ),
        ),
        migrations.AddConstraint(
            model_name="reassessment",
            constraint=models.CheckConstraint(condition=models.Q(("reason", ""), _negated=True), name="reassessment_has_reason"),
        ),
        migrations.AddConstraint(
            model_name="reassessmentchunk",
            constraint=models.UniqueConstraint(fields=("reassessment", "position"), name="reassessment_chunk_unique_position"),
        ),
        migrations.AddConstraint(
            model_name="reassessmentchunk",
            constraint=models.UniqueConstraint(fields=("reassessment", "first_lot_id"), name="reassessment_chunk_unique_first_lot"),
        ),
        migrations.AddConstraint(
            model_name="reassessmentchunk",
            constraint=models.CheckConstraint(condition=models.Q(("lot_count__gt", 0)), name="reassessment_chunk_not_empty"),
        ),
        migrations.AddConstraint(
            model_name="reassessmentchunk",
            constraint=models.CheckConstraint(
                condition=models.Q(("changed_lots__lte", models.F("lot_count")), ("failed_lots__lte", models.F("lot_count"))),
                name="reassessment_chunk_counts_within_lots",
            ),
        ),
    ]
