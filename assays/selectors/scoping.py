"""Who may see what. Every selector of tenant data starts here (DESIGN.md: selectors scope by actor)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from assays.models import Partner, PartnerMembership, Site
from assays.roles import is_cross_site, is_partner_user, is_staff_member


def visible_sites(*, actor: User | AnonymousUser) -> QuerySet[Site]:
    """The sites whose records a staff user sees: all of them for cross-site roles."""
    if isinstance(actor, AnonymousUser) or not (is_staff_member(actor) or actor.is_superuser):
        return Site.objects.none()
    if is_cross_site(actor):
        return Site.objects.all()
    return Site.objects.filter(memberships__user=actor)


def acting_partner(*, actor: User | AnonymousUser) -> Partner | None:
    """The partner a partner user acts for, or None for anyone else."""
    if isinstance(actor, AnonymousUser) or not is_partner_user(actor):
        return None
    # Cached on the user object for the request, like its roles: a page asks several times.
    if not hasattr(actor, "_lims_partner"):
        membership = PartnerMembership.objects.select_related("partner").filter(user=actor).first()
        setattr(actor, "_lims_partner", membership.partner if membership is not None else None)  # noqa: B010
    partner: Partner | None = getattr(actor, "_lims_partner")  # noqa: B009
    return partner


def lot_visibility(*, actor: User | AnonymousUser, prefix: str = "") -> Q:
    """A filter on Lot (or on a model reaching Lot through ``prefix``) for what ``actor`` may see.

    Staff: lots of their sites (all sites for cross-site roles). Partner users: lots their partner
    supplied or was allocated. Anyone else: nothing.
    """
    if is_staff_member(actor) or getattr(actor, "is_superuser", False):
        if is_cross_site(actor):
            return Q()
        return Q(**{f"{prefix}site__in": visible_sites(actor=actor)})
    partner = acting_partner(actor=actor)
    if partner is not None:
        return Q(**{f"{prefix}supplier": partner}) | Q(**{f"{prefix}allocations__customer": partner})
    return Q(pk__in=[])
