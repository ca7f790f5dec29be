"""What partners reach the lab with: API keys, and the webhooks the lab calls back on.

A key is djangorestframework-api-key's: only a SHA-512 of it is stored, its first eight characters
(the prefix) name it in logs and the audit trail, and the whole key is shown once, when made.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey

from assays.models.certificates import Certificate
from assays.models.sites import Partner


class ApiScope(models.TextChoices):
    """What a key may read; every scope is read-only."""

    LOTS = "lots", "Lots"
    RESULTS = "results", "Results"
    CERTIFICATES = "certificates", "Certificates and reports"


class PartnerApiKey(AbstractAPIKey):
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="api_keys")
    scopes = models.JSONField(default=list, help_text="A subset of lots, results, certificates.")
    # Requests per period, DRF's notation ("600/min"); blank: LIMS_PARTNER_API_RATE.
    throttle_rate = models.CharField(max_length=16, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    revocation_reason = models.TextField(blank=True)
    # Written at most once a minute per key (``assays.api.partner_auth``): a hint for the lab, not a log.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        abstract = False
        verbose_name = "partner API key"
        verbose_name_plural = "partner API keys"
        constraints = [
            models.CheckConstraint(condition=Q(revoked=False) | Q(revoked_at__isnull=False), name="partner_api_key_revoked_has_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.partner_id}"


class WebhookEvent(models.TextChoices):
    CERTIFICATE_ISSUED = "certificate.issued", "Certificate of analysis issued"
    CERTIFICATE_REVOKED = "certificate.revoked", "Certificate or report revoked"
    REPORT_ISSUED = "report.issued", "Report of analysis issued"


class PartnerWebhook(models.Model):
    """A URL of the partner's that the lab POSTs the events it subscribed to, signed with ``secret``."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="A subset of the WebhookEvent values.")
    # The HMAC-SHA256 key. Kept readable because the lab must sign with it; shown to the partner once.
    secret = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["partner__code", "-created_at"]
        constraints = [models.CheckConstraint(condition=~Q(secret=""), name="partner_webhook_secret_not_empty")]

    def __str__(self) -> str:
        return f"{self.partner_id} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # queued, or waiting for its next attempt
    DELIVERED = "delivered", "Delivered"  # the receiver answered 2xx
    FAILED = "failed", "Failed"  # every attempt failed; the lab or partner may send it again


class WebhookDelivery(models.Model):
    """One event for one webhook, and what became of sending it."""

    webhook = models.ForeignKey(PartnerWebhook, on_delete=models.PROTECT, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    # Sent as X-LIMS-Delivery: the receiver's key for ignoring a delivery it has already had.
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"),
            models.CheckConstraint(condition=Q(event__in=WebhookEvent.values), name="webhook_delivery_event_valid"),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False), name="webhook_delivery_delivered_has_time"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} ({self.status})"
