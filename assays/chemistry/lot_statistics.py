"""A lot's value from its samples, and the lot's uncertainty (REO-ASSAY.md §3, §5).

PURE: no Django, no database. The caller computes a quantity per sample (under one censoring
convention: each convention is computed per sample and then averaged, §3) and hands the values
over; this module gives the mean, the spread and

    u_lot = sqrt(u_meas^2 + s^2 / n),  U = k * u_lot with k = 2  (§5).

Choices, and why:

* **u_meas is not divided by sqrt(n).** The method model's uncertainty is dominated by parts that
  every sample of the lot shares (calibration, the CRM's certified value, digestion recovery):
  averaging samples does not average them away. Only the between-sample scatter s shrinks with n.
* **n = 1 has no spread term and no confidence interval**: one sample says nothing about the
  scatter of the lot, and a standard deviation of one number does not exist (not 0).
* **The 95 % confidence interval of the mean (Student t, n - 1 degrees of freedom) is reported
  for information only**; the guard band uses U (§5).
* **A lot value is "< LOD" only when every sample is censored** (§3): one quantified sample makes
  the lot a number. ``all_censored`` says which case applies.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scipy import stats  # type: ignore[import-untyped]  # scipy ships no stubs; scipy-stubs is not a dependency

from assays.chemistry.frozen import init_through_slots
from assays.chemistry.purity import Convention, Result, result_value
from assays.errors import DomainError

COVERAGE_FACTOR = 2.0
CONFIDENCE = 0.95


class LotStatisticsError(DomainError, ValueError):
    """Sample values that cannot make a lot statistic (none, NaN, a negative uncertainty...)."""


@init_through_slots
@dataclass(frozen=True, slots=True)
class LotStatistics:
    """Mean of the lot's samples with its spread and uncertainty, in the values' unit.

    ``sd``, ``rsd_percent`` and the confidence interval are None for n = 1; ``rsd_percent`` is also
    None for a mean of 0, where a relative spread has no meaning. ``u_lot`` is a standard
    uncertainty, ``expanded_u`` = 2 · ``u_lot`` the U a report and a guard band use.
    """

    mean: float
    n: int
    sd: float | None
    rsd_percent: float | None
    ci95_low: float | None
    ci95_high: float | None
    u_measurement: float
    u_lot: float
    expanded_u: float


def _finite(number: object, *, what: str) -> float:
    if type(number) is float and math.isfinite(number):  # the common case first: every line of every lot
        return number
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise LotStatisticsError(f"{what} must be a finite number, not {number!r}")
    return float(number)


_SQRT_BITS = 2 * sys.float_info.mant_dig + 3


def exact_stdev(numbers: Sequence[float]) -> float:
    """The sample standard deviation of two or more finite floats, exactly as ``statistics.stdev``
    computes it (the square root of the exact variance, correctly rounded), in integer arithmetic.

    Every float is an integer over a power of two, so over their common denominator d the values
    are integers N_i and s^2 = (n·ΣN_i² - (ΣN_i)²) / (n(n-1)·d²) exactly; the correctly rounded
    square root is then unique, whatever the fraction's form. statistics.stdev reaches the same
    number through Fraction objects, at many times the cost (a lot assessment takes one per line).
    """
    ratios = [float(number).as_integer_ratio() for number in numbers]
    denominator = max(den for _, den in ratios)
    scaled = [num * (denominator // den) for num, den in ratios]
    n = len(scaled)
    if n < 2:
        raise LotStatisticsError("a standard deviation needs at least two sample values")
    total = sum(scaled)
    numerator = n * sum(value * value for value in scaled) - total * total
    return _float_sqrt_of_fraction(numerator, n * (n - 1) * denominator * denominator)


def _float_sqrt_of_fraction(n: int, m: int) -> float:
    """√(n/m) correctly rounded (round-to-odd on 2·53+3 bits, then one rounding to a float): the
    method of CPython's statistics module (bugs.python.org/msg407078)."""
    q = (n.bit_length() - m.bit_length() - _SQRT_BITS) // 2
    if q >= 0:
        root = _isqrt_of_fraction_round_to_odd(n, m << 2 * q) << q
        return root / 1
    return _isqrt_of_fraction_round_to_odd(n << -2 * q, m) / (1 << -q)


def _isqrt_of_fraction_round_to_odd(n: int, m: int) -> int:
    root = math.isqrt(n // m)
    return root | (root * root * m != n)


@functools.lru_cache(maxsize=128)
def _t_quantile(df: int) -> float:
    """Student's t for the two-sided 95 % interval; cached, as scipy's ppf costs far more than the rest of a lot's statistics."""
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df=df))


def lot_statistics(*, values: Sequence[float], u_measurement: float) -> LotStatistics:
    """Mean, sample standard deviation (ddof = 1), t-interval and u_lot of one lot's sample values.

    ``u_measurement`` is the standard uncertainty of one sample's result from the method model, in
    the values' unit (for a censored best estimate, LOD/sqrt(12)).
    """
    if isinstance(values, str | bytes):
        raise LotStatisticsError(f"values must be a sequence of numbers, not {values!r}")
    numbers = list(values)
    # Floats whose exact sum is finite are all finite (a NaN or an infinity makes it NaN or
    # infinite): one pass over the values for the check and the mean, the common case of every
    # line of every lot. Anything else is checked value by value, and refused by name.
    try:
        total = math.fsum(numbers) if all(type(value) is float for value in numbers) else math.nan
    except (ValueError, OverflowError):  # inf - inf, or a sum past the largest float
        total = math.nan
    if not math.isfinite(total):
        numbers = [_finite(value, what="a sample value") for value in numbers]
        total = math.fsum(numbers)
    u_meas = _finite(u_measurement, what="the measurement uncertainty")
    if u_meas < 0:
        raise LotStatisticsError(f"the measurement uncertainty must be >= 0, not {u_meas!r}")
    n = len(numbers)
    if n == 0:
        raise LotStatisticsError("a lot statistic needs at least one sample value")
    mean = total / n
    if n == 1:
        # mean, n, sd, rsd_percent, ci95_low, ci95_high, u_measurement, u_lot, expanded_u
        return LotStatistics(mean, 1, None, None, None, None, u_meas, u_meas, COVERAGE_FACTOR * u_meas)
    # Exact rational arithmetic, as statistics.stdev: no cancellation for values such as 99.62,
    # 99.63, 99.61 whose spread is 1e-4 of their size.
    sd = exact_stdev(numbers)
    standard_error = sd / math.sqrt(n)
    half_width = _t_quantile(n - 1) * standard_error
    u_lot = math.hypot(u_meas, standard_error)
    rsd_percent = None if mean == 0 else 100.0 * sd / abs(mean)
    # mean, n, sd, rsd_percent, ci95_low, ci95_high, u_measurement, u_lot, expanded_u
    return LotStatistics(mean, n, sd, rsd_percent, mean - half_width, mean + half_width, u_meas, u_lot, COVERAGE_FACTOR * u_lot)


def all_censored(results: Iterable[Result]) -> bool:
    """True when the lot has samples and every one is censored: only then is it shown "< LOD".

    An empty lot is not "< LOD": it has no result at all.
    """
    collected = list(results)
    return bool(collected) and all(result.censored for result in collected)


def lot_values(results: Iterable[Result], *, convention: Convention) -> list[float]:
    """Each sample's result under ``convention``, to be averaged by ``lot_statistics`` (§3)."""
    return [result_value(result, convention=convention) for result in results]


def lot_censoring_limit(results: Iterable[Result]) -> float | None:
    """The limit to print in "< LOD" for an all-censored lot: the mean of the samples' limits.

    Each sample was censored at its own LOD (dilution and mass differ). Every sample is below its
    limit, so the lot mean is below the mean of the limits: the upper-bound convention's lot value,
    which keeps the printed limit consistent with the lot's bounds. None when not all censored.
    """
    collected = list(results)
    if not all_censored(collected):
        return None
    return math.fsum(result.value for result in collected) / len(collected)
