"""The audit trail: who did what, when and why, with values before and after.

Services write one ``AuditEvent`` in the same transaction as every change to a regulated record,
on every database. The table is append-only: triggers installed by migration refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL); see ``assays.audit_guard``. On PostgreSQL, django-pghistory
records every row change as well, bulk updates and raw SQL included, in its own event tables,
which are guarded the same way.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AuditAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    TRANSITION = "transition", "State change"
    IMPORT = "import", "Import"
    # A partner read a document or its data (the API or the portal): who fetched what, and when.
    DOWNLOAD = "download", "Download"


class AuditEvent(models.Model):
    at = models.DateTimeField(db_index=True)
    # PROTECT: a user who appears in the audit trail can be deactivated, never deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=150, help_text="Username, 'system' or a worker's name, kept as written.")
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    entity = models.CharField(max_length=64, help_text="app_label.model of the record")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    reason = models.TextField(blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True, help_text="Counts of an import, request path, task id…")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["entity", "object_id"], name="audit_entity_object_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=AuditAction.values), name="audit_action_valid"),
            models.CheckConstraint(condition=~Q(actor_label=""), name="audit_actor_label_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.entity}#{self.object_id}"
