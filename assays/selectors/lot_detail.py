"""Reads for one lot's page: its samples, genealogy, allocations and custody, scoped to the actor.

Every function re-applies the lot visibility rule through the relation it reads, so handing one a
lot the actor may not see returns nothing rather than leaking rows. Each is one query (related rows
joined), so the page costs a fixed number of queries whatever the lot holds.

What partner users see is deliberately narrower than what the lab sees: samples and custody are the
lab's internal records, another customer's allocation is that customer's business, and a genealogy
edge is shown only when the partner may see the lot at its other end too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.utils.safestring import SafeString, mark_safe

from assays.errors import NotFoundError
from assays.models import CustodyEvent, Lot, LotAllocation, LotInput, Sample
from assays.roles import is_staff_member
from assays.selectors.lots import lot_list
from assays.selectors.purity_trend import PurityTrend, purity_trend
from assays.selectors.scoping import acting_partner, lot_visibility
from assays.stats.trend_svg import TrendPoint, purity_trend_svg

LOT_CODE_MAX_LENGTH = Lot._meta.get_field("code").max_length or 0


def _sees_lab_records(actor: User | AnonymousUser) -> bool:
    return is_staff_member(actor) or bool(getattr(actor, "is_superuser", False))


def lot_samples(*, actor: User | AnonymousUser, lot: Lot) -> QuerySet[Sample]:
    if not _sees_lab_records(actor):
        return Sample.objects.none()
    return (
        Sample.objects.filter(lot=lot)
        .filter(lot_visibility(actor=actor, prefix="lot__"))
        .distinct()
        .select_related("site", "registered_by")
        .order_by("code")
    )


def lot_inputs(*, actor: User | AnonymousUser, lot: Lot) -> QuerySet[LotInput]:
    """The lots consumed to make ``lot``, with the mass of each."""
    edges = LotInput.objects.filter(output_lot=lot).filter(lot_visibility(actor=actor, prefix="output_lot__"))
    if not _sees_lab_records(actor):
        edges = edges.filter(lot_visibility(actor=actor, prefix="input_lot__"))
    return edges.distinct().select_related("input_lot", "input_lot__site").order_by("input_lot__code")


def lot_outputs(*, actor: User | AnonymousUser, lot: Lot) -> QuerySet[LotInput]:
    """The lots that ``lot`` went into, with the mass used by each."""
    edges = LotInput.objects.filter(input_lot=lot).filter(lot_visibility(actor=actor, prefix="input_lot__"))
    if not _sees_lab_records(actor):
        edges = edges.filter(lot_visibility(actor=actor, prefix="output_lot__"))
    return edges.distinct().select_related("output_lot", "output_lot__site").order_by("output_lot__code")


def lot_allocations(*, actor: User | AnonymousUser, lot: Lot) -> QuerySet[LotAllocation]:
    allocations = LotAllocation.objects.filter(lot=lot).filter(lot_visibility(actor=actor, prefix="lot__"))
    if not _sees_lab_records(actor):
        partner = acting_partner(actor=actor)
        if partner is None:
            return LotAllocation.objects.none()
        allocations = allocations.filter(customer=partner)
    return allocations.distinct().select_related("customer").order_by("customer__code")


def lot_custody_events(*, actor: User | AnonymousUser, lot: Lot) -> QuerySet[CustodyEvent]:
    """The chain of custody of every sample of ``lot``, oldest first."""
    if not _sees_lab_records(actor):
        return CustodyEvent.objects.none()
    return (
        CustodyEvent.objects.filter(sample__lot=lot)
        .filter(lot_visibility(actor=actor, prefix="sample__lot__"))
        .distinct()
        .select_related("sample", "actor", "to_site", "to_partner")
        .order_by("at", "id")
    )


@dataclass(frozen=True)
class LotDetail:
    lot: Lot
    samples: list[Sample]
    inputs: list[LotInput]
    outputs: list[LotInput]
    allocations: list[LotAllocation]
    custody_events: list[CustodyEvent]
    # Lots at the other end of a genealogy edge that the actor may open (the rest show unlinked).
    openable_lot_ids: frozenset[int]
    shows_lab_records: bool

    @property
    def inputs_kg(self) -> Decimal:
        return sum((edge.mass_used_kg for edge in self.inputs), Decimal(0))

    @property
    def outputs_kg(self) -> Decimal:
        return sum((edge.mass_used_kg for edge in self.outputs), Decimal(0))

    @property
    def allocated_kg(self) -> Decimal:
        return sum((allocation.mass_kg for allocation in self.allocations), Decimal(0))


def lot_detail(*, actor: User | AnonymousUser, code: str) -> LotDetail:
    """Everything the lot page shows, in a fixed number of queries.

    Raises ``NotFoundError`` for a lot the actor may not see, exactly as for a missing one.
    """
    # No stored code holds a NUL (PostgreSQL text cannot), and a query with one is a server error
    # there rather than a miss.
    if "\x00" in code or len(code) > LOT_CODE_MAX_LENGTH:
        raise NotFoundError(f"no lot {code!r}")
    lot = lot_list(actor=actor).select_related("created_by").filter(code=code).first()
    if lot is None:
        raise NotFoundError(f"no lot {code!r}")
    inputs = list(lot_inputs(actor=actor, lot=lot))
    outputs = list(lot_outputs(actor=actor, lot=lot))
    linked_ids = {edge.input_lot_id for edge in inputs} | {edge.output_lot_id for edge in outputs}
    openable: frozenset[int] = frozenset()
    if linked_ids:
        openable = frozenset(lot_list(actor=actor).filter(pk__in=linked_ids).values_list("pk", flat=True))
    return LotDetail(
        lot=lot,
        samples=list(lot_samples(actor=actor, lot=lot)),
        inputs=inputs,
        outputs=outputs,
        allocations=list(lot_allocations(actor=actor, lot=lot)),
        custody_events=list(lot_custody_events(actor=actor, lot=lot)),
        openable_lot_ids=openable,
        shows_lab_records=_sees_lab_records(actor),
    )


@dataclass(frozen=True)
class PurityTrendChart:
    trend: PurityTrend
    svg: SafeString  # one standalone <svg>, every text in it escaped by the renderer


def lot_purity_trend_chart(*, actor: User | AnonymousUser, lot: Lot) -> PurityTrendChart | None:
    """The relative-purity trend of ``lot``'s product as a chart, or None (no product, or an actor
    who may not see assessments). Two queries (``purity_trend``)."""
    trend = purity_trend(actor=actor, lot=lot)
    if trend is None:
        return None
    points = [
        TrendPoint(
            label=f"{point.lot_code} · {point.produced_on.isoformat()}" if point.produced_on else point.lot_code,
            value=point.relative_purity_pct,
            expanded_u=point.expanded_u_pct,
            verdict=point.verdict,
            current=point.is_current,
        )
        for point in trend.points
    ]
    svg = purity_trend_svg(title=f"Relative purity of {trend.product_code} lots", points=points, minimum=trend.spec_minimum)
    return PurityTrendChart(trend=trend, svg=mark_safe(svg))  # noqa: S308 - built by the escaping renderer
