"""Reads for QA's work: the QA dashboard (lots by what holds them), a lot's flag panel, one flag,
and what still holds a lot on hold. Scoped to the actor; lab staff only (flags and assessments
are the lab's working records, so a partner user sees none of it, as if there were nothing).

The dashboard's page of lots costs a fixed number of queries whatever its length: the lots with
their latest assessment's id and whether they have open or acknowledged flags (subqueries), then
one query for those assessments and one for the page's unresolved flags.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When

from assays.errors import NotFoundError
from assays.models import AssessmentStatus, Flag, FlagKind, FlagStatus, Lot, LotAssessment, LotStatus, Product
from assays.permissions import Capability, can
from assays.roles import is_staff_member
from assays.selectors.assessments import assessment_rows, flag_list
from assays.selectors.scoping import lot_visibility, visible_sites

QA_LOTS_PER_PAGE = 25
# Run and method flags listed on the dashboard; the rest are one filter away in the API.
OTHER_FLAGS_SHOWN = 50
# What a lot's latest assessment must be for the lot to leave hold.
RELEASABLE_ASSESSMENTS = frozenset({AssessmentStatus.CONFORMING, AssessmentStatus.NO_VERDICT})
UNRESOLVED = (FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED)

FLAG_FILTER_CHOICES: tuple[tuple[str, str], ...] = (
    ("", "Any flags"),
    ("open", "Has open flags"),
    ("unresolved", "Has open or acknowledged flags"),
    ("none", "No unresolved flags"),
)


def _is_lab(actor: User | AnonymousUser) -> bool:
    return is_staff_member(actor) or bool(getattr(actor, "is_superuser", False))


def qa_lot_queryset(*, actor: User | AnonymousUser) -> QuerySet[Lot]:
    """Lots whose flags and hold the actor may see: lab staff, by site. (A lab scope joins nothing,
    so no row repeats and no DISTINCT is needed.)"""
    if not _is_lab(actor):
        return Lot.objects.none()
    return Lot.objects.filter(lot_visibility(actor=actor))


def qa_lot_get(*, actor: User | AnonymousUser, code: str) -> Lot:
    lot = None if "\x00" in code else qa_lot_queryset(actor=actor).select_related("site", "product").filter(code=code).first()
    if lot is None:
        raise NotFoundError(f"no lot {code!r}")
    return lot


def flag_get(*, actor: User | AnonymousUser, flag_id: int) -> Flag:
    """One flag the actor may see, with who raised, acknowledged and resolved it."""
    flag = (
        flag_list(actor=actor)
        .select_related("lot__site", "lot__product", "run__site", "raised_by", "acknowledged_by", "resolved_by")
        .filter(pk=flag_id)
        .first()
    )
    if flag is None:
        raise NotFoundError(f"no flag {flag_id}")
    return flag


# --- What holds a lot -------------------------------------------------------------------------------


def _flag_phrase(flag: Flag) -> str:
    return f"flag {flag.pk} ({flag.get_kind_display().lower()}) is {flag.get_status_display().lower()}"


def hold_release_blockers(*, lot: Lot) -> list[str]:
    """Why ``lot`` may not leave hold now, each reason a phrase; empty when it may. Not scoped:
    the caller has the lot from a scoped read. The same list the service refuses with and the
    page shows beside a disabled "Release hold"."""
    blockers: list[str] = []
    unresolved = list(Flag.objects.filter(lot=lot, status__in=UNRESOLVED).order_by("raised_at", "pk"))
    if unresolved:
        blockers.append("; ".join(_flag_phrase(flag) for flag in unresolved) + " (resolve every flag on the lot first)")
    latest = LotAssessment.objects.filter(lot=lot).order_by("-assessed_at", "-id").only("status", "assessed_at").first()
    if latest is None:
        blockers.append("it has not been assessed")
    elif latest.status not in RELEASABLE_ASSESSMENTS:
        blockers.append(
            f"its latest assessment ({latest.assessed_at:%Y-%m-%d %H:%M}) is {latest.get_status_display().lower()}, "
            "not conforming: results that conform must be assessed first"
        )
    if lot.assessment_stale_since is not None:
        blockers.append(
            f"its results changed at {lot.assessment_stale_since:%Y-%m-%d %H:%M}, after its latest assessment: wait for the new assessment"
        )
    return blockers


def flag_summary(flag: Flag) -> list[str]:
    """What the flag is about, in a few lines for the page (its ``details`` vary by kind)."""
    details: dict[str, Any] = flag.details if isinstance(flag.details, dict) else {}
    lines: list[str] = []
    for line in details.get("lines") or []:
        if isinstance(line, dict):
            label, reason = line.get("label") or "", line.get("reason") or line.get("verdict") or ""
            lines.append(f"{label}: {reason}" if label else str(reason))
    missing_by_sample = details.get("missing")
    for sample, missing in missing_by_sample.items() if isinstance(missing_by_sample, dict) else []:
        if isinstance(missing, list):
            lines.append(f"sample {sample} lacks {', '.join(str(item) for item in missing)}")
    if flag.kind == FlagKind.QC_FAILURE and "failed_checks" in details:
        lines.append(f"{details['failed_checks']} QC check(s) failed under {details.get('rule_pack', 'its rule pack')}")
    if details.get("why"):
        lines.append(str(details["why"]))
    return lines


# --- A lot's flag panel -----------------------------------------------------------------------------


def _why_not(actor: User | AnonymousUser) -> str:
    if not can(actor, Capability.ACT_ON_FLAGS):
        return "Your role does not act on flags: QA acknowledges and resolves them, and releases or rejects a lot on hold."
    return ""


@dataclass(frozen=True)
class LotFlagPanel:
    """The lot page's flag card, and the dashboard's per-lot review."""

    lot: Lot
    unresolved: list[Flag]
    resolved: list[Flag]
    why_not: str  # why this user sees no forms ("" when they do)
    blockers: list[str]  # why the lot may not leave hold (only for a lot on hold)

    @property
    def can_act(self) -> bool:
        return not self.why_not

    @property
    def on_hold(self) -> bool:
        return self.lot.status == LotStatus.ON_HOLD

    @property
    def can_release(self) -> bool:
        return self.can_act and self.on_hold and not self.blockers


def lot_flag_panel(*, actor: User | AnonymousUser, lot: Lot) -> LotFlagPanel | None:
    """The panel of a lot the actor may see; None for anyone outside the lab or the lot's scope."""
    if not qa_lot_queryset(actor=actor).filter(pk=lot.pk).exists():
        return None
    flags = list(Flag.objects.filter(lot=lot).select_related("raised_by", "acknowledged_by", "resolved_by").order_by("-raised_at", "-id"))
    return LotFlagPanel(
        lot=lot,
        unresolved=[flag for flag in flags if flag.status != FlagStatus.RESOLVED],
        resolved=[flag for flag in flags if flag.status == FlagStatus.RESOLVED],
        why_not=_why_not(actor),
        blockers=hold_release_blockers(lot=lot) if lot.status == LotStatus.ON_HOLD else [],
    )


# --- The dashboard ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QaFilters:
    """Valid filters only (the form drops a tampered value); empty means any."""

    status: str = ""
    product: str = ""  # product code
    site: str = ""  # site code
    flags: str = ""  # one of FLAG_FILTER_CHOICES


@dataclass(frozen=True)
class StatusCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class QaLotRow:
    lot: Lot
    open_flags: int
    acknowledged_flags: int
    kinds: list[str]  # labels of the kinds of the unresolved flags, sorted
    assessment_status: str  # "" when not assessed
    assessment_label: str
    relative_purity: str  # "99.95 ± 0.02" (rounded as on the lot page), "" when none

    @property
    def is_stale(self) -> bool:
        return self.lot.assessment_stale_since is not None


@dataclass(frozen=True)
class QaDashboard:
    by_status: list[StatusCount]
    page: Page[Lot]
    rows: list[QaLotRow]
    other_flags: list[Flag]  # unresolved run and method flags, newest first
    other_flags_total: int

    @property
    def lots_total(self) -> int:
        return sum(item.count for item in self.by_status)


def qa_lots(*, actor: User | AnonymousUser, filters: QaFilters) -> QuerySet[Lot]:
    """Visible lots, those with open flags first, then those with acknowledged ones, then the rest;
    newest first within each group."""
    unresolved = Flag.objects.filter(lot=OuterRef("pk"))
    latest = LotAssessment.objects.filter(lot=OuterRef("pk")).order_by("-assessed_at", "-id")
    lots = (
        qa_lot_queryset(actor=actor)
        .select_related("site", "product")
        .annotate(
            has_open=Exists(unresolved.filter(status=FlagStatus.OPEN)),
            has_acknowledged=Exists(unresolved.filter(status=FlagStatus.ACKNOWLEDGED)),
            latest_assessment_id=Subquery(latest.values("pk")[:1]),
        )
    )
    if filters.status:
        lots = lots.filter(status=filters.status)
    if filters.product:
        lots = lots.filter(product__code=filters.product)
    if filters.site:
        lots = lots.filter(site__code=filters.site)
    if filters.flags == "open":
        lots = lots.filter(has_open=True)
    elif filters.flags == "unresolved":
        lots = lots.filter(Q(has_open=True) | Q(has_acknowledged=True))
    elif filters.flags == "none":
        lots = lots.filter(has_open=False, has_acknowledged=False)
    priority = Case(
        When(has_open=True, then=Value(0)), When(has_acknowledged=True, then=Value(1)), default=Value(2), output_field=IntegerField()
    )
    return lots.order_by(priority, "-created_at", "code")


def _relative_purity(assessment: LotAssessment) -> str:
    for row in assessment_rows(assessment):
        if row.quantity == "relative_purity":
            return "" if row.value == "—" else f"{row.value} {row.unit}".strip()
    return ""


def _rows(lots: list[Lot]) -> list[QaLotRow]:
    """The page's rows: two queries for any number of lots."""
    ids = [lot.pk for lot in lots]
    flags: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for lot_id, kind, status in Flag.objects.filter(lot_id__in=ids, status__in=UNRESOLVED).values_list("lot_id", "kind", "status"):
        flags[lot_id].append((kind, status))
    assessment_ids = [pk for lot in lots if (pk := getattr(lot, "latest_assessment_id", None)) is not None]
    assessments = {item.pk: item for item in LotAssessment.objects.filter(pk__in=assessment_ids).only("pk", "lot_id", "status", "outcome")}
    kind_labels = dict(FlagKind.choices)
    rows = []
    for lot in lots:
        lot_flags = flags.get(lot.pk, [])
        assessment = assessments.get(getattr(lot, "latest_assessment_id", None) or 0)
        rows.append(
            QaLotRow(
                lot=lot,
                open_flags=sum(1 for _, status in lot_flags if status == FlagStatus.OPEN),
                acknowledged_flags=sum(1 for _, status in lot_flags if status == FlagStatus.ACKNOWLEDGED),
                kinds=sorted({str(kind_labels.get(kind, kind)) for kind, _ in lot_flags}),
                assessment_status=assessment.status if assessment is not None else "",
                assessment_label=assessment.get_status_display() if assessment is not None else "",
                relative_purity=_relative_purity(assessment) if assessment is not None else "",
            )
        )
    return rows


def qa_dashboard(*, actor: User | AnonymousUser, filters: QaFilters, page: str | int | None = None) -> QaDashboard:
    """The dashboard for ``actor``: lots by status, one page of lots in QA's order, and the
    unresolved run and method flags. A fixed number of queries whatever the page holds."""
    counts = {row["status"]: row["n"] for row in qa_lot_queryset(actor=actor).order_by().values("status").annotate(n=Count("pk"))}
    by_status = [StatusCount(value=str(value), label=str(label), count=counts.get(value, 0)) for value, label in LotStatus.choices]
    # get_page turns a missing, non-numeric or out-of-range page into a valid one: never a 500.
    lot_page = Paginator(qa_lots(actor=actor, filters=filters), QA_LOTS_PER_PAGE).get_page(page)
    others = flag_list(actor=actor).filter(lot__isnull=True, status__in=UNRESOLVED)
    other_flags = list(others.select_related("run__site", "acknowledged_by")[:OTHER_FLAGS_SHOWN])
    total = len(other_flags) if len(other_flags) < OTHER_FLAGS_SHOWN else others.count()
    return QaDashboard(
        by_status=by_status,
        page=lot_page,
        rows=_rows(list(lot_page.object_list)),
        other_flags=other_flags,
        other_flags_total=total,
    )


def qa_filter_choices(*, actor: User | AnonymousUser) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The products (master data, lab-wide) and the actor's sites the dashboard filters by, as (code, name)."""
    if not _is_lab(actor):
        return [], []
    products = list(Product.objects.order_by("code").values_list("code", "name"))
    sites = list(visible_sites(actor=actor).order_by("code").values_list("code", "name"))
    return products, sites
