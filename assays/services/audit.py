"""Writing the audit trail. Every service that changes a regulated record calls ``audit_record``
inside its own transaction, so the change and its audit event land together or not at all."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from assays.bulk_insert import insert_all
from assays.history_context import history_context
from assays.models import AuditAction, AuditEvent

SYSTEM_ACTOR_LABEL = "system"


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # As text, so that 0.1000 stays 0.1000 and no binary rounding creeps in.
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model, *, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The concrete field values of a record, JSON-safe; foreign keys by id."""
    wanted = set(fields) if fields is not None else None
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if wanted is not None and field.name not in wanted:
            continue
        values[field.attname] = _json_value(getattr(instance, field.attname))
    return values


def changed_values(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value changed, before and after."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def actor_label(actor: User | None) -> str:
    if actor is None:
        return SYSTEM_ACTOR_LABEL
    return actor.get_username() or SYSTEM_ACTOR_LABEL


def audit_record(
    *,
    actor: User | None,
    action: AuditAction,
    instance: models.Model,
    reason: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    object_id: str | None = None,
) -> AuditEvent:
    """Append one event for ``instance``. Must run inside the caller's transaction. ``object_id``
    names a record whose primary key is too long for the trail (an API key's: its prefix)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    return AuditEvent.objects.create(
        at=timezone.now(),
        actor=actor if actor is not None and actor.pk is not None else None,
        actor_label=actor_label(actor),
        action=action,
        entity=instance._meta.label_lower,
        object_id=object_id or str(instance.pk),
        object_repr=str(instance)[:200],
        reason=reason,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        context=dict(context or {}),
    )


def audited_context(*, actor: User | None, reason: str = "", **extra: Any) -> Any:
    """pghistory context for a service call (PostgreSQL row history), a no-op elsewhere."""
    return history_context(user=actor.pk if actor is not None else None, actor=actor_label(actor), reason=reason, **extra)


@dataclass(frozen=True, slots=True)
class AuditChange:
    """One change for ``audit_record_many``: the record, its values before and after, and its own
    reason when it differs from the call's (a lot moved by its own assessment)."""

    instance: models.Model
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str | None = None


def audit_record_many(
    *,
    actor: User | None,
    action: AuditAction,
    changes: Iterable[AuditChange],
    reason: str = "",
    context: Mapping[str, Any] | None = None,
) -> list[AuditEvent]:
    """``audit_record`` for many records in one INSERT: the same fields, one event per change,
    all with the same time. A bulk service calls it once instead of once per row."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record_many must run inside the transaction of the changes it records")
    changes = list(changes)
    if any(change.instance.pk is None for change in changes):
        raise ValueError("audit_record_many records saved rows only: one of the instances has no primary key")
    at = timezone.now()
    who = actor if actor is not None and actor.pk is not None else None
    label = actor_label(actor)
    shared_context = dict(context or {})
    events = [
        AuditEvent(
            at=at,
            actor=who,
            actor_label=label,
            action=action,
            entity=change.instance._meta.label_lower,
            object_id=str(change.instance.pk),
            object_repr=str(change.instance)[:200],
            reason=change.reason if change.reason is not None else reason,
            before=dict(change.before) if change.before is not None else None,
            after=dict(change.after) if change.after is not None else None,
            context=dict(shared_context),
        )
        for change in changes
    ]
    return list(insert_all(events))
