"""Registering a sample sheet: every row checked against the database, then all of it written in
one transaction, or nothing.

The sheet has already passed ``assays.importers.sample_sheet`` (row-level and cross-row checks).
Here: do the product, supplier and site exist, may the actor register at that site, does a lot
or sample of that code already exist and does it match. Every problem is collected with its line;
if there is any, nothing is written. A sample already registered exactly as the sheet describes
it is "unchanged", so the same sheet registered twice changes nothing the second time, and writes
no audit event.

The write is a bulk path: a sheet of 5,000 samples through ``sample_register`` one at a time costs
two audit events, a custody event and a refresh per sample, each its own round trip. Here the new
lots go through ``lot_create`` (a sheet names few lots), then samples, custody events and audit
events are each one ``bulk_create``. On PostgreSQL pghistory's triggers still record every row.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from assays.errors import DomainError, PermissionDeniedError
from assays.importers.sample_sheet import SampleSheet, SheetError, SheetRow, error_order
from assays.models import AuditAction, CustodyEvent, CustodyEventKind, Lot, Partner, Product, Sample, Site
from assays.permissions import Capability, can
from assays.roles import is_cross_site
from assays.selectors.samples import sample_list
from assays.selectors.scoping import lot_visibility, visible_sites
from assays.services.audit import AuditChange, audit_record_many, audited_context, snapshot
from assays.services.lots import lot_create
from assays.services.sites import site_ensure_default


class Outcome(enum.StrEnum):
    CREATE = "create"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass(slots=True)
class RegistrationResult:
    """What a sheet did, or (``dry_run``, or any error) what it would do.

    ``created_lots`` and ``created_samples`` are the codes written, or to be written on a dry run;
    both are empty when there is an error, since then nothing is written.
    """

    sheet: SampleSheet
    dry_run: bool
    created_lots: list[str] = field(default_factory=list)
    created_samples: list[str] = field(default_factory=list)
    unchanged_samples: list[str] = field(default_factory=list)
    errors: list[SheetError] = field(default_factory=list)
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # by line

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def committed(self) -> bool:
        return self.ok and not self.dry_run

    @property
    def ignored_columns(self) -> list[str]:
        return self.sheet.ignored_columns

    def summary(self) -> dict[str, Any]:
        """The JSON answer of the API and of ``register_samples --json``."""
        return {
            "dry_run": self.dry_run,
            "committed": self.committed,
            "rows": len(self.sheet.lines),
            "created_lots": self.created_lots,
            "created_samples": self.created_samples,
            "unchanged_samples": self.unchanged_samples,
            "ignored_columns": self.ignored_columns,
            "errors": [error.as_dict() for error in self.errors],
        }


class _WriteConflictError(Exception):
    """The plan held, the write did not: another transaction wrote one of the same codes meanwhile."""


def samples_register_sheet(
    *,
    actor: User | None,
    sheet: SampleSheet,
    site_default: str | None = None,
    dry_run: bool = False,
    reason: str = "",
) -> RegistrationResult:
    """Register every row of ``sheet``, creating the lots it names that do not exist yet.

    ``site_default`` is the site code for rows without one (None: the installation's default site).
    ``actor`` None is the system (the CLI without ``--as``): every site, no role check. Raises
    ``PermissionDeniedError`` for a user whose role does not register samples; every other
    problem is in the result's ``errors``.
    """
    if actor is not None and not can(actor, Capability.REGISTER_SAMPLES):
        raise PermissionDeniedError("your role does not register samples")
    try:
        return _register_once(actor=actor, sheet=sheet, site_default=site_default, dry_run=dry_run, reason=reason)
    except (IntegrityError, _WriteConflictError):
        # Two sheets naming the same new lot or sample, committed at the same moment: the other one
        # won. Planning again sees its rows, so this one now finds them unchanged or in conflict.
        pass
    try:
        return _register_once(actor=actor, sheet=sheet, site_default=site_default, dry_run=dry_run, reason=reason)
    except (IntegrityError, _WriteConflictError) as error:
        raise DomainError("another registration wrote the same lots or samples at the same moment; register this sheet again") from error


def _register_once(*, actor: User | None, sheet: SampleSheet, site_default: str | None, dry_run: bool, reason: str) -> RegistrationResult:
    result = RegistrationResult(sheet=sheet, dry_run=dry_run)
    with transaction.atomic():
        plan = _Plan.make(actor=actor, sheet=sheet, site_default=site_default)
        result.errors = sorted([*sheet.errors, *plan.errors], key=error_order)
        result.unchanged_samples = [row.sample_id for row in plan.unchanged]
        error_lines = {error.line for error in result.errors}
        for sheet_line in sheet.lines:
            result.outcomes[sheet_line.line] = Outcome.ERROR
        for row in plan.to_create:
            result.outcomes[row.line] = Outcome.ERROR if row.line in error_lines else Outcome.CREATE
        for row in plan.unchanged:
            result.outcomes[row.line] = Outcome.ERROR if row.line in error_lines else Outcome.UNCHANGED
        if result.errors or dry_run:
            # Nothing of this sheet is written; that includes a default site made on first use.
            transaction.set_rollback(True)
            if not result.errors:
                result.created_lots = list(plan.new_lots)
                result.created_samples = [row.sample_id for row in plan.to_create]
            return result
        try:
            _write(actor=actor, plan=plan, file_name=sheet.file_name, reason=reason)
        except DomainError as error:
            raise _WriteConflictError(str(error)) from error
        result.created_lots = list(plan.new_lots)
        result.created_samples = [row.sample_id for row in plan.to_create]
    return result


@dataclass(slots=True)
class _Plan:
    errors: list[SheetError] = field(default_factory=list)
    to_create: list[SheetRow] = field(default_factory=list)
    unchanged: list[SheetRow] = field(default_factory=list)
    new_lots: dict[str, SheetRow] = field(default_factory=dict)  # code -> the first row naming it
    sites: dict[str, Site] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    lots: dict[str, Lot] = field(default_factory=dict)
    default_site_code: str = ""

    def site_of(self, row: SheetRow) -> Site:
        return self.sites[row.site or self.default_site_code]

    @classmethod
    def make(cls, *, actor: User | None, sheet: SampleSheet, site_default: str | None) -> _Plan:
        plan = cls()
        rows = sheet.rows
        if not rows:
            return plan

        def problem(row: SheetRow, column: str | None, message: str) -> None:
            plan.errors.append(SheetError(row.line, column, message))

        # Sites: named ones, and the default for rows that name none.
        if any(not row.site for row in rows):
            plan.default_site_code = site_default if site_default else site_ensure_default().code
        wanted_sites = {row.site for row in rows if row.site} | ({plan.default_site_code} if plan.default_site_code else set())
        plan.sites = {site.code: site for site in Site.objects.filter(code__in=wanted_sites)}
        allowed_site_ids = _registering_site_ids(actor)
        if plan.default_site_code and plan.default_site_code not in plan.sites:
            plan.errors.append(SheetError(None, "site", f"no site {plan.default_site_code!r} (the default for rows without a site)"))

        plan.products = {product.code: product for product in Product.objects.filter(code__in={row.product for row in rows if row.product})}
        plan.partners = {
            partner.code: partner for partner in Partner.objects.filter(code__in={row.supplier for row in rows if row.supplier})
        }
        lot_codes = {row.lot for row in rows}
        plan.lots = {lot.code: lot for lot in Lot.objects.filter(code__in=lot_codes).select_related("site", "product", "supplier")}
        visible_lot_ids = _visible_lot_ids(actor, lot_codes)
        existing_samples = {
            sample.code: sample for sample in Sample.objects.filter(code__in={row.sample_id for row in rows}).select_related("lot", "site")
        }
        visible_sample_ids = _visible_sample_ids(actor, set(existing_samples))

        checked_lots: set[str] = set()
        for row in rows:
            before = len(plan.errors)
            site_code = row.site or plan.default_site_code
            site = plan.sites.get(site_code)
            if site is None:
                if row.site:
                    problem(row, "site", f"no site {row.site!r}")
            elif allowed_site_ids is not None and site.pk not in allowed_site_ids:
                problem(row, "site", f"you do not register samples at site {site.code}: it is not one of your sites")
            if row.product and row.product not in plan.products:
                problem(row, "product", f"no product {row.product!r}")
            supplier = plan.partners.get(row.supplier) if row.supplier else None
            if row.supplier and supplier is None:
                problem(row, "supplier", f"no partner {row.supplier!r}")
            elif supplier is not None and not supplier.is_supplier:
                problem(row, "supplier", f"{supplier.name} ({supplier.code}) is a customer, not a supplier")

            # A lot is judged once, on the first line that names it.
            if row.lot not in checked_lots:
                checked_lots.add(row.lot)
                lot = plan.lots.get(row.lot)
                if lot is None:
                    plan.new_lots[row.lot] = row
                elif visible_lot_ids is not None and lot.pk not in visible_lot_ids:
                    problem(row, "lot", f"lot {row.lot!r} belongs to a site you do not work at; its code cannot be used here")
                else:
                    for column, message in _lot_differences(lot, row):
                        problem(row, column, message)

            sample = existing_samples.get(row.sample_id)
            if sample is None:
                if len(plan.errors) == before:
                    plan.to_create.append(row)
                continue
            if visible_sample_ids is not None and sample.pk not in visible_sample_ids:
                problem(row, "sample_id", f"sample id {row.sample_id!r} is already taken by a sample of another site")
                continue
            differences = _sample_differences(sample, row, site_code)
            for column, message in differences:
                problem(row, column, message)
            if not differences and len(plan.errors) == before:
                plan.unchanged.append(row)
        # A lot some of whose rows failed is not "to be created" in a summary of a failed sheet anyway;
        # keep only lots that a row to be created needs.
        needed = {row.lot for row in plan.to_create}
        plan.new_lots = {code: first for code, first in plan.new_lots.items() if code in needed}
        return plan


def _registering_site_ids(actor: User | None) -> set[int] | None:
    """The sites ``actor`` registers samples at; None for every site (the system, cross-site roles)."""
    if actor is None or is_cross_site(actor):
        return None
    return set(visible_sites(actor=actor).values_list("pk", flat=True))


def _visible_lot_ids(actor: User | None, codes: set[str]) -> set[int] | None:
    if actor is None:
        return None
    return set(Lot.objects.filter(code__in=codes).filter(lot_visibility(actor=actor)).values_list("pk", flat=True))


def _visible_sample_ids(actor: User | None, codes: set[str]) -> set[int] | None:
    if actor is None:
        return None
    if not codes:
        return set()
    return set(sample_list(actor=actor).filter(code__in=codes).values_list("pk", flat=True))


def _code(record: Product | Partner | None) -> str:
    return record.code if record is not None else ""


def _shown(value: object) -> str:
    return repr(str(value)) if value not in (None, "") else "(none)"


def _lot_differences(lot: Lot, row: SheetRow) -> list[tuple[str, str]]:
    """How the sheet's description of an existing lot differs from the lot. ``received_on`` is
    compared only when the sheet gives one (it is often unknown when the lot was made)."""
    differences: list[tuple[str, str]] = []
    pairs: list[tuple[str, object, object]] = [
        ("lot_kind", lot.kind, row.lot_kind),
        ("product", _code(lot.product), row.product),
        ("supplier", _code(lot.supplier), row.supplier),
    ]
    if row.received_on is not None:
        pairs.append(("received_on", lot.received_on, row.received_on))
    for column, stored, written in pairs:
        if stored != written:
            differences.append(
                (column, f"lot {lot.code!r} already exists with {column} {_shown(stored)}; the sheet says {_shown(written)}")
            )
    return differences


def _sample_differences(sample: Sample, row: SheetRow, site_code: str) -> list[tuple[str, str]]:
    """Why a registered sample is not the one the sheet describes; nothing if it is the same."""
    if sample.lot.code != row.lot:
        return [("lot", f"sample {sample.code!r} is already registered with lot {sample.lot.code!r}")]
    stored: Mapping[str, object] = {
        "site": sample.site.code,
        "sample_type": sample.sample_type,
        "sample_mass_g": sample.sample_mass_g,
        "final_volume_ml": sample.final_volume_ml,
        "dilution_factor": sample.dilution_factor,
        "sampled_by": sample.sampled_by,
        "sampled_at": sample.sampled_at,
        "sampling_method": sample.sampling_method,
    }
    written: Mapping[str, object] = {
        "site": site_code,
        "sample_type": row.sample_type,
        "sample_mass_g": row.sample_mass_g,
        "final_volume_ml": row.final_volume_ml,
        "dilution_factor": row.dilution_factor,
        "sampled_by": row.sampled_by,
        "sampled_at": row.sampled_at,
        "sampling_method": row.sampling_method,
    }
    return [
        (column, f"sample {sample.code!r} is already registered with {column} {_shown(stored[column])}; the sheet says {_shown(value)}")
        for column, value in written.items()
        if stored[column] != value
    ]


def _write(*, actor: User | None, plan: _Plan, file_name: str, reason: str) -> None:
    who = actor if actor is not None and actor.pk is not None else None
    context = {"sample_sheet": file_name, "samples": len(plan.to_create), "lots": len(plan.new_lots)}
    with audited_context(actor=actor, reason=reason, sample_sheet=file_name):
        lots = dict(plan.lots)
        for code, first in plan.new_lots.items():
            lots[code] = lot_create(
                actor=actor,
                code=code,
                site=plan.site_of(first),
                kind=first.lot_kind,
                product=plan.products[first.product] if first.product else None,
                supplier=plan.partners[first.supplier] if first.supplier else None,
                received_on=first.received_on,
                reason=reason,
            )
        samples = [
            Sample(
                code=row.sample_id,
                lot=lots[row.lot],
                site=plan.site_of(row),
                sample_type=row.sample_type,
                sample_mass_g=row.sample_mass_g,
                final_volume_ml=row.final_volume_ml,
                dilution_factor=row.dilution_factor,
                # Who sampled, when and how: printed on the certificate (ISO/IEC 17025 §7.8.2).
                sampled_by=row.sampled_by,
                sampled_at=row.sampled_at,
                sampling_method=row.sampling_method,
                registered_by=who,
            )
            for row in plan.to_create
        ]
        # The decimals were quantized to the columns' places by the sheet parser, so the objects
        # hold what the database stores and the audit snapshot needs no read-back.
        Sample.objects.bulk_create(samples)
        now = timezone.now()
        custody = [
            CustodyEvent(sample=sample, kind=CustodyEventKind.REGISTERED, at=now, actor=who, to_location=sample.site.name, note=row.notes)
            for sample, row in zip(samples, plan.to_create, strict=True)
        ]
        CustodyEvent.objects.bulk_create(custody)
        audit_record_many(
            actor=actor,
            action=AuditAction.CREATE,
            changes=[
                *(AuditChange(sample, after=snapshot(sample)) for sample in samples),
                *(AuditChange(event, after=snapshot(event)) for event in custody),
            ],
            reason=reason,
            context=context,
        )
