"""Control-chart baselines and Westgard rules for CRM and CCV recoveries (REO-ASSAY.md §4).

PURE: no Django, no database. The caller hands over one series (one control material, one
analyte, one method, in chronological order, usually recoveries in %) and a baseline; this module
says which Westgard rules fire at which points. Raising the "method drift" flag is the caller's job.

Choices, and why:

* **A point is a finite value.** NaN and ±inf are not points: they are skipped, they neither
  break nor extend a pattern, and they are never reported. Indices (``Violation.index``,
  ``Violation.involved``) are always positions in the caller's sequence, so they map back to the
  caller's rows without bookkeeping.
* **Strict inequalities** on z = (x - mean) / s. Westgard's rules count observations that
  *exceed* a control limit; a value exactly on the +2s line is at the limit, not beyond it.
  Recoveries are often reported rounded, and a value that rounds onto a line must not raise a
  drift flag on its own. The comparison is made on z as computed in floating point.
* **"Consecutive" runs across runs.** The series is the chronology of one control material,
  typically one to three points per instrument run. 2-2s, 4-1s and 10-x exist to catch systematic
  error (bias, drift) that builds up over several runs; confined to one run they could never fire.
  So consecutive means consecutive in the series, whatever run each point came from. R-4s is
  classically a within-run (random error) rule; it is applied to consecutive points here as the lab
  specified, and a caller that disagrees leaves it out of ``rules``.
* **Every point is judged as the newest one**, looking only backwards, exactly as the chart is
  judged when a new run arrives. A pattern that continues fires again at each new point (five
  points above +1s give 4-1s at the fourth and at the fifth). ``start`` restricts the report to the
  points of a new run while the older points still take part in the patterns.
* **Rules are independent.** Westgard's original flow chart screens with a 1-2s warning before
  applying the other rules; that gate saved manual work and is not needed by a computer. Every rule
  that fires is reported, ordered by point and then by the order of ``ALL_RULES``.
* **The baseline is fixed**: mean and sample standard deviation (ddof = 1) of a baseline period.
  It is not updated with new points, so that a drift cannot drag its own limits along.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal


class WestgardRule(enum.StrEnum):
    ONE_3S = "1-3s"
    TWO_2S = "2-2s"
    R_4S = "R-4s"
    FOUR_1S = "4-1s"
    TEN_X = "10-x"


ALL_RULES: tuple[WestgardRule, ...] = tuple(WestgardRule)
LONGEST_PATTERN = 10  # 10-x: no rule looks further back


@dataclass(frozen=True, slots=True)
class Baseline:
    """Mean and sample standard deviation of the baseline period, and how many points made them."""

    mean: float
    sd: float
    n: int

    def __post_init__(self) -> None:
        # Every z-score divides by sd: a zero, negative or non-finite sd would put NaN or a sign
        # flip into the rules and the chart, so such a baseline cannot exist.
        if not math.isfinite(self.mean):
            raise ValueError(f"a baseline mean must be finite, not {self.mean!r}")
        if not (math.isfinite(self.sd) and self.sd > 0):
            raise ValueError(f"a baseline standard deviation must be finite and positive, not {self.sd!r}")
        if self.n < 0:
            raise ValueError(f"a baseline cannot be made of {self.n} points")

    def z(self, value: float) -> float:
        """How many standard deviations ``value`` lies from the mean (±inf on overflow, never NaN)."""
        return (value - self.mean) / self.sd


def baseline_from(*, values: Sequence[float]) -> Baseline | None:
    """Mean and sample sd (ddof = 1) of the finite values; None when no usable baseline exists.

    None when fewer than two finite values remain or when they are all equal (sd = 0: every later
    point would be infinitely many s away), and when the arithmetic overflows a float.
    """
    finite = [float(value) for value in values if math.isfinite(value)]
    if len(finite) < 2:
        return None
    try:
        mean = statistics.fmean(finite)
        # Exact (fractions inside). Not given xbar: Python 3.11's stdev then mixes a float into
        # its fractions and fails on large values.
        sd = statistics.stdev(finite)
    except OverflowError:
        return None
    if not (math.isfinite(mean) and math.isfinite(sd)) or sd <= 0:
        return None
    return Baseline(mean=mean, sd=sd, n=len(finite))


@dataclass(frozen=True, slots=True)
class Violation:
    rule: WestgardRule
    index: int  # the point at which the rule fires: the newest point of the pattern
    involved: tuple[int, ...]  # the points making the pattern, oldest first
    message: str


@dataclass(frozen=True, slots=True)
class _Point:
    index: int
    value: float
    z: float


def westgard_violations(
    *,
    values: Sequence[float],
    baseline: Baseline,
    rules: Collection[WestgardRule] = ALL_RULES,
    start: int = 0,
    point_names: Sequence[str] | None = None,
) -> list[Violation]:
    """The Westgard violations at every point whose index is ``start`` or later.

    Each such point is judged as the newest point, from it and the points before it (including
    those before ``start``). ``point_names`` (one per value, e.g. "run 12") replace "point 7" in the
    messages. Ordered by index, then by the order of ``ALL_RULES``.
    """
    if start < 0:
        raise ValueError(f"start must be 0 or more, not {start}")
    if point_names is not None and len(point_names) != len(values):
        raise ValueError(f"{len(point_names)} point names for {len(values)} values")
    wanted = frozenset(WestgardRule(rule) for rule in rules)
    points = [
        _Point(index=index, value=float(value), z=baseline.z(float(value))) for index, value in enumerate(values) if math.isfinite(value)
    ]
    describe = _Describer(baseline=baseline, point_names=point_names)
    found: list[Violation] = []
    for position, point in enumerate(points):
        if point.index < start:
            continue
        history = points[max(0, position + 1 - LONGEST_PATTERN) : position + 1]
        for rule in ALL_RULES:
            if rule not in wanted:
                continue
            violation = _CHECKS[rule](history, describe)
            if violation is not None:
                found.append(violation)
    return found


def _same_side(points: Sequence[_Point], *, beyond: float) -> int:
    """+1 when every z exceeds +beyond, -1 when every z is below -beyond, else 0."""
    if all(point.z > beyond for point in points):
        return 1
    if all(point.z < -beyond for point in points):
        return -1
    return 0


def _check_one_3s(history: Sequence[_Point], describe: _Describer) -> Violation | None:
    newest = history[-1]
    if not abs(newest.z) > 3:
        return None
    side = "above +3s" if newest.z > 0 else "below -3s"
    return Violation(
        rule=WestgardRule.ONE_3S,
        index=newest.index,
        involved=(newest.index,),
        message=f"1-3s: {describe.point_with_z(newest)} {side} ({describe.limits()})",
    )


def _beyond_in_a_row(
    history: Sequence[_Point], describe: _Describer, *, rule: WestgardRule, count: int, beyond: int, together: str
) -> Violation | None:
    """2-2s and 4-1s: the newest ``count`` points all beyond the same ±``beyond`` s."""
    if len(history) < count:
        return None
    window = history[-count:]
    side = _same_side(window, beyond=beyond)
    if side == 0:
        return None
    where = f"above +{beyond}s" if side > 0 else f"below -{beyond}s"
    return Violation(
        rule=rule,
        index=window[-1].index,
        involved=tuple(point.index for point in window),
        message=f"{rule.value}: {describe.points(window)} {together} {where} ({describe.limits()})",
    )


def _check_two_2s(history: Sequence[_Point], describe: _Describer) -> Violation | None:
    return _beyond_in_a_row(history, describe, rule=WestgardRule.TWO_2S, count=2, beyond=2, together="both")


def _check_r_4s(history: Sequence[_Point], describe: _Describer) -> Violation | None:
    if len(history) < 2:
        return None
    older, newest = history[-2:]
    if not ((older.z > 2 and newest.z < -2) or (older.z < -2 and newest.z > 2)):
        return None
    high, low = (older, newest) if older.z > newest.z else (newest, older)
    return Violation(
        rule=WestgardRule.R_4S,
        index=newest.index,
        involved=(older.index, newest.index),
        message=(
            f"R-4s: {describe.point_with_z(high)} above +2s and {describe.point_with_z(low)} below -2s, "
            f"a range of {describe.sigmas(high.z - low.z)} ({describe.limits()})"
        ),
    )


def _check_four_1s(history: Sequence[_Point], describe: _Describer) -> Violation | None:
    return _beyond_in_a_row(history, describe, rule=WestgardRule.FOUR_1S, count=4, beyond=1, together="all")


def _check_ten_x(history: Sequence[_Point], describe: _Describer) -> Violation | None:
    if len(history) < 10:
        return None
    window = history[-10:]
    side = _same_side(window, beyond=0)
    if side == 0:
        return None
    where = "above" if side > 0 else "below"
    return Violation(
        rule=WestgardRule.TEN_X,
        index=window[-1].index,
        involved=tuple(point.index for point in window),
        message=f"10-x: 10 points in a row, {describe.span(window)}, all {where} the mean ({describe.limits()})",
    )


_CHECKS = {
    WestgardRule.ONE_3S: _check_one_3s,
    WestgardRule.TWO_2S: _check_two_2s,
    WestgardRule.R_4S: _check_r_4s,
    WestgardRule.FOUR_1S: _check_four_1s,
    WestgardRule.TEN_X: _check_ten_x,
}


@dataclass(frozen=True, slots=True)
class _Describer:
    """Plain-English names and numbers for the messages."""

    baseline: Baseline
    point_names: Sequence[str] | None

    def name(self, point: _Point) -> str:
        if self.point_names is None:
            return f"point {point.index}"
        return self.point_names[point.index]

    def point_with_z(self, point: _Point) -> str:
        return f"{self.name(point)} ({format_number(point.value)}, {self.sigmas(point.z, signed=True)})"

    def points(self, points: Sequence[_Point]) -> str:
        names = [f"{self.name(point)} ({format_number(point.value)})" for point in points]
        return ", ".join(names[:-1]) + " and " + names[-1]

    def span(self, points: Sequence[_Point]) -> str:
        return f"{self.name(points[0])} to {self.name(points[-1])}"

    def limits(self) -> str:
        return f"mean {format_number(self.baseline.mean)}, s {format_number(self.baseline.sd)}"

    @staticmethod
    def sigmas(z: float, *, signed: bool = False) -> str:
        # A z-score beyond a thousand says nothing more than "far out", and may be inf.
        if abs(z) >= 1000:
            return f"{'+' if z > 0 else '-'}>999s" if signed else ">999s"
        text = f"{z:+.1f}" if signed else f"{z:.1f}"
        return f"{text}s"


def format_number(value: float | Decimal, *, significant: int = 4) -> str:
    """A finite number for people: about ``significant`` digits, no exponent between 1e-3 and 1e6.

    Decimals are accepted so that chart limits beyond the float range still print. Never returns
    "nan" or "inf": a non-finite value raises, because it is a bug upstream.
    """
    number = value if isinstance(value, Decimal) else Decimal(float(value))
    if not number.is_finite():
        raise ValueError(f"cannot format the non-finite number {value!r}")
    if number.is_zero():
        return "0"
    exponent = number.adjusted()
    if exponent >= 6 or exponent < -3:
        mantissa = number.scaleb(-exponent).quantize(Decimal(1).scaleb(1 - significant))
        if abs(mantissa) >= 10:  # rounding carried over, e.g. 9.9996e7 -> 10.000e7
            mantissa, exponent = mantissa.scaleb(-1), exponent + 1
        return f"{_strip_zeros(format(mantissa, 'f'))}e{exponent:+d}"
    decimals = max(0, significant - 1 - exponent)
    return _strip_zeros(format(number.quantize(Decimal(1).scaleb(-decimals)), "f"))


def _strip_zeros(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text
