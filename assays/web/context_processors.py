"""What every page's frame shows: the navigation and who is signed in (name, roles, sites)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from assays.permissions import Capability, can
from assays.roles import Role, has_role, is_cross_site, is_partner_user, is_staff_member, roles_of
from assays.selectors.scoping import acting_partner, visible_sites


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


# The page names each entry covers, so a lot's page keeps "Lots" highlighted.
_SECTIONS = {
    "dashboard": {"dashboard"},
    "lots": {"lot_list", "lot_detail", "lot_labels", "manual_entry"},
    "register": {"register_samples", "preview_sheet", "confirm_sheet"},
    "runs": {"run_list", "run_upload", "run_preview", "run_confirm", "run_detail"},
    "specifications": {"specification_list", "specification_product"},
    "certificates": {"certificate_list", "certificate_detail", "certificate_bulk", "certificate_batch", "lot_review"},
    "webhooks": {"portal_webhooks"},
    "partners": {"partner_list", "partner_keys", "partner_webhooks"},
    "portal": {"portal", "portal_lot"},
    "portal_certificates": {"portal_certificates"},
}


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = request.resolver_match
    current = match.url_name if match is not None and match.namespace == "web" else None

    def item(label: str, section: str, url_name: str) -> NavItem:
        return NavItem(label=label, url=reverse(url_name), active=current in _SECTIONS[section])

    roles = sorted(role.value for role in roles_of(user))
    can_register = can(user, Capability.REGISTER_SAMPLES)
    if is_staff_member(user) or user.is_superuser:
        nav = [item("Dashboard", "dashboard", "web:dashboard"), item("Lots", "lots", "web:lot_list")]
        if can_register:
            nav.append(item("Register samples", "register", "web:register_samples"))
        nav.append(item("Runs", "runs", "web:run_list"))
        nav.append(item("Specifications", "specifications", "web:specification_list"))
        nav.append(item("Certificates", "certificates", "web:certificate_list"))
        if has_role(user, Role.LAB_ADMIN) or user.is_superuser:
            nav.append(item("Partners", "partners", "web:partner_list"))
        if is_cross_site(user):
            affiliation = "All sites"
        else:
            affiliation = ", ".join(visible_sites(actor=user).values_list("code", flat=True)) or "No site"
    elif is_partner_user(user):
        nav = [item("Our lots", "portal", "web:portal"), item("Certificates", "portal_certificates", "web:portal_certificates")]
        nav.append(item("Webhooks", "webhooks", "web:portal_webhooks"))
        partner = acting_partner(actor=user)
        affiliation = partner.name if partner is not None else "No partner"
    else:
        nav, affiliation = [], ""
    return {
        "nav_items": nav,
        "nav_roles": roles or (["Superuser"] if user.is_superuser else []),
        "nav_affiliation": affiliation,
        # The lot page offers "Register samples" to those who may.
        "can_register_samples": can_register,
        # ... and "Enter results" (manual entry) to those who import runs.
        "can_import_runs": can(user, Capability.IMPORT_RUNS),
    }
