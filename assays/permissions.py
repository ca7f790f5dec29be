"""The permission matrix as data: what each role may do. docs/permissions.md is the same table in prose
form, and a test keeps the two equal, so the web views, the API and the document cannot drift apart.

A capability says *what* a user may do; the selectors say *on which records* (the sites a staff user
belongs to, or the partner a partner user acts for). Both checks apply: a technician may view lots,
and sees only those of their sites.
"""

from __future__ import annotations

import enum
from types import MappingProxyType

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from assays.roles import Role, roles_of


class Capability(enum.StrEnum):
    VIEW_OWN_SITE_LOTS = "view_own_site_lots"
    VIEW_ALL_SITE_LOTS = "view_all_site_lots"
    REGISTER_SAMPLES = "register_samples"
    IMPORT_RUNS = "import_runs"
    REVIEW_RUN_QC = "review_run_qc"
    MANAGE_SPECS = "manage_specs"
    ACT_ON_FLAGS = "act_on_flags"
    SIGN_CERTIFICATES = "sign_certificates"
    REVOKE_CERTIFICATES = "revoke_certificates"
    MANAGE_MASTER_DATA = "manage_master_data"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT_TRAIL = "view_audit_trail"
    PARTNER_VIEW_OWN_LOTS = "partner_view_own_lots"
    PARTNER_DOWNLOAD_RELEASED = "partner_download_released"
    VERIFY_CERTIFICATE = "verify_certificate"


C = Capability

# Anyone, signed in or not: the QR code on a printed certificate must work for whoever holds the paper.
PUBLIC_CAPABILITIES: frozenset[Capability] = frozenset({C.VERIFY_CERTIFICATE})

ROLE_CAPABILITIES: MappingProxyType[Role, frozenset[Capability]] = MappingProxyType(
    {
        # Produces data, never reviews or releases it: who made a result is not who approves it.
        Role.TECHNICIAN: PUBLIC_CAPABILITIES | {C.VIEW_OWN_SITE_LOTS, C.REGISTER_SAMPLES, C.IMPORT_RUNS},
        # Reviews and releases within their sites; audit trail because review means checking changes.
        Role.QA: PUBLIC_CAPABILITIES | {C.VIEW_OWN_SITE_LOTS, C.REVIEW_RUN_QC, C.ACT_ON_FLAGS, C.SIGN_CERTIFICATES, C.VIEW_AUDIT_TRAIL},
        # QA across all sites, plus the decisions that change what "conforming" means or undo a release.
        Role.QA_MANAGER: PUBLIC_CAPABILITIES
        | {
            C.VIEW_OWN_SITE_LOTS,
            C.VIEW_ALL_SITE_LOTS,
            C.REVIEW_RUN_QC,
            C.MANAGE_SPECS,
            C.ACT_ON_FLAGS,
            C.SIGN_CERTIFICATES,
            C.REVOKE_CERTIFICATES,
            C.VIEW_AUDIT_TRAIL,
        },
        # Runs the installation: master data and accounts, reads everything, touches no result.
        Role.LAB_ADMIN: PUBLIC_CAPABILITIES
        | {C.VIEW_OWN_SITE_LOTS, C.VIEW_ALL_SITE_LOTS, C.MANAGE_MASTER_DATA, C.MANAGE_USERS, C.VIEW_AUDIT_TRAIL},
        Role.PARTNER_USER: PUBLIC_CAPABILITIES | {C.PARTNER_VIEW_OWN_LOTS, C.PARTNER_DOWNLOAD_RELEASED},
    }
)

# The capabilities that let a user read lots and samples at all; the selectors then narrow the rows.
READ_LOTS: frozenset[Capability] = frozenset({C.VIEW_OWN_SITE_LOTS, C.VIEW_ALL_SITE_LOTS, C.PARTNER_VIEW_OWN_LOTS})


def capabilities_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[Capability]:
    """The union over the user's roles. A Django superuser, which bootstraps an installation, counts as
    a lab admin: it may set the lab up but, holding no QA role, never signs or revokes a certificate."""
    granted: set[Capability] = set(PUBLIC_CAPABILITIES)
    for role in roles_of(user):
        granted |= ROLE_CAPABILITIES[role]
    if user.is_authenticated and getattr(user, "is_superuser", False):
        granted |= ROLE_CAPABILITIES[Role.LAB_ADMIN]
    return frozenset(granted)


def can(user: AbstractBaseUser | AnonymousUser, capability: Capability) -> bool:
    return capability in capabilities_of(user)


def can_any(user: AbstractBaseUser | AnonymousUser, capabilities: frozenset[Capability]) -> bool:
    return bool(capabilities_of(user) & capabilities)
