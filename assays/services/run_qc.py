"""Run quality control (DESIGN.md, data flow step 3): judging an imported run by its method's rule
pack, reviewers' waivers and rejections, and what follows from a judgement.

A judgement (``QcEvaluation``) stores every check, the acceptance of every sample result and the
run's status; earlier judgements of the run stay, with their checks and waivers. Only a judgement
marks lots stale: an import never does, so no lot is assessed on unchecked data. A lot already
released is never silently changed: a judgement that touches its results raises a
"differs from certified" flag for QA as well (DESIGN.md, "frozen once released").

Idempotent where a worker calls it: ``run_evaluate`` without an actor leaves a run that has a
current judgement as it is, so a redelivered message or the sweep of pending runs does no harm.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import (
    Acquisition,
    Analyte,
    AuditAction,
    Flag,
    FlagKind,
    FlagStatus,
    Lot,
    LotStatus,
    QcCheck,
    QcEvaluation,
    QcWaiver,
    ResultAcceptance,
    RulePack,
    Run,
    RunStatus,
)
from assays.permissions import Capability, can
from assays.qc.evaluation import Check, Outcome, State, decide, evaluate_checks
from assays.qc.packs import RulePack as PackDefinition
from assays.qc.packs import parse_rule_pack
from assays.selectors.run_qc import RunQcData, current_evaluation, run_qc_data, stored_checks
from assays.selectors.runs import run_get
from assays.services.audit import audit_record, audited_context, snapshot
from assays.services.control_charts import control_charts_update

_RUN_FIELDS = ["status", "qc_evaluated_at", "qc_note"]
_ACCEPTANCE_BATCH = 5000


def rule_pack_latest(*, code: str) -> RulePack:
    pack = RulePack.objects.filter(code=code).order_by("-version").first()
    if pack is None:
        raise NotFoundError(f"no rule pack {code!r}: a lab admin must load or write it first")
    return pack


def _definition(pack: RulePack) -> PackDefinition:
    return parse_rule_pack(pack.source_text, source=str(pack))


@transaction.atomic
def run_evaluate(*, run_id: int) -> Run | None:
    """Judge run ``run_id`` by the latest version of its method's rule pack, unless it already has
    a judgement (idempotent: the import's task, a redelivery and the sweep all land here).
    Returns the run, or None when it no longer exists (a task may outlive its run)."""
    run = Run.objects.select_for_update().select_related("method").filter(pk=run_id).first()
    if run is None:
        return None
    if QcEvaluation.objects.filter(run=run, is_current=True).exists():
        return run
    try:
        pack = rule_pack_latest(code=run.method.rule_pack_code)
    except NotFoundError as error:
        # Nothing can be judged until a lab admin fixes the method; the run stays pending and the
        # sweep tries again. Said once on the run, not at every sweep.
        note = f"Cannot judge this run yet: {error}."
        if run.qc_note != note:
            before = snapshot(run, fields=["qc_note"])
            run.qc_note = note
            run.save(update_fields=["qc_note"])
            audit_record(
                actor=None, action=AuditAction.UPDATE, instance=run, reason="run evaluation", before=before, after={"qc_note": note}
            )
        return run
    _judge(run, pack=pack, actor=None, reason="run evaluation after import")
    return run


@transaction.atomic
def run_reevaluate(*, actor: User | AnonymousUser, run_id: int, reason: str, rule_pack_id: int | None = None) -> QcEvaluation:
    """Judge a run again, by another rule pack version or the latest one: a QA decision by someone
    other than the run's analyst, audited. Waivers of the earlier judgement do not carry over:
    they were about other checks."""
    user = _reviewer(actor)
    reason = _required_reason(reason)
    run = _locked_run(actor=user, run_id=run_id)
    # A re-judgement may be by a more lenient pack: the analyst never picks the rules for their own run.
    _not_the_analyst(user, run)
    if rule_pack_id is not None:
        pack = RulePack.objects.filter(pk=rule_pack_id).first()
        if pack is None:
            raise NotFoundError(f"no rule pack version {rule_pack_id}")
    else:
        pack = rule_pack_latest(code=run.method.rule_pack_code)
    return _judge(run, pack=pack, actor=user, reason=reason)


def _judge(run: Run, *, pack: RulePack, actor: User | None, reason: str) -> QcEvaluation:
    definition = _definition(pack)
    data = run_qc_data(run=run)
    checks = evaluate_checks(pack=definition, inputs=data.inputs)
    outcome = decide(pack=definition, inputs=data.inputs, checks=checks)
    previous = current_evaluation(run=run)
    now = timezone.now()
    with audited_context(actor=actor, reason=reason, run=run.pk):
        if previous is not None:
            previous.is_current = False
            previous.save(update_fields=["is_current"])
        evaluation = QcEvaluation.objects.create(
            run=run,
            rule_pack=pack,
            evaluated_at=now,
            requested_by=actor,
            reason=reason if actor is not None else "",
            is_current=True,
            status=outcome.status.value,
            note=outcome.note,
        )
        stored = _store_checks(evaluation, run=run, checks=checks)
        _apply(run, evaluation=evaluation, data=data, outcome=outcome, actor=actor, reason=reason, first=previous is None)
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            instance=evaluation,
            reason=reason,
            after={
                "rule_pack": str(pack),
                "status": evaluation.status,
                "checks": len(stored),
                "failed_checks": outcome.failed_checks,
                "acceptances": evaluation.counts,
                "replaces_evaluation": previous.pk if previous is not None else None,
            },
        )
    control_charts_update(run=run, evaluation=evaluation)
    return evaluation


def _store_checks(evaluation: QcEvaluation, *, run: Run, checks: Sequence[Check]) -> list[QcCheck]:
    acquisition_ids = dict(Acquisition.objects.filter(run=run).values_list("sequence", "id"))
    codes = {check.analyte for check in checks if check.analyte}
    analyte_ids = dict(Analyte.objects.filter(code__in=codes).values_list("code", "id"))
    rows = [
        QcCheck(
            evaluation=evaluation,
            key=check.key[:120],
            kind=check.kind.value,
            acquisition_id=acquisition_ids.get(check.sequence) if check.sequence is not None else None,
            label=check.label[:200],
            analyte_id=analyte_ids.get(check.analyte) if check.analyte else None,
            measured=check.measured,
            expected=check.expected,
            low=check.low,
            high=check.high,
            unit=check.unit[:16],
            passed=check.passed,
            message=check.message,
            effect=check.effect.value,
            affects=list(check.affects),
        )
        for check in checks
    ]
    return QcCheck.objects.bulk_create(rows, batch_size=2000)


def _apply(run: Run, *, evaluation: QcEvaluation, data: RunQcData, outcome: Outcome, actor: User | None, reason: str, first: bool) -> None:
    """Store the acceptances and the run's status, then flag and mark stale what they touch."""
    ids = data.measurement_ids
    ResultAcceptance.objects.filter(measurement__acquisition__run=run).delete()
    rows = [
        (ids[(acceptance.sequence, acceptance.analyte)], acceptance.state.value, acceptance.reasons)
        for acceptance in outcome.acceptances
        if (acceptance.sequence, acceptance.analyte) in ids
    ]
    _write_acceptances(evaluation, rows)
    counts = Counter(state for _, state, _ in rows)
    evaluation.counts = {state.value: counts.get(state.value, 0) for state in State}
    evaluation.save(update_fields=["counts"])
    before = snapshot(run, fields=_RUN_FIELDS)
    run.status = outcome.status.value
    run.qc_evaluated_at = evaluation.evaluated_at
    run.qc_note = outcome.note
    run.save(update_fields=_RUN_FIELDS)
    audit_record(
        actor=actor, action=AuditAction.TRANSITION, instance=run, reason=reason, before=before, after=snapshot(run, fields=_RUN_FIELDS)
    )
    if outcome.failed_checks or run.status == RunStatus.REJECTED:
        _raise_run_flag(run, evaluation=evaluation, failed=outcome.failed_checks, actor=actor)
    _touch_lots(run, evaluation=evaluation, actor=actor, reason=reason or "run evaluation", first=first)


def _write_acceptances(evaluation: QcEvaluation, rows: list[tuple[int, str, tuple[str, ...]]]) -> None:
    """(measurement id, state, reasons) for every sample result: COPY on PostgreSQL (a large run
    has a hundred thousand, for which the ORM's insert costs several seconds), else bulk_create."""
    if connection.vendor != "postgresql":
        ResultAcceptance.objects.bulk_create(
            (ResultAcceptance(measurement_id=pk, evaluation=evaluation, state=state, reasons=list(reasons)) for pk, state, reasons in rows),
            batch_size=_ACCEPTANCE_BATCH,
        )
        return
    meta = ResultAcceptance._meta
    by_name = {field.name: field.column for field in meta.concrete_fields}
    columns = [by_name[name] for name in ("measurement", "evaluation", "state", "reasons")]
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(meta.db_table), columns=sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    encoded: dict[tuple[str, ...], str] = {}  # results share their reasons: each list is encoded once
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for pk, state, reasons in rows:
            text = encoded.get(reasons)
            if text is None:
                text = encoded[reasons] = json.dumps(list(reasons))
            copy.write_row((pk, evaluation.pk, state, text))


def _enqueue_assessments(lot_ids: list[int]) -> None:
    from assays.tasks import assess_lot

    for lot_id in lot_ids:
        assess_lot.delay(lot_id)


def _raise_run_flag(run: Run, *, evaluation: QcEvaluation, failed: int, actor: User | None) -> None:
    details = {"evaluation": evaluation.pk, "rule_pack": str(evaluation.rule_pack), "failed_checks": failed, "status": run.status}
    flag = Flag.objects.filter(run=run, kind=FlagKind.QC_FAILURE, status=FlagStatus.OPEN).first()
    if flag is not None:
        before = snapshot(flag, fields=["details"])
        flag.details = details
        flag.save(update_fields=["details"])
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=flag, reason="run judged again", before=before, after=details)
        return
    flag = Flag.objects.create(kind=FlagKind.QC_FAILURE, run=run, details=details, raised_at=timezone.now(), raised_by=actor)
    audit_record(actor=actor, action=AuditAction.CREATE, instance=flag, reason=f"{failed} QC check(s) failed", after=details)


def _touch_lots(run: Run, *, evaluation: QcEvaluation, actor: User | None, reason: str, first: bool) -> None:
    """Mark the run's lots stale; a released lot also gets a flag (its certificate rests on a
    frozen assessment that these results may now contradict)."""
    lot_ids = set(Acquisition.objects.filter(run=run, sample__isnull=False).values_list("sample__lot_id", flat=True))
    if not lot_ids:
        return
    now = timezone.now()
    lots = list(Lot.objects.select_for_update().filter(pk__in=lot_ids).order_by("pk"))
    # The assessment runs after this judgement commits; the stale mark is what the minute sweep
    # reads if the message is lost.
    transaction.on_commit(lambda: _enqueue_assessments(sorted(lot_ids)))
    for lot in lots:
        if lot.assessment_stale_since is None:  # already stale: it stays so, since the first change
            before = snapshot(lot, fields=["assessment_stale_since"])
            lot.assessment_stale_since = now
            lot.save(update_fields=["assessment_stale_since"])
            audit_record(
                actor=actor,
                action=AuditAction.UPDATE,
                instance=lot,
                reason=f"{reason} (run {run.pk}, evaluation {evaluation.pk}): assessment out of date",
                before=before,
                after=snapshot(lot, fields=["assessment_stale_since"]),
            )
        if (
            lot.status == LotStatus.RELEASED
            and not Flag.objects.filter(lot=lot, kind=FlagKind.DIFFERS_FROM_CERTIFIED, status=FlagStatus.OPEN).exists()
        ):
            details = {"run": run.pk, "evaluation": evaluation.pk, "why": "new or re-judged results after release" if first else reason}
            flag = Flag.objects.create(kind=FlagKind.DIFFERS_FROM_CERTIFIED, lot=lot, details=details, raised_at=now, raised_by=actor)
            audit_record(actor=actor, action=AuditAction.CREATE, instance=flag, reason="results of a released lot changed", after=details)


# --- Review ---------------------------------------------------------------------------------------


def _reviewer(actor: User | AnonymousUser) -> User:
    if not isinstance(actor, User) or not can(actor, Capability.REVIEW_RUN_QC):
        raise PermissionDeniedError("only QA may review a run's QC")
    return actor


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("a reason is required")
    return reason


def _locked_run(*, actor: User, run_id: int) -> Run:
    visible = run_get(actor=actor, run_id=run_id)  # NotFoundError outside the actor's sites
    return Run.objects.select_for_update().select_related("method").get(pk=visible.pk)


def _not_the_analyst(actor: User, run: Run) -> None:
    if run.analyst_id == actor.pk:
        raise PermissionDeniedError("the run's analyst cannot review their own run: another QA user must decide")


@transaction.atomic
def qc_check_waive(*, actor: User | AnonymousUser, check_id: int, reason: str) -> QcEvaluation:
    """Accept a failed check with a reason: its failure no longer rejects anything. Never the
    run's analyst; only on the run's current judgement; audited."""
    user = _reviewer(actor)
    reason = _required_reason(reason)
    check = QcCheck.objects.select_related("evaluation").filter(pk=check_id).first()
    if check is None:
        raise NotFoundError(f"no QC check {check_id}")
    run = _locked_run(actor=user, run_id=check.evaluation.run_id)
    _not_the_analyst(user, run)
    evaluation = QcEvaluation.objects.select_for_update().get(pk=check.evaluation_id)
    if not evaluation.is_current:
        raise DomainError("this check belongs to an earlier judgement of the run; waive the current one's checks")
    if evaluation.run_rejected_at is not None:
        raise DomainError("QA rejected this run as a whole; its checks can no longer be waived")
    if check.passed:
        raise DomainError("this check passed: there is nothing to waive")
    if QcWaiver.objects.filter(check_result=check).exists():
        raise DomainError("this check has already been waived")
    with audited_context(actor=user, reason=reason, run=run.pk):
        waiver = QcWaiver.objects.create(check_result=check, decided_by=user, decided_at=timezone.now(), reason=reason)
        audit_record(
            actor=user,
            action=AuditAction.CREATE,
            instance=waiver,
            reason=reason,
            after={"check": check.key, "message": check.message, "run": run.pk, "evaluation": evaluation.pk},
        )
        _redecide(run, evaluation=evaluation, actor=user, reason=f"waiver of {check.key}: {reason}")
    return evaluation


def _redecide(run: Run, *, evaluation: QcEvaluation, actor: User, reason: str) -> None:
    definition = _definition(evaluation.rule_pack)
    data = run_qc_data(run=run)
    checks, waived = stored_checks(evaluation=evaluation)
    outcome = decide(pack=definition, inputs=data.inputs, checks=checks, waived=waived)
    before = {"status": evaluation.status, "counts": evaluation.counts}
    evaluation.status = outcome.status.value
    evaluation.note = outcome.note + (f" {len(waived)} failed check(s) waived by QA." if waived else "")
    evaluation.save(update_fields=["status", "note"])
    _apply(run, evaluation=evaluation, data=data, outcome=outcome, actor=actor, reason=reason, first=False)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        instance=evaluation,
        reason=reason,
        before=before,
        after={"status": evaluation.status, "counts": evaluation.counts},
    )


@transaction.atomic
def run_reject(*, actor: User | AnonymousUser, run_id: int, reason: str) -> QcEvaluation:
    """Reject a whole run: none of its results counts, whatever its checks said. Never the run's
    analyst; audited; raises the run's QC-failure flag."""
    user = _reviewer(actor)
    reason = _required_reason(reason)
    run = _locked_run(actor=user, run_id=run_id)
    _not_the_analyst(user, run)
    evaluation = current_evaluation(run=run)
    if evaluation is None:
        raise DomainError("the run has not been judged yet; wait for its evaluation")
    evaluation = QcEvaluation.objects.select_for_update().get(pk=evaluation.pk)
    if evaluation.run_rejected_at is not None:
        raise DomainError("the run is already rejected")
    now = timezone.now()
    with audited_context(actor=user, reason=reason, run=run.pk):
        before = {"status": evaluation.status}
        evaluation.run_rejected_at, evaluation.run_rejected_by, evaluation.run_rejection_reason = now, user, reason
        evaluation.status = RunStatus.REJECTED
        evaluation.save(update_fields=["run_rejected_at", "run_rejected_by", "run_rejection_reason", "status"])
        # The reasons of each result stay what the checks said; the run's rejection is on the
        # evaluation, where the run page and the assessment read it.
        affected = ResultAcceptance.objects.filter(evaluation=evaluation)
        affected.exclude(state=State.EXCLUDED).update(state=State.REJECTED)
        counts = Counter(affected.values_list("state", flat=True))
        evaluation.counts = {state.value: counts.get(state.value, 0) for state in State}
        evaluation.save(update_fields=["counts"])
        run_before = snapshot(run, fields=_RUN_FIELDS)
        run.status = RunStatus.REJECTED
        run.qc_note = f"{evaluation.note} Rejected as a whole by QA: {reason}"
        run.save(update_fields=["status", "qc_note"])
        audit_record(
            actor=user,
            action=AuditAction.TRANSITION,
            instance=run,
            reason=reason,
            before=run_before,
            after=snapshot(run, fields=_RUN_FIELDS),
        )
        audit_record(actor=user, action=AuditAction.UPDATE, instance=evaluation, reason=reason, before=before, after={"status": "rejected"})
        _raise_run_flag(run, evaluation=evaluation, failed=QcCheck.objects.filter(evaluation=evaluation, passed=False).count(), actor=user)
        _touch_lots(run, evaluation=evaluation, actor=user, reason=f"run rejected: {reason}", first=False)
    return evaluation


# --- The sweep ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepResult:
    run_ids: list[int]


def runs_pending_qc(*, older_than_seconds: float | None = None) -> list[int]:
    """Runs still waiting for their judgement a while after import: their message was lost."""
    grace = settings.LIMS_QC_SWEEP_GRACE_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - dt.timedelta(seconds=grace)
    return list(
        Run.objects.filter(status=RunStatus.PENDING_QC, imported_at__lte=cutoff, qc_evaluations__isnull=True)
        .order_by("imported_at")
        .values_list("pk", flat=True)
    )


def enqueue_evaluations(run_ids: Iterable[int]) -> SweepResult:
    from assays.tasks import evaluate_run

    ids = list(run_ids)
    for run_id in ids:
        evaluate_run.delay(run_id)
    return SweepResult(ids)
