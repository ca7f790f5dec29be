"""The audit trail of what partners fetched: one event per download, naming the key or user.

A partner's download changes nothing, but who took which certified data, and when, is part of
the record a regulated lab keeps (and what a partner disputing a payment asks for).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils import timezone

from assays.models import AuditAction, AuditEvent, Partner, PartnerApiKey


def download_record(
    *,
    partner: Partner,
    key: PartnerApiKey | None,
    user_label: str,
    user_id: int | None,
    instance: models.Model,
    what: str,
    context: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one "download" event for ``instance`` (a certificate, a lot, the partner for a results page)."""
    label = f"api-key:{key.prefix} for {partner.code}" if key is not None else f"{user_label} for {partner.code}"
    return AuditEvent.objects.create(
        at=timezone.now(),
        actor_id=user_id,
        actor_label=label[:150],
        action=AuditAction.DOWNLOAD,
        entity=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        context={"what": what, "partner": partner.code, "key": key.prefix if key is not None else None, **(context or {})},
    )
