"""Display of measured values on the run pages. The stored double keeps its full precision; a cell
shows at most four significant figures, which is more than any ICP-MS result carries, and no
trailing zeros: a double does not know how many digits were measured, so padding would claim a
precision nobody recorded (0.42 typed by hand stays 0.42)."""

from __future__ import annotations

import math

from django import template

register = template.Library()

SIGNIFICANT = 4


@register.filter
def measured(value: float | int | None) -> str:
    """``12346`` · ``0.1026`` · ``0.42`` · ``0.001235``; scientific only far outside a lab's ranges."""
    if value is None:
        return "—"
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if number == 0:
        return "0"
    size = abs(number)
    if size >= 1e7 or size < 1e-4:
        return f"{number:.{SIGNIFICANT - 1}e}"
    decimals = max(0, SIGNIFICANT - 1 - math.floor(math.log10(size)))
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def short_sha(digest: str) -> str:
    return digest[:12]
