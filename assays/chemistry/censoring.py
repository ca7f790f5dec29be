"""Results below the detection limit (REO-ASSAY.md §3).

PURE: no Django, no database. A result is ``{value, qualifier, lod, loq}`` in one unit. The LIMS
censors by itself:

* a number below the LOD, negatives included, becomes ``<`` at the LOD; the instrument's own
  number is kept as the raw value. Agilent's ``<0.000`` ("calculated concentration below zero")
  is such a number: it is censored at the method's LOD, never read as "LOD = 0";
* a number at or above the LOD but below the LOQ is kept, flagged ``below_loq``;
* ``>`` (over the calibrated range) is kept as it is, flagged ``over_range``.

Without any LOD nothing can be censored honestly: the number is kept as reported, flagged
``no_lod`` (and ``below_zero`` when the instrument said so), for the assessment to refuse rather
than sum. A ``<x`` with x > 0 and no other LOD (an outside lab's "< 0.5") carries its own limit.

Detection limits may be estimated from the run's calibration blanks (3 s and 10 s) where the
method gives none; ``estimate_limits`` does the arithmetic, the caller decides when.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assays.importers.core import Qualifier

BELOW_LOQ = "below_loq"
OVER_RANGE = "over_range"
NO_LOD = "no_lod"
BELOW_ZERO = "below_zero"
LIMIT_FROM_FILE = "limit_from_file"


@dataclass(frozen=True, slots=True)
class Limits:
    lod: float | None
    loq: float | None

    def __post_init__(self) -> None:
        for name, number in (("LOD", self.lod), ("LOQ", self.loq)):
            if number is not None and not (math.isfinite(number) and number >= 0):
                raise ValueError(f"a {name} is a finite number >= 0, not {number!r}")

    def scaled(self, factor: float) -> Limits:
        return Limits(None if self.lod is None else self.lod * factor, None if self.loq is None else self.loq * factor)


NO_LIMITS = Limits(None, None)


@dataclass(frozen=True, slots=True)
class CensoredValue:
    value: float
    qualifier: Qualifier
    lod: float | None
    loq: float | None
    raw_value: float
    flags: tuple[str, ...] = ()

    @property
    def is_censored(self) -> bool:
        return self.qualifier is Qualifier.LESS_THAN


def censor(value: float, qualifier: Qualifier | str, limits: Limits) -> CensoredValue:
    """Censor one reported number against its limits (all in the same unit).

    ``qualifier`` is what the file said: ``<`` for a censoring token (``value`` is then the number
    after the sign), ``>`` for over-range, ``=`` otherwise.
    """
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    stored, sign, lod, loq, flags = censor_fields(value, Qualifier(qualifier), limits.lod, limits.loq)
    return CensoredValue(stored, Qualifier(sign), lod, loq, value, flags)


_OVER = (OVER_RANGE,)
_FROM_FILE = (LIMIT_FROM_FILE,)
_UNBOUNDED = (NO_LOD,)
_UNBOUNDED_BELOW_ZERO = (NO_LOD, BELOW_ZERO)
_QUANTIFIABLE_NOT = (BELOW_LOQ,)


def censor_fields(
    value: float, qualifier: str, lod: float | None, loq: float | None
) -> tuple[float, str, float | None, float | None, tuple[str, ...]]:
    """``censor`` without the checks or the object: (stored value, qualifier, lod, loq, flags).

    For an import's inner loop (a hundred thousand values): the caller passes a finite value and
    valid limits; ``censor`` is this function with those checks.
    """
    if qualifier == ">":
        return value, ">", lod, loq, _OVER
    said_below = qualifier == "<"
    if lod is None:
        if said_below and value > 0:
            # The file's own limit ("< 0.5"): the only limit there is.
            return value, "<", value, loq if loq is not None and loq >= value else None, _FROM_FILE
        return value, "=", None, loq, _UNBOUNDED_BELOW_ZERO if value < 0 or said_below else _UNBOUNDED
    if said_below:
        # "< x" with x above the LOD says less than the LOD would; the wider bound is the true one.
        return (value, "<", lod, loq, _FROM_FILE) if value > lod else (lod, "<", lod, loq, ())
    if value < lod:
        return lod, "<", lod, loq, ()
    if loq is not None and value < loq:
        return value, "=", lod, loq, _QUANTIFIABLE_NOT
    return value, "=", lod, loq, ()


MIN_BLANKS = 2


def estimate_limits(blank_values: Sequence[float], *, lod_multiplier: float = 3.0, loq_multiplier: float = 10.0) -> Limits | None:
    """LOD = 3 s and LOQ = 10 s of repeated blank results, s the sample standard deviation.

    None when fewer than two blanks have a number, or when they do not scatter at all (s = 0 would
    claim a perfect detection limit; a calibration blank read back as exactly 0 is the
    calibration's own zero point, not a measurement of noise).
    """
    numbers = np.asarray([value for value in blank_values if math.isfinite(value)], dtype=float)
    if numbers.size < MIN_BLANKS:
        return None
    spread = float(np.std(numbers, ddof=1))
    if not math.isfinite(spread) or spread <= 0:
        return None
    return Limits(lod_multiplier * spread, loq_multiplier * spread)
