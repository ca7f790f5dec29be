"""Writes to samples and their chain of custody."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from assays.errors import DomainError
from assays.models import AuditAction, CustodyEvent, CustodyEventKind, Lot, Partner, Sample, SampleType, Site
from assays.sample_codes import SAMPLE_CODE, normalise_sample_code
from assays.services.audit import audit_record, audited_context, snapshot

__all__ = ["SAMPLE_CODE", "custody_event_record", "normalise_sample_code", "sample_register"]


@transaction.atomic
def sample_register(
    *,
    actor: User | None,
    code: str,
    lot: Lot,
    site: Site | None = None,
    sample_type: SampleType | str = SampleType.ROUTINE,
    sample_mass_g: Decimal | None = None,
    final_volume_ml: Decimal | None = None,
    dilution_factor: Decimal = Decimal(1),
    sampled_by: str = "",
    sampled_at: dt.datetime | None = None,
    sampling_method: str = "",
    reason: str = "",
) -> Sample:
    code = normalise_sample_code(code)
    # The database's constraints, checked first so the caller gets a message, not an IntegrityError.
    if Sample.objects.filter(code=code).exists():
        raise DomainError(f"sample id {code!r} is already registered")
    if sample_type not in SampleType.values:
        raise DomainError(f"unknown sample type {sample_type!r}")
    if (sample_mass_g is not None and sample_mass_g <= 0) or (final_volume_ml is not None and final_volume_ml <= 0):
        raise DomainError("a sample's mass and final volume must be positive")
    if dilution_factor < 1:
        raise DomainError("a dilution factor is at least 1")
    if sampled_at is not None and timezone.is_naive(sampled_at):
        raise DomainError("a sampling time needs its time zone")
    for name, text in (("sampled_by", sampled_by), ("sampling_method", sampling_method)):
        limit = getattr(Sample._meta.get_field(name), "max_length", None) or 0
        if len(text.strip()) > limit:
            raise DomainError(f"{name.replace('_', ' ')} is longer than {limit} characters")
    with audited_context(actor=actor, reason=reason):
        sample = Sample.objects.create(
            code=code,
            lot=lot,
            site=site or lot.site,
            sample_type=sample_type,
            sample_mass_g=sample_mass_g,
            final_volume_ml=final_volume_ml,
            dilution_factor=dilution_factor,
            # Who sampled, when and how: printed on the certificate (ISO/IEC 17025 §7.8.2).
            sampled_by=sampled_by.strip(),
            sampled_at=sampled_at,
            sampling_method=sampling_method.strip(),
            registered_by=actor if actor is not None and actor.pk is not None else None,
        )
        # Audit what the database stored: decimals come back rounded to the column's places.
        sample.refresh_from_db()
        audit_record(actor=actor, action=AuditAction.CREATE, instance=sample, reason=reason, after=snapshot(sample))
        custody = CustodyEvent.objects.create(
            sample=sample, kind=CustodyEventKind.REGISTERED, at=timezone.now(), actor=sample.registered_by, to_location=sample.site.name
        )
        audit_record(actor=actor, action=AuditAction.CREATE, instance=custody, reason=reason, after=snapshot(custody))
    return sample


@transaction.atomic
def custody_event_record(
    *,
    actor: User | None,
    sample: Sample,
    kind: CustodyEventKind | str,
    from_location: str = "",
    to_location: str = "",
    to_site: Site | None = None,
    to_partner: Partner | None = None,
    carrier_reference: str = "",
    note: str = "",
) -> CustodyEvent:
    """Record a hand-over. A shipment names its destination (a site or a partner) and carrier."""
    if kind not in CustodyEventKind.values:
        raise DomainError(f"unknown custody event {kind!r}")
    if kind == CustodyEventKind.SHIPPED and (to_site is None) == (to_partner is None):
        raise DomainError("a shipment goes to exactly one site or one partner")
    with audited_context(actor=actor, reason=note):
        event = CustodyEvent.objects.create(
            sample=sample,
            kind=kind,
            at=timezone.now(),
            actor=actor if actor is not None and actor.pk is not None else None,
            from_location=from_location,
            to_location=to_location,
            to_site=to_site,
            to_partner=to_partner,
            carrier_reference=carrier_reference,
            note=note,
        )
        audit_record(actor=actor, action=AuditAction.CREATE, instance=event, reason=note, after=snapshot(event))
    return event
