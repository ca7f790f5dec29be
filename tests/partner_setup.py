"""Two partners' worth of released and unreleased data, through the real services: what the
partner API, portal, isolation and webhook tests read.

Partner A (supplier and customer): product lot ND-OK allocated to it with an issued certificate
of analysis, product lot ND-MANY-000 allocated to it and not certified (pending), feedstock lot
FS-A supplied by it with an issued report of analysis.
Partner B: product lot ND-MANY-001 allocated to it with a certificate issued for B, and feedstock
lot FS-B supplied by it with no report yet (pending).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from assays.models import ApiScope, Certificate, CertificateStatus, Lot, Partner, PartnerApiKey
from assays.services.certificates import certificate_issue, certificate_render
from assays.services.lots import lot_allocate
from assays.services.partner_keys import api_key_issue
from tests.certificate_setup import CertificateLab, feedstock_lot, make_certificate_lab, more_conforming_lots
from tests.conftest import World
from tests.factories import PASSWORD


@dataclass(frozen=True)
class PartnerWorld:
    setup: CertificateLab
    a_certified: Lot
    a_pending: Lot
    a_feedstock: Lot
    b_certified: Lot
    b_feedstock: Lot
    a_certificate: Certificate
    a_report: Certificate
    b_certificate: Certificate


def issue_rendered(*, qa: User, lot: Lot, customer: Partner | None = None) -> Certificate:
    """Sign and render (what the worker does) a certificate or report: issued, PDF stored."""
    signed = certificate_issue(actor=qa, lot=lot, password=PASSWORD, customer=customer)
    rendered = certificate_render(certificate_id=signed.pk)
    assert rendered is not None
    assert rendered.status == CertificateStatus.ISSUED, rendered
    return rendered


def make_partner_world(*, technician: User, qa: User, qa_manager: User, world: World) -> PartnerWorld:
    setup = make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)
    a, b = world.partner_a, world.partner_b
    a_pending, b_certified = more_conforming_lots(setup, technician, count=2)
    a_certified = setup.conforming
    lot_allocate(actor=None, lot=a_certified, customer=a, mass_kg=Decimal("100"), reference="PO-A-1")
    lot_allocate(actor=None, lot=a_pending, customer=a, mass_kg=Decimal("50"), reference="PO-A-2")
    lot_allocate(actor=None, lot=b_certified, customer=b, mass_kg=Decimal("80"), reference="PO-B-1")
    a_feedstock = feedstock_lot(setup=setup, technician=technician, qa_manager=qa_manager, code="FS-A")
    b_feedstock = feedstock_lot(setup=setup, technician=technician, qa_manager=qa_manager, code="FS-B")
    Lot.objects.filter(pk=a_feedstock.pk).update(supplier=a)
    Lot.objects.filter(pk=b_feedstock.pk).update(supplier=b)
    for lot in (a_feedstock, b_feedstock):
        lot.refresh_from_db()
    return PartnerWorld(
        setup=setup,
        a_certified=a_certified,
        a_pending=a_pending,
        a_feedstock=a_feedstock,
        b_certified=b_certified,
        b_feedstock=b_feedstock,
        a_certificate=issue_rendered(qa=qa, lot=a_certified),
        a_report=issue_rendered(qa=qa, lot=a_feedstock),
        b_certificate=issue_rendered(qa=qa, lot=b_certified, customer=b),
    )


def partner_key(
    *,
    admin: User,
    partner: Partner,
    scopes: tuple[str, ...] = tuple(ApiScope.values),
    expires_in: dt.timedelta = dt.timedelta(days=30),
    throttle_rate: str = "",
) -> tuple[PartnerApiKey, str]:
    return api_key_issue(
        actor=admin,
        partner=partner,
        name=f"{partner.code} ERP",
        scopes=scopes,
        expires_at=timezone.now() + expires_in,
        throttle_rate=throttle_rate,
    )
