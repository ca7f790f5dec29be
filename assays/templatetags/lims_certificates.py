"""Certificates on the staff pages: the status badge and the QR code of the verification URL."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from assays.certificates.render import qr_code

register = template.Library()

# The existing badge colours, by what the status means for the lot: live (green), pending
# (amber), replaced (outline), withdrawn (red).
_BADGE = {"rendering": "pending_qc", "issued": "released", "superseded": "outline", "revoked": "rejected"}


@register.filter
def certificate_badge(status: str) -> str:
    return _BADGE.get(status, "outline")


@register.simple_tag
def verification_qr(url: str, scale: int = 3) -> SafeString:
    """The QR code printed on the certificate (the same code: same URL, same error level), inline SVG."""
    if not url:
        return mark_safe("")
    # segno writes every element itself; the URL is only encoded into modules, never into markup.
    return mark_safe(qr_code(url).svg_inline(scale=scale, border=4, dark="#000"))  # noqa: S308
