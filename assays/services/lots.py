"""Writes to lots: creation, genealogy, allocation and the state machine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum

from assays.errors import DomainError
from assays.lifecycle import check_transition
from assays.models import AuditAction, Lot, LotAllocation, LotInput, LotKind, LotStatus, Partner, Product, Site
from assays.services.audit import audit_record, audited_context, snapshot


@transaction.atomic
def lot_create(
    *,
    actor: User | None,
    code: str,
    site: Site,
    kind: LotKind | str,
    product: Product | None = None,
    mass_kg: Decimal | None = None,
    supplier: Partner | None = None,
    feedstock_type: str = "",
    magnet_chemistry: str = "",
    is_recycled: bool = False,
    received_on: dt.date | None = None,
    produced_on: dt.date | None = None,
    country_of_collection: str = "",
    country_of_separation: str = "",
    country_of_oxide_production: str = "",
    reason: str = "",
) -> Lot:
    if supplier is not None and not supplier.is_supplier:
        raise DomainError(f"{supplier} is not a supplier")
    with audited_context(actor=actor, reason=reason):
        lot = Lot.objects.create(
            code=code.strip(),
            site=site,
            kind=kind,
            product=product,
            mass_kg=mass_kg,
            supplier=supplier,
            feedstock_type=feedstock_type,
            magnet_chemistry=magnet_chemistry,
            is_recycled=is_recycled,
            received_on=received_on,
            produced_on=produced_on,
            country_of_collection=country_of_collection.upper(),
            country_of_separation=country_of_separation.upper(),
            country_of_oxide_production=country_of_oxide_production.upper(),
            created_by=actor if actor is not None and actor.pk is not None else None,
        )
        audit_record(actor=actor, action=AuditAction.CREATE, instance=lot, reason=reason, after=snapshot(lot))
    return lot


@transaction.atomic
def lot_transition(*, actor: User | None, lot: Lot, to: LotStatus | str, reason: str) -> Lot:
    """Move a lot through its state machine, under a row lock so two workers cannot race."""
    if not reason.strip():
        raise DomainError("a lot's state changes only with a reason")
    locked = Lot.objects.select_for_update().get(pk=lot.pk)
    check_transition(current=locked.status, requested=str(to))
    before = snapshot(locked, fields=["status"])
    with audited_context(actor=actor, reason=reason):
        locked.status = to
        locked.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=AuditAction.TRANSITION,
            instance=locked,
            reason=reason,
            before=before,
            after=snapshot(locked, fields=["status"]),
        )
    return locked


@transaction.atomic
def lot_input_add(*, actor: User | None, input_lot: Lot, output_lot: Lot, mass_used_kg: Decimal, reason: str = "") -> LotInput:
    """Record that ``mass_used_kg`` of ``input_lot`` went into ``output_lot``.

    The input lot is locked so that two edges cannot together consume more than it holds.
    """
    locked_input = Lot.objects.select_for_update().get(pk=input_lot.pk)
    if output_lot.kind == LotKind.FEEDSTOCK:
        raise DomainError(f"{output_lot} is a feedstock lot: it has no process inputs")
    if locked_input.mass_kg is not None:
        used = LotInput.objects.filter(input_lot=locked_input).aggregate(total=Sum("mass_used_kg"))["total"] or Decimal(0)
        if used + mass_used_kg > locked_input.mass_kg:
            raise DomainError(
                f"{locked_input} holds {locked_input.mass_kg} kg; {used} kg already used, {mass_used_kg} kg more would exceed it"
            )
    with audited_context(actor=actor, reason=reason):
        edge = LotInput.objects.create(input_lot=locked_input, output_lot=output_lot, mass_used_kg=mass_used_kg)
        audit_record(actor=actor, action=AuditAction.CREATE, instance=edge, reason=reason, after=snapshot(edge))
    return edge


@transaction.atomic
def lot_allocate(
    *, actor: User | None, lot: Lot, customer: Partner, mass_kg: Decimal, reference: str = "", reason: str = ""
) -> LotAllocation:
    """Allocate part of a product lot to a customer, never more than the lot holds in total."""
    locked = Lot.objects.select_for_update().get(pk=lot.pk)
    if locked.kind != LotKind.PRODUCT:
        raise DomainError(f"{locked} is not a product lot; only product lots are allocated to customers")
    if not customer.is_customer:
        raise DomainError(f"{customer} is not a customer")
    if locked.mass_kg is not None:
        allocated = LotAllocation.objects.filter(lot=locked).aggregate(total=Sum("mass_kg"))["total"] or Decimal(0)
        if allocated + mass_kg > locked.mass_kg:
            raise DomainError(f"{locked} holds {locked.mass_kg} kg; {allocated} kg already allocated, {mass_kg} kg more would exceed it")
    with audited_context(actor=actor, reason=reason):
        allocation = LotAllocation.objects.create(lot=locked, customer=customer, mass_kg=mass_kg, reference=reference)
        audit_record(actor=actor, action=AuditAction.CREATE, instance=allocation, reason=reason, after=snapshot(allocation))
    return allocation
