"""Reads of lot assessments and flags, scoped to the actor, and their shapes for the CLI, API and page.

Assessments are the lab's working judgement until release to partners is designed (a later issue):
partner users see none yet, exactly as if the lot had not been assessed. Flags are the lab's too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from assays.chemistry.rounding import RoundingError, format_decimal, limit_places, round_half_even, round_with_uncertainty
from assays.models import AssessmentStatus, Flag, Lot, LotAssessment
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
        "payable": payable_json(assessment),
    }


# --- Payable composition (feedstock: a report of analysis, no verdict) ------------------------------

# The lines that are a mass fraction of the lot's material, hence a payable content.
PAYABLE_QUANTITIES = frozenset({"treo", "main_oxide", "oxide", "element"})
_UNITS_PER_PERCENT = {"%": 1, "mg/kg": 10_000}


@dataclass(frozen=True)
class PayableLine:
    """One payable line at full precision: content in % of the lot's material, mass in kg."""

    quantity: str
    label: str
    oxide: str | None
    percent: float | None  # best estimate; None when censored or not determinable
    expanded_u_percent: float | None  # U (k = 2); None when censored or unknown
    censored: bool
    lod: float | None  # the lot's LOD in %, when censored
    mass_kg: Decimal | None  # lot mass times content; None without a lot mass or a content
    mass_u_kg: Decimal | None  # lot mass times U: the lot's weighed mass is taken as exact
    lot_mass_kg: Decimal | None


def payable_lines(assessment: LotAssessment) -> list[PayableLine] | None:
    """The payable composition of a report-only (no verdict) assessment, in the spec's order; None
    for an assessment with verdicts, whose lines are judged rather than paid for."""
    if assessment.status != AssessmentStatus.NO_VERDICT:
        return None
    lot_mass = assessment.lot.mass_kg
    payable = []
    for line in sorted(assessment.outcome.get("lines", []), key=lambda item: item.get("position") or 0):
        per_percent = _UNITS_PER_PERCENT.get(line.get("unit") or "")
        if line.get("quantity") not in PAYABLE_QUANTITIES or per_percent is None:
            continue
        censored = bool(line.get("censored"))
        best, u, lod = line.get("best"), line.get("expanded_u"), line.get("lod")
        percent = best / per_percent if best is not None and not censored else None
        u_percent = u / per_percent if u is not None and percent is not None else None
        mass = u_mass = None
        if lot_mass is not None and percent is not None:
            # Decimal through the float's shortest form, as rounding reads it: no binary noise.
            mass = lot_mass * Decimal(repr(percent)) / 100
            if u_percent is not None:
                u_mass = lot_mass * Decimal(repr(u_percent)) / 100
        payable.append(
            PayableLine(
                quantity=line["quantity"],
                label=_quantity_label(line),
                oxide=line.get("label") if line.get("quantity") == "oxide" else None,
                percent=percent,
                expanded_u_percent=u_percent,
                censored=censored,
                lod=lod / per_percent if censored and lod is not None else None,
                mass_kg=mass,
                mass_u_kg=u_mass,
                lot_mass_kg=lot_mass,
            )
        )
    return payable


def payable_json(assessment: LotAssessment) -> list[dict[str, Any]] | None:
    lines = payable_lines(assessment)
    if lines is None:
        return None
    return [
        {
            "quantity": line.quantity,
            "label": line.label,
            "oxide": line.oxide,
            "percent": line.percent,
            "expanded_u_percent": line.expanded_u_percent,
            "censored": line.censored,
            "lod": line.lod,
            "mass_kg": float(line.mass_kg) if line.mass_kg is not None else None,
            "mass_u_kg": float(line.mass_u_kg) if line.mass_u_kg is not None else None,
        }
        for line in lines
    ]


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
    quantity: str = ""  # as in the specification: relative_purity, oxide, loi, ...


# Decimal places of a value shown without U (a typed-in result has no uncertainty model): two
# beyond the last written digit of the line's limit, else four significant figures. Rounded so,
# never shown with a float's seventeen digits; the missing "± U" says no precision is claimed.
EXTRA_PLACES_WITHOUT_U = 2
SIGNIFICANT_FIGURES_WITHOUT_U = 4
# Payable content without U in % and payable mass without U in kg, to these places.
PAYABLE_PERCENT_PLACES_WITHOUT_U = 2
PAYABLE_KG_PLACES_WITHOUT_U = 1

_QUANTITY_LABELS = {
    "relative_purity": "Relative purity",
    "treo": "TREO",
    "main_oxide": "Main oxide",
    "loi": "LOI",
    "sum_re_impurities": "Σ rare-earth impurity oxides",
    "sum_non_re": "Σ non-rare-earth impurity oxides",
}


def _quantity_label(line: dict[str, Any]) -> str:
    """What a line is, in words: the oxide, element or anion it names, else its quantity."""
    quantity = line.get("quantity") or ""
    return _QUANTITY_LABELS.get(quantity) or line.get("label") or quantity


def _two_figures(number: float) -> str:
    """A detection limit to two significant figures, as an uncertainty is reported (REO-ASSAY.md §5)."""
    shown, _ = round_with_uncertainty(value=number, expanded_uncertainty=abs(number))
    return format_decimal(shown)


def _censored_text(lod: float | None) -> str:
    return f"< LOD {_two_figures(lod)}" if lod is not None else "< LOD"


def _with_uncertainty(value: float | Decimal, uncertainty: float | Decimal | None, *, places_without_u: int) -> str:
    """ "value ± U" with U to two significant figures and the value to U's place; without U, the
    value to ``places_without_u`` decimal places."""
    shown, shown_u = round_with_uncertainty(value=value, expanded_uncertainty=uncertainty)
    if shown_u is None:
        return format_decimal(round_half_even(value, places=places_without_u))
    return f"{format_decimal(shown)} ± {format_decimal(shown_u)}"


def _places_without_u(line: dict[str, Any], best: float) -> int:
    limit = line.get("minimum") or line.get("maximum")
    if isinstance(limit, str) and limit:
        try:
            return limit_places(limit) + EXTRA_PLACES_WITHOUT_U
        except RoundingError:
            pass  # a limit that is not a number: fall back to significant figures
    if best == 0:
        return SIGNIFICANT_FIGURES_WITHOUT_U - 1
    return SIGNIFICANT_FIGURES_WITHOUT_U - 1 - Decimal(repr(best)).adjusted()


def _shown_value(line: dict[str, Any]) -> str:
    best = line.get("best")
    if line.get("censored"):
        # Every sample below its LOD: the LOD, never the LOD/2 best estimate as if measured.
        return _censored_text(line.get("lod"))
    if best is None:
        return "—"
    return _with_uncertainty(best, line.get("expanded_u"), places_without_u=_places_without_u(line, best))


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
                label=_quantity_label(line),
                value=_shown_value(line),
                unit=line.get("unit") or "",
                limit=_shown_limit(line),
                verdict=verdict,
                verdict_label=VERDICT_LABELS.get(verdict or "", verdict or "no verdict"),
                reason=line.get("reason") or "",
                quantity=line.get("quantity") or "",
            )
        )
    return rows


def report_rows(assessment: LotAssessment) -> list[AssessmentLineRow]:
    """The lines of a report-only assessment that are not payable (LOI, anions, ratios): shown
    beside the payable composition, without verdicts. Empty for an assessment with verdicts."""
    if assessment.status != AssessmentStatus.NO_VERDICT:
        return []
    return [row for row in assessment_rows(assessment) if row.quantity not in PAYABLE_QUANTITIES]


@dataclass(frozen=True)
class PayableRow:
    """One line of the lot page's payable composition, rounded for display only."""

    label: str
    content: str  # "% ± U", "< LOD x" or "—"
    mass: str  # "kg ± U", "< x" (the lot mass times the LOD) or "—"


def payable_rows(assessment: LotAssessment) -> list[PayableRow]:
    rows = []
    for line in payable_lines(assessment) or []:
        if line.censored:
            content = _censored_text(line.lod)
            bound = line.lot_mass_kg * Decimal(repr(line.lod)) / 100 if line.lot_mass_kg is not None and line.lod is not None else None
            mass = f"< {_two_figures(float(bound))}" if bound is not None else "—"
        elif line.percent is None:
            content, mass = "—", "—"
        else:
            content = _with_uncertainty(line.percent, line.expanded_u_percent, places_without_u=PAYABLE_PERCENT_PLACES_WITHOUT_U)
            mass = "—"
            if line.mass_kg is not None:
                mass = _with_uncertainty(line.mass_kg, line.mass_u_kg, places_without_u=PAYABLE_KG_PLACES_WITHOUT_U)
        rows.append(PayableRow(label=line.label, content=content, mass=mass))
    return rows
