"""QA's decisions on flags and on lots held by them (DESIGN.md: "a lot leaves hold only through QA").

A flag goes open → acknowledged → resolved, or open → resolved; resolved is final. Acknowledging
says "QA has seen it and is on it"; resolving says why it no longer holds anything up. Both need
``act_on_flags`` (QA and QA managers; the lab admin runs the installation and acts on no flag,
docs/permissions.md), the flag in the actor's scope (a lot flag by the lot's site, a run flag by
the run's site, a method flag for any QA: methods are lab-wide master data), and a reason.

A lot on hold leaves it only here: ``lot_hold_release`` (back to assessed, once nothing holds it)
or ``lot_reject`` (final). The assessment worker puts lots on hold but never takes them off it,
and a later conforming assessment leaves a held lot held: QA decides. (The one other way out is a
QA manager's certificate under concession, ``assays.services.certificates``, itself a QA decision.)
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import AuditAction, Flag, FlagStatus, Lot, LotStatus
from assays.permissions import Capability, can
from assays.selectors.assessments import flag_list
from assays.selectors.qa_dashboard import hold_release_blockers, qa_lot_queryset
from assays.services.audit import audit_record, audited_context, snapshot
from assays.services.lots import lot_transition

# A reason is a sentence or a paragraph; far longer is a paste gone wrong (as for run QC decisions).
MAX_REASON = 2000

_ACKNOWLEDGEMENT_FIELDS = ["status", "acknowledged_at", "acknowledged_by", "acknowledgement_reason"]
_RESOLUTION_FIELDS = ["status", "resolved_at", "resolved_by", "resolution_reason"]


def _qa(actor: User | AnonymousUser, doing: str) -> User:
    if not isinstance(actor, User) or not can(actor, Capability.ACT_ON_FLAGS):
        raise PermissionDeniedError(f"only QA may {doing}")
    return actor


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("a reason is required")
    if len(reason) > MAX_REASON:
        raise DomainError(f"a reason is at most {MAX_REASON} characters")
    return reason


def _locked_flag(*, actor: User, flag: Flag | int) -> Flag:
    """The flag under a row lock, if the actor may see it; one outside the scope is "no such flag"."""
    pk = flag.pk if isinstance(flag, Flag) else flag
    if not flag_list(actor=actor).filter(pk=pk).exists():
        raise NotFoundError(f"no flag {pk}")
    # Only the flag's row: its lot, run and method are nullable joins FOR UPDATE may not reach.
    return Flag.objects.select_for_update(of=("self",)).select_related("lot", "run", "method").get(pk=pk)


def _who(user: User | None) -> str:
    return user.get_username() if user is not None else "a worker"


def _target(flag: Flag) -> str:
    if flag.lot is not None:
        return f"lot {flag.lot.code}"
    if flag.run is not None:
        return f"run {flag.run_id}"
    return f"method {flag.method.code}" if flag.method is not None else "nothing"


@transaction.atomic
def flag_acknowledge(*, actor: User | AnonymousUser, flag: Flag | int, reason: str) -> Flag:
    """Open → acknowledged: QA has seen the flag. It still holds its lot: only resolving releases it."""
    user = _qa(actor, "acknowledge a flag")
    reason = _required_reason(reason)
    locked = _locked_flag(actor=user, flag=flag)
    if locked.status == FlagStatus.RESOLVED:
        raise DomainError(f"flag {locked.pk} is resolved: a resolved flag is final")
    if locked.status == FlagStatus.ACKNOWLEDGED:
        raise DomainError(f"flag {locked.pk} was already acknowledged by {_who(locked.acknowledged_by)}")
    return _step(locked, to=FlagStatus.ACKNOWLEDGED, fields=_ACKNOWLEDGEMENT_FIELDS, actor=user, reason=reason)


@transaction.atomic
def flag_resolve(*, actor: User | AnonymousUser, flag: Flag | int, reason: str) -> Flag:
    """Open or acknowledged → resolved, final. Resolving a lot's last flag does not release the
    lot: that is its own decision (``lot_hold_release``), which also looks at the assessment."""
    user = _qa(actor, "resolve a flag")
    reason = _required_reason(reason)
    locked = _locked_flag(actor=user, flag=flag)
    if locked.status == FlagStatus.RESOLVED:
        raise DomainError(f"flag {locked.pk} is already resolved (by {_who(locked.resolved_by)}): a resolved flag is final")
    return _resolve(locked, actor=user, reason=reason)


def _resolve(flag: Flag, *, actor: User, reason: str) -> Flag:
    """Resolve a locked, unresolved flag, audited; the caller checked who and why."""
    return _step(flag, to=FlagStatus.RESOLVED, fields=_RESOLUTION_FIELDS, actor=actor, reason=reason)


def _step(flag: Flag, *, to: FlagStatus, fields: list[str], actor: User, reason: str) -> Flag:
    """Move a locked flag to ``to``, stamping its when, who and why (``fields``: status, then the
    step's time, user and reason columns), with one audit event."""
    _, at_field, by_field, reason_field = fields
    before = snapshot(flag, fields=fields)
    with audited_context(actor=actor, reason=reason, flag=flag.pk):
        flag.status = to
        setattr(flag, at_field, timezone.now())
        setattr(flag, by_field, actor)
        setattr(flag, reason_field, reason)
        flag.save(update_fields=fields)
        audit_record(
            actor=actor,
            action=AuditAction.TRANSITION,
            instance=flag,
            reason=reason,
            before=before,
            after=snapshot(flag, fields=fields),
            context={"target": _target(flag), "kind": flag.kind},
        )
    return flag


def _locked_lot(*, actor: User, lot: Lot | str) -> Lot:
    """The lot under a row lock, if the actor may see it. Locking the lot serialises the decision
    with the assessment worker, which locks it too before it raises a flag or moves the lot."""
    code = lot.code if isinstance(lot, Lot) else lot
    visible = qa_lot_queryset(actor=actor).filter(code=code).values_list("pk", flat=True).first()
    if visible is None:
        raise NotFoundError(f"no lot {code!r}")
    return Lot.objects.select_for_update(of=("self",)).select_related("product").get(pk=visible)


def _on_hold(lot: Lot, doing: str) -> None:
    if lot.status != LotStatus.ON_HOLD:
        raise DomainError(f"lot {lot.code} is {lot.get_status_display().lower()}, not on hold: there is no hold to {doing}")


@transaction.atomic
def lot_hold_release(*, actor: User | AnonymousUser, lot: Lot | str, reason: str) -> Lot:
    """On hold → assessed, by QA, when nothing holds the lot any more: no open or acknowledged
    flag on it, and its latest assessment conforming (or a report of analysis, no verdict) and not
    outdated by newer results. Refused with every reason that still holds it."""
    user = _qa(actor, "release a lot from hold")
    reason = _required_reason(reason)
    locked = _locked_lot(actor=user, lot=lot)
    _on_hold(locked, "release")
    blockers = hold_release_blockers(lot=locked)
    if blockers:
        raise DomainError(f"lot {locked.code} stays on hold: {'; '.join(blockers)}")
    return lot_transition(actor=user, lot=locked, to=LotStatus.ASSESSED, reason=reason)


@transaction.atomic
def lot_reject(*, actor: User | AnonymousUser, lot: Lot | str, reason: str) -> Lot:
    """On hold → rejected, by QA, final. The lot's unresolved flags are resolved with the same
    reason: the rejection answers them, and a final lot must not sit in QA's open queue forever."""
    user = _qa(actor, "reject a lot")
    reason = _required_reason(reason)
    locked = _locked_lot(actor=user, lot=lot)
    _on_hold(locked, "reject")
    rejected = lot_transition(actor=user, lot=locked, to=LotStatus.REJECTED, reason=reason)
    unresolved = Flag.objects.select_for_update(of=("self",)).filter(lot=locked).exclude(status=FlagStatus.RESOLVED).order_by("pk")
    for flag in unresolved.select_related("lot"):
        _resolve(flag, actor=user, reason=f"lot {locked.code} rejected: {reason}")
    return rejected
