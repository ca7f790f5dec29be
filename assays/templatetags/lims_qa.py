"""QA on any page: a lot's flag panel (so the lot page needs no view changes to show it), a flag's
summary, and the "QA review" entry of the main navigation."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from assays.models import Flag, Lot
from assays.permissions import Capability, can
from assays.selectors.qa_dashboard import LotFlagPanel, flag_summary, lot_flag_panel

register = template.Library()


def _user(context: template.Context) -> Any:
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


@register.simple_tag(takes_context=True)
def lot_flags_panel(context: template.Context, lot: Lot) -> LotFlagPanel | None:
    """``{% lot_flags_panel lot as flag_panel %}``: None for anyone outside the lab or the lot's scope."""
    user = _user(context)
    if user is None or not isinstance(lot, Lot):
        return None
    return lot_flag_panel(actor=user, lot=lot)


@register.filter
def flag_lines(flag: Flag) -> list[str]:
    return flag_summary(flag)


@register.simple_tag(takes_context=True)
def qa_nav_link(context: template.Context) -> SafeString:
    """The navigation's "QA review" link, for those who act on flags; nothing for anyone else."""
    user = _user(context)
    if user is None or not user.is_authenticated or not can(user, Capability.ACT_ON_FLAGS):
        return mark_safe("")
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    current = match is not None and match.namespace == "web" and (match.url_name or "").startswith("qa_")
    if current:
        return format_html('<a href="{}" aria-current="page">QA review</a>', reverse("web:qa_dashboard"))
    return format_html('<a href="{}">QA review</a>', reverse("web:qa_dashboard"))
