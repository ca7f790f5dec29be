"""Reads for the Specifications page and the reassessment API: products with their active
specification, its lines, and the product's reassessments with their progress.

Lab staff only: anyone else gets ``NotFoundError``, as for something that does not exist.
Specifications and products are master data, the same for every site; a reassessment's counts are
over the product's lots at every site (numbers only, no lot is named).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, OuterRef, Prefetch, Subquery

from assays.errors import NotFoundError
from assays.models import Product, Reassessment, Specification, SpecificationLine, SpecificationStatus
from assays.roles import is_staff_member

RECENT_REASSESSMENTS = 10


def _require_lab(actor: User | AnonymousUser) -> None:
    if not (is_staff_member(actor) or bool(getattr(actor, "is_superuser", False))):
        raise NotFoundError("no such page")


@dataclass(frozen=True)
class ProductRow:
    product: Product
    active: Specification | None
    line_count: int
    latest: Reassessment | None


def specification_overview(*, actor: User | AnonymousUser) -> list[ProductRow]:
    """Every product, with its active specification (version, line count) and latest reassessment."""
    _require_lab(actor)
    active = Specification.objects.filter(status=SpecificationStatus.ACTIVE).annotate(line_count=Count("lines"))
    newest = Reassessment.objects.filter(product=OuterRef("pk")).order_by("-requested_at", "-id").values("pk")[:1]
    products = list(
        Product.objects.order_by("code")
        .annotate(latest_reassessment_id=Subquery(newest))
        .prefetch_related(Prefetch("specifications", queryset=active, to_attr="active_specs"))
    )
    ids = [wanted for product in products if (wanted := getattr(product, "latest_reassessment_id", None)) is not None]
    latest = Reassessment.objects.in_bulk(ids)
    rows = []
    for product in products:
        specs: list[Specification] = getattr(product, "active_specs", [])
        spec = specs[0] if specs else None
        reassessment = latest.get(getattr(product, "latest_reassessment_id", None) or 0)
        rows.append(ProductRow(product, spec, int(getattr(spec, "line_count", 0)) if spec else 0, reassessment))
    return rows


@dataclass(frozen=True)
class ProductSpecification:
    product: Product
    active: Specification | None
    lines: list[SpecificationLine]
    versions: int
    reassessments: list[Reassessment]

    @property
    def running(self) -> bool:
        return any(not reassessment.is_finished for reassessment in self.reassessments)


def product_specification(*, actor: User | AnonymousUser, code: str) -> ProductSpecification:
    """A product's active specification with its lines, and its latest reassessments."""
    _require_lab(actor)
    product = Product.objects.filter(code=code).first()
    if product is None:
        raise NotFoundError(f"no product {code!r}")
    active = Specification.objects.filter(product=product, status=SpecificationStatus.ACTIVE).first()
    lines = list(active.lines.select_related("element", "oxide").order_by("position")) if active is not None else []
    reassessments = list(
        Reassessment.objects.filter(product=product)
        .select_related("specification", "requested_by", "product")
        .order_by("-requested_at", "-id")[:RECENT_REASSESSMENTS]
    )
    return ProductSpecification(
        product=product,
        active=active,
        lines=lines,
        versions=Specification.objects.filter(product=product).count(),
        reassessments=reassessments,
    )


def reassessment_get(*, actor: User | AnonymousUser, reassessment_id: int) -> Reassessment:
    _require_lab(actor)
    reassessment = Reassessment.objects.select_related("product", "specification", "requested_by").filter(pk=reassessment_id).first()
    if reassessment is None:
        raise NotFoundError(f"no reassessment {reassessment_id}")
    return reassessment
