"""Corrections to stored measurements, audited row by row.

An import is audited once, for the run, with its counts. A later change to stored values is
different: each touched row gets its own audit event with the values before and after, so that
a result on a certificate can be traced to every edit it went through, on SQLite as on
PostgreSQL (where pghistory records the same rows again from its triggers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from assays.errors import DomainError, NotFoundError
from assays.models import AuditAction, Certificate, CertificateStatus, Measurement
from assays.services.audit import audit_record, audited_context, changed_values, snapshot

# What a correction may change. The cell (acquisition x analyte) is identity, not a value: moving
# a result to another sample or analyte is a delete and a new import, never an edit.
EDITABLE_FIELDS = frozenset({"value", "qualifier", "unit", "basis", "lod", "loq", "raw_value", "raw_unit", "rsd_percent", "flags"})


class CertifiedDataError(DomainError):
    """The change would alter data a live certificate certifies; the message names the amendment flow."""


def _require_reason(reason: str) -> str:
    if not reason.strip():
        raise DomainError("a stored measurement changes only with a reason")
    return reason.strip()


def _lock(measurements: Iterable[Measurement]) -> list[Measurement]:
    """The rows, re-read under a row lock in id order (a fixed order, so two bulk edits cannot deadlock)."""
    ids = {measurement.pk for measurement in measurements}
    if not ids:
        raise DomainError("no measurements given")
    locked = list(Measurement.objects.select_for_update(of=("self",)).select_related("analyte").filter(pk__in=ids).order_by("pk"))
    if len(locked) != len(ids):
        missing = sorted(ids - {row.pk for row in locked})
        raise NotFoundError(f"measurements not found (deleted meanwhile?): {', '.join(map(str, missing))}")
    _refuse_certified(ids)
    return locked


def _refuse_certified(ids: set[int]) -> None:
    """A result of a lot with a live certificate is certified data: it never changes in place."""
    certified = (
        Certificate.objects.filter(
            status__in=(CertificateStatus.RENDERING, CertificateStatus.ISSUED),
            lot__samples__acquisitions__measurements__in=ids,
        )
        .select_related("lot")
        .order_by("number", "revision")
        .first()
    )
    if certified is not None:
        raise CertifiedDataError(
            f"lot {certified.lot.code} is certified by {certified.number} rev {certified.revision}: its results cannot be edited. "
            "Import the corrected results as a new run, then amend the certificate (issue a new revision), or have a QA manager revoke it"
        )


def _validation_message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


@transaction.atomic
def measurement_update(
    *, actor: User | None, measurements: Iterable[Measurement], changes: Mapping[str, Any], reason: str
) -> list[Measurement]:
    """Apply ``changes`` to every measurement given, one audit event per row that actually changed.

    All rows change or none: one transaction, and any row that would break a rule (a censored
    value without its LOD, an unknown qualifier...) refuses the whole edit.
    """
    reason = _require_reason(reason)
    if not changes:
        raise DomainError("nothing to change")
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"these fields of a measurement cannot be edited: {', '.join(unknown)}")
    fields = sorted(changes)
    locked = _lock(measurements)
    changed: list[tuple[Measurement, dict[str, Any]]] = []
    for row in locked:
        before = snapshot(row, fields=fields)
        for field, value in changes.items():
            setattr(row, field, value)
        try:
            # The cell's foreign keys are not re-validated: they do not change, and checking them costs a query per row.
            row.full_clean(exclude=["acquisition", "analyte"])
        except ValidationError as error:
            raise DomainError(f"measurement {row.pk} ({row}): {_validation_message(error)}") from error
        if snapshot(row, fields=fields) != before:
            changed.append((row, before))
    if not changed:
        return []
    with audited_context(actor=actor, reason=reason):
        Measurement.objects.bulk_update([row for row, _ in changed], fields)
        for row, before in changed:
            old, new = changed_values(before, snapshot(row, fields=fields))
            audit_record(
                actor=actor,
                action=AuditAction.UPDATE,
                instance=row,
                reason=reason,
                before=old,
                after=new,
                context={"batch_size": len(changed)},
            )
    return [row for row, _ in changed]


@transaction.atomic
def measurement_delete(*, actor: User | None, measurements: Iterable[Measurement], reason: str) -> int:
    """Delete measurements, each one leaving an audit event that holds all its values."""
    reason = _require_reason(reason)
    locked = _lock(measurements)
    with audited_context(actor=actor, reason=reason):
        for row in locked:
            audit_record(
                actor=actor,
                action=AuditAction.DELETE,
                instance=row,
                reason=reason,
                before=snapshot(row),
                after=None,
                context={"batch_size": len(locked)},
            )
        deleted, _ = Measurement.objects.filter(pk__in=[row.pk for row in locked]).delete()
    return deleted
