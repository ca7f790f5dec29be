"""Roles: Django groups with a fixed meaning. The permission matrix is docs/permissions.md.

Staff roles act within the sites they are members of; QA managers and lab admins act across all
sites. A partner user acts for one partner (``PartnerMembership``) and sees only its lots.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

    # Who acts: a signed-in user (staff or partner) or nobody.
    Actor = User | AnonymousUser


class Role(enum.StrEnum):
    TECHNICIAN = "Technician"
    QA = "QA"
    QA_MANAGER = "QA manager"
    LAB_ADMIN = "Lab admin"
    PARTNER_USER = "Partner user"


STAFF_ROLES = frozenset({Role.TECHNICIAN, Role.QA, Role.QA_MANAGER, Role.LAB_ADMIN})
CROSS_SITE_ROLES = frozenset({Role.QA_MANAGER, Role.LAB_ADMIN})


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[Role]:
    """The user's roles, cached on the user object for the request."""
    if not user.is_authenticated:
        return frozenset()
    cached: frozenset[Role] | None = getattr(user, "_lims_roles", None)
    if cached is None:
        known = {role.value for role in Role}
        names = user.groups.values_list("name", flat=True)  # type: ignore[attr-defined]
        cached = frozenset(Role(name) for name in names if name in known)
        setattr(user, "_lims_roles", cached)  # noqa: B010 - a per-request cache on the user object
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: Role) -> bool:
    return bool(roles_of(user) & set(roles))


def is_staff_member(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Lab staff in a LIMS role (not Django's ``is_staff``, which only opens the admin)."""
    return bool(roles_of(user) & STAFF_ROLES)


def is_cross_site(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(roles_of(user) & CROSS_SITE_ROLES) or bool(getattr(user, "is_superuser", False))


def is_partner_user(user: AbstractBaseUser | AnonymousUser) -> bool:
    return Role.PARTNER_USER in roles_of(user)
