"""Run QC on the run's page: the panel (current evaluation, its checks, earlier evaluations) and the
reviewer's three decisions, each a POST that calls the service and comes back to the page.

The services decide who may do what (QA only, never the run's analyst, a reason always); the
panel only hides the forms from those the service would refuse, and says why. A refusal that gets
through anyway (a page left open, a crafted request) comes back as the service's message.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser, User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from assays.errors import DomainError, NotFoundError
from assays.models import QcCheck, QcEvaluation, RulePack, Run
from assays.permissions import Capability, can
from assays.selectors.qc_pages import qc_check_of_run, rule_pack_get, rule_pack_versions
from assays.selectors.run_qc import QcPanel, run_qc_panel
from assays.selectors.runs import run_get
from assays.services.run_qc import qc_check_waive, run_reevaluate, run_reject

# A reason is a sentence or a paragraph; far longer is a paste gone wrong.
MAX_REASON = 2000
ACCEPTANCE_STATES: tuple[tuple[str, str], ...] = (
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
    ("redilute", "Re-dilute"),
    ("excluded", "Excluded"),
)


@dataclass(frozen=True)
class QcReview:
    """What the run page's QC panel shows to this user."""

    panel: QcPanel
    show_all: bool
    can_review: bool
    why_not: str  # why this user sees no forms ("" when they do)
    rule_packs: list[RulePack]

    @property
    def evaluation(self) -> QcEvaluation | None:
        return self.panel.evaluation

    @property
    def rows(self) -> list[QcCheck]:
        """The checks listed: every one with ``?qc=all``, else the failed ones."""
        return self.panel.checks if self.show_all else self.panel.failed

    @property
    def acceptance_counts(self) -> list[tuple[str, str, int]]:
        counts = self.panel.acceptance_counts
        return [(state, label, counts.get(state, 0)) for state, label in ACCEPTANCE_STATES]

    @property
    def earlier(self) -> list[QcEvaluation]:
        current = self.panel.evaluation
        return [evaluation for evaluation in self.panel.history if current is None or evaluation.pk != current.pk]

    @property
    def can_waive(self) -> bool:
        evaluation = self.panel.evaluation
        return self.can_review and evaluation is not None and evaluation.run_rejected_at is None

    @property
    def total_checks(self) -> int:
        return sum(passed + failed for _, passed, failed in self.panel.kind_counts)


def _why_not(actor: User | AnonymousUser, run: Run) -> str:
    if not can(actor, Capability.REVIEW_RUN_QC):
        return "Your role does not review run QC: QA accepts failed checks, rejects or re-evaluates a run."
    if run.analyst_id == actor.pk:
        return "You are this run's analyst: another QA user must review it."
    return ""


def qc_review(*, actor: User | AnonymousUser, run: Run, show_all: bool) -> QcReview:
    """The QC panel of a run the actor may see (``NotFoundError`` otherwise)."""
    # Only the failed checks are read unless all were asked for: a big run has thousands.
    panel = run_qc_panel(actor=actor, run_id=run.pk, failed_only=not show_all)
    why_not = _why_not(actor, run)
    can_review = not why_not
    return QcReview(
        panel=panel,
        show_all=show_all,
        can_review=can_review,
        why_not=why_not,
        rule_packs=rule_pack_versions(actor=actor, run=run) if can_review else [],
    )


# --- The decisions ----------------------------------------------------------------------------------


def _back_to_panel(run_id: int) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("web:run_detail", args=[run_id]) + "#qc-panel")


def _visible_run(request: HttpRequest, pk: int) -> Run:
    """The run, if the user may see it: anyone else gets a 404 before any service is asked."""
    try:
        return run_get(actor=request.user, run_id=pk)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _posted_reason(request: HttpRequest) -> str:
    """The reason as typed; the service refuses an empty one with its own message."""
    reason = request.POST.get("reason", "")
    if len(reason) > MAX_REASON:
        raise DomainError(f"a reason is at most {MAX_REASON} characters")
    return reason


@require_POST
@login_required
def run_qc_waive(request: HttpRequest, pk: int, check_id: int) -> HttpResponse:
    """Accept a failed check with a reason."""
    try:
        check = qc_check_of_run(actor=request.user, run_id=pk, check_id=check_id)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    try:
        qc_check_waive(actor=request.user, check_id=check.pk, reason=_posted_reason(request))
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        messages.error(request, f"The check was not accepted: {exc}.")
    else:
        messages.success(request, f"Accepted the failed check {check.label or check.key}; the run's results were judged again.")
    return _back_to_panel(pk)


@require_POST
@login_required
def run_qc_reject(request: HttpRequest, pk: int) -> HttpResponse:
    """Reject the whole run with a reason."""
    _visible_run(request, pk)
    try:
        run_reject(actor=request.user, run_id=pk, reason=_posted_reason(request))
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        messages.error(request, f"The run was not rejected: {exc}.")
    else:
        messages.success(request, "Rejected the whole run: none of its results counts.")
    return _back_to_panel(pk)


def _posted_rule_pack(request: HttpRequest) -> int | None:
    """The chosen version's id; None for the method's latest version."""
    raw = request.POST.get("rule_pack", "").strip()
    if not raw:
        return None
    try:
        return rule_pack_get(actor=request.user, rule_pack_id=int(raw) if raw.isdigit() and len(raw) <= 18 else 0).pk
    except NotFoundError as exc:
        raise DomainError("choose a rule pack version from the list") from exc


@require_POST
@login_required
def run_qc_evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    """Judge the run again, by the chosen rule pack version (or its method's latest)."""
    _visible_run(request, pk)
    try:
        evaluation = run_reevaluate(actor=request.user, run_id=pk, reason=_posted_reason(request), rule_pack_id=_posted_rule_pack(request))
    except DomainError as exc:  # no rule pack for the method is a NotFoundError: a message too
        messages.error(request, f"The run was not judged again: {exc}.")
    else:
        messages.success(request, f"Judged the run again by {evaluation.rule_pack}: {evaluation.get_status_display()}.")
    return _back_to_panel(pk)
