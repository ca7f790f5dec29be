"""Reads for the sample registration page: what a user may pick, scoped to them."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q

from assays.models import Partner, PartnerKind, Product, Site
from assays.permissions import Capability, can
from assays.selectors.scoping import visible_sites


@dataclass(frozen=True)
class RegistrationChoices:
    sites: list[Site]  # where the user registers samples
    default_site_code: str  # preselected: the installation's default site if the user works there
    products: list[Product]
    suppliers: list[Partner]


def registration_choices(*, actor: User | AnonymousUser) -> RegistrationChoices:
    """Products and suppliers are master data every technician picks from; sites are the user's own."""
    if not can(actor, Capability.REGISTER_SAMPLES):
        return RegistrationChoices(sites=[], default_site_code="", products=[], suppliers=[])
    sites = list(visible_sites(actor=actor).order_by("code"))
    default = next((site for site in sites if site.is_default), sites[0] if sites else None)
    return RegistrationChoices(
        sites=sites,
        default_site_code=default.code if default is not None else "",
        products=list(Product.objects.order_by("code")),
        suppliers=list(Partner.objects.filter(Q(kind=PartnerKind.SUPPLIER) | Q(kind=PartnerKind.BOTH)).order_by("code")),
    )
