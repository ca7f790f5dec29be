"""Reading partners and their API keys, for the Lab admins who issue and revoke them.

Only a Lab admin (or a superuser) reads them. Other staff are refused; a partner user is told
"not found", as for any lab page it cannot see (``assays.selectors.webhooks`` does the same).
Key records hold no secret (only a hash), but which keys exist is the lab's business.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet

from assays.errors import NotFoundError, PermissionDeniedError
from assays.models import Partner, PartnerApiKey
from assays.roles import Role, has_role, is_partner_user


def is_key_admin(actor: User | AnonymousUser) -> bool:
    return has_role(actor, Role.LAB_ADMIN) or bool(getattr(actor, "is_superuser", False))


def _check(actor: User | AnonymousUser) -> None:
    if is_key_admin(actor):
        return
    if is_partner_user(actor) or not actor.is_authenticated:
        raise NotFoundError("no such page")
    raise PermissionDeniedError("only a Lab admin manages partners' API keys")


def _keys() -> QuerySet[PartnerApiKey]:
    # Live keys first, newest first: what an admin looks for is what is in use now.
    return PartnerApiKey.objects.select_related("created_by", "revoked_by").order_by("revoked", "-created")


def partners_with_keys(*, actor: User | AnonymousUser) -> QuerySet[Partner]:
    """Every partner by code, its keys prefetched (``partner.api_keys.all``): two queries in all."""
    _check(actor)
    return Partner.objects.order_by("code").prefetch_related(Prefetch("api_keys", queryset=_keys()))


def partner_for_keys(*, actor: User | AnonymousUser, code: str) -> Partner:
    _check(actor)
    partner = Partner.objects.filter(code=code).first()
    if partner is None:
        raise NotFoundError(f"no partner {code!r}")
    return partner


def partner_keys(*, partner: Partner) -> QuerySet[PartnerApiKey]:
    """The partner's keys; call after ``partner_for_keys`` has checked the actor."""
    return _keys().filter(partner=partner)


def partner_key_get(*, partner: Partner, prefix: str) -> PartnerApiKey:
    """One of the partner's keys by its prefix (its public name; the primary key embeds the hash)."""
    key: PartnerApiKey | None = PartnerApiKey.objects.filter(partner=partner, prefix=prefix).first()
    if key is None:
        raise NotFoundError("no such key")
    return key
