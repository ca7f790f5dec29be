"""Reads of lot assessments and flags, scoped to the actor, and their shapes for the CLI, API and page.

Assessments are the lab's working judgement until release to partners is designed (a later issue):
partner users see none yet, exactly as if the lot had not been assessed. Flags are the lab's too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from assays.chemistry.rounding import format_decimal, round_with_uncertainty
from assays.models import Flag, Lot, LotAssessment
from assays.roles import is_staff_member
from assays.selectors.runs import run_list
from assays.selectors.scoping import lot_visibility


def _is_lab(actor: User | AnonymousUser) -> bool:
    return is_staff_member(actor) or bool(getattr(actor, "is_superuser", False))


def lot_assessment_latest(*, actor: User | AnonymousUser, lot: Lot) -> LotAssessment | None:
    """The newest assessment of ``lot``, or None when there is none or the actor may not see it.

    The lot visibility rule is re-applied through the relation, so a lot handed in from elsewhere
    cannot leak its assessment to someone outside its site.
    """
    if not _is_lab(actor):
        return None
    return (
        LotAssessment.objects.filter(lot=lot)
        .filter(lot_visibility(actor=actor, prefix="lot__"))
        .select_related("lot", "lot__product", "specification", "specification__product")
        .order_by("-assessed_at", "-id")
        .first()
    )


def flag_list(*, actor: User | AnonymousUser) -> QuerySet[Flag]:
    """Flags the actor may see, newest first: lot flags by the lot's site, run flags by the run's
    site, method flags (methods are master data every lab user sees) to all lab staff."""
    if not _is_lab(actor):
        return Flag.objects.none()
    visible_runs = run_list(actor=actor).values("pk")
    scope = (
        (Q(lot__isnull=False) & Q(lot__in=Lot.objects.filter(lot_visibility(actor=actor)).values("pk")))
        | Q(run__in=visible_runs)
        | Q(method__isnull=False)
    )
    return Flag.objects.filter(scope).select_related("lot", "run", "method").order_by("-raised_at", "-id")


# --- Shapes -----------------------------------------------------------------------------------------


def assessment_json(assessment: LotAssessment) -> dict[str, Any]:
    """The assessment as ``manage.py assess_lot --json`` prints it and the API answers: numbers at
    full precision (best estimates), limits as written."""
    spec = assessment.specification
    summary = assessment.summary
    lines = []
    for line in assessment.outcome.get("lines", []):
        limit = None
        if line.get("minimum") or line.get("maximum"):
            limit = {"min": line.get("minimum"), "max": line.get("maximum"), "unit": line.get("unit")}
        lines.append(
            {
                "quantity": line["quantity"],
                "label": line["label"],
                "value": line["best"],
                "judged_value": line["judged_value"],
                "censored": line["censored"],
                "unit": line["unit"],
                "expanded_u": line["expanded_u"],
                "limit": limit,
                "verdict": line["verdict"],
                "reason": line["reason"],
            }
        )
    return {
        "lot": assessment.lot.code,
        "product": assessment.lot.product.code if assessment.lot.product else None,
        "spec_version": spec.version if spec else None,
        "status": assessment.status,
        "n_samples": assessment.n_samples,
        "relative_purity_pct": summary.get("relative_purity_pct"),
        "treo_pct": summary.get("treo_pct"),
        "main_oxide_pct": summary.get("main_oxide_pct"),
        "oxides_mg_kg": summary.get("oxides_mg_kg", {}),
        "lines": lines,
        "reasons": assessment.reasons,
        "assessed_at": assessment.assessed_at.isoformat(),
    }


VERDICT_LABELS = {
    "pass": "pass",
    "fail": "fail",
    "inconclusive": "inconclusive",
    "not_determinable": "not determinable",
}


@dataclass(frozen=True)
class AssessmentLineRow:
    """One line of the lot page's assessment table, rounded for display only."""

    label: str
    value: str  # "best ± U", "< LOD x" or "—"
    unit: str
    limit: str  # ">= min", "<= max", both, or "" for a line without a limit
    verdict: str | None
    verdict_label: str
    reason: str


def _shown_value(line: dict[str, Any]) -> str:
    best, lod = line.get("best"), line.get("lod")
    if line.get("censored") and lod is not None:
        # The LOD to two significant figures, as an uncertainty is reported (REO-ASSAY.md §5).
        shown_lod, _ = round_with_uncertainty(value=lod, expanded_uncertainty=lod)
        return f"< LOD {format_decimal(shown_lod)}"
    if best is None:
        return "—"
    shown, uncertainty = round_with_uncertainty(value=best, expanded_uncertainty=line.get("expanded_u"))
    if uncertainty is None:
        return format_decimal(shown)
    return f"{format_decimal(shown)} ± {format_decimal(uncertainty)}"


def _shown_limit(line: dict[str, Any]) -> str:
    parts = []
    if line.get("minimum"):
        parts.append(f">= {line['minimum']}")
    if line.get("maximum"):
        parts.append(f"<= {line['maximum']}")
    return ", ".join(parts)


def assessment_rows(assessment: LotAssessment) -> list[AssessmentLineRow]:
    rows = []
    for line in sorted(assessment.outcome.get("lines", []), key=lambda item: item.get("position") or 0):
        verdict = line.get("verdict")
        rows.append(
            AssessmentLineRow(
                label=line.get("label") or line.get("quantity") or "",
                value=_shown_value(line),
                unit=line.get("unit") or "",
                limit=_shown_limit(line),
                verdict=verdict,
                verdict_label=VERDICT_LABELS.get(verdict or "", verdict or "no verdict"),
                reason=line.get("reason") or "",
            )
        )
    return rows
