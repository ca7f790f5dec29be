"""The relative purity of a product's lots over time, for the trend chart on a lot's page.

One point per lot: its **latest** assessment's relative-purity line (best estimate, expanded U,
verdict, the minimum it was judged against), as the lot page shows that lot's own assessment.
Only lots the actor may see count (``lot_visibility``), and like every assessment read, partner
users see none until release to partners is designed.

Two queries whatever the number of lots: the lots with their latest assessment's id (a correlated
subquery, portable to SQLite, where PostgreSQL's DISTINCT ON is not), then those assessments'
outcomes. Only the newest ``limit`` lots are read, so a product with years of production does not
load every outcome for one chart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, OuterRef, Subquery

from assays.models import Lot, LotAssessment
from assays.roles import is_staff_member
from assays.selectors.scoping import lot_visibility

# Lots on one chart: enough for a year of daily lots to read as a trend, few enough for the
# points to stay apart on a page-wide chart.
TREND_LOT_LIMIT = 60
RELATIVE_PURITY = "relative_purity"


@dataclass(frozen=True, slots=True)
class PurityTrendPoint:
    lot_code: str
    produced_on: dt.date | None
    relative_purity_pct: float | None  # best estimate; None when the lot's assessment has no value
    expanded_u_pct: float | None  # U (k = 2); None when unknown
    verdict: str | None  # pass, fail, inconclusive, not_determinable; None without a limit
    minimum: str | None  # the limit as written in the specification version judged against
    is_current: bool


@dataclass(frozen=True, slots=True)
class PurityTrend:
    product_code: str
    points: tuple[PurityTrendPoint, ...]  # oldest first (produced_on, then code)
    limit: int
    truncated: bool  # older lots were left out

    @property
    def spec_minimum(self) -> str | None:
        """The minimum to draw: the one this lot was judged against, else the newest lot's."""
        current = [point.minimum for point in self.points if point.is_current and point.minimum]
        if current:
            return current[0]
        return next((point.minimum for point in reversed(self.points) if point.minimum), None)

    @property
    def includes_current(self) -> bool:
        return any(point.is_current for point in self.points)


def _relative_purity_line(outcome: Any) -> dict[str, Any] | None:
    if not isinstance(outcome, dict):
        return None
    for line in outcome.get("lines") or []:
        if isinstance(line, dict) and line.get("quantity") == RELATIVE_PURITY:
            return line
    return None


def _number(value: Any) -> float | None:
    # bool is an int to Python; stored JSON never holds one here, but never plot True as 1 %.
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def purity_trend(*, actor: User | AnonymousUser, lot: Lot, limit: int = TREND_LOT_LIMIT) -> PurityTrend | None:
    """The relative-purity trend of ``lot``'s product, or None when the lot has no product or the
    actor may not see assessments (partner users, anyone outside the lab)."""
    if limit < 1:
        raise ValueError(f"a trend needs at least one lot, not {limit}")
    if lot.product_id is None or not (is_staff_member(actor) or getattr(actor, "is_superuser", False)):
        return None
    latest = LotAssessment.objects.filter(lot=OuterRef("pk")).order_by("-assessed_at", "-id").values("pk")[:1]
    # Newest first to cut at ``limit`` (one extra row tells whether older lots were left out);
    # a lot without a production date is taken as the newest (registered, not yet dated).
    rows = list(
        Lot.objects.filter(product_id=lot.product_id)
        .filter(lot_visibility(actor=actor))
        .annotate(latest_assessment_id=Subquery(latest))
        .filter(latest_assessment_id__isnull=False)
        .order_by(F("produced_on").desc(nulls_first=True), "-code")
        .values_list("pk", "code", "produced_on", "latest_assessment_id", "product__code")[: limit + 1]
    )
    truncated = len(rows) > limit
    rows = rows[:limit]
    outcomes = dict(LotAssessment.objects.filter(pk__in=[row[3] for row in rows]).values_list("pk", "outcome"))
    points = []
    for pk, code, produced_on, assessment_id, _ in reversed(rows):
        line = _relative_purity_line(outcomes.get(assessment_id)) or {}
        minimum = line.get("minimum")
        points.append(
            PurityTrendPoint(
                lot_code=code,
                produced_on=produced_on,
                relative_purity_pct=_number(line.get("best")),
                expanded_u_pct=_number(line.get("expanded_u")),
                verdict=line.get("verdict") if isinstance(line.get("verdict"), str) else None,
                minimum=minimum if isinstance(minimum, str) and minimum else None,
                is_current=pk == lot.pk,
            )
        )
    # The product's code comes with the lots; only a trend without any reads the lot's product.
    product_code = rows[0][4] if rows else (lot.product.code if lot.product is not None else "")
    return PurityTrend(product_code=product_code, points=tuple(points), limit=limit, truncated=truncated)
