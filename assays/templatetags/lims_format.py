"""Display formatting for the web pages. Stored values keep their full precision; these filters
only decide how a number reads on screen."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def quantity(value: Decimal | int | float | str | None) -> str:
    """A measured quantity with the digits it was recorded with and no padding: 1,200 · 612.5 · 0.1002.

    ``floatformat`` pads to a fixed number of places ("612.500"), which suggests a precision the
    record does not claim, or rounds one away.
    """
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    # normalize() drops trailing zeros; the quantize keeps "1200" from becoming "1.2E+3".
    normalized = number.normalize()
    if normalized.as_tuple().exponent > 0:  # type: ignore[operator]
        normalized = normalized.quantize(Decimal(1))
    return f"{normalized:,f}"
