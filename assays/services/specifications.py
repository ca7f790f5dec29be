"""Loading specifications: a validated specification file becomes the next version of its product's
specification, with its lines, in one audited transaction.

A version is never edited (lots are judged by it): a changed file makes version n+1 and, when
activated, retires the version that was active. The same content as the product's latest version
(by the SHA-256 of the canonical form, whatever the file's key order or layout) makes nothing.
Products are master data: a specification for a product that does not exist is refused, never
creates it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from assays.errors import PermissionDeniedError
from assays.models import (
    AuditAction,
    Element,
    Oxide,
    Product,
    Specification,
    SpecificationLine,
    SpecificationStatus,
)
from assays.permissions import Capability, can
from assays.services.audit import audit_record, audited_context, snapshot
from assays.services.reassessment import reassessment_on_activation
from assays.spec_schema import SpecDefinition, SpecError, parse_spec


@dataclass(frozen=True, slots=True)
class SpecLoadResult:
    specification: Specification
    # A new version was stored (False: the content equals the product's latest version).
    created: bool
    # The version became the active one by this call (a new version, or an unchanged draft).
    activated: bool = False


@dataclass(frozen=True, slots=True)
class ResolvedSpec:
    """A specification checked against the database: its product and reference rows."""

    definition: SpecDefinition
    product: Product
    elements: dict[str, Element]
    oxides: dict[str, Oxide]
    latest: Specification | None

    @property
    def unchanged(self) -> bool:
        return self.latest is not None and self.latest.content_sha256 == self.definition.content_sha256


def _spec_manager(actor: User | AnonymousUser | None) -> User:
    if not isinstance(actor, User) or not can(actor, Capability.MANAGE_SPECS):
        raise PermissionDeniedError("only a QA manager may load specifications")
    return actor


def specification_resolve(*, definition: SpecDefinition, file_name: str, lock: bool = False) -> ResolvedSpec:
    """Check what the file names against the database, writing nothing: the product (master data)
    and the Oxide rows (reference data). ``lock`` holds the product row for a load."""
    products = Product.objects.prefetch_related("main_oxides__element")
    if lock:
        products = products.select_for_update()
    product = products.filter(code=definition.product).first()
    if product is None:
        raise SpecError(
            file_name,
            [("product", f"no product {definition.product!r}: products are master data, a lab admin adds them in the admin first")],
        )
    problems: list[tuple[str, str]] = []
    product_main = sorted(oxide.element.symbol for oxide in product.main_oxides.all())
    if product_main and product_main != sorted(definition.main):
        formulas = ", ".join(oxide.formula for oxide in product.main_oxides.all())
        problems.append(("main", f"{list(definition.main)} is not the main component set of product {product.code} ({formulas})"))
    oxides = {oxide.formula: oxide for oxide in Oxide.objects.filter(formula__in=definition.oxide_formulas).select_related("element")}
    for index, line in enumerate(definition.lines):
        if line.oxide is not None and line.oxide not in oxides:
            problems.append((f"lines[{index}].oxide", f"the oxide {line.oxide} is not in the reference data (Oxide table)"))
        for position, formula in enumerate(line.ratio_oxides):
            if formula not in oxides:
                problems.append((f"lines[{index}].oxides[{position}]", f"the oxide {formula} is not in the reference data (Oxide table)"))
    symbols = {line.element for line in definition.lines if line.element is not None}
    elements = {element.symbol: element for element in Element.objects.filter(symbol__in=symbols)}
    for index, line in enumerate(definition.lines):
        if line.element is not None and line.element not in elements:
            problems.append((f"lines[{index}].element", f"the element {line.element} is not in the reference data (Element table)"))
    if problems:
        raise SpecError(file_name, problems)
    latest = Specification.objects.filter(product=product).order_by("-version").first()
    return ResolvedSpec(definition=definition, product=product, elements=elements, oxides=oxides, latest=latest)


def specification_check(*, data: Mapping[str, Any] | bytes | str, file_name: str) -> ResolvedSpec:
    """Validate a specification (schema and database references) without writing anything."""
    return specification_resolve(definition=parse_spec(data, file_name=file_name), file_name=file_name)


def specification_load(
    *,
    actor: User | AnonymousUser | None,
    data: Mapping[str, Any] | bytes | str,
    file_name: str,
    activate: bool = True,
    effective_from: dt.date | None = None,
) -> SpecLoadResult:
    """Load one specification (a decoded JSON object, or a file's bytes holding one).

    Version n+1 of the product's specification with its lines, active when ``activate`` (the
    active one is retired) or a draft; nothing when the content equals the latest version's.
    ``effective_from`` is used when the file names no date and the version is activated (default:
    today). Raises ``SpecError`` naming the file and field, ``PermissionDeniedError`` unless the
    actor may manage specifications.
    """
    user = _spec_manager(actor)
    definition = parse_spec(data, file_name=file_name)
    return specification_load_definition(
        actor=user, definition=definition, file_name=file_name, activate=activate, effective_from=effective_from
    )


@transaction.atomic
def specification_load_definition(
    *,
    actor: User | AnonymousUser | None,
    definition: SpecDefinition,
    file_name: str,
    activate: bool = True,
    effective_from: dt.date | None = None,
) -> SpecLoadResult:
    """``specification_load`` for a specification already parsed (``assays.spec_schema``)."""
    user = _spec_manager(actor)
    # The product row is locked so that two loads for one product cannot race for a version number.
    resolved = specification_resolve(definition=definition, file_name=file_name, lock=True)
    reason = f"specification loaded from {file_name}"
    latest = resolved.latest
    if resolved.unchanged and latest is not None:
        if not activate or latest.status == SpecificationStatus.ACTIVE:
            return SpecLoadResult(specification=latest, created=False)
        with audited_context(actor=user, reason=reason):
            _activate(user, latest, product=resolved.product, effective_from=definition.effective_from or effective_from, reason=reason)
            reassessment_on_activation(spec=latest, actor=user)
        return SpecLoadResult(specification=latest, created=False, activated=True)

    with audited_context(actor=user, reason=reason):
        if activate:
            _retire_active(user, product=resolved.product, reason=reason)
        spec = Specification.objects.create(
            product=resolved.product,
            version=(latest.version + 1) if latest is not None else 1,
            name=definition.name,
            grade=definition.grade,
            status=SpecificationStatus.ACTIVE if activate else SpecificationStatus.DRAFT,
            source=definition.source,
            effective_from=definition.effective_from or ((effective_from or timezone.localdate()) if activate else None),
            main_elements=list(definition.main),
            basis=definition.basis.value,
            treo_also_counts=list(definition.treo_also_counts),
            required_analytes=list(definition.required_analytes),
            content_sha256=definition.content_sha256,
        )
        SpecificationLine.objects.bulk_create(
            SpecificationLine(
                specification=spec,
                position=position,
                quantity=line.quantity.value,
                element=resolved.elements[line.element] if line.element is not None else None,
                oxide=resolved.oxides[line.oxide] if line.oxide is not None else None,
                anion=line.anion or "",
                ratio_oxides=list(line.ratio_oxides),
                minimum=line.minimum or "",
                maximum=line.maximum or "",
                unit=line.unit.value,
                comparison=line.comparison.value,
                rule=line.rule.value,
                source=line.source,
            )
            for position, line in enumerate(definition.lines, start=1)
        )
        # One event for the version; it carries the lines, so the trail is complete where there
        # is no row history (SQLite).
        audit_record(
            actor=user,
            action=AuditAction.CREATE,
            instance=spec,
            reason=reason,
            after={**snapshot(spec), "lines": [line.canonical() for line in definition.lines]},
            context={"file_name": file_name, "line_count": len(definition.lines), "activated": activate},
        )
        if activate:
            # The product's lots are judged by this version from now on: reassessed once this commits.
            reassessment_on_activation(spec=spec, actor=user)
    return SpecLoadResult(specification=spec, created=True, activated=activate)


def _retire_active(actor: User, *, product: Product, reason: str) -> None:
    for active in Specification.objects.filter(product=product, status=SpecificationStatus.ACTIVE):
        before = snapshot(active, fields=["status"])
        active.status = SpecificationStatus.RETIRED
        active.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=AuditAction.TRANSITION,
            instance=active,
            reason=reason,
            before=before,
            after=snapshot(active, fields=["status"]),
        )


def _activate(actor: User, spec: Specification, *, product: Product, effective_from: dt.date | None, reason: str) -> None:
    _retire_active(actor, product=product, reason=reason)
    fields = ["status", "effective_from"]
    before = snapshot(spec, fields=fields)
    spec.status = SpecificationStatus.ACTIVE
    spec.effective_from = spec.effective_from or effective_from or timezone.localdate()
    spec.save(update_fields=fields)
    audit_record(
        actor=actor, action=AuditAction.TRANSITION, instance=spec, reason=reason, before=before, after=snapshot(spec, fields=fields)
    )
