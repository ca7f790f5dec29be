"""Writes to lots: creation, genealogy, allocation and the state machine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum

from assays.errors import DomainError
from assays.lifecycle import check_transition
from assays.models import (
    AuditAction,
    FeedstockType,
    Lot,
    LotAllocation,
    LotInput,
    LotKind,
    LotStatus,
    MagnetChemistry,
    Partner,
    Product,
    Site,
)
from assays.services.audit import audit_record, audited_context, snapshot


def _check_lot_fields(
    *,
    code: str,
    kind: str,
    product: Product | None,
    mass_kg: Decimal | None,
    feedstock_type: str,
    magnet_chemistry: str,
    countries: list[str],
) -> None:
    """The model's database constraints, checked first so a caller gets a message instead of an IntegrityError."""
    if not code or len(code) > 40:
        raise DomainError("a lot code has 1 to 40 characters")
    if Lot.objects.filter(code=code).exists():
        raise DomainError(f"a lot {code!r} already exists")
    if kind not in LotKind.values:
        raise DomainError(f"unknown lot kind {kind!r}")
    if kind == LotKind.PRODUCT and product is None:
        raise DomainError("a product lot names its product")
    if mass_kg is not None and mass_kg < 0:
        raise DomainError("a lot's mass cannot be negative")
    if feedstock_type not in FeedstockType.values or magnet_chemistry not in MagnetChemistry.values:
        raise DomainError(f"unknown feedstock type {feedstock_type!r} or magnet chemistry {magnet_chemistry!r}")
    if feedstock_type and kind != LotKind.FEEDSTOCK:
        raise DomainError("a feedstock type describes feedstock lots only")
    for country in countries:
        # ISO 3166-1 alpha-2 or nothing; the column holds two characters.
        if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
            raise DomainError(f"country {country!r}: use a two-letter ISO 3166-1 code")


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
    code = code.strip()
    countries = [country.strip().upper() for country in (country_of_collection, country_of_separation, country_of_oxide_production)]
    _check_lot_fields(
        code=code,
        kind=str(kind),
        product=product,
        mass_kg=mass_kg,
        feedstock_type=feedstock_type,
        magnet_chemistry=magnet_chemistry,
        countries=countries,
    )
    with audited_context(actor=actor, reason=reason):
        lot = Lot.objects.create(
            code=code,
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
            country_of_collection=countries[0],
            country_of_separation=countries[1],
            country_of_oxide_production=countries[2],
            created_by=actor if actor is not None and actor.pk is not None else None,
        )
        # Audit what the database stored: decimals come back rounded to the column's places.
        lot.refresh_from_db()
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

    Both lots are locked (in id order, so two calls cannot deadlock): two edges cannot together
    consume more than the input holds, and two opposite edges cannot both pass the cycle check.
    """
    if input_lot.pk == output_lot.pk:
        raise DomainError(f"{input_lot} cannot be an input of itself")
    if mass_used_kg <= 0:
        raise DomainError("the mass used must be positive")
    locked = {lot.pk: lot for lot in Lot.objects.select_for_update().filter(pk__in=[input_lot.pk, output_lot.pk]).order_by("pk")}
    locked_input, locked_output = locked[input_lot.pk], locked[output_lot.pk]
    if locked_output.kind == LotKind.FEEDSTOCK:
        raise DomainError(f"{locked_output} is a feedstock lot: it has no process inputs")
    if LotInput.objects.filter(input_lot=locked_input, output_lot=locked_output).exists():
        raise DomainError(f"{locked_input} is already recorded as an input of {locked_output}")
    if _is_ancestor(ancestor_pk=locked_output.pk, of_pk=locked_input.pk):
        raise DomainError(f"{locked_output} was made from {locked_input}: it cannot also be one of its inputs")
    if locked_input.mass_kg is not None:
        used = LotInput.objects.filter(input_lot=locked_input).aggregate(total=Sum("mass_used_kg"))["total"] or Decimal(0)
        if used + mass_used_kg > locked_input.mass_kg:
            raise DomainError(
                f"{locked_input} holds {locked_input.mass_kg} kg; {used} kg already used, {mass_used_kg} kg more would exceed it"
            )
    with audited_context(actor=actor, reason=reason):
        edge = LotInput.objects.create(input_lot=locked_input, output_lot=locked_output, mass_used_kg=mass_used_kg)
        edge.refresh_from_db()
        audit_record(actor=actor, action=AuditAction.CREATE, instance=edge, reason=reason, after=snapshot(edge))
    return edge


def _is_ancestor(*, ancestor_pk: int, of_pk: int) -> bool:
    """Whether lot ``ancestor_pk`` went, directly or through intermediates, into lot ``of_pk``."""
    seen: set[int] = set()
    frontier = {of_pk}
    while frontier:
        seen |= frontier
        parents = set(LotInput.objects.filter(output_lot__in=frontier).values_list("input_lot", flat=True))
        if ancestor_pk in parents:
            return True
        frontier = parents - seen
    return False


@transaction.atomic
def lot_allocate(
    *, actor: User | None, lot: Lot, customer: Partner, mass_kg: Decimal, reference: str = "", reason: str = ""
) -> LotAllocation:
    """Allocate part of a product lot to a customer, never more than the lot holds in total."""
    if mass_kg <= 0:
        raise DomainError("the mass allocated must be positive")
    locked = Lot.objects.select_for_update().get(pk=lot.pk)
    if locked.kind != LotKind.PRODUCT:
        raise DomainError(f"{locked} is not a product lot; only product lots are allocated to customers")
    if not customer.is_customer:
        raise DomainError(f"{customer} is not a customer")
    if LotAllocation.objects.filter(lot=locked, customer=customer).exists():
        raise DomainError(f"{locked} is already allocated to {customer}")
    if locked.mass_kg is not None:
        allocated = LotAllocation.objects.filter(lot=locked).aggregate(total=Sum("mass_kg"))["total"] or Decimal(0)
        if allocated + mass_kg > locked.mass_kg:
            raise DomainError(f"{locked} holds {locked.mass_kg} kg; {allocated} kg already allocated, {mass_kg} kg more would exceed it")
    with audited_context(actor=actor, reason=reason):
        allocation = LotAllocation.objects.create(lot=locked, customer=customer, mass_kg=mass_kg, reference=reference)
        allocation.refresh_from_db()
        audit_record(actor=actor, action=AuditAction.CREATE, instance=allocation, reason=reason, after=snapshot(allocation))
    return allocation
