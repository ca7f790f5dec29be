"""A lab admin's QC set-up: rule pack versions, calibration standards and control-chart baselines.

Each is master data that changes how runs are judged, so each change is audited with its reason,
and rule packs are versioned: an edit never changes a version a run was judged by.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from assays.errors import DomainError, PermissionDeniedError
from assays.models import Analyte, AuditAction, CalibrationNominal, ControlBaseline, ControlSeries, Method, RulePack
from assays.permissions import Capability, can
from assays.qc.packs import parse_rule_pack
from assays.qc.standards_table import ChannelRef, assign_channels, parse_standards_table
from assays.services.audit import audit_record


def _lab_admin(actor: User | AnonymousUser) -> User:
    if not isinstance(actor, User) or not can(actor, Capability.MANAGE_MASTER_DATA):
        raise PermissionDeniedError("only a lab admin may change QC set-up")
    return actor


@transaction.atomic
def rule_pack_revise(*, actor: User | AnonymousUser, source_text: str, note: str) -> RulePack:
    """A new version of the pack the text names (version 1 for a new code). The text is validated
    first; an unchanged text makes no new version."""
    user = _lab_admin(actor)
    note = note.strip()
    if not note:
        raise DomainError("say what changed and why (the note)")
    pack = parse_rule_pack(source_text, source="the rule pack")
    latest = RulePack.objects.select_for_update().filter(code=pack.code).order_by("-version").first()
    if latest is not None and latest.source_text.strip() == source_text.strip():
        raise DomainError(f"the text is the same as {latest}: no new version made")
    version = (RulePack.objects.filter(code=pack.code).aggregate(top=Max("version"))["top"] or 0) + 1
    created = RulePack.objects.create(
        code=pack.code,
        version=version,
        title=pack.title,
        source_text=source_text,
        definition=pack.as_dict(),
        created_at=timezone.now(),
        created_by=user,
        note=note,
    )
    audit_record(actor=user, action=AuditAction.CREATE, instance=created, reason=note, after=pack.as_dict())
    return created


@transaction.atomic
def calibration_standards_import(*, actor: User | AnonymousUser, method: Method, data: bytes, file_name: str) -> int:
    """Replace the method's calibration nominals by a standards table (rows = channels of the
    method in order, columns = levels); returns the number of nominals stored. All or nothing."""
    user = _lab_admin(actor)
    table = parse_standards_table(data, file_name=file_name)
    channels = list(method.channels.select_related("analyte", "analyte__element").order_by("id"))
    refs = [
        ChannelRef(code=channel.analyte.code, element=channel.analyte.element.symbol if channel.analyte.element else None)
        for channel in channels
    ]
    assigned = assign_channels(table, channels=refs)
    analyte_ids = dict(Analyte.objects.filter(code__in=[ref.code for ref in refs]).values_list("code", "id"))
    before = CalibrationNominal.objects.filter(method=method).count()
    CalibrationNominal.objects.filter(method=method).delete()
    rows = [
        CalibrationNominal(method=method, analyte_id=analyte_ids[code], level=level, value=value, unit="µg/L")
        for level, values in assigned.items()
        for code, value in values.items()
    ]
    CalibrationNominal.objects.bulk_create(rows)
    audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        instance=method,
        reason=f"calibration standards imported from {file_name}",
        before={"calibration_nominals": before},
        after={"calibration_nominals": len(rows), "levels": sorted(assigned)},
    )
    return len(rows)


@transaction.atomic
def control_baseline_set(
    *,
    actor: User | AnonymousUser,
    method: Method,
    analyte: Analyte,
    series: ControlSeries | str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str,
    reference_material_id: int | None = None,
) -> ControlBaseline:
    user = _lab_admin(actor)
    if not reason.strip():
        raise DomainError("a baseline period needs a reason")
    if ends_at <= starts_at:
        raise DomainError("the baseline period must end after it starts")
    baseline = ControlBaseline.objects.create(
        method=method,
        analyte=analyte,
        series=ControlSeries(series).value,
        reference_material_id=reference_material_id,
        starts_at=starts_at,
        ends_at=ends_at,
        set_by=user,
        set_at=timezone.now(),
        reason=reason.strip(),
    )
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        instance=baseline,
        reason=reason,
        after={
            "method": method.code,
            "analyte": analyte.code,
            "series": baseline.series,
            "from": starts_at.isoformat(),
            "to": ends_at.isoformat(),
        },
    )
    return baseline
