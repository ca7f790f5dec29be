"""Rounding of reported numbers: ASTM E29 / GB/T 8170, round half to even on an exact 5.

PURE: no Django, no database. REO-ASSAY.md §5:

* round only for display and for comparison with a limit, never intermediate sums: everything
  upstream keeps full-precision floats, and only the number about to be shown or compared
  comes through here;
* a float is read through its shortest decimal form (``Decimal(repr(x))``): the binary double
  nearest to 2.45 is 2.4500000000000001776..., and rounding that would give 2.5, although the
  instrument said 2.45 and E29 says 2.4. ``repr`` gives back "2.45", the number that was meant;
* a limit is kept as written, as a Decimal: its last written digit is the rounding unit of the
  rounding method ("99.9" rounds to 0.1, "99.90" to 0.01, "1E+2" to hundreds). A float limit has
  lost that information, so it is refused;
* an expanded uncertainty U is reported to two significant figures and the result to the same
  decimal place.

Every rounding runs in a local decimal context wide enough to be exact before the one rounding
step, so a 17-digit float or a limit's exponent never trips the default 28-digit context.
"""

from __future__ import annotations

import functools
import math
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from assays.errors import DomainError

# Significant figures of a reported expanded uncertainty (REO-ASSAY.md §5).
UNCERTAINTY_SIGNIFICANT_FIGURES = 2

# No reported quantity needs more than this many decimal places (or tens to this power); a bigger
# request is a programming error, and refusing it keeps a typo from allocating a huge coefficient.
MAX_PLACES = 400

Number = float | int | Decimal | str


class RoundingError(DomainError):
    """A number that cannot be rounded honestly: NaN, infinity, text that is not a number, a float limit."""


def exact_decimal(value: Number) -> Decimal:
    """The exact decimal a reported number stands for.

    A float goes through its shortest round-tripping form (``repr``) so that a value read as
    2.45 is rounded as 2.45; text is parsed as written (trailing zeros kept); NaN and infinity are
    refused, because neither may reach a comparison with a limit.
    """
    if type(value) is float and -math.inf < value < math.inf:
        return Decimal(repr(value))  # the common case first: every line of every lot comes here
    if isinstance(value, bool):
        # bool is an int to Python; True as a mass fraction is always a bug upstream.
        raise RoundingError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise RoundingError(f"cannot round {value!r}: a reported value must be a finite number")
        number = Decimal(repr(value))
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise RoundingError(f"not a number: {value!r}") from None
    else:
        raise RoundingError(f"not a number: {value!r} ({type(value).__name__})")
    if not number.is_finite():
        raise RoundingError(f"cannot round {value!r}: a reported value must be a finite number")
    return number


def round_half_even(value: Number, *, places: int) -> Decimal:
    """``value`` rounded half to even to ``places`` decimal places (negative: tens, hundreds...).

    The result has exponent ``-places`` (2.4 rounded to 2 places is Decimal("2.40")), exactly as
    ``Decimal.quantize`` with ROUND_HALF_EVEN would give, but in a context wide enough for any
    finite input. A rounded zero is returned without a sign: a report never shows "-0.0".
    """
    check_places(places)
    number = exact_decimal(value)
    return _quantize(number, places)


def round_exact_half_even(number: Decimal, *, places: int) -> Decimal:
    """``round_half_even`` of a number already exact (from ``exact_decimal``) to places already
    checked (``check_places``): for a caller that rounds many numbers to the same place."""
    return _quantize(number, places)


def limit_decimal(limit: Decimal | str) -> Decimal:
    """A specification limit as the Decimal it is written as ("99.90" keeps its last zero).

    A float is refused: 99.90 and 99.9 are the same float, and the rounding method needs to know
    which digit the specification was written to.
    """
    given: object = limit  # the annotation is a promise callers (and JSON) may break: check it
    if isinstance(given, float):
        raise RoundingError(f"a limit must be given as written (text or Decimal), not as the float {given!r}")
    if isinstance(given, str):
        return _limit_from_text(given)
    if not isinstance(given, Decimal):
        raise RoundingError(f"a limit must be given as written (text or Decimal), not {given!r}")
    return exact_decimal(given)


# Cached: a specification's few limits are read for every lot judged against it. A Decimal is
# immutable, and text that is not a number raises (exceptions are not cached).
@functools.lru_cache(maxsize=1024)
def _limit_from_text(text: str) -> Decimal:
    return exact_decimal(text)


def limit_places(limit: Decimal | str) -> int:
    """The decimal place of a limit's last written digit: "99.9" -> 1, "50" -> 0, "1E+2" -> -2."""
    exponent = limit_decimal(limit).as_tuple().exponent
    # exact_decimal refused NaN and infinity, whose exponent is a letter.
    assert isinstance(exponent, int)
    return -exponent


def round_to_limit(value: Number, *, limit: Decimal | str) -> Decimal:
    """``value`` rounded half to even to the last digit the limit is written to (the rounding method).

    "99.9" -> one decimal, "99.90" -> two, "50" -> units, "0.0005" -> four decimals, "1E+2" -> hundreds.
    """
    return round_half_even(value, places=limit_places(limit))


def round_with_uncertainty(*, value: Number, expanded_uncertainty: Number | None) -> tuple[Decimal, Decimal | None]:
    """(value, U) as reported: U to two significant figures (half even), the value to U's last place.

    Without an uncertainty to take the decimal place from (None, or a U of exactly 0, which has no
    significant figure) the value is returned exact, unrounded, with U None: inventing a number
    of significant figures would claim a precision nobody measured, and a caller that must show
    a rounded number without U has to say to which place (``round_half_even``).

    When rounding U carries into a new digit (0.0995 -> 0.100) U is rounded again to two
    significant figures (0.10), and the value goes to U's final place (two decimals here);
    re-rounding is exact because the carried digit is followed by zeros only.
    """
    number = exact_decimal(value)
    if expanded_uncertainty is None:
        return number, None
    uncertainty = exact_decimal(expanded_uncertainty)
    if uncertainty < 0:
        raise RoundingError(f"an expanded uncertainty cannot be negative ({expanded_uncertainty!r})")
    if uncertainty.is_zero():
        return number, None
    rounded_uncertainty = _quantize(uncertainty, _significant_places(uncertainty))
    places = _significant_places(rounded_uncertainty)
    rounded_uncertainty = _quantize(rounded_uncertainty, places)
    return _quantize(number, places), rounded_uncertainty


def format_decimal(number: Decimal) -> str:
    """A Decimal written out in positional notation ("1.2E+3" -> "1200"), never in exponent form."""
    return format(number, "f")


def format_reported(*, value: Number, expanded_uncertainty: Number | None = None, unit: str = "") -> str:
    """A result as a certificate shows it: "99.62 ± 0.12 %" (``round_with_uncertainty``).

    Without U, the value as given (see ``round_with_uncertainty`` for why it is not rounded).
    """
    shown_value, shown_uncertainty = round_with_uncertainty(value=value, expanded_uncertainty=expanded_uncertainty)
    text = format_decimal(shown_value)
    if shown_uncertainty is not None:
        text = f"{text} ± {format_decimal(shown_uncertainty)}"
    return with_unit(text, unit)


def with_unit(text: str, unit: str) -> str:
    """``text`` followed by its unit after a space (SI style: "99.9 %", "0.5 mg/kg"), or alone."""
    unit = unit.strip()
    return f"{text} {unit}" if unit else text


def _significant_places(number: Decimal) -> int:
    # adjusted() is the power of ten of the leading digit: 0.01234 -> -2, so two significant
    # figures end at decimal place 3.
    return UNCERTAINTY_SIGNIFICANT_FIGURES - 1 - number.adjusted()


def check_places(places: int) -> None:
    """Refuse decimal places that are not an integer, or that no reported quantity needs (``MAX_PLACES``)."""
    if isinstance(places, bool) or not isinstance(places, int):
        raise RoundingError(f"decimal places must be an integer, not {places!r}")
    if abs(places) > MAX_PLACES:
        raise RoundingError(f"cannot round to {places} decimal places (at most {MAX_PLACES} either way)")


def _quantize(number: Decimal, places: int) -> Decimal:
    # Digits the result can have: from the leading digit (or the rounding unit's, when the number
    # is smaller) down to the rounding unit, plus one for a carry.
    leading = max(number.adjusted(), -places) if not number.is_zero() else -places
    precision = max(leading + places + 2, 1)
    rounded = number.quantize(_unit(places), rounding=ROUND_HALF_EVEN, context=_context(precision))
    return rounded.copy_abs() if rounded.is_zero() else rounded


# Cached: every line of every lot assessment rounds through here, and a Context costs more to
# make than the rounding. A shared Context is only passed to quantize, whose result depends on its
# precision and rounding alone; the Inexact/Rounded flags it collects are never read, and no trap a
# quantize to a wide-enough precision could spring is set beyond the defaults.
@functools.lru_cache(maxsize=256)
def _context(precision: int) -> Context:
    return Context(prec=precision, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)


@functools.lru_cache(maxsize=256)
def _unit(places: int) -> Decimal:
    return Decimal(1).scaleb(-places, context=_context(1))
