"""Run quality control: the evaluation of an imported run (DESIGN.md, data flow step 3).

NOT YET IMPLEMENTED: there are no QC rule packs yet (they come with the next issue: ICV/CCV
recoveries, blanks, duplicates, spikes, internal standards, CRMs). Until then ``run_evaluate``
only records on the run that no QC rule pack is configured, and leaves the run in
"pending QC": it accepts nothing, rejects nothing, and does NOT mark any lot stale nor enqueue
any assessment. Lots are marked stale by a real QC evaluation, never by an import, so that no
lot is ever judged on unchecked data.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from assays.models import AuditAction, Run, RunStatus
from assays.services.audit import audit_record, audited_context, snapshot

NO_RULE_PACK_NOTE = (
    "No QC rule pack is configured yet: the run stays pending QC; none of its results is accepted or rejected, and no lot is marked stale."
)


@transaction.atomic
def run_evaluate(*, run_id: int) -> Run | None:
    """Evaluate run ``run_id``'s QC. For now: record that no QC rule pack is configured (see the module).

    Idempotent: a run already evaluated, or no longer pending QC, is left as it is. Returns the
    run, or None when it no longer exists (a task may outlive its run).
    """
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None:
        return None
    if run.status != RunStatus.PENDING_QC or (run.qc_evaluated_at is not None and run.qc_note == NO_RULE_PACK_NOTE):
        return run
    fields = ["qc_note", "qc_evaluated_at"]
    before = snapshot(run, fields=fields)
    run.qc_note = NO_RULE_PACK_NOTE
    run.qc_evaluated_at = timezone.now()
    reason = "run evaluation: no QC rule pack configured"
    with audited_context(actor=None, reason=reason):
        run.save(update_fields=fields)
        audit_record(actor=None, action=AuditAction.UPDATE, instance=run, reason=reason, before=before, after=snapshot(run, fields=fields))
    return run
