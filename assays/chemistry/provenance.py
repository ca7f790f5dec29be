"""Provenance of a lot through its genealogy (REO-ASSAY.md §7), pure.

The genealogy is a graph of edges "``mass_used_kg`` of lot A went into lot B". A product lot's
feedstock share is traced down every path: along an edge, the input's share of the output is
its mass over all the output's inputs, and shares multiply along a path and add over paths.

Recycled content is a mass balance on a TREO basis: each feedstock counts by the rare-earth oxide
it brought (its traced mass times its TREO fraction), so a tonne of swarf at 30 % TREO and a
tonne of concentrate at 90 % do not weigh the same. When a feedstock's TREO is unknown the TREO
basis is not determinable, and the mass-basis figure is given instead, labelled as such.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Edge:
    input_lot: str
    output_lot: str
    mass_used_kg: float


@dataclass(frozen=True, slots=True)
class FeedstockShare:
    lot: str
    share: float  # fraction of the product's traced input mass, 0 to 1
    treo_fraction: float | None  # the feedstock's TREO as a fraction, when assessed
    is_recycled: bool


@dataclass(frozen=True, slots=True)
class RecycledContent:
    percent: float | None
    basis: str  # "TREO" or "mass" (when some feedstock's TREO is unknown), or "" with no feedstock
    note: str


def feedstock_shares(*, lot: str, edges: Sequence[Edge], max_depth: int = 32) -> dict[str, float]:
    """Each root input lot's share (0 to 1) of ``lot``, traced through intermediates.

    A lot with no inputs is a root; ``lot`` itself, when it has no inputs, gives an empty map.
    """
    inputs: dict[str, list[Edge]] = defaultdict(list)
    for edge in edges:
        if edge.mass_used_kg > 0:
            inputs[edge.output_lot].append(edge)
    shares: dict[str, float] = defaultdict(float)

    def walk(node: str, weight: float, depth: int) -> None:
        if depth > max_depth:
            raise ValueError(f"genealogy deeper than {max_depth} levels below {lot}: a cycle?")
        parents = inputs.get(node, [])
        if not parents:
            if node != lot:
                shares[node] += weight
            return
        total = sum(edge.mass_used_kg for edge in parents)
        for edge in parents:
            walk(edge.input_lot, weight * edge.mass_used_kg / total, depth + 1)

    walk(lot, 1.0, 0)
    return dict(shares)


def recycled_content(*, feedstocks: Sequence[FeedstockShare]) -> RecycledContent:
    """Recycled share of the rare-earth oxide a lot came from, by mass balance."""
    if not feedstocks:
        return RecycledContent(None, "", "no feedstock lots recorded in the genealogy")
    mass_total = sum(item.share for item in feedstocks)
    mass_recycled = sum(item.share for item in feedstocks if item.is_recycled)
    unknown = [item.lot for item in feedstocks if item.treo_fraction is None]
    if unknown:
        percent = 100.0 * mass_recycled / mass_total if mass_total > 0 else None
        return RecycledContent(percent, "mass", f"TREO not assessed for {', '.join(sorted(unknown))}: recycled content on a mass basis")
    treo_total = sum(item.share * (item.treo_fraction or 0.0) for item in feedstocks)
    if treo_total <= 0:
        return RecycledContent(None, "TREO", "the feedstock lots carry no rare-earth oxide")
    treo_recycled = sum(item.share * (item.treo_fraction or 0.0) for item in feedstocks if item.is_recycled)
    return RecycledContent(100.0 * treo_recycled / treo_total, "TREO", "mass balance on a TREO basis")


def countries(values: Mapping[str, str]) -> list[str]:
    """Distinct ISO country codes, sorted, blanks dropped."""
    return sorted({value for value in values.values() if value})
